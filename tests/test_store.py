"""The memory-mapped sample store: round trip with the pkl, atomic writes, corruption caught at
open, identical batches from a pkl and its store, and `adasgn convert` / `adasgn info`."""

import json
import mmap
import os

import numpy as np
import pytest
import torch

from adasgn.cli import main as cli_main
from adasgn.data import store as S
from adasgn.data.dataset import SkeletonDataset, build_loader, default_pipeline, load_source
from adasgn.data.pkl import load_pkl
from adasgn.errors import DataError

from helpers import tiny_pkl


@pytest.fixture()
def pkl(tmp_path):
    return tiny_pkl(tmp_path / "d.pkl", n=40, persons=2)


def test_round_trip_is_exact(pkl, tmp_path):
    st_path = S.store_from_pkl(pkl, tmp_path / "d.store")
    st = S.open_store(st_path)
    ref = load_pkl(pkl)
    assert st.names == [a["frame_dir"] for a in ref["annotations"]]
    assert st["split"] == ref["split"] and st["meta"]["layout"] == "ntu25"
    for a, b in zip(st["annotations"], ref["annotations"]):
        assert a["label"] == b["label"] and a["total_frames"] == b["total_frames"]
        np.testing.assert_array_equal(a["keypoint"], b["keypoint"])
    back = S.store_to_pkl(st_path, tmp_path / "back.pkl")
    again = load_pkl(back)
    assert again["split"] == ref["split"]
    for a, b in zip(again["annotations"], ref["annotations"]):
        assert a["frame_dir"] == b["frame_dir"] and a["label"] == b["label"]
        np.testing.assert_array_equal(a["keypoint"], b["keypoint"])


def test_float16_store_is_close_and_half_the_size(pkl, tmp_path):
    s32 = S.store_from_pkl(pkl, tmp_path / "a.store")
    s16 = S.store_from_pkl(pkl, tmp_path / "b.store", dtype="float16")
    k32 = (s32 / "keypoint.npy").stat().st_size
    k16 = (s16 / "keypoint.npy").stat().st_size
    assert k16 < 0.51 * k32 + 256
    a, b = S.open_store(s32), S.open_store(s16)
    np.testing.assert_allclose(np.asarray(b.keypoint, np.float32), a.keypoint, atol=4e-3)


def test_pkl_and_store_give_identical_batches(pkl, tmp_path):
    st = S.store_from_pkl(pkl, tmp_path / "d.store")
    steps = default_pipeline("synthetic", "bone", True, layout="ntu25")
    batches = []
    for src in (pkl, st):
        ds = SkeletonDataset(str(src), "xsub_train", steps, seed=3)
        loader = build_loader(ds, batch_size=8, train=True, seed=3)
        loader.sampler.set_epoch(2)
        batches.append([(x, y) for x, y, _ in loader])
    assert len(batches[0]) == len(batches[1]) > 0
    for (x0, y0), (x1, y1) in zip(*batches):
        assert torch.equal(x0, x1) and torch.equal(y0, y1)


def test_write_is_atomic(pkl, tmp_path, monkeypatch):
    out = tmp_path / "d.store"
    S.store_from_pkl(pkl, out)
    before = sorted(p.name for p in out.iterdir())
    crc = json.loads((out / "index.json").read_text())["crc"]

    def crash(path, arr):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(S, "_save_npy", crash)
    with pytest.raises(KeyboardInterrupt):
        S.store_from_pkl(pkl, out, dtype="float16")
    # the old store is still there, whole; no temporary directory is left behind
    assert sorted(p.name for p in out.iterdir()) == before
    assert json.loads((out / "index.json").read_text())["crc"] == crc
    S.open_store(out)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    fresh = tmp_path / "new.store"
    with pytest.raises(KeyboardInterrupt):
        S.store_from_pkl(pkl, fresh)
    assert not fresh.exists()


