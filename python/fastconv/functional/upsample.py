"""Upsampling and resizing (torch.nn.functional names and arguments) for 3-D [N, C, W] and 4-D [N, C, H, W] input.

Modes as PyTorch: 'nearest' (legacy: src = floor(dst * in/out), or dst / scale_factor when one is given),
'nearest-exact', 'linear' (3-D), 'bilinear' (4-D; align_corners as torch), 'area' (adaptive average pooling).
fastconv extension: 'bed_of_nails' places each input value at the top-left corner of its output block and zeros
elsewhere; it needs integer scale factors (or an output size that is an integer multiple of the input size).
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, number, op
from .pool import adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]


def _size(size):
    if size is None or isinstance(size, (int, np.integer, float)):
        return int(size) if isinstance(size, np.integer) else size
    return tuple(int(s) if isinstance(s, np.integer) else s for s in size)


def _scale(scale_factor):
    if scale_factor is None or isinstance(scale_factor, (int, float, np.number)):
        return None if scale_factor is None else number(scale_factor, "interpolate", "scale_factor")
    return tuple(number(s, "interpolate", "scale_factor") for s in scale_factor)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    name = "interpolate"
    x = as_float(input, name)
    attrs = dict(size=_size(size), scale_factor=_scale(scale_factor), mode=mode, align_corners=align_corners,
                 recompute_scale_factor=recompute_scale_factor, antialias=bool(antialias))
    if mode == "area":
        return _area(x, attrs)
    return op(name, [x], attrs)


def _area(x, attrs):
    """torch: 'area' is adaptive average pooling to the output size (computed as for the other modes)."""
    name = "interpolate"
    if attrs["align_corners"] is not None:
        raise ValueError(f"{name}: align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear (mode is 'area')")
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D [N, C, W] or 4-D [N, C, H, W] input, got {x.ndim}-D input of "
                         f"shape {list(x.shape)}")
    # The output size comes from the nearest-mode shape rule (same size/scale_factor checks and messages).
    shape = op(name, [x], dict(attrs, mode="nearest", align_corners=None, recompute_scale_factor=None)).shape
    if x.ndim == 4:
        return adaptive_avg_pool2d(x, tuple(shape[2:]))
    n, c, w = x.shape
    y = adaptive_avg_pool2d(op("reshape", [x], dict(shape=(n, c, 1, w))), (1, shape[2]))
    return op("reshape", [y], dict(shape=tuple(shape)))


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """torch's deprecated helper: bilinear with align_corners=True."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
