"""Occlusion sensitivity (Zeiler & Fergus): slide a grey (or black) patch over the image and record how much the
probability of the target class drops at each patch position. Large drops mark the regions the decision relies on.
Occluded copies are run in batches through one compiled forward (eval mode).
"""
from __future__ import annotations

import numpy as np

from ..compile import Compiled
from ..nn.module import Module
from ._graph import as_batch, model_cache

__all__ = ["occlusion_map", "occlusion_positions"]


def _pair(v, name: str) -> tuple[int, int]:
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) != 2 or not all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) and a >= 1 for a in t):
        raise ValueError(f"occlusion_map: argument '{name}' must be a positive int or a pair of them, got {v!r}")
    return int(t[0]), int(t[1])


def occlusion_positions(size: tuple[int, int], patch, stride) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (rows, cols) of the patch positions: 0, stride, ... while the patch fits inside."""
    (h, w), (ph, pw), (sh, sw) = size, _pair(patch, "patch"), _pair(stride, "stride")
    if ph > h or pw > w:
        raise ValueError(f"occlusion_map: patch {(ph, pw)} is larger than the image {(h, w)}")
    return np.arange(0, h - ph + 1, sh), np.arange(0, w - pw + 1, sw)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _forward(model: Module, batch: np.ndarray) -> np.ndarray:
    cache = model_cache(model)
    key = ("occlusion", batch.shape)
    c = cache.get(key)
    if c is None:
        c = cache[key] = Compiled(model, batch.shape)
    out = c.predict(batch)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if out.ndim != 2:
        raise ValueError(f"occlusion_map: the model's output must be class scores (N, num_classes), got shape "
                         f"{out.shape}")
    return out


def occlusion_map(model: Module, x, target_class, patch=8, stride=4, fill=0.0, batch_size: int = 64,
                  apply_softmax: bool = True) -> np.ndarray:
    """Sensitivity maps (N, P, Q) for x (N, C, H, W) or one image (C, H, W): entry [n, i, j] is
    p_c(x_n) - p_c(x_n with the patch at (rows[i], cols[j]) set to `fill`), P x Q patch positions as
    occlusion_positions gives them. p_c is softmax(model output)[c] (apply_softmax=False: the raw output, for
    models that end in a softmax or to study logits). fill: a number, or 'mean' (each image's per-channel mean).
    target_class: one class for all images or one per image."""
    fn = "occlusion_map"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a fastconv.nn.Module, got {type(model).__name__}")
    x = as_batch(x, fn)
    n, c, h, w = x.shape
    rows, cols = occlusion_positions((h, w), patch, stride)
    ph, pw = _pair(patch, "patch")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")
    classes = np.asarray(target_class)
    if classes.dtype.kind not in "iu" or classes.ndim > 1 or (classes.ndim == 1 and len(classes) != n):
        raise ValueError(f"{fn}: target_class must be an int or {n} ints (one per image), got {target_class!r}")
    classes = np.broadcast_to(classes, (n,)).astype(np.int64)
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"{fn}: fill must be a number or 'mean', got {fill!r}")
        fills = x.mean(axis=(2, 3), keepdims=True)                 # (N, C, 1, 1)
    else:
        fills = np.full((n, c, 1, 1), float(fill), np.float32)

    def probs(batch: np.ndarray) -> np.ndarray:
        out = _forward(model, batch)
        return _softmax(out) if apply_softmax else out.astype(np.float64)

    bs = min(batch_size, n * len(rows) * len(cols)) or 1
    # Every batch has the same shape (the last one is padded with copies) so one compiled graph serves all.
    base = []
    for i in range(0, n, bs):
        chunk = x[i:i + bs]
        pad = np.concatenate([chunk, np.repeat(chunk[-1:], bs - len(chunk), 0)]) if len(chunk) < bs else chunk
        base.append(probs(pad)[:len(chunk)])
    base = np.concatenate(base)
    k = base.shape[1]
    if n and (classes.min() < 0 or classes.max() >= k):
        raise IndexError(f"{fn}: target_class {target_class!r} is out of range for a model with {k} classes")
    base_p = base[np.arange(n), classes]

    jobs = [(i, a, b) for i in range(n) for a in range(len(rows)) for b in range(len(cols))]
    out = np.zeros((n, len(rows), len(cols)), np.float64)
    buf = np.empty((bs, c, h, w), np.float32)
    for s in range(0, len(jobs), bs):
        part = jobs[s:s + bs]
        for t, (i, a, b) in enumerate(part):
            buf[t] = x[i]
            r0, c0 = rows[a], cols[b]
            buf[t, :, r0:r0 + ph, c0:c0 + pw] = fills[i]
        buf[len(part):] = buf[0]
        p = probs(buf)
        for t, (i, a, b) in enumerate(part):
            out[i, a, b] = base_p[i] - p[t, classes[i]]
    return out.astype(np.float32)
