"""Streaming inference: each sampled frame's spatial work once (used by :mod:`adasgn.stream`).

A stream keeps the last ``T`` sampled frames of a sequence as :class:`StreamFrame` records (the
model input of one frame, every person slot, plus a cache the model owns). A model's
:meth:`~adasgn.models.base.SkeletonModel.streamer` returns a :class:`WindowStreamer` whose
``window(windows)`` gives exactly what ``model(x)`` gives for the stacked windows -- logits and a
:class:`~adasgn.models.base.ForwardInfo` -- while computing only what the cache lacks:

* **per frame, once**: the spatial features of a frame (a branch's :class:`FrameSpatial`, given
  the frame and the previous sampled frame) and their contributions to the temporal module's
  first convolution (:meth:`WindowTemporal.terms`);
* **again, only when its inputs changed**: the window's first frame has velocity 0 by definition
  (:func:`adasgn.models.sgn.velocity`), so its features are computed a second time, with zero
  velocity, when it becomes the first frame; an adaptive model may decide differently for a frame
  when its neighbours change (the window edges), and the newly chosen branch then runs on it;
* **per window**: the policy over the window (AdaSGN), the temporal module and the head
  (:meth:`WindowTemporal.finish`).

The kernels are the modules' own computation, rearranged for single frames in evaluation mode
(the same weights, BatchNorm folded into the adjacent linear maps, the constant joint-type and
frame-index embeddings applied once when the streamer is built): equal to the module forwards up
to float32 rounding (tested: ``tests/test_stream.py``). A streamer reads the weights when it is
built; build a new one after changing them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

__all__ = ["ConvOverTime", "FrameSpatial", "StreamFrame", "WindowStreamer", "WindowTemporal", "merge_sequences",
           "window_present"]


@dataclass
class StreamFrame:
    """One sampled frame of a stream: the model input of every person slot and the model's cache.

    ``pos`` (M, V, C) float32; ``nonzero`` per slot (not all zero in this frame); ``cache`` is
    filled by the model's streamer (keys and values are its own business)."""

    pos: torch.Tensor
    nonzero: tuple[bool, ...]
    cache: dict = field(default_factory=dict)

    @classmethod
    def from_tensor(cls, pos: torch.Tensor) -> "StreamFrame":
        nz = pos.ne(0).flatten(1).any(1).tolist()
        return cls(pos, tuple(bool(v) for v in nz))


def window_present(window: list[StreamFrame], skip_empty: bool) -> list[int]:
    """The person slots a model computes for a window (:func:`adasgn.models.sgn.present_persons`:
    the slots not all zero over the window; the first one when all are)."""
    m = len(window[0].nonzero)
    if not skip_empty:
        return list(range(m))
    used = [any(f.nonzero[j] for f in window) for j in range(m)]
    return [j for j in range(m) if used[j] or (j == 0 and not any(used))]


