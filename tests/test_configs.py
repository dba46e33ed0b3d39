"""Every shipped config loads, and builds its model for each stream (joint, bone, velocity)."""

from pathlib import Path

import pytest
import torch

from adasgn.data.transforms import build_pipeline
from adasgn.engine.config import load_config
from adasgn.engine.data import run_pipeline, run_preset
from adasgn.engine.run import build_model
from adasgn.skeleton import get_layout

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs").rglob("*.yaml") if p.name != "base.yaml")


def test_configs_exist_for_every_benchmark():
    names = {p.relative_to(ROOT / "configs").as_posix() for p in CONFIGS}
    for want in ("ntu60-xsub.yaml", "ntu60-xview.yaml", "ntu120-xsub.yaml", "ntu120-xset.yaml",
                 "shrec14.yaml", "shrec28.yaml", "msr.yaml", "synthetic.yaml", "msr/sgn.yaml",
                 "msr/single.yaml", "msr/adasgn.yaml"):
        assert want in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.relative_to(ROOT / "configs").as_posix())
@pytest.mark.parametrize("stream", ["joint", "bone", "velocity"])
def test_config_builds_model_and_pipeline(path, stream):
    own = ["data.layout=msr20"] if path.name == "small.yaml" else []  # a dataset of one's own
    cfg = load_config(path, [f"data.stream={stream}", *own])
    preset = run_preset(cfg, num_classes=10)
    layout = get_layout(cfg.data.layout or preset.layout)
    model = build_model(cfg, layout, preset.num_classes, preset.in_channels).eval()
    steps = run_pipeline(cfg, layout.name, train=True)
    assert any(s.get("kind") == stream for s in steps)
    build_pipeline(steps)  # every step of the config (its augmentations too) builds
    x = torch.randn(2, preset.in_channels, cfg.data.num_frames, layout.num_joints, preset.max_persons)
    with torch.no_grad():
        logits, _ = model(x)
    assert logits.shape == (2, preset.num_classes)


def test_augment_and_monitor_are_checked_when_the_config_loads():
    from adasgn.engine.config import ConfigError
    cfg = load_config(ROOT / "configs" / "msr" / "sgn.yaml", ["data.augment=[mirror,scale:0.2]"])
    assert cfg.data.augment == ["mirror", "scale:0.2"]
    with pytest.raises(ConfigError, match="data.augment: unknown augmentation 'flip'"):
        load_config(ROOT / "configs" / "msr" / "sgn.yaml", ["data.augment=[flip]"])
    with pytest.raises(ConfigError, match="train.monitor"):
        load_config(ROOT / "configs" / "msr" / "sgn.yaml", ["train.monitor=[val]"])


def test_options_of_another_model_are_a_config_error():
    from adasgn.engine.config import ConfigError
    cfg = load_config(ROOT / "configs" / "utd_mhad.yaml", ["model.name=sgn", "model.options={policy: tconv}"])
    with pytest.raises(ConfigError, match=r"model.options \['policy'\] are not options of model 'sgn'"):
        build_model(cfg, get_layout("utd20"), 27, 3)
