"""Upsampling and resizing (torch.nn.functional names and arguments) for 3-D [N, C, W] and 4-D [N, C, H, W] input.

Modes as PyTorch: 'nearest' (legacy: src = floor(dst * in/out), or dst / scale_factor when one is given),
'nearest-exact', 'linear' (3-D), 'bilinear' (4-D; align_corners as torch), 'area' (adaptive average pooling).
fastconv extension: 'bed_of_nails' places each input value at the top-left corner of its output block and zeros
elsewhere; it needs integer scale factors (or an output size that is an integer multiple of the input size).
'bicubic' (4-D, a = -0.75), 'trilinear' (5-D) and antialias=True ('bilinear', 'bicubic': PIL's filters, as torch)
run on `resize`, the fastconv extension with ONNX Resize's semantics on tensors of any rank.
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, number, op
from .pool import adaptive_avg_pool2d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "resize"]


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
    if mode in ("bicubic", "trilinear") or antialias:
        return _torch_resize(x, attrs)
    return op(name, [x], attrs)


def _torch_resize(x, attrs):
    """torch's bicubic / trilinear / antialiased modes as `resize` calls: the same output size, the same source
    coordinates ((dst + 0.5) / scale - 0.5, the scale being the user's factor unless recomputed, else out / in), and
    for antialias PIL's filters over the pixels inside the input (ONNX: antialias with exclude_outside; cubic
    a = -0.5, as torch's antialiased bicubic)."""
    name = "interpolate"
    mode, nd = attrs["mode"], len(x.shape) - 2
    want = {"bicubic": 2, "trilinear": 3, "bilinear": 2}
    if attrs["antialias"] and mode not in ("bilinear", "bicubic"):
        raise ValueError(f"{name}: anti-alias option is restricted to bilinear and bicubic modes, got mode {mode!r}")
    if mode in want and nd != want[mode]:
        raise ValueError(f"{name}: mode {mode!r} needs a {want[mode] + 2}-D input, got {len(x.shape)}-D input of shape "
                         f"{list(x.shape)}")
    size, scale = attrs["size"], attrs["scale_factor"]
    if (size is None) == (scale is None):
        raise ValueError(f"{name}: {'only one' if size is not None else 'either'} of size or scale_factor should be "
                         f"defined")
    spatial = list(x.shape[2:])
    if size is not None:
        out = [int(size)] * nd if isinstance(size, (int, float)) else [int(v) for v in size]
        coord = [o / i for o, i in zip(out, spatial)]
    else:
        f = [float(scale)] * nd if isinstance(scale, (int, float)) else [float(v) for v in scale]
        if len(f) != nd or any(not v > 0 for v in f):
            raise ValueError(f"{name}: scale_factor {scale!r} must give {nd} positive factors")
        out = [int(np.floor(i * v)) for i, v in zip(spatial, f)]
        # align_corners maps the corners of the integer sizes, whatever factor gave them (as torch)
        recompute = attrs["recompute_scale_factor"] or attrs["align_corners"]
        coord = [o / i for o, i in zip(out, spatial)] if recompute else f
    if len(out) != nd or any(o <= 0 for o in out):
        raise ValueError(f"{name}: output size would be {tuple(out)} for input {tuple(spatial)}; input and output "
                         f"sizes should be greater than 0")
    aa = bool(attrs["antialias"])
    return op("resize", [x], dict(
        sizes=tuple(x.shape[:2]) + tuple(out), scales=(1.0, 1.0) + tuple(float(v) for v in coord),
        mode="cubic" if mode == "bicubic" else "linear",
        coordinate_transformation_mode="align_corners" if attrs["align_corners"] else "half_pixel",
        cubic_coeff_a=-0.5 if aa else -0.75, antialias=aa, exclude_outside=aa))


def resize(input, size=None, scale_factor=None, mode: str = "nearest", *, axes=None,
           coordinate_transformation_mode: str = "half_pixel", nearest_mode: str = "round_prefer_floor",
           cubic_coeff_a: float = -0.75, exclude_outside: bool = False, extrapolation_value: float = 0.0,
           antialias: bool = False, roi=None, keep_aspect_ratio_policy: str = "stretch"):
    """ONNX Resize (opset 19) on a tensor of any rank (fastconv extension). `size` or `scale_factor` gives one value
    per axis of `axes` (default: every axis, batch and channels included). mode: 'nearest' | 'linear' | 'cubic';
    coordinate_transformation_mode: 'half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners',
    'asymmetric', 'tf_crop_and_resize' (with `roi`: starts then ends over `axes`, and extrapolation_value);
    nearest_mode: 'round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil'; keep_aspect_ratio_policy: 'stretch',
    'not_larger', 'not_smaller' (with size)."""
    name = "resize"
    x = as_float(input, name)
    shape = list(x.shape)
    r = len(shape)
    axes = list(range(r)) if axes is None else [int(a) % r if -r <= int(a) < r else _bad_axis(a, r) for a in axes]
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: argument 'axes' {axes} repeats an axis")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor")
    vals = list(size if size is not None else scale_factor)
    if len(vals) != len(axes):
        raise ValueError(f"{name}: {'size' if size is not None else 'scale_factor'} has {len(vals)} values for "
                         f"{len(axes)} axes {axes}")
    scales, out = [1.0] * r, list(shape)
    if scale_factor is not None:
        if keep_aspect_ratio_policy != "stretch":
            raise ValueError(f"{name}: keep_aspect_ratio_policy applies to size, not scale_factor")
        for a, v in zip(axes, vals):
            if not float(v) > 0:
                raise ValueError(f"{name}: argument 'scale_factor' must be positive, got {scale_factor!r}")
            scales[a], out[a] = float(v), int(float(v) * shape[a])
    else:
        for a, v in zip(axes, vals):
            if int(v) < 0:
                raise ValueError(f"{name}: argument 'size' must be non-negative, got {size!r}")
            out[a] = int(v)
            scales[a] = out[a] / shape[a] if shape[a] else 1.0
        if keep_aspect_ratio_policy not in ("stretch", "not_larger", "not_smaller"):
            raise ValueError(f"{name}: keep_aspect_ratio_policy must be 'stretch', 'not_larger' or 'not_smaller', "
                             f"got {keep_aspect_ratio_policy!r}")
        if keep_aspect_ratio_policy != "stretch":
            pick = min if keep_aspect_ratio_policy == "not_larger" else max
            sc = pick(scales[a] for a in axes)
            for a in axes:
                scales[a], out[a] = sc, int(sc * shape[a] + 0.5)
    attrs = dict(sizes=tuple(out), scales=tuple(scales), mode=mode,
                 coordinate_transformation_mode=coordinate_transformation_mode, nearest_mode=nearest_mode,
                 cubic_coeff_a=float(cubic_coeff_a), exclude_outside=bool(exclude_outside),
                 extrapolation_value=float(extrapolation_value), antialias=bool(antialias))
    if roi is not None:
        roi = [float(v) for v in roi]
        if len(roi) != 2 * len(axes):
            raise ValueError(f"{name}: argument 'roi' needs {2 * len(axes)} values (starts, then ends, over axes "
                             f"{axes}), got {len(roi)}")
        full = [0.0] * r + [1.0] * r
        for i, a in enumerate(axes):
            full[a], full[r + a] = roi[i], roi[len(axes) + i]
        attrs["roi"] = tuple(full)
    return op("resize", [x], attrs)


def _bad_axis(a, r):
    raise IndexError(f"resize: axis {a} is out of range for a {r}-D input")


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