def _bn_affine(bn) -> tuple[torch.Tensor, torch.Tensor]:
    """Evaluation-mode BatchNorm as ``x * scale + shift``."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class FrameSpatial:
    """A :class:`~adasgn.models.sgn.SpatialModule` (behind an optional joint-aggregation matrix)
    folded for single frames: ``(pos, prev)`` (F, V0, C) each -> features (F, 256).

    The velocity is ``T(pos) - T(prev)`` in the module's joint space (``prev = pos`` gives the
    zero velocity of a window's first frame). Folding, all exact in real arithmetic: the two
    dynamics embeddings run as one block-diagonal pair of linear maps after their BatchNorms (an
    elementwise affine map) and are added; the constant joint-type half of the 128-channel
    input enters the graph's and the first GCN layer's linear maps as a precomputed per-joint
    term; each GCN layer's BatchNorm is folded into its two linear maps, and
    ``W (G X) = G (X W)``.
    """

    def __init__(self, sm, matrix: torch.Tensor | None = None):
        with torch.no_grad():
            je, de = sm.joint_embed, sm.dif_embed
            v, c = sm.num_joints, sm.in_channels
            d = je.fc1.out_features
            sp, tp = _bn_affine(je.bn)
            sv, tv = _bn_affine(de.bn)
            self.in_scale = torch.cat([sp.view(v, c), sv.view(v, c)], -1).contiguous()  # (V, 2C)
            self.in_shift = torch.cat([tp.view(v, c), tv.view(v, c)], -1).contiguous()
            w1 = je.fc1.weight.new_zeros(2 * c, 2 * d)
            w1[:c, :d], w1[c:, d:] = je.fc1.weight.t(), de.fc1.weight.t()
            w2 = je.fc2.weight.new_zeros(2 * d, 2 * d)
            w2[:d, :d], w2[d:, d:] = je.fc2.weight.t(), de.fc2.weight.t()
            self.w1, self.b1 = w1, torch.cat([je.fc1.bias, de.fc1.bias])
            self.w2, self.b2 = w2, torch.cat([je.fc2.bias, de.fc2.bias])
            jt = sm.spa_embed()  # (V, d) the joint-type embedding: a constant
            th, ph = sm.graph.theta, sm.graph.phi
            g0 = sm.gcns[0]
            s0, t0 = _bn_affine(g0.bn)
            self.qk = th.out_features
            self.o0 = g0.w.out_features
            dyn_part = torch.cat([th.weight[:, :d].t(), ph.weight[:, :d].t(),
                                  g0.w.weight[:, :d].t() * s0, g0.w1.weight[:, :d].t() * s0], 1)
            self.w_first = dyn_part.contiguous()  # (d, 2qk + 2 o0)
            self.dim = d
            # one joint: the graph is softmax of one value, 1 exactly, and G X = X
            self.single = v == 1
            self.c_first = torch.cat([
                jt @ th.weight[:, d:].t() + th.bias,
                jt @ ph.weight[:, d:].t() + ph.bias,
                (jt @ g0.w.weight[:, d:].t()) * s0,
                (jt @ g0.w1.weight[:, d:].t() + g0.w1.bias) * s0 + t0,
            ], 1).contiguous()  # (V, 2qk + 2 o0)
            self.layers = []
            for gcn in sm.gcns[1:]:
                s, t = _bn_affine(gcn.bn)
                w = torch.cat([gcn.w.weight.t() * s, gcn.w1.weight.t() * s], 1).contiguous()
                b = torch.cat([torch.zeros_like(t), gcn.w1.bias * s + t])
                self.layers.append((w, b, gcn.w.out_features))
            self.matrix_t = None if matrix is None else matrix.detach().t().contiguous()  # (V, V0)
            self.num_joints = v
            if self.single:  # no query / key columns needed
                self.w_first = self.w_first[:, 2 * self.qk:].contiguous()
                self.c_first = self.c_first[:, 2 * self.qk:].contiguous()

    def __call__(self, pos: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        n = pos.shape[0]
        if self.matrix_t is not None:  # both frames into the branch's joint space, one matmul
            both = torch.matmul(self.matrix_t, torch.cat([pos, prev]))  # (2F, V, C)
            pos, prev = both[:n], both[n:]
        v = self.num_joints
        x = torch.cat([pos, pos - prev], -1)  # (F, V, 2C): position, velocity
        x = torch.addcmul(self.in_shift, x, self.in_scale).view(n * v, -1)
        x = torch.relu_(torch.addmm(self.b1, x, self.w1))
        x = torch.relu_(torch.addmm(self.b2, x, self.w2))  # (F*V, 2d): both embeddings
        dyn = x[:, :self.dim] + x[:, self.dim:]  # (F*V, d) the dynamics representation
        p = (dyn @ self.w_first).view(n, v, -1).add_(self.c_first)
        if self.single:
            x = torch.relu_(p[..., :self.o0] + p[..., self.o0:])
            for w, b, o in self.layers:
                p = torch.addmm(b, x.reshape(n, -1), w)
                x = torch.relu_(p[:, :o] + p[:, o:])
            return x.reshape(n, -1)  # (F, 256): the max over one joint
        q, k, xw, xw1 = p.split([self.qk, self.qk, self.o0, self.o0], -1)
        g = torch.softmax(torch.bmm(q, k.transpose(1, 2)), -1)  # (F, V, V)
        x = torch.relu_(torch.baddbmm(xw1, g, xw))
        for w, b, o in self.layers:
            p = torch.addmm(b, x.reshape(n * v, -1), w).view(n, v, 2 * o)
            x = torch.relu_(torch.baddbmm(p[..., o:], g, p[..., :o]))
        return x.amax(1)  # (F, 256)


class ConvOverTime:
    """A ``Conv1d`` over time (zero padding, stride 1) run as one matmul on (B, T, C) -> (B, T,
    out): for a window of 20 frames the convolution routine costs more than its arithmetic."""

    def __init__(self, conv):
        with torch.no_grad():
            w = conv.weight  # (out, in, k)
            self.k, self.pad, self.out = w.shape[-1], conv.padding[0], w.shape[0]
            self.w = torch.cat([w[:, :, j].t() for j in range(self.k)], 1).contiguous()
            self.b = conv.bias

    def __call__(self, f: torch.Tensor) -> torch.Tensor:
        b, t, _ = f.shape
        z = (f.reshape(b * t, -1) @ self.w).view(b, t, self.k, self.out)
        return _shift_sum(z, self.pad, self.b)


def _shift_sum(z: torch.Tensor, pad: int, const: torch.Tensor | None) -> torch.Tensor:
    """(B, T, k, out) per-frame tap terms -> (B, T, out): output p = sum_j z[p + j - pad, j]
    (zero padding) + const."""
    t, k = z.shape[1], z.shape[2]
    y = z[:, :, pad] + const if const is not None else z[:, :, pad].clone()
    for j in range(k):
        off = j - pad  # tap j at position p reads the frame at p + off
        if off < 0:
            y[:, -off:] += z[:, :t + off, j]
        elif off > 0:
            y[:, :t - off] += z[:, off:, j]
    return y


class WindowTemporal:
    """The :class:`~adasgn.models.sgn.TemporalModule` and :class:`~adasgn.models.sgn.
    ClassifierHead` split into per-frame terms and a per-window finish.

    The first convolution is linear: ``conv1(f + e)[p] = sum_j W_j f[p + j - 1] + conv1(e)[p]``
    (``e`` the frame-index embedding). ``terms(f)`` gives a frame's ``W_j f`` for every tap
    (BatchNorm scale folded in), once per frame; ``finish`` adds them at their window positions,
    adds the precomputed position term, and runs ReLU, the 1x1 convolution (BatchNorm folded),
    ReLU, the max over time and the classifier."""

    def __init__(self, temporal, head):
        with torch.no_grad():
            conv1, conv2 = temporal.conv1, temporal.conv2
            s1, t1 = _bn_affine(temporal.bn1)
            w = conv1.weight  # (out, in, k)
            self.k, self.pad, self.out = w.shape[-1], conv1.padding[0], w.shape[0]
            self.wz = torch.cat([w[:, :, j].t() * s1 for j in range(self.k)], 1).contiguous()
            e = temporal.tem_embed()  # (T, in) the frame-index embedding: a constant
            ce = F.conv1d(e.t().unsqueeze(0), w, conv1.bias, padding=self.pad)[0].t()  # (T, out)
            self.c = (ce * s1 + t1).contiguous()
            s2, t2 = _bn_affine(temporal.bn2)
            self.w2 = (conv2.weight[:, :, 0].t() * s2).contiguous()  # (in, 512)
            self.b2 = conv2.bias * s2 + t2
            self.wf, self.bf = head.fc.weight.t().contiguous(), head.fc.bias
            self.num_frames = e.shape[0]

    def terms(self, f: torch.Tensor) -> torch.Tensor:
        """(F, 256) frame features -> (F, k, out) their first-convolution terms."""
        return (f @ self.wz).view(f.shape[0], self.k, self.out)

    def finish(self, z: torch.Tensor) -> torch.Tensor:
        """(B, T, k, out) terms of the frames at each window position -> logits (B, classes)."""
        b, t = z.shape[:2]
        y = torch.relu_(_shift_sum(z, self.pad, self.c)).view(b * t, -1)  # + position term
        h = torch.relu_(torch.addmm(self.b2, y, self.w2)).view(b, t, -1)
        return torch.addmm(self.bf, h.amax(1), self.wf)


class WindowStreamer:
    """What a model's ``streamer()`` returns: ``window(windows)`` -> (logits (N, K), ForwardInfo),
    equal to ``model(x)`` on the windows stacked into x (N, C, T, V, M).

    The shared part lives here: feature caching per (person slot, branch, first-frame) in each
    :class:`StreamFrame`, computed in one batch per branch for every stream at once. ``computed``
    counts the frame features computed so far (one per frame, slot and branch), ``calls`` the
    spatial-kernel calls."""

    def __init__(self, branches: list[FrameSpatial], temporal: WindowTemporal, skip_empty: bool):
        self.branches = branches
        self.temporal = temporal
        self.skip_empty = skip_empty
        self.computed = 0
        self.calls = 0

    def window(self, windows: list[list[StreamFrame]]):
        raise NotImplementedError

    def features(self, needs: list[tuple[list[StreamFrame], int, int, int]],
                 terms: bool = False) -> list[list]:
        """``needs``: (window, position, slot, branch) -> ``[features (256,), terms (k, out) or
        None]`` of each, from the frames' caches or computed now (one kernel call per branch;
        with ``terms`` the first-convolution terms too, one matmul for all that lack them).

        The frame at position 0 is computed with zero velocity (its own cache entry); every other
        frame with the velocity from the frame before it in the window -- always the same frame
        (the stream samples with a fixed stride), so that entry is valid for the frame's life."""
        out: list = [None] * len(needs)
        todo: dict[int, dict[tuple, tuple]] = {}  # branch -> {(frame id, key): row inputs}
        for i, (win, p, slot, a) in enumerate(needs):
            frame = win[p]
            key = (slot, a, p == 0)
            hit = frame.cache.get(key)
            if hit is not None:
                out[i] = hit
                continue
            rows = todo.setdefault(a, {})
            ident = (id(frame), key)
            if ident not in rows:  # the same frame needed twice (several windows): once
                prev = frame if p == 0 else win[p - 1]
                rows[ident] = (frame, key, frame.pos[slot], prev.pos[slot])
        for a, rows in todo.items():
            items = list(rows.values())
            feats = self.branches[a](torch.stack([r[2] for r in items]),
                                     torch.stack([r[3] for r in items]))  # (F, 256)
            self.computed += len(items)
            self.calls += 1
            for r, (frame, key, _, _) in enumerate(items):
                frame.cache[key] = [feats[r], None]
        if todo:
            for i, (win, p, slot, a) in enumerate(needs):
                if out[i] is None:
                    out[i] = win[p].cache[(slot, a, p == 0)]
        if terms:
            lack = {id(e): e for e in out if e[1] is None}
            if lack:
                entries = list(lack.values())
                z = self.temporal.terms(torch.stack([e[0] for e in entries]))  # (F, k, out)
                for r, e in enumerate(entries):
                    e[1] = z[r]
        return out

    def slots(self, windows: list[list[StreamFrame]]) -> tuple[list[tuple[int, int]], torch.Tensor]:
        """The computed (window, slot) sequences and present (N, M) bool."""
        m = len(windows[0][0].nonzero)
        seqs, flags = [], []
        for n, win in enumerate(windows):
            keep = window_present(win, self.skip_empty)
            seqs.extend((n, j) for j in keep)
            flags.append([j in keep for j in range(m)])
        return seqs, torch.tensor(flags, dtype=torch.bool)


def merge_sequences(logits: torch.Tensor, seqs: list[tuple[int, int]], n: int) -> torch.Tensor:
    """Per-sequence logits (B, K) -> per-window logits (N, K), the mean over present persons
    (:func:`adasgn.models.sgn.merge_persons`)."""
    if len(seqs) == n:
        return logits
    owner = torch.tensor([w for w, _ in seqs])
    out = logits.new_zeros(n, logits.shape[1]).index_add_(0, owner, logits)
    return out / torch.bincount(owner, minlength=n).clamp_min(1).to(logits.dtype).unsqueeze(1)
