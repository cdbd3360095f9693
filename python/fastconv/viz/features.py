"""What a CNN computes, as images: activations (feature maps) at named layers and first-layer kernels.

    maps = feature_maps(model, x, layers=["features.0", "features.3"])   # {name: (N, C, H, W) array}
    grid = feature_map_grid(maps["features.3"][0])                       # one (H', W') image in [0, 1]
    rgb = kernel_images(model.features[0].weight)                        # (C_out, kh, kw, 3) in [0, 1]
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..nn.module import Module
from ._graph import Program, as_batch, leaf_calls, model_cache, resolve_layer, trace_calls

__all__ = ["feature_maps", "layer_names", "feature_map_grid", "kernel_images", "kernel_grid", "normalize"]


def layer_names(model: Module, input_shape: Sequence[int]) -> list[str]:
    """Names of the layers (leaf modules) that run for one input of input_shape (C, H, W), in call order."""
    _, _, _, calls = trace_calls(model, (1,) + tuple(input_shape))
    return list(dict.fromkeys(c.path for c in leaf_calls(calls)))


def feature_maps(model: Module, x, layers=None, train: bool = False) -> dict:
    """The outputs of the named submodules (dotted names as in model.named_modules(), or Module objects) when the
    model runs on x (N, C, H, W) or one image (C, H, W); layers=None: every leaf layer. Returns {name: array} in the
    order asked. The model runs in eval mode (train=True: train mode, e.g. batch statistics) through one compiled
    graph whose extra outputs are the requested activations."""
    fn = "feature_maps"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a fastconv.nn.Module, got {type(model).__name__}")
    x = as_batch(x, fn)
    if isinstance(layers, (str, Module)):
        layers = [layers]
    key_layers = None if layers is None else tuple(l if isinstance(l, str) else id(l) for l in layers)
    cache = model_cache(model)
    key = ("features", x.shape, key_layers, bool(train))
    entry = cache.get(key)
    if entry is None:
        ctx, xs, _, calls = trace_calls(model, x.shape, train)
        chosen = leaf_calls(calls) if layers is None else [resolve_layer(calls, l, fn) for l in layers]
        names, ids = [], []
        for c in chosen:
            if c.path in names:
                continue
            out = c.output[0] if isinstance(c.output, (tuple, list)) else c.output
            names.append(c.path)
            ids.append(out.id)
        entry = cache[key] = (names, Program(ctx, xs, ids))
    names, prog = entry
    return dict(zip(names, prog.run(x)))


def normalize(a, axis=None, eps: float = 0.0) -> np.ndarray:
    """Min-max scaling to [0, 1] over `axis` (None: the whole array); constant parts map to 0.5."""
    a = np.asarray(a, dtype=np.float64)
    lo = a.min(axis=axis, keepdims=True)
    hi = a.max(axis=axis, keepdims=True)
    rng = hi - lo
    out = np.where(rng > eps, (a - lo) / np.where(rng > eps, rng, 1.0), 0.5)
    return out.astype(np.float32)


def _grid(tiles: np.ndarray, ncols: int | None, pad: int, pad_value: float) -> np.ndarray:
    """Tiles (K, h, w[, 3]) laid out row-major into one image with `pad` pixels of pad_value between them."""
    k, h, w = tiles.shape[:3]
    if k == 0:
        raise ValueError("grid: nothing to lay out (0 tiles)")
    ncols = int(ncols) if ncols else int(math.ceil(math.sqrt(k)))
    if ncols < 1:
        raise ValueError(f"grid: ncols must be positive, got {ncols}")
    nrows = int(math.ceil(k / ncols))
    shape = (nrows * h + (nrows + 1) * pad, ncols * w + (ncols + 1) * pad) + tiles.shape[3:]
    out = np.full(shape, pad_value, np.float32)
    for i in range(k):
        r, c = divmod(i, ncols)
        y0, x0 = pad + r * (h + pad), pad + c * (w + pad)
        out[y0:y0 + h, x0:x0 + w] = tiles[i]
    return out


def feature_map_grid(maps, ncols: int | None = None, pad: int = 1, per_map: bool = True,
                     pad_value: float = 1.0, scale: int = 1) -> np.ndarray:
    """One greyscale image (H', W') in [0, 1] showing every channel of maps: (C, H, W), or (N, C, H, W) whose
    first sample is shown. per_map: min-max normalise each channel on its own (else over all channels, which keeps
    their relative strength). scale: integer nearest-neighbour enlargement of each map (small maps stay visible)."""
    a = np.asarray(maps, dtype=np.float32)
    if a.ndim == 4:
        a = a[0]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3:
        raise ValueError(f"feature_map_grid: maps must be (C, H, W) or (N, C, H, W), got shape {a.shape}")
    a = normalize(a, axis=(1, 2)) if per_map else normalize(a)
    if scale > 1:
        a = a.repeat(int(scale), axis=1).repeat(int(scale), axis=2)
    return _grid(a, ncols, pad, pad_value)


def kernel_images(conv_weight) -> np.ndarray:
    """First-layer kernels as RGB images (C_out, kh, kw, 3), each min-max normalised to [0, 1] on its own (the
    course's AlexNet picture): the 3 input channels are the colours; a 1-channel kernel is shown in grey. Takes
    a weight (C_out, C_in, kh, kw) or a Conv2d. A constant kernel shows as mid grey (0.5)."""
    w = conv_weight.weight if isinstance(conv_weight, Module) else conv_weight
    if w is None:
        raise ValueError("kernel_images: the module has no weight")
    w = np.asarray(w, dtype=np.float32)
    if w.ndim != 4:
        raise ValueError(f"kernel_images: expected a conv weight (C_out, C_in, kh, kw), got shape {w.shape}")
    if w.shape[1] not in (1, 3):
        raise ValueError(f"kernel_images: kernels with {w.shape[1]} input channels cannot be shown as RGB; "
                         f"expected 1 or 3 (pass a slice such as weight[:, :3] or weight[:, i:i+1])")
    img = normalize(w, axis=(1, 2, 3)).transpose(0, 2, 3, 1)
    return np.repeat(img, 3, axis=3) if img.shape[3] == 1 else img


def kernel_grid(conv_weight, ncols: int | None = None, pad: int = 1, scale: int = 4,
                pad_value: float = 1.0) -> np.ndarray:
    """kernel_images laid out in one RGB image (H', W', 3), each kernel enlarged `scale` times (nearest)."""
    k = kernel_images(conv_weight)
    if scale > 1:
        k = k.repeat(int(scale), axis=1).repeat(int(scale), axis=2)
    return _grid(k, ncols, pad, pad_value)
