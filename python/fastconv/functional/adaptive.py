"""adaptive_{avg,max}_pool1d/3d and max_unpool1d, built on the 2-D ops (torch.nn.functional's names and arguments).

Adaptive windows are products of 1-D intervals, so pooling separates: 1-D is 2-D over a [1, L] plane (its flat
indices are then the positions along L, as torch's), and 3-D pools H x W per depth slice and then D with the H x W
positions kept apart. 3-D max indices do not compose that way: return_indices is refused there.
"""
from __future__ import annotations

import math

import numpy as np

from ._util import as_float
from .pool import adaptive_avg_pool2d, adaptive_max_pool2d, max_unpool2d
from .shape import reshape

__all__ = ["adaptive_avg_pool1d", "adaptive_max_pool1d", "adaptive_avg_pool3d", "adaptive_max_pool3d", "max_unpool1d",
           "max_unpool3d"]


def _sizes(name: str, output_size, spatial: tuple) -> tuple:
    n = len(spatial)
    items = [output_size] * n if output_size is None or isinstance(output_size, (int, np.integer)) \
        else list(output_size)
    if len(items) != n or (n == 1 and items[0] is None):
        raise ValueError(f"{name}: argument 'output_size' must be an int or a {n}-tuple, got {output_size!r}")
    out = []
    for s, keep in zip(items, spatial):
        if s is not None and (isinstance(s, bool) or not isinstance(s, (int, np.integer)) or int(s) <= 0):
            raise ValueError(f"{name}: argument 'output_size' must contain positive ints (or None), got "
                             f"{output_size!r}")
        out.append(keep if s is None else int(s))
    return tuple(out)


def _check_rank(name: str, x, lo: int) -> tuple:
    shape = tuple(x.shape)
    if len(shape) not in (lo, lo + 1):
        raise ValueError(f"{name}: expected a {lo}-D (unbatched) or {lo + 1}-D (batched) input, got shape "
                         f"{list(shape)}")
    return shape


def _pool1d(name: str, fn, input, output_size, **kw):
    x = as_float(input, name)
    shape = _check_rank(name, x, 2)
    (o,) = _sizes(name, output_size, shape[-1:])
    res = fn(reshape(x, shape[:-1] + (1, shape[-1])), (1, o), **kw)
    back = shape[:-1] + (o,)
    return tuple(reshape(r, back) for r in res) if isinstance(res, tuple) else reshape(res, back)


def adaptive_avg_pool1d(input, output_size):
    return _pool1d("adaptive_avg_pool1d", adaptive_avg_pool2d, input, output_size)


def adaptive_max_pool1d(input, output_size, return_indices: bool = False):
    return _pool1d("adaptive_max_pool1d", adaptive_max_pool2d, input, output_size, return_indices=return_indices)


def _pool3d(name: str, fn, input, output_size):
    x = as_float(input, name)
    shape = _check_rank(name, x, 4)
    lead, (d, h, w) = shape[:-3], shape[-3:]
    od, oh, ow = _sizes(name, output_size, (d, h, w))
    p = math.prod(lead)
    y = fn(reshape(x, (1, p * d, h, w)), (oh, ow))                        # H x W windows of every depth slice
    y = fn(reshape(y, (1, p, d, oh * ow)), (od, oh * ow))                 # then D, each H x W position alone
    return reshape(y, lead + (od, oh, ow))


def adaptive_avg_pool3d(input, output_size):
    return _pool3d("adaptive_avg_pool3d", adaptive_avg_pool2d, input, output_size)


def adaptive_max_pool3d(input, output_size, return_indices: bool = False):
    if return_indices:
        raise NotImplementedError("adaptive_max_pool3d: return_indices=True is not supported (the 3-D pool runs as "
                                  "two 2-D ones, whose indices do not compose); use return_indices=False")
    return _pool3d("adaptive_max_pool3d", adaptive_max_pool2d, input, output_size)


def _one(name: str, arg: str, v):
    if v is None:
        return None
    t = tuple(v) if isinstance(v, (list, tuple)) else (v,)
    if len(t) != 1:
        raise ValueError(f"{name}: argument '{arg}' must be an int or a 1-tuple, got {v!r}")
    return int(t[0])


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool1d's inverse: a [1, L] plane for max_unpool2d (the flat indices of a 1-row plane are positions in L)."""
    name = "max_unpool1d"
    x = as_float(input, name)
    shape = _check_rank(name, x, 2)
    k, s, p = _one(name, "kernel_size", kernel_size), _one(name, "stride", stride), _one(name, "padding", padding)
    s = k if s is None else s
    if output_size is not None:
        output_size = tuple(output_size)[-1] if isinstance(output_size, (list, tuple)) else output_size
        output_size = (1, int(output_size))
    out = max_unpool2d(reshape(x, shape[:-1] + (1, shape[-1])), reshape(indices, shape[:-1] + (1, shape[-1]))
                       if not isinstance(indices, np.ndarray) else indices.reshape(shape[:-1] + (1, shape[-1])),
                       (1, k), (1, s), (0, p), output_size)
    return reshape(out, shape[:-1] + (out.shape[-1],))


def _three(name: str, arg: str, v):
    if v is None:
        return None
    t = tuple(int(a) for a in v) if isinstance(v, (list, tuple)) else (int(v),) * 3
    if len(t) != 3:
        raise ValueError(f"{name}: argument '{arg}' must be an int or a 3-tuple, got {v!r}")
    return t


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """max_pool3d's inverse (torch's arguments and output_size rule). It runs as max_unpool2d on [1, d*h*w] planes
    (a 3-D plane's flat indices are positions in the flattened plane): a (1, K) window at stride 1 with
    K = D*H*W - d*h*w + 1 gives exactly the [1, D*H*W] output plane."""
    name = "max_unpool3d"
    x = as_float(input, name)
    shape = _check_rank(name, x, 4)
    k, s, p = (_three(name, a, v) for a, v in (("kernel_size", kernel_size), ("stride", stride),
                                                ("padding", padding)))
    s = k if s is None else s
    lead, sp = shape[:-3], shape[-3:]
    default = tuple((i - 1) * si - 2 * pi + ki for i, si, pi, ki in zip(sp, s, p, k))
    out = default
    if output_size is not None:
        out = tuple(int(v) for v in output_size)[-3:]
        for o, d, si in zip(out, default, s):
            if not d - si < o < d + si:
                raise ValueError(f"{name}: argument 'output_size' {tuple(output_size)} must be within one stride "
                                 f"{s} of the default size {default}")
    if any(o <= 0 for o in out):
        raise ValueError(f"{name}: output size {out} for input {shape} (kernel {k}, stride {s}, padding {p}) is "
                         f"empty")
    n_in, n_out = math.prod(sp), math.prod(out)
    flat = lead + (1, n_in)
    idx = indices.reshape(flat) if isinstance(indices, np.ndarray) else reshape(indices, flat)
    y = max_unpool2d(reshape(x, flat), idx, (1, max(1, n_out - n_in + 1)), (1, 1), 0, (1, n_out))
    return reshape(y, lead + out)
