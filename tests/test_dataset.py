"""SkeletonDataset, the validation hold-out, the loader's seeding, default pipelines."""

import numpy as np
import pytest
import torch
from torch.utils.data import get_worker_info

from adasgn.data.dataset import (
    EpochSampler,
    SkeletonDataset,
    build_loader,
    default_pipeline,
    holdout,
)
from adasgn.data.pkl import save_pkl
from adasgn.data.transforms import build_pipeline


def _data(n=40, t=30, same=False, persons=1):
    rng = np.random.default_rng(0)
    base = rng.normal(size=(persons, t, 25, 3)).astype(np.float32)
    anns = []
    for i in range(n):
        kp = base.copy() if same else rng.normal(size=(persons, t + i % 7, 25, 3)).astype(np.float32)
        anns.append({"frame_dir": f"s{i:03d}", "label": i % 4, "total_frames": kp.shape[1],
                     "keypoint": kp})
    names = [a["frame_dir"] for a in anns]
    return {"split": {"train": names[: n * 3 // 4], "test": names[n * 3 // 4:]},
            "annotations": anns,
            "meta": {"dataset": "synthetic", "layout": "ntu25", "class_names": list("abcd")}}


class Record:
    """Test step: write (worker id, a draw of numpy's global RNG, a torch draw) into the input."""

    def __call__(self, s):
        info = get_worker_info()
        s["input"][:, 0, 0, 1] = [-1 if info is None else info.id, np.random.random(),
                                  float(torch.rand(()))]
        return s


# ----------------------------------------------------------------------------- dataset


def test_getitem_types_shapes_and_sources(tmp_path):
    data = _data()
    ds = SkeletonDataset(data, "train", default_pipeline("synthetic", "joint", train=False))
    x, label, index = ds[3]
    assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
    assert tuple(x.shape) == (3, 20, 25, 2)
    assert isinstance(label, int) and label == 3 and index == 3
    assert torch.all(x[..., 1] == 0)  # the empty second slot the model skips
    assert len(ds) == 30 and ds.num_classes == 4 and ds.names[0] == "s000"
    # a pkl path gives the same samples as the dict
    path = tmp_path / "d.pkl"
    save_pkl(path, data["annotations"], data["split"], data["meta"])
    ds2 = SkeletonDataset(path, "train", default_pipeline("synthetic", "joint", train=False))
    assert torch.equal(ds2[3][0], x) and ds2.source == str(path)
    # explicit name lists and errors
    assert len(SkeletonDataset(data, ["s001", "s005"], [])) == 2
    with pytest.raises(KeyError, match="available"):
        SkeletonDataset(data, "xsub_train", [])
    with pytest.raises(KeyError, match="no annotation"):
        SkeletonDataset(data, ["nope"], [])


def test_streams_through_dataset():
    data = _data()
    for stream in ("joint", "bone", "velocity"):
        for train in (True, False):
            ds = SkeletonDataset(data, "train", default_pipeline("ntu60", stream, train))
            x, _, _ = ds[0]
            assert tuple(x.shape) == (3, 20, 25, 2) and torch.isfinite(x).all()


def test_holdout_seeded_stratified_disjoint():
    names = [f"n{i}" for i in range(400)]
    labels = [i % 8 for i in range(400)]
    tr, va = holdout(names, 0.05, seed=3, labels=labels)
    assert len(va) == 8 * round(0.05 * 50) and len(tr) + len(va) == 400
    assert set(tr).isdisjoint(va) and set(tr) | set(va) == set(names)
    assert sorted(tr, key=names.index) == tr  # order kept
    assert holdout(names, 0.05, seed=3, labels=labels) == (tr, va)  # deterministic
    assert holdout(names, 0.05, seed=4, labels=labels)[1] != va  # seeded
    va_labels = [labels[names.index(n)] for n in va]
    assert sorted(set(va_labels)) == list(range(8))  # every class represented
    tr2, va2 = holdout(names, 0.1, seed=0)
    assert len(va2) == 40 and set(tr2).isdisjoint(va2)
    assert holdout(names, 0.0) == (names, [])
    # the dataset's own hold-out: train/val parts are complementary
    data = _data(n=80)
    a = SkeletonDataset(data, "train", [], holdout="train", holdout_fraction=0.1)
    b = SkeletonDataset(data, "train", [], holdout="val", holdout_fraction=0.1)
    assert set(a.names).isdisjoint(b.names) and len(a) + len(b) == 60 and len(b) >= 4


def test_default_pipelines_per_dataset():
    types = lambda cfg: [s["type"] for s in cfg]  # noqa: E731
    for ds in ("ntu60", "ntu120", "synthetic"):
        assert types(default_pipeline(ds, "joint", True)) == [
            "DropEmptyFrames", "Stream", "UniformSample", "RandomRotation", "FormatInput"]
        assert "RandomRotation" not in types(default_pipeline(ds, "joint", False))
    for ds in ("shrec14", "shrec28", "msr"):
        assert "RandomRotation" not in types(default_pipeline(ds, "joint", True))
    assert default_pipeline("shrec14", "bone", True)[-1] == {"type": "FormatInput", "num_persons": 1}
    assert default_pipeline("shrec28", "bone", True)[1]["layout"] == "shrec22"
    # rot_norm: after sampling for joints (official place), before the stream otherwise
    assert types(default_pipeline("ntu60", "joint", False, rot_norm=True))[3] == "RotNorm"
    assert types(default_pipeline("ntu60", "bone", False, rot_norm=True))[1] == "RotNorm"
    assert default_pipeline("ntu60", "joint", True)[3] == {"type": "RandomRotation", "degrees": 17}
    build_pipeline(default_pipeline("msr", "velocity", True))  # every config builds


# ----------------------------------------------------------------------------- loader + seeding


def _run_epochs(loader, epochs):
    out = []
    for _ in range(epochs):
        xs, idx = [], []
        for x, _, i in loader:
            xs.append(x)
            idx.append(i)
        x, i = torch.cat(xs), torch.cat(idx)
        out.append(x[torch.argsort(i)])
    return out


def test_loader_epochs_shuffle_and_drop_last():
    data = _data(n=70)
    ds = SkeletonDataset(data, None, default_pipeline("synthetic", "joint", True))
    loader = build_loader(ds, batch_size=16, train=True, seed=0)
    assert isinstance(loader.sampler, EpochSampler)
    orders = []
    for _ in range(2):
        idx = torch.cat([i for _, _, i in loader])
        assert len(idx) == 64 and len(set(idx.tolist())) == 64  # drop_last, no repeats
        orders.append(idx.tolist())
    assert orders[0] != orders[1]  # a new permutation each epoch
    loader.sampler.set_epoch(0)
    assert torch.cat([i for _, _, i in loader]).tolist() == orders[0]  # set_epoch replays
    test = build_loader(ds, batch_size=16, train=False)
    assert torch.cat([i for _, _, i in test]).tolist() == list(range(70))


def test_workers_get_different_seeds_every_epoch_and_runs_are_reproducible():
    data = _data(n=32, same=True)  # identical samples: any difference is augmentation
    pipe = build_pipeline(default_pipeline("synthetic", "joint", True) + [Record()])
    ds = SkeletonDataset(data, None, pipe, seed=7)
    loader = build_loader(ds, batch_size=4, train=True, num_workers=2)
    e0, e1 = _run_epochs(loader, 2)

    def per_worker(x):
        rec = x[:, :, 0, 0, 1]  # (N, 3): worker id, numpy draw, torch draw
        return {int(w): rec[rec[:, 0] == w, 1:] for w in rec[:, 0].unique()}

    w0, w1 = per_worker(e0), per_worker(e1)
    assert sorted(w0) == [0, 1]  # both workers did work
    # the global RNGs of the two workers differ within an epoch ...
    assert not torch.equal(w0[0][0], w0[1][0])
    # ... and every worker's stream changes from one epoch to the next
    for w in (0, 1):
        assert not torch.equal(w0[w][0], w1[w][0])
    # augmentation: the same (identical) sample is rotated differently by index and by epoch
    aug0, aug1 = e0[:, :, 1:], e1[:, :, 1:]
    assert len({tuple(a.flatten()[:30].tolist()) for a in aug0}) > 28
    assert all(not torch.equal(a, b) for a, b in zip(aug0, aug1))
    # reproducible: the same seed replays the same augmentation, with 0 or 2 workers
    ds0 = SkeletonDataset(data, None, default_pipeline("synthetic", "joint", True), seed=7)
    r0, r1 = _run_epochs(build_loader(ds0, batch_size=4, train=True, num_workers=0), 2)
    assert torch.equal(r0[:, :, 1:], aug0) and torch.equal(r1[:, :, 1:], aug1)
    # another seed, other augmentation
    ds9 = SkeletonDataset(data, None, default_pipeline("synthetic", "joint", True), seed=9)
    (s0,) = _run_epochs(build_loader(ds9, batch_size=4, train=True), 1)
    assert not torch.equal(s0[:, :, 1:], aug0)


def test_persistent_workers_still_see_the_epoch():
    data = _data(n=16, same=True)
    ds = SkeletonDataset(data, None, default_pipeline("synthetic", "joint", True), seed=1)
    loader = build_loader(ds, batch_size=4, train=True, num_workers=2, persistent_workers=True)
    e0, e1 = _run_epochs(loader, 2)
    assert all(not torch.equal(a, b) for a, b in zip(e0, e1))
    ds.epoch = 1  # plain indexing uses dataset.epoch: identical to what the loader gave
    assert torch.equal(ds[3][0], e1[3])
