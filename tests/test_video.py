"""From video to action (docs/video.md): pose extraction, the gate, conversion to a checkpoint's
layout, predict and the overlay demo.

The first part runs everywhere with a fake pose backend and fake frames. The second needs the
optional extra 'video' (MediaPipe + OpenCV, an environment of its own: numpy < 2, Python < 3.13)
and the shared clips; it is skipped with the reason otherwise. MediaPipe Pose is deterministic,
so golden values are checked."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

from adasgn.cli import main as cli_main
from adasgn.data import video as vid
from adasgn.data.pkl import load_pkl
from adasgn.errors import DataError, UserError
from adasgn.inference import InputMismatchError, Recognizer
from adasgn.skeleton import get_layout, make_layout, register_layout
from adasgn.skeleton.convert import aligned_errors, convert
from adasgn.video import backend_for, poses_to_keypoint

from test_inference import make_checkpoint

HAVE_VIDEO = all(importlib.util.find_spec(m) is not None for m in ("mediapipe", "cv2"))
needs_video = pytest.mark.skipif(
    not HAVE_VIDEO, reason="the optional extra 'video' (mediapipe, opencv) is not installed: "
                           "these tests run in the video environment (.ci/run, docs/video.md)")


# ---------------------------------------------------------------------------------------------
# a fake backend: a standing figure whose visibility depends on the frame's brightness

def _figure() -> tuple[np.ndarray, np.ndarray]:
    """A plausible MediaPipe-like body: world (33, 3) (x right, y down, metres), image (33, 2)."""
    lay = get_layout("mediapipe33")
    w = np.zeros((33, 3), np.float32)
    put = {"nose": (0, -0.62, -0.1), "l_ear": (0.07, -0.6, 0), "r_ear": (-0.07, -0.6, 0),
           "l_shoulder": (0.16, -0.45, 0), "r_shoulder": (-0.16, -0.45, 0),
           "l_elbow": (0.2, -0.2, 0), "r_elbow": (-0.2, -0.2, 0), "l_wrist": (0.22, 0.02, 0),
           "r_wrist": (-0.22, 0.02, 0), "l_hip": (0.1, 0, 0), "r_hip": (-0.1, 0, 0),
           "l_knee": (0.1, 0.42, 0), "r_knee": (-0.1, 0.42, 0), "l_ankle": (0.1, 0.82, 0),
           "r_ankle": (-0.1, 0.82, 0)}
    for j, p in put.items():
        w[lay.index(j)] = p
    for j in lay.joints:  # the rest: near a placed joint of the same side
        if j not in put:
            base = {"eye": "nose", "mouth": "nose", "pinky": "wrist", "index": "wrist",
                    "thumb": "wrist", "heel": "ankle", "foot": "ankle"}
            key = next(v for k, v in base.items() if k in j)
            side = j[:2] if j[:2] in ("l_", "r_") else ("l_" if j.endswith("_l") else "r_")
            src = key if key == "nose" else side + key
            w[lay.index(j)] = w[lay.index(src)] + [0.01, 0.02, 0.01]
    img = 0.5 + w[:, :2] * [0.25, 0.4]
    return w, img.astype(np.float32)


class FakeBackend(vid.PoseBackend):
    """No person on dark frames (mean < 50), hips hidden on grey ones (< 150)."""

    name = "fake"
    layout = "mediapipe33"

    def __init__(self):
        self.opened = self.closed = 0

    def open(self, info):
        self.opened += 1

    def estimate(self, frame):
        m = float(frame.mean())
        if m < 50:
            return None
        w, img = _figure()
        vis = np.ones(33, np.float32)
        if m < 150:
            vis[[23, 24]] = 0.05
        # the brightest column moves the figure (so mirroring is visible)
        col = int(np.argmax(frame[..., 0].mean(0))) / frame.shape[1]
        img = img + [col - 0.5, 0.0]
        return vid.PoseFrame(w, img, vis)

    def close(self):
        self.closed += 1


def _frames(levels, h=48, w=64, column=10):
    for lv in levels:
        f = np.full((h, w, 3), lv, np.uint8)
        f[:, column] = 255
        yield f


def test_backend_registry():
    assert {"mediapipe", "mediapipe-hands"} <= set(vid.list_backends())
    vid.register_backend("fake-test", FakeBackend, overwrite=True)
    assert isinstance(vid.get_backend("fake-test"), FakeBackend)
    be = FakeBackend()
    assert vid.get_backend(be) is be
    with pytest.raises(UserError, match="unknown pose backend"):
        vid.get_backend("nope")
    with pytest.raises(UserError, match="cannot import"):
        vid.get_backend("no_such_module_xyz:Backend")
    with pytest.raises(UserError, match="only model_complexity=1"):
        vid.MediaPipePose(model_complexity=2)


def test_gate_drops_missing_frames_and_keeps_their_indices():
    be = FakeBackend()
    levels = [10] * 3 + [200] * 12 + [100] * 2 + [200] * 5  # none, ok, hips hidden, ok
    poses = vid.estimate_frames(vid.FrameSource(_frames(levels), "clip", fps=25), be)
    assert be.opened == be.closed == 1
    assert poses.frames == 22 and int(poses.detected.sum()) == 19 and poses.usable == 17
    ann = poses.annotation("clip", label=3)
    assert ann["keypoint"].shape == (1, 17, 33, 3) and ann["total_frames"] == 17
    np.testing.assert_array_equal(ann["frame_inds"], [*range(3, 15), *range(17, 22)])
    w, img = _figure()
    # library axes: x left, y up, z away (x and y negated)
    np.testing.assert_allclose(ann["keypoint"][0, 0], w * [-1, -1, 1], atol=1e-6)
    assert ann["img_shape"] == (48, 64) and ann["fps"] == 25
    np.testing.assert_allclose(ann["image_keypoint"][0, 0, 0],
                               (img[0] + [10 / 64 - 0.5, 0]) * [64, 48], atol=1e-3)
    assert ann["keypoint_score"].shape == (1, 17, 33)
    assert "l_hip" in poses.gate and "8 such frames" in poses.gate


def test_a_short_run_is_no_person_and_no_gate_passes_every_detection():
    levels = [200] * 5 + [10] * 10
    poses = vid.estimate_frames(vid.FrameSource(_frames(levels)), FakeBackend())
    assert poses.usable == 0
    with pytest.raises(DataError, match="no usable person: 15 frames decoded, a person detected "
                                        "in 5"):
        poses.annotation()
    poses = vid.estimate_frames(vid.FrameSource(_frames(levels)), FakeBackend(),
                                vid.Gate(min_run=1))
    assert poses.usable == 5
    levels = [100] * 10  # hips hidden: refused by the default gate, kept without one
    assert vid.estimate_frames(vid.FrameSource(_frames(levels)), FakeBackend()).usable == 0
    assert vid.estimate_frames(vid.FrameSource(_frames(levels)), FakeBackend(),
                               vid.Gate(joints=())).usable == 10
    with pytest.raises(Exception, match="unknown joint 'chin'"):
        vid.Gate(joints=("chin",)).resolve("mediapipe33")


def test_mirror_flips_the_frame_and_maps_back():
    plain = vid.estimate_frames(vid.FrameSource(_frames([200] * 8)), FakeBackend())
    mirrored = vid.estimate_frames(vid.FrameSource(_frames([200] * 8)), FakeBackend(),
                                   mirror=True)
    # the backend saw the bright column at the other side; image x maps back to the file's
    # pixels, the world joints are the backend's on the flipped frame (the true scene)
    x_plain = plain.image[0, 0, 0]
    x_mirr = mirrored.image[0, 0, 0]
    assert x_mirr == pytest.approx(1 - (_figure()[1][0, 0] + (63 - 10) / 64 - 0.5), abs=1e-5)
    assert x_plain != pytest.approx(x_mirr)
    np.testing.assert_allclose(mirrored.world, plain.world)


def _poses(n=30) -> vid.VideoPoses:
    return vid.estimate_frames(vid.FrameSource(_frames([200] * n), "fake", fps=30), FakeBackend())


def test_poses_to_keypoint_normalises_like_prepare():
    poses = _poses()
    ntu = get_layout("ntu25")
    kp = poses_to_keypoint(poses, "ntu25", 3)
    assert kp.shape == (1, 30, 25, 3)
    np.testing.assert_allclose(kp[0, 0, ntu.index("spine_mid")], 0.0, atol=1e-6)
    assert kp[0, 0, ntu.index("head"), 1] > 0.3  # y up: the head above the spine
    penn = get_layout("penn13")
    kp2 = poses_to_keypoint(poses, "penn13", 2)
    hips = kp2[0, 0, [penn.index("l_hip"), penn.index("r_hip")]].mean(0)
    sh = kp2[0, 0, [penn.index("l_shoulder"), penn.index("r_shoulder")]].mean(0)
    np.testing.assert_allclose(hips, 0.0, atol=1e-5)
    assert np.linalg.norm(sh - hips) == pytest.approx(1.0) and sh[1] > 0
    with pytest.raises(InputMismatchError, match="no mapping from mediapipe33 to shrec22"):
        poses_to_keypoint(poses, "shrec22", 3)


def test_backend_for_a_layout():
    assert backend_for("ntu25") == "mediapipe"
    assert backend_for("penn13") == "mediapipe"
    assert backend_for("fpha21") == "mediapipe-hands"
    lay = register_layout(make_layout("video_test_tri", ["a", "b", "c"], [None, "a", "b"]),
                          overwrite=True)
    with pytest.raises(InputMismatchError, match="cannot be produced from video"):
        backend_for(lay)


def test_predict_on_fake_video_poses(tmp_path):
    rec = Recognizer.from_checkpoint(make_checkpoint(tmp_path / "a.pt", "adasgn", "ntu60"))
    p = rec.predict(poses_to_keypoint(_poses(), rec.layout, 3), layout="ntu25")
    assert len(p.top) == 5 and p.persons == 1 and len(p.branches[0]) == 20
    penn = Recognizer.from_checkpoint(make_checkpoint(tmp_path / "p.pt", "sgn", "synthetic",
                                                      layout="penn13", in_channels=2))
    p2 = penn.predict(poses_to_keypoint(_poses(), penn.layout, 2), layout="penn13")
    assert p2.persons == 1 and p2.model == "sgn"


@pytest.mark.skipif(HAVE_VIDEO, reason="the video extra is installed here")
def test_without_the_extra_the_error_says_what_to_install(tmp_path, capsys):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not a video")
    assert cli_main(["extract", str(clip), "--out", str(tmp_path / "o.pkl")]) == 2
    err = capsys.readouterr().err
    assert "pip install 'adasgn[video]'" in err and "numpy < 2" in err
    with pytest.raises(UserError, match=r"adasgn\[video\]"):
        vid.open_video(clip)


# ---------------------------------------------------------------------------------------------
# the real backend on the shared clips (the video environment)

CLIPS = "video"


def _run(argv) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli_main(argv)
    return rc, out.getvalue()


@pytest.fixture(scope="module")
def clips(shared_data):
    if not HAVE_VIDEO:
        pytest.skip("the optional extra 'video' (mediapipe, opencv) is not installed")
    d = shared_data / CLIPS
    if not (d / "S001C001P001R001A001_rgb.avi").is_file():
        pytest.skip(f"the shared clips are not at {d}")
    return d


@pytest.fixture(scope="module")
def extracted(clips, tmp_path_factory):
    out = tmp_path_factory.mktemp("extract")
    rc1, log1 = _run(["extract", str(clips / "S001C001P001R001A001_rgb.avi"), "--mirror",
                      "--out", str(out / "a001.pkl"), "--no-progress"])
    rc2, log2 = _run(["extract", str(clips / "test_video_structuralize.mp4"),
                      str(clips / "part_0.mp4"), str(clips / "demo_skeleton.mp4"),
                      "--out", str(out / "others.pkl"), "--no-progress"])
    return {"dir": out, "a001": out / "a001.pkl", "others": out / "others.pkl",
            "rc": (rc1, rc2), "log": (log1, log2)}


@needs_video
def test_extract_acceptance(extracted):
    assert extracted["rc"] == (0, 0)
    log1, log2 = extracted["log"]
    for log in (log1, log2):
        assert "decode" in log and "pose" in log and "ms/frame" in log  # per-stage timing
        assert "tracks one person per frame" in log
    a001 = load_pkl(extracted["a001"])
    assert a001["meta"]["layout"] == "mediapipe33" and a001["meta"]["mirror"] is True
    (ann,) = a001["annotations"]
    assert ann["video_frames"] == 103 and ann["total_frames"] >= 0.9 * 103
    others = load_pkl(extracted["others"])
    by = {a["frame_dir"]: a for a in others["annotations"]}
    assert set(by) == {"test_video_structuralize", "demo_skeleton"}
    ball = by["test_video_structuralize"]
    assert ball["video_frames"] == 300 and ball["total_frames"] >= 0.9 * 300
    two = by["demo_skeleton"]  # two people in the clip: one is tracked
    assert two["keypoint"].shape[0] == 1 and two["total_frames"] == 72
    rejects = Path(str(extracted["others"]) + ".rejects.txt").read_text()
    assert rejects.startswith("part_0.mp4\tno usable person: 32 frames decoded")
    assert "part_0.mp4" in log2 and "no usable person" in log2


@needs_video
def test_golden_values(extracted):
    """MediaPipe Pose is deterministic: the A001 poses are fixed numbers (loose enough for
    another CPU's float rounding)."""
    (ann,) = load_pkl(extracted["a001"])["annotations"]
    assert ann["total_frames"] == 103
    np.testing.assert_allclose(ann["keypoint"][0, 0, 0], [-0.02843, 0.64019, -0.24153], atol=2e-3)
    np.testing.assert_allclose(ann["keypoint"][0, 50, 15], [-0.18140, 0.04112, 0.04384], atol=2e-3)
    np.testing.assert_allclose(ann["image_keypoint"][0, 0, 0], [1029.67, 336.58], atol=1.0)
    assert float(ann["keypoint_score"][0].mean()) == pytest.approx(0.92966, abs=2e-3)


def _kinect(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """First body of an NTU .skeleton: camera xyz (T, 25, 3) and tracking state (T, 25)."""
    lines = path.read_text().split("\n")
    i, xyz, state = 1, [], []
    for _ in range(int(lines[0])):
        bodies = int(lines[i])
        i += 1
        frame = None
        for b in range(bodies):
            i += 1
            nj = int(lines[i])
            vals = np.array([[float(v) for v in lines[i + 1 + j].split()] for j in range(nj)])
            i += 1 + nj
            if b == 0:
                frame = vals
        xyz.append(frame[:, :3])
        state.append(frame[:, -1])
    return np.asarray(xyz), np.asarray(state)


@needs_video
def test_a001_video_matches_its_kinect_skeleton(extracted, shared_data):
    """The real check of the mapping and the axes: the A001 video's poses converted to ntu25 vs
    the Kinect skeleton of the same recording, after one similarity alignment of the whole
    sequence (docs/video.md has the table)."""
    (ann,) = load_pkl(extracted["a001"])["annotations"]
    ours = convert(ann["keypoint"][0], "mediapipe33", "ntu25")
    kin, state = _kinect(shared_data / "ntu" / "S001C001P001R001A001.skeleton")
    assert len(kin) == len(ours) == 103
    err, (s, rot, _) = aligned_errors(ours, kin)
    angle = np.degrees(np.arccos(np.clip((np.trace(rot) - 1) / 2, -1, 1)))
    assert angle < 15  # the same axes: nearly no rotation needed (measured 9.2 degrees)
    assert 0.75 < s < 1.05  # measured 0.845: MediaPipe's skeleton is the larger one
    tracked = state == 2
    assert err[tracked].mean() < 0.11  # metres, over joints the Kinect tracked (measured 0.089)
    lay = get_layout("ntu25")
    for j in ("spine_mid", "spine_shoulder", "neck", "head"):
        assert err[:, lay.index(j)].mean() < 0.07, j
    # a mirrored reading (no --mirror) does much worse
    unmirrored = ours * [-1, 1, 1]
    swap = [lay.index(n.replace("l_", "#").replace("r_", "l_").replace("#", "r_"))
            for n in lay.joints]
    err_m, _ = aligned_errors(unmirrored[:, swap], kin)
    assert err_m[tracked].mean() > err[tracked].mean() + 0.01


@pytest.fixture(scope="module")
def ada_ckpt(tmp_path_factory):
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "ntu_ada.pt", "adasgn", "ntu60")


@needs_video
def test_predict_cli_on_a_video(clips, ada_ckpt):
    rc, out = _run(["predict", str(ada_ckpt), str(clips / "S001C001P001R001A001_rgb.avi"),
                    "--mirror", "--json", "--topk", "3"])
    assert rc == 0
    d = json.loads(out)
    assert d["source"] == "S001C001P001R001A001_rgb.avi" and len(d["top"]) == 3
    assert d["video"]["frames"] == 103 and d["video"]["pose_s"] > 0 and d["model"] == "adasgn"


@needs_video
def test_predict_on_a_video_without_a_person(clips, tmp_path):
    from adasgn.video import predict_video

    penn = Recognizer.from_checkpoint(make_checkpoint(tmp_path / "p.pt", "sgn", "synthetic",
                                                      layout="penn13", in_channels=2))
    with pytest.raises(DataError, match="no usable person: 32 frames decoded"):
        predict_video(penn, clips / "part_0.mp4")
    rc, _ = _run(["predict", str(tmp_path / "p.pt"), str(clips / "part_0.mp4")])
    assert rc == 2


@needs_video
def test_demo_writes_an_overlay_and_a_sheet(clips, ada_ckpt, tmp_path):
    import cv2

    out, sheet = tmp_path / "overlay.mp4", tmp_path / "sheet.png"
    rc, log = _run(["demo", str(ada_ckpt), str(clips / "S001C001P001R001A001_rgb.avi"),
                    "--mirror", "--out", str(out), "--sheet", str(sheet), "--window", "40"])
    assert rc == 0 and "decode" in log and "pose" in log and "action" in log
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 103
    assert (int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))) \
        == (960, 540)
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 103
    img = cv2.imread(str(sheet))
    assert img is not None and img.shape[1] == 4 * 240


