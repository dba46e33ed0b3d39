"""Classification metrics computed from per-sample scores (each sample counted exactly once)."""

from __future__ import annotations

import numpy as np


def topk_accuracy(scores: np.ndarray, labels: np.ndarray, k: int) -> float:
    if len(labels) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float((top == labels[:, None]).any(axis=1).mean())


def per_class_accuracy(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> list:
    pred = scores.argmax(1)
    out = []
    for c in range(num_classes):
        m = labels == c
        out.append(float((pred[m] == c).mean()) if m.any() else None)
    return out


def classification_report(scores: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    pc = per_class_accuracy(scores, labels, num_classes)
    valid = [a for a in pc if a is not None]
    return {
        "top1": topk_accuracy(scores, labels, 1),
        "top5": topk_accuracy(scores, labels, 5),
        "mean_class_acc": float(np.mean(valid)) if valid else float("nan"),
        "per_class": pc,
        "num_samples": int(len(labels)),
    }


class RankedClasses:
    """Mixin of a result holding ``top``: ``[{"index", "name", "probability"}]``, best first."""

    top: list

    @property
    def index(self) -> int:
        return int(self.top[0]["index"])

    @property
    def name(self) -> str:
        return str(self.top[0]["name"])

    @property
    def probability(self) -> float:
        return float(self.top[0]["probability"])
