"""Pooling (torch.nn.functional names and arguments).

Max pooling always computes int64 indices (flat positions in each input plane, as PyTorch) as a second output: the
backward pass scatters gradients through them. They are returned only with ``return_indices=True``.

fastconv extensions: ``min_pool2d`` (minimum over windows, same arguments as ``max_pool2d``; equal to
``-max_pool2d(-x)`` including the indices) and ``global_avg_pool2d`` ([N, C, H, W] -> [N, C], Keras'
GlobalAveragePooling2D; ``adaptive_avg_pool2d(x, 1)`` keeps the [N, C, 1, 1] shape); ONNX's padding forms for the
fixed-window pools: (begin, end) pairs per dimension (each smaller than the kernel), 'same_upper', 'same_lower',
'valid'; and a keyword-only ``dilation`` for average pooling (ONNX AveragePool's dilations).
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, as_index, is_symbol, op
from .conv import padding_attrs

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "min_pool2d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool2d", "adaptive_max_pool2d", "global_avg_pool2d", "max_unpool2d",
           "lp_pool1d", "lp_pool2d", "lp_pool3d"]


def _ints(v):
    """An int, or a tuple/list of ints (PyTorch accepts both); None passes through (= not given)."""
    if v is None or isinstance(v, (int, np.integer)):
        return v
    return tuple(v)


def _pad(padding) -> dict:
    if isinstance(padding, str):
        return dict(padding=padding)
    a = padding_attrs(padding)
    return a if "pads" in a else dict(padding=_ints(padding))


def _max_pool(name, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if stride is not None and not isinstance(stride, (int, np.integer)) and len(stride) == 0:
        stride = None  # torch: an empty stride means "same as kernel_size"
    out, idx = op(name, [as_float(input, name)],
                  dict(kernel_size=_ints(kernel_size), stride=_ints(stride), dilation=_ints(dilation),
                       ceil_mode=bool(ceil_mode), **_pad(padding)), multi=True)
    return (out, idx) if return_indices else out


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    return _max_pool("max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def min_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Minimum over each window (fastconv extension). Same as ``-max_pool2d(-input)``; ties pick the first minimum in
    scan order and NaN wins, as in max pooling."""
    return _max_pool("min_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(name, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override=None,
              dilation=1):
    if stride is not None and not isinstance(stride, (int, np.integer)) and len(stride) == 0:
        stride = None
    return op(name, [as_float(input, name)],
              dict(kernel_size=_ints(kernel_size), stride=_ints(stride), ceil_mode=bool(ceil_mode),
                   count_include_pad=bool(count_include_pad), divisor_override=divisor_override,
                   dilation=_ints(dilation), **_pad(padding)))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, *, dilation=1):
    return _avg_pool("avg_pool1d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     dilation=dilation)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, dilation=1):
    return _avg_pool("avg_pool2d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, dilation)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, dilation=1):
    return _avg_pool("avg_pool3d", input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, dilation)


def _output_size(name, output_size):
    """int or (h, w) with None entries meaning "keep the input size" (encoded as -1 for C++)."""
    sizes = (output_size,) if output_size is None or isinstance(output_size, (int, np.integer)) else output_size
    if output_size is None or any(s is not None and int(s) <= 0 for s in sizes):
        raise ValueError(f"{name}: argument 'output_size' must contain positive sizes (or None), got {output_size}")
    if isinstance(output_size, (int, np.integer)):
        return int(output_size)
    return tuple(-1 if s is None else int(s) for s in output_size)


def adaptive_avg_pool2d(input, output_size):
    name = "adaptive_avg_pool2d"
    return op(name, [as_float(input, name)], dict(output_size=_output_size(name, output_size)))


def adaptive_max_pool2d(input, output_size, return_indices=False):
    name = "adaptive_max_pool2d"
    out, idx = op(name, [as_float(input, name)], dict(output_size=_output_size(name, output_size)), multi=True)
    return (out, idx) if return_indices else out


def global_avg_pool2d(input):
    """Mean over H and W: [N, C, H, W] -> [N, C] (Keras GlobalAveragePooling2D; fastconv extension)."""
    return op("global_avg_pool2d", [as_float(input, "global_avg_pool2d")])


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    name = "max_unpool2d"
    x = as_float(input, name)
    idx = as_index(indices, name, "indices")
    if output_size is not None and not isinstance(output_size, (int, np.integer)):
        output_size = tuple(int(s) for s in output_size)
    out = op(name, [x, idx], dict(kernel_size=_ints(kernel_size), stride=_ints(stride), padding=_ints(padding),
                                  output_size=output_size))
    if not is_symbol(idx) and not is_symbol(out) and idx.size:
        # Kernels never fail on data, so an eager call checks the saved indices here (a traced graph skips
        # out-of-range ones).
        plane = out.shape[-1] * out.shape[-2]
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= plane:
            bad = lo if lo < 0 else hi
            raise IndexError(f"{name}: index {bad} in 'indices' is out of range for an output plane of "
                             f"{out.shape[-2]}x{out.shape[-1]} = {plane} elements")
    return out


def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    """torch's composition: (sum over the window of x ** p) ** (1 / p), the sum being the average times the kernel
    volume (so, as torch, a ceil_mode window that runs off the input is scaled by the full volume); p = +-inf is
    the max (min) of |x|. As torch, x ** p (not |x| ** p): odd p on negative inputs is signed."""
    name = f"lp_pool{nd}d"
    if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: argument 'norm_type' must be a number, got {type(norm_type).__name__}")
    p = float(norm_type)
    if p == 0.0 or np.isnan(p):
        raise ValueError(f"{name}: argument 'norm_type' must be non-zero, got {norm_type}")
    x = as_float(input, name)
    if np.isinf(p):
        from .activation import relu
        a = relu(x) * 2.0 - x  # |x|, exactly
        pool = (max_pool1d, max_pool2d, max_pool3d)[nd - 1]
        return pool(a, kernel_size, stride, 0, 1, ceil_mode) if p > 0 else -pool(-a, kernel_size, stride, 0, 1,
                                                                                      ceil_mode)
    from .eltwise import pow as pow_
    k = (kernel_size,) * nd if isinstance(kernel_size, (int, np.integer)) else tuple(kernel_size)
    out = _avg_pool(f"avg_pool{nd}d", pow_(x, p), kernel_size, stride, 0, ceil_mode, True)
    return pow_(out * float(np.prod(k)), 1.0 / p)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)
