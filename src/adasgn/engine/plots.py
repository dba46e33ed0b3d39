"""Figures: the accuracy-vs-compute trade-off (paper Fig. 3) and the per-frame joint choice of a
sequence (paper Fig. 4). Written with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, out: str | Path) -> Path:
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def tradeoff_plot(results: dict, out: str | Path, title: str = "",
                  budget_curve: list[dict] | None = None) -> Path:
    """results: stage name -> test report (``top1``, ``gmacs`` and optionally ``top1_std``,
    ``gmacs_std``). Stage names: ``sgn``, ``single_<size><joints>``, ``adasgn*``, ``rand``,
    ``fuse``. ``budget_curve``: points of one checkpoint run at several compute budgets (one curve per
    ``mode`` key, if the rows have one)."""
    fig, ax = plt.subplots(figsize=(7, 4.8), dpi=120)

    def pt(r):
        return r["gmacs"], 100 * r["top1"], r.get("gmacs_std", 0.0), 100 * r.get("top1_std", 0.0)

    ada = sorted((pt(r) + (k,) for k, r in results.items() if k.startswith("adasgn")),
                 key=lambda p: p[0])
    if ada:
        x, y, xe, ye, names = zip(*ada)
        ax.errorbar(x, y, xerr=xe, yerr=ye, fmt="-o" if len(ada) > 1 else "o", color="tab:red",
                    lw=2, ms=7, capsize=3,
                    label="AdaSGN (alpha sweep)" if len(ada) > 1 else "AdaSGN")
        # labels in a staggered column right of the points (alpha-swept points crowd together),
        # each tied to its point by a thin line; ordered by accuracy so that lines do not cross
        order = sorted(range(len(ada)), key=lambda i: -y[i])
        for rank, i in enumerate(order):
            alpha = results[names[i]].get("alpha")
            lab = f"alpha={alpha:g}" if alpha is not None else names[i]
            ax.annotate(lab, (x[i], y[i]), textcoords="offset points",
                        xytext=(28, 14 - 12 * rank), fontsize=7, color="tab:red", va="center",
                        arrowprops={"arrowstyle": "-", "color": "tab:red", "lw": 0.5,
                                    "alpha": 0.6})
    if budget_curve:  # rows may carry a "mode" (mean / sample): one curve per mode
        styles = {"mean": ("--s", "tab:purple"), "sample": (":D", "tab:olive")}
        modes = sorted({r.get("mode", "mean") for r in budget_curve})
        for mode in modes:
            bc = sorted((r for r in budget_curve if r.get("mode", "mean") == mode),
                        key=lambda r: r["gmacs"])
            fmt, color = styles.get(mode, ("--s", "tab:purple"))
            label = "one AdaSGN, run-time budget" + (f" ({mode} mode)" if len(modes) > 1 else "")
            ax.plot([r["gmacs"] for r in bc], [100 * r["top1"] for r in bc], fmt, color=color,
                    ms=4, label=label)
    singles = [(k, r) for k, r in results.items() if k.startswith("single_")
               and not ("sgn" in results and r.get("model") == "sgn")]  # SGN reused as big-full
    for k, r in singles:
        g, a, ge, ae = pt(r)
        big = "big" in k
        ax.errorbar([g], [a], xerr=[ge], yerr=[ae], fmt="^" if big else "v",
                    color="tab:blue" if big else "tab:cyan", ms=7, capsize=2)
        ax.annotate(k.replace("single_", ""), (g, a), textcoords="offset points", xytext=(4, 3),
                    fontsize=7, color="tab:blue")
    if singles:
        ax.plot([], [], "^", color="tab:blue", label="single models SGN* (big)")
        ax.plot([], [], "v", color="tab:cyan", label="single models SGN* (small)")
    styles = {"sgn": ("*", "black", "SGN"), "rand": ("X", "tab:orange", "random policy"),
              "fuse": ("P", "tab:green", "fuse (all branches)")}
    for key, (marker, color, label) in styles.items():
        if key in results:
            g, a, ge, ae = pt(results[key])
            ax.errorbar([g], [a], xerr=[ge], yerr=[ae], fmt=marker, color=color, ms=11, capsize=2,
                        label=label)
    ax.set_xlabel("GMACs per 20-frame person sequence (paper convention, 'GFLOPs')")
    ax.set_ylabel("top-1 accuracy on the test split (%)")
    ax.set_title(title or "Accuracy vs compute")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, out)


def qualitative_plot(skeleton: np.ndarray, bones, decisions: np.ndarray, choice_names: list,
                     choice_joints: list, out: str | Path, title: str = "",
                     groups: dict | None = None, frames: int = 10) -> Path:
    """Draw ``frames`` of the sampled 20 frames of one person (T, V, 3) in 3-D; each panel is
    titled with the branch the policy chose and shows the joints that branch really sees
    (the aggregated joints, as large markers) over the full skeleton (thin lines)."""
    t = skeleton.shape[0]
    pick = np.linspace(0, t - 1, min(frames, t)).round().astype(int)
    cols = min(5, len(pick))
    rows = int(np.ceil(len(pick) / cols))
    fig = plt.figure(figsize=(3.0 * cols, 3.3 * rows + 0.6), dpi=110)
    lo, hi = skeleton.reshape(-1, 3).min(0), skeleton.reshape(-1, 3).max(0)
    colors = plt.cm.viridis(np.linspace(0.1, 0.9, len(choice_names)))
    for k, f in enumerate(pick):
        ax = fig.add_subplot(rows, cols, k + 1, projection="3d")
        p = skeleton[f]
        for c, par in bones:
            # x right, z depth, y up -> plot (x, z, y) so that up is up
            ax.plot([p[c, 0], p[par, 0]], [p[c, 2], p[par, 2]], [p[c, 1], p[par, 1]], color="0.6",
                    lw=1)
        d = int(decisions[f])
        j = choice_joints[d]
        if groups is not None and j in groups:
            red = np.stack([p[list(g)].mean(0) for g in groups[j]])
        else:
            red = p
        ax.scatter(red[:, 0], red[:, 2], red[:, 1], s=22 if j > 9 else 60, color=colors[d],
                   depthshade=False)
        ax.set_xlim(lo[0], hi[0]); ax.set_ylim(lo[2], hi[2]); ax.set_zlim(lo[1], hi[1])  # noqa: E702
        ax.set_xticks([]); ax.set_yticks([]); ax.set_zticks([])  # noqa: E702
        ax.view_init(elev=10, azim=-80)
        ax.set_title(f"frame {f}: {choice_names[d]} ({j} joints)", fontsize=9, color=colors[d])
    fig.suptitle(title or "Joint number chosen per frame", fontsize=11)
    return _save(fig, out)
