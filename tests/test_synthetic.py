"""The built-in quickstart dataset: genuine NTU files, determinism, variation, learnability."""

import re

import numpy as np
import pytest
import torch

from adasgn.cli import main
from adasgn.data.dataset import SkeletonDataset, build_loader, default_pipeline
from adasgn.data.pkl import load_pkl
from adasgn.data.presets import get_preset
from adasgn.data.readers import read_ntu_skeleton
from adasgn.data.synthetic import (
    CLASS_GROUPS,
    CLASSES,
    SampleSpec,
    generate_sequence,
    generate_synthetic,
    sample_plan,
    subject_body,
    write_raw,
    write_skeleton_file,
)
from adasgn.models import create_model

NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


def test_classes_mix_easy_hard_and_interactions():
    assert len(CLASSES) >= 12 and get_preset("synthetic").num_classes == len(CLASSES)
    groups = [CLASS_GROUPS[c] for c in CLASSES]
    assert groups.count("easy") >= 5 and groups.count("hard") >= 4
    assert groups.count("interaction") >= 2
    for c in ("walking", "sit down", "jump up", "falling down", "bow", "brush teeth",
              "brush hair", "make a phone call", "drink water", "handshaking", "pushing"):
        assert c in CLASSES


def test_plan_balanced_unique_ntu_names():
    plan = sample_plan(280, seed=0)
    names = [s.name for s in plan]
    assert len(set(names)) == 280
    assert np.bincount([s.label for s in plan]).tolist() == [20] * 14
    for s in plan:
        m = NAME.fullmatch(s.name)
        assert m and int(m.group(5)) == s.label + 1
        assert 1 <= int(m.group(2)) <= 3 and 1 <= int(m.group(3)) <= 40
    assert [s.name for s in sample_plan(280, seed=0)] == names
    assert [s.name for s in sample_plan(280, seed=1)] != names


def test_written_files_are_genuine_ntu_skeletons(tmp_path):
    files = write_raw(tmp_path, 28, seed=0, workers=1)  # 2 per class
    assert len(files) == 28
    for f in files:
        raw = f.read_bytes()
        lines = raw.split(b"\r\n")
        assert lines[-1] == b"" and b"\n" not in raw.replace(b"\r\n", b"")  # CRLF throughout
        n_frames = int(lines[0])
        k, bodies_seen = 1, 0
        for _ in range(n_frames):
            nb = int(lines[k])
            k += 1
            for _ in range(nb):
                info = lines[k].split()
                assert len(info) == 10 and int(info[0]) >= 2**56  # 64-bit Kinect body ID
                assert lines[k + 1] == b"25"
                for j in range(25):
                    vals = lines[k + 2 + j].split()
                    assert len(vals) == 12
                    [float(v) for v in vals]
                    assert vals[11] in (b"1", b"2")
                k += 27
                bodies_seen += 1
        assert k == len(lines) - 1 and bodies_seen > 0
        sk = read_ntu_skeleton(f)  # the project's reader accepts it
        label = int(NAME.fullmatch(f.stem).group(5)) - 1
        long_bodies = [b for b in sk.bodies.values() if b.xyz.shape[0] > 11]
        want = 2 if CLASS_GROUPS[CLASSES[label]] == "interaction" else 1
        assert len(long_bodies) == want, f.name


def test_writer_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.normal(size=(12, 25, 3)) + [0, 0, 3]
    b = rng.normal(size=(12, 25, 3)) + [0, 0, 3]
    b[:4] = np.nan  # the second body appears at frame 4
    write_skeleton_file(tmp_path / "S001C001P001R001A001.skeleton", [a, b], empty_lead=2)
    sk = read_ntu_skeleton(tmp_path / "S001C001P001R001A001.skeleton")
    assert sk.num_frames == 14
    xyz = sorted((v.xyz for v in sk.bodies.values()), key=len)
    np.testing.assert_allclose(xyz[1], a, atol=1e-6)
    np.testing.assert_allclose(xyz[0], b[4:], atol=1e-6)


def test_variation_subjects_views_noise():
    heights = {round(subject_body(0, s).pelvis_h, 4) for s in range(1, 41)}
    assert len(heights) > 30
    assert subject_body(0, 3) == subject_body(0, 3) and subject_body(0, 3) != subject_body(1, 3)
    spec = dict(index=0, label=5, setup=1, subject=5, rep=1, seed=0)
    views = [generate_sequence(SampleSpec(camera=c, **spec))[0][0] for c in (1, 2, 3)]

    def facing(x):  # horizontal direction of the shoulder line in the first frame
        d = x[0, 8] - x[0, 4]
        return np.degrees(np.arctan2(d[2], d[0]))

    angles = sorted(facing(v) for v in views)
    assert angles[2] - angles[0] > 60  # cameras 1-3 see the subject from different sides
    x1, _ = generate_sequence(SampleSpec(camera=1, **spec))
    np.testing.assert_array_equal(x1[0], views[0])  # deterministic
    # idle frames before the action: the head hardly moves over the first 5 frames, far less
    # than during the bow; sensor noise: consecutive frames are never identical
    seq = views[0]
    head = seq[:, 3]
    assert np.ptp(head[:5], axis=0).max() < 0.2 * np.ptp(head, axis=0).max()
    assert np.all(np.abs(np.diff(seq, axis=0)).max(axis=(1, 2)) > 0)