@needs_video
def test_demo_on_a_fake_frame_source(clips, ada_ckpt, tmp_path):
    """--camera N reads frames from OpenCV; run_demo takes any iterable of frames the same way."""
    from adasgn.video import run_demo

    with vid.open_video(clips / "demo_skeleton.mp4") as reader:
        frames = [f for _, f in zip(range(30), reader)]
    rec = Recognizer.from_checkpoint(ada_ckpt)
    res = run_demo(rec, iter(frames), tmp_path / "cam.mp4", window=20, fps=28)
    assert res.frames == 30 and res.usable == 30 and res.updates == 11
    branches = {lab[2] for lab in res.labels if lab is not None}
    assert branches <= set(rec.model.choice_names)
    assert res.timing["pose_s"] > 0 and res.size == (960, 540)
    with vid.open_video(tmp_path / "cam.mp4") as back:
        assert sum(1 for _ in back) == 30


@needs_video
def test_hands_with_folder_labels(clips, tmp_path):
    root = tmp_path / "clips"
    for cls, clip in (("wave", "test.avi"), ("pool", "part_0.mp4")):
        (root / cls).mkdir(parents=True)
        (root / cls / clip).symlink_to(clips / clip)
    (root / "pool" / "broken.mp4").write_bytes(b"\x00" * 64)  # not a video
    rc, log = _run(["extract", str(root), "--hands", "--labels", "folder", "--out",
                    str(tmp_path / "h.pkl"), "--no-progress"])
    assert rc == 0 and "tracks one hand" in log
    d = load_pkl(tmp_path / "h.pkl")
    assert d["meta"]["layout"] == "hand21" and d["meta"]["class_names"] == ["pool", "wave"]
    (ann,) = [a for a in d["annotations"] if a["frame_dir"] == "wave/test"]
    assert ann["label"] == 1
    assert ann["keypoint"].shape[2] == 21 and ann["total_frames"] >= 100
    rejects = (tmp_path / "h.pkl.rejects.txt").read_text()
    assert "pool/broken.mp4\t" in rejects and "unreadable" in log + rejects
    fpha = convert(ann["keypoint"][0], "hand21", "fpha21")
    assert fpha.shape == (ann["total_frames"], 21, 3)
