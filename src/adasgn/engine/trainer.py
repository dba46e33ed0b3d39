"""Training and evaluation loop for SGN, single models and AdaSGN.

One run = one directory ``<out_dir>/<name>/`` holding

* ``config.yaml`` and ``env.json`` (versions, git hash, command line),
* ``metrics.jsonl`` -- one line per epoch (train loss/acc, val metrics, lr, tau, GMACs, time),
* ``checkpoints/last.pt`` (every epoch, atomic) and ``checkpoints/best.pt`` (best validation),
* ``test.json`` and ``scores_test.npz`` -- the test split, evaluated once at the end with the
  selected checkpoint,
* TensorBoard events in ``tb/`` when the ``logging`` extra is installed.

Reproducibility: every epoch starts from RNG states that are a function of (seed, epoch) only, so
``--resume`` after a crash (even SIGKILL mid-epoch) replays the interrupted epoch exactly and
reaches the same final metrics as an uninterrupted run.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..errors import UserError
from ..models.flops import count_params
from ..models.losses import build_criterion
from . import distributed as D
from .checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
    versions,
)
from .config import Config, ConfigError, save_config
from .data import load_data
from .evaluate import autocast, evaluate, save_scores, summarize
from .run import build_model

# ---------------------------------------------------------------------------------------------
# seeds


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    return (seed * 100_003 + epoch * 7_919 + 17) % (2**31)


# ---------------------------------------------------------------------------------------------
# training


def apply_freeze(model: nn.Module, cfg: Config, epoch: int) -> None:
    """Freeze rules: ``train.freeze`` {name substring: first trainable epoch}; and, for a model
    initialised from singles (``adasgn.pretrained``), ``train.freeze_epochs`` freezes its
    pretrained branches (spatial modules + matrices, BN statistics too)."""
    for pattern, until in (cfg.train.freeze or {}).items():
        for name, p in model.named_parameters():
            if pattern in name:
                p.requires_grad_(epoch >= int(until))
    if cfg.adasgn.pretrained and cfg.train.freeze_epochs > 0:
        model.freeze_pretrained(epoch < cfg.train.freeze_epochs)


# The one fault-injection point (crash tests): ADASGN_KILL_AFTER_BATCHES=N makes the process
# SIGKILL itself before its (N+1)-th training batch, counted over every run in the process, so a
# multi-stage recipe can be killed inside any stage -- a hard crash, mid-epoch, at a known place.
FAULT_ENV = "ADASGN_KILL_AFTER_BATCHES"
_FAULT = {"batches": 0}


class Trainer:
    def __init__(self, cfg: Config, resume: bool = False, progress: bool = True):
        self.cfg = cfg
        self.progress = progress
        self.device = D.setup(cfg.train.device)
        if cfg.train.threads > 0:
            torch.set_num_threads(cfg.train.threads)
        if cfg.train.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
        self.run_dir = cfg.run_dir
        self.ckpt_dir = self.run_dir / "checkpoints"
        seed_everything(cfg.train.seed)
        self.data = load_data(cfg)
        self.preset, self.layout = self.data.preset, self.data.layout
        self.model = build_model(cfg, self.layout, self.preset.num_classes,
                                 self.preset.in_channels).to(self.device)
        if cfg.adasgn.pretrained:
            singles = [load_checkpoint(p) for p in cfg.adasgn.pretrained]
            src = temporal_source(cfg.adasgn.take_temporal, singles, self.model.choice_names)
            self.model.load_pretrained_singles([_weights(ck) for ck in singles], temporal_from=src)
            if src is not None and D.is_main():
                print(f"AdaSGN starts its temporal module and classifier from single "
                      f"{self.model.choice_names[src]} ({cfg.adasgn.pretrained[src]})", file=sys.stderr)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.train.lr,
                                          weight_decay=cfg.train.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(
            self.optimizer, milestones=list(cfg.train.milestones), gamma=cfg.train.gamma)
        self.start_epoch = 0
        self.best = {"metric": [-math.inf, -math.inf], "epoch": -1}
        self.select_from = selectable_from(cfg)
        if resume and (self.ckpt_dir / "last.pt").is_file():
            self._resume(self.ckpt_dir / "last.pt")
        self.ddp_model = self.model
        if D.is_distributed():
            self.ddp_model = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=self.model.conditional)
        self.tb = None

    # -------------------------------------------------------------- state
    def _state(self, epoch: int) -> dict:
        return {
            "format": "adasgn-checkpoint-1",
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": epoch,  # last finished epoch
            "best": dict(self.best),
            "rng": rng_state(),
            "config": self.cfg.to_dict(),
            "versions": versions(),
            "meta": {"dataset": self.preset.name, "layout": self.layout.name,
                     "class_names": list(self.data.class_names), "model": self.cfg.model.name},
        }

    def _resume(self, path: Path) -> None:
        ck = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(ck["model"])
        self.optimizer.load_state_dict(ck["optimizer"])
        self.scheduler.load_state_dict(ck["scheduler"])
        self.start_epoch = int(ck["epoch"]) + 1
        self.best = dict(ck["best"])
        self.best["metric"] = list(_selection_metric(self.best["metric"]))
        if 0 <= self.best["epoch"] < self.select_from:
            # saved under an earlier selection rule: the epochs since the new first selectable
            # one were never compared, so the run cannot be continued as if it had had this rule
            raise UserError(f"{path}: its best checkpoint (epoch {self.best['epoch']}) lies before "
                            f"the first selectable epoch {self.select_from} of this config; "
                            "start this run afresh (remove its directory) or keep the old rule")
        set_rng_state(ck["rng"])
        if D.is_main():
            print(f"resumed from {path} at epoch {self.start_epoch}", file=sys.stderr)

    # -------------------------------------------------------------- logging
    def _log(self, record: dict) -> None:
        if not D.is_main():
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "epoch":
                    self.tb.add_scalar(k, v, record["epoch"])

    def _prepare_run_dir(self) -> None:
        if not D.is_main():
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        save_config(self.cfg, self.run_dir / "config.yaml")
        env = versions()
        env["argv"] = sys.argv
        env["world_size"] = D.world_size()
        env["device"] = str(self.device)
        (self.run_dir / "env.json").write_text(json.dumps(env, indent=2))
        if self.start_epoch == 0 and (self.run_dir / "metrics.jsonl").exists():
            (self.run_dir / "metrics.jsonl").unlink()
        if self.start_epoch > 0:
            _truncate_jsonl(self.run_dir / "metrics.jsonl", self.start_epoch)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(self.run_dir / "tb"))
        except Exception:  # the logging extra is optional
            self.tb = None

    # -------------------------------------------------------------- loop
    def _fault_point(self) -> None:
        """The fault-injection point (see ``FAULT_ENV``)."""
        limit = os.environ.get(FAULT_ENV)
        if limit is not None and _FAULT["batches"] >= int(limit):
            os.kill(os.getpid(), signal.SIGKILL)
        _FAULT["batches"] += 1

    def train_epoch(self, epoch: int) -> dict:
        cfg = self.cfg
        seed = epoch_seed(cfg.train.seed, epoch)
        torch.manual_seed(seed + D.rank())
        np.random.seed((seed + D.rank()) % (2**32))
        random.seed(seed + D.rank())
        apply_freeze(self.model, cfg, epoch)
        net = self.model
        net.set_epoch(epoch)
        self.ddp_model.train()
        loader = self.data.train_loader(epoch)
        criterion = build_criterion(net, alpha=cfg.adasgn.alpha, warm_epochs=cfg.adasgn.warm_epochs,
                                    normalization=cfg.adasgn.loss_norm,
                                    smoothing=cfg.train.label_smoothing)
        tot_loss = tot_eff = 0.0
        correct = count = 0
        policy = self._policy_part(epoch)  # None, or (policy params, the others, loader)
        if policy is not None:
            policy_params, other_params, policy_loader = policy
            policy_iter, n_main, n_pol = iter(policy_loader), len(loader), len(policy_loader)
            pol_loss = pol_count = 0.0
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.train.epochs}", leave=False,
                   disable=not (self.progress and D.is_main()), file=sys.stderr, dynamic_ncols=True)
        for i, (x, y, _) in enumerate(bar):
            self._fault_point()
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with autocast(self.device, cfg.train.amp):
                logits, info = self.ddp_model(x)
            loss, parts = criterion(logits.float(), info, y, epoch)
            eff = parts["eff"]
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if policy is not None:  # the policy learns from its own part only
                _drop_grads(policy_params)
            self.optimizer.step()
            if policy is not None and (i + 1) * n_pol // n_main > i * n_pol // n_main:
                pol_loss += self._policy_step(next(policy_iter), criterion, epoch, other_params)
                pol_count += 1
            n = y.shape[0]
            tot_loss += float(loss.detach()) * n
            tot_eff += float(eff) * n
            correct += int((logits.argmax(1) == y).sum())
            count += n
            bar.set_postfix(loss=f"{tot_loss / max(count, 1):.3f}")
        self.scheduler.step()
        D.broadcast_buffers(self.model)  # every rank evaluates and keeps rank 0's model
        t = torch.tensor([tot_loss, tot_eff, correct, count], dtype=torch.float64, device=self.device)
        if D.is_distributed():
            torch.distributed.all_reduce(t)
        tot_loss, tot_eff, correct, count = t.tolist()
        rec = {"train_loss": tot_loss / max(count, 1), "train_acc": correct / max(count, 1),
               "eff_loss": tot_eff / max(count, 1)}
        if policy is not None:
            rec["policy_loss"] = pol_loss / max(pol_count, 1)
        rec.update(net.schedule_state())
        return rec

    def _policy_part(self, epoch: int):
        """(the policy's parameters, every other parameter, the loader of ``epoch``) when
        AdaSGN's policy learns from its own part of the training split
        (``data.policy_fraction``), else None."""
        policy = getattr(self.model, "policy", None)
        if "policy" not in self.data.datasets or policy is None:
            return None
        mine = list(policy.parameters())
        ids = {id(p) for p in mine}
        others = [p for p in self.model.parameters() if id(p) not in ids]
        return (mine, others, self.data.train_loader(epoch, split="policy")) if mine else None

    def _policy_step(self, batch, criterion, epoch: int, other_params: list) -> float:
        """One update of the policy alone on a batch of its part of the training split: the
        branches, temporal module and head run as at test time (eval mode: running BatchNorm
        statistics, no dropout) and are not updated; the policy samples its decisions as in
        training. Returns the batch's loss."""
        net = self.model
        x, y, _ = batch
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        for name, m in net.named_children():
            if name != "policy":
                m.eval()
        try:
            with autocast(self.device, self.cfg.train.amp):
                logits, info = self.ddp_model(x)
            loss, _ = criterion(logits.float(), info, y, epoch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            _drop_grads(other_params)
            self.optimizer.step()
        finally:
            net.train()  # AdaSGN.train keeps frozen branches in eval mode
        return float(loss.detach())

    def fit(self) -> dict:
        cfg = self.cfg
        self._prepare_run_dir()
        sel_split = "test" if cfg.train.select_on == "test" else "val"
        epochs = range(self.start_epoch, cfg.train.epochs)
        outer = tqdm(epochs, desc=cfg.name, disable=not (self.progress and D.is_main()),
                     file=sys.stderr, dynamic_ncols=True, initial=self.start_epoch,
                     total=cfg.train.epochs)
        for epoch in outer:
            t0 = time.time()
            lr = self.optimizer.param_groups[0]["lr"]
            rec = {"epoch": epoch, "lr": lr}
            rec.update(self.train_epoch(epoch))
            last = epoch == cfg.train.epochs - 1
            if (epoch + 1) % cfg.train.eval_every == 0 or last:
                rec.update(self.epoch_metrics(sel_split))
                for split in cfg.train.monitor:  # logged only (curves), never selected on
                    rec.update(self.epoch_metrics(split))
                key = selection_key(cfg.train.select, rec[f"{sel_split}_top1"],
                                    rec[f"{sel_split}_loss"], epoch)
                if epoch >= self.select_from and key > tuple(self.best["metric"]):
                    self.best = {"metric": list(key), "epoch": epoch}
                    if D.is_main():
                        save_checkpoint(self._state(epoch), self.ckpt_dir / "best.pt")
            rec["time_s"] = round(time.time() - t0, 2)
            self._log(rec)
            if D.is_main():
                save_checkpoint(self._state(epoch), self.ckpt_dir / "last.pt")
                outer.set_postfix({k: (f"{v:.3f}" if isinstance(v, float) else v)
                                   for k, v in rec.items() if k.endswith("top1") or k == "train_loss"})
            D.barrier()
        result = self.final_test()
        if self.tb is not None:
            self.tb.close()
        return result

    def epoch_metrics(self, split: str) -> dict:
        """One evaluation of ``split`` as metrics.jsonl records it: ``<split>_top1`` / ``_top5``
        / ``_gmacs`` / ``_loss`` (cross-entropy, no smoothing) and AdaSGN's ``_usage``."""
        rep = self.evaluate_split(split)
        res = rep["_res"]
        out = {f"{split}_top1": rep["top1"], f"{split}_top5": rep["top5"], f"{split}_gmacs": rep["gmacs"]}
        if "usage" in rep:
            out[f"{split}_usage"] = rep["usage"]
        out[f"{split}_loss"] = cross_entropy(res["scores"], self.data.labels(split)[res["index"]])
        return out

    def evaluate_split(self, split: str, model: nn.Module | None = None) -> dict:
        model = model or self.model
        loader = self.data.loader(split)
        res = evaluate(model, loader, self.device, model.num_classes, desc=f"eval {split}",
                       amp=self.cfg.train.amp, progress=self.progress)
        rep = summarize(res, self.data.labels(split), model.num_classes, model)
        rep["_res"] = res
        return rep

    def final_test(self) -> dict:
        """Load the selected checkpoint and evaluate the test split once. Also records a digest
        of every rank's last-epoch weights: under DDP they must all be equal."""
        digests = D.all_gather_objects(weights_digest(self.model))
        best = self.ckpt_dir / "best.pt"
        D.barrier()
        if best.is_file():
            ck = load_checkpoint(best, map_location=self.device)
            self.model.load_state_dict(ck["model"])
        rep = self.evaluate_split("test")
        res = rep.pop("_res")
        out = {k: v for k, v in rep.items()}
        out.update({"selected_epoch": self.best["epoch"], "selected_on": self.cfg.train.select_on,
                    "selection": self.cfg.train.select, "selectable_from": self.select_from,
                    "params": count_params(self.model),
                    "model": self.cfg.model.name, "name": self.cfg.name,
                    "stream": self.cfg.data.stream, "seed": self.cfg.train.seed,
                    "world_size": D.world_size(), "last_weights_digest": digests})
        if self.cfg.model.name == "adasgn":  # the efficiency weight and policy of this run
            out.update({"alpha": self.cfg.adasgn.alpha, "policy": self.model.cfg.policy})
        if D.is_main():
            (self.run_dir / "test.json").write_text(json.dumps(out, indent=2))
            save_scores(self.run_dir / "scores_test.npz", res, self.data, "test")
        return out


def _drop_grads(params) -> None:
    """Set the gradients of ``params`` to None: the optimiser (Adam) then leaves them, their
    moments and their weight decay untouched this step."""
    for p in params:
        p.grad = None


def cross_entropy(scores: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of per-sample logits (the selection split's loss, no smoothing)."""
    if len(labels) == 0:
        return float("inf")
    z = scores.astype(np.float64)
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def selectable_from(cfg: Config) -> int:
    """The first epoch whose checkpoint may be selected: never inside the frozen phase of a model
    initialised from singles, and for AdaSGN with ``adasgn.select_after_decay`` not before the
    first LR decay -- always at most the last epoch, so a short schedule still keeps one."""
    start = cfg.train.freeze_epochs if cfg.adasgn.pretrained else 0
    if cfg.model.name == "adasgn" and cfg.adasgn.select_after_decay and cfg.train.milestones:
        start = max(start, int(min(cfg.train.milestones)))
    return min(start, cfg.train.epochs - 1)


def selection_key(rule: str, top1: float, loss: float, epoch: int) -> tuple[float, float]:
    """What ``train.select`` maximises (compared as a tuple; an equal key keeps the earlier
    epoch, except for ``last``, whose key grows with every epoch)."""
    if rule == "top1":
        return (top1, -math.inf)
    if rule == "top1_loss":
        return (top1, -loss)
    if rule == "loss":
        return (-loss, -math.inf)
    if rule == "last":
        return (math.inf, float(epoch))
    raise ValueError(f"unknown selection rule {rule!r}")


def _selection_metric(metric) -> tuple:
    """A checkpoint's kept selection key as a tuple (checkpoints from before ``train.select``
    stored a single number)."""
    return tuple(metric) if isinstance(metric, (list, tuple)) else (metric, -math.inf)


def weights_digest(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (in state-dict order, as float64 bytes)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(name.encode())
        h.update(t.detach().to("cpu", torch.float64).contiguous().numpy().tobytes())
    return h.hexdigest()


def temporal_source(take, singles: list[dict], choice_names: list[str] | None = None) -> int | None:
    """Which single's temporal module and classifier AdaSGN starts from (``adasgn.take_temporal``):
    None (``false``: trained from scratch, the official code), the full-joint big single
    (``true``), a choice by index in AdaSGN's order (S-1, B-1, S-mid, B-mid, S-full, B-full for
    three joint choices: ``2`` is the small middle one) or by name (``S-9``), or ``best``: the
    single whose kept checkpoint has the best validation selection key (ties: the later, larger
    choice)."""
    if take is None or take is False:
        return None
    if take is True:
        return len(singles) - 1
    if isinstance(take, int):
        if not 0 <= take < len(singles):
            raise ConfigError(f"adasgn.take_temporal={take}: expected a choice index 0..{len(singles) - 1}")
        return take
    if take == "best":
        keys = []
        for i, ck in enumerate(singles):
            metric = (ck.get("best") or {}).get("metric")
            if metric is None:
                raise ConfigError(f"adasgn.take_temporal=best: pretrained single {i} is a bare "
                                  "state dict with no selection record; use a training checkpoint")
            keys.append((_selection_metric(metric), i))
        return max(keys)[1]
    if choice_names and take in choice_names:
        return list(choice_names).index(take)
    raise ConfigError(f"adasgn.take_temporal={take!r}: expected false, true, best, a choice index "
                      f"or one of {list(choice_names or [])}")


def _weights(ck: dict) -> dict:
    """The state dict of a training checkpoint, or the file itself when it is a bare one."""
    return ck["model"] if "model" in ck else ck


def _truncate_jsonl(path: Path, start_epoch: int) -> None:
    """After a resume, drop log lines of epochs that will be redone."""
    if not path.is_file():
        return
    keep = [ln for ln in path.read_text().splitlines()
            if ln.strip() and json.loads(ln).get("epoch", -1) < start_epoch]
    path.write_text("".join(ln + "\n" for ln in keep))


def train(cfg: Config, resume: bool = False, progress: bool = True) -> dict:
    trainer = Trainer(cfg, resume=resume, progress=progress)
    try:
        return trainer.fit()
    finally:
        D.cleanup()