@pytest.mark.parametrize("damage", ["truncate", "flip_head", "flip_tail", "no_index",
                                    "bad_json", "labels", "missing_file"])
def test_corruption_is_detected_at_open(pkl, tmp_path, damage):
    out = S.store_from_pkl(pkl, tmp_path / "d.store")
    kp = out / "keypoint.npy"
    if damage == "truncate":
        with open(kp, "rb+") as fh:
            fh.truncate(kp.stat().st_size - 12)
    elif damage in ("flip_head", "flip_tail"):
        with open(kp, "rb+") as fh:
            fh.seek(200 if damage == "flip_head" else kp.stat().st_size - 5)
            b = fh.read(1)
            fh.seek(-1, os.SEEK_CUR)
            fh.write(bytes([b[0] ^ 0xFF]))
    elif damage == "no_index":
        (out / "index.json").unlink()
    elif damage == "bad_json":
        (out / "index.json").write_text("{ not json")
    elif damage == "labels":
        arr = np.load(out / "labels.npy")
        arr[0] += 1
        np.save(out / "labels.npy", arr)
    else:
        (out / "shapes.npy").unlink()
    with pytest.raises(DataError, match="corrupted or incomplete store") as err:
        S.open_store(out)
    assert str(out) in str(err.value)


def test_verify_reads_every_byte(pkl, tmp_path, monkeypatch):
    monkeypatch.setattr(S, "EDGE", 256)  # this tiny store would otherwise be all "edge"
    out = S.store_from_pkl(pkl, tmp_path / "d.store")
    kp = out / "keypoint.npy"
    with open(kp, "rb+") as fh:  # a flipped byte in the middle: open() does not see it
        fh.seek(kp.stat().st_size // 2)
        b = fh.read(1)
        fh.seek(-1, os.SEEK_CUR)
        fh.write(bytes([b[0] ^ 0x01]))
    S.open_store(out)
    with pytest.raises(DataError, match="checksum mismatch"):
        S.verify_store(out)


def test_store_is_read_transparently_and_shares_memory(pkl, tmp_path):
    out = S.store_from_pkl(pkl, tmp_path / "d.store")
    data = load_source(str(out))
    assert isinstance(data, S.SkeletonStore)
    kp = data["annotations"][3]["keypoint"]
    base = kp
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    assert isinstance(base, mmap.mmap)  # a view into the map, not a copy
    assert not kp.flags.writeable and not kp.flags.owndata


def test_cli_convert_and_info(pkl, tmp_path, capsys):
    out = tmp_path / "d.store"
    assert cli_main(["convert", str(pkl), str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli_main(["info", str(out), "--json", "--verify"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kind"] == "store" and d["samples"] == 40 and d["joints"] == 25
    assert d["splits"] == {"xsub_train": 30, "xsub_val": 10} and d["verified"]
    assert cli_main(["info", str(pkl), "--json"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert {k: p[k] for k in ("samples", "classes", "splits", "frames", "persons")} == \
        {k: d[k] for k in ("samples", "classes", "splits", "frames", "persons")}
    assert cli_main(["convert", str(out), str(tmp_path / "back.pkl"), "--no-progress"]) == 0
    assert cli_main(["info", str(tmp_path / "missing.store")]) == 2


def test_training_reads_a_store(pkl, tmp_path):
    """A config takes a store wherever it takes a pkl."""
    from pathlib import Path

    from adasgn.engine.config import load_config
    from adasgn.engine.trainer import train

    out = S.store_from_pkl(pkl, tmp_path / "d.store")
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "configs" / "base.yaml", [
        f"data.path={out}", "data.dataset=synthetic", "train.epochs=1", "train.batch_size=8",
        "data.workers=0", f"out_dir={tmp_path / 'runs'}", "name=s", "data.val_fraction=0.2",
        "train.threads=1"])
    res = train(cfg, progress=False)
    assert res["num_samples"] == 10 and 0.0 <= res["top1"] <= 1.0