def test_hard_pairs_differ_only_near_the_head_and_hands():
    """Brush teeth vs drink water (same subject and view): the body below the arms moves the
    same; the difference is in the right hand and head."""
    moves = {}
    for label in (CLASSES.index("brush teeth"), CLASSES.index("drink water"),
                  CLASSES.index("sit down")):
        xs = [generate_sequence(SampleSpec(i, label, 1, 1, 5, 1, 0))[0][0] for i in range(4)]
        moves[label] = np.mean([np.abs(x - x[0]).max(axis=0).mean(axis=-1) for x in xs], axis=0)
    teeth, drink, sit = (moves[CLASSES.index(c)] for c in ("brush teeth", "drink water", "sit down"))
    legs = [12, 13, 14, 15, 16, 17, 18, 19]
    right_hand = [10, 11, 23, 24]
    assert teeth[legs].max() < 0.08 and drink[legs].max() < 0.08  # legs quiet in both
    assert teeth[right_hand].mean() > 0.25 and drink[right_hand].mean() > 0.25
    assert sit[[0, 1, 12, 16, 20]].min() > 0.15  # an easy class moves the whole body


def test_prepare_synthetic_cli_deterministic(tmp_path, capsys):
    outs = []
    for run in ("a", "b", "c"):
        out = tmp_path / run / "syn.pkl"
        seed = "7" if run != "c" else "8"
        rc = main(["prepare", "synthetic", "--out", str(out), "--seed", seed, "--num-samples", "70",
                   "--workers", "2", "--no-progress"])
        assert rc == 0
        outs.append(load_pkl(out))
    a, b, c = outs
    assert a["split"] == b["split"] and a["meta"]["class_names"] == list(CLASSES)
    assert a["meta"]["dataset"] == "synthetic" and a["meta"]["layout"] == "ntu25"
    assert len(a["annotations"]) == 70
    assert set(a["split"]) >= {"xsub_train", "xsub_val", "xview_train", "xview_val"}
    for x, y in zip(a["annotations"], b["annotations"]):
        assert x["frame_dir"] == y["frame_dir"] and x["label"] == y["label"]
        np.testing.assert_array_equal(x["keypoint"], y["keypoint"])
    assert [x["frame_dir"] for x in a["annotations"]] != [x["frame_dir"] for x in c["annotations"]]
    two = [x for x in a["annotations"] if CLASS_GROUPS[CLASSES[x["label"]]] == "interaction"]
    assert two and all(x["keypoint"].shape[0] == 2 for x in two)
    assert not list(tmp_path.glob("a/.synthetic-raw-*"))  # the temporary raw folder is removed


def test_raw_folder_is_kept_when_given(tmp_path):
    generate_synthetic(tmp_path / "s.pkl", 28, seed=0, workers=1, raw=tmp_path / "raw")
    assert len(list((tmp_path / "raw").glob("S*C*P*R*A*.skeleton"))) == 28


@pytest.mark.slow
def test_synthetic_is_learnable(tmp_path):
    """A short SGN run (small spatial module, 10 frames, 40 steps) beats chance (1/14) widely."""
    torch.manual_seed(0)
    path = tmp_path / "syn.pkl"
    generate_synthetic(path, 560, seed=1, workers=2)
    frames = 10
    train = SkeletonDataset(path, "xsub_train", default_pipeline("synthetic", "joint", True,
                                                                 num_frames=frames), seed=0)
    test = SkeletonDataset(path, "xsub_val", default_pipeline("synthetic", "joint", False,
                                                              num_frames=frames))
    model = create_model("sgn", num_classes=len(CLASSES), layout="ntu25", num_frames=frames,
                         size="small")
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    loader = build_loader(train, batch_size=32, train=True)
    steps = 0
    while steps < 40:
        model.train()
        for x, y, _ in loader:
            loss = torch.nn.functional.cross_entropy(model(x)[0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps += 1
            if steps == 40:
                break
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y, _ in build_loader(test, batch_size=256, train=False):
            correct += (model(x)[0].argmax(1) == y).sum().item()
            total += len(y)
    acc = correct / total
    assert total > 200
    assert acc > 5 / len(CLASSES), f"accuracy {acc:.3f} is not far above chance {1 / 14:.3f}"
