"""The conv op family (torch.nn.functional names): conv1d/2d/3d, conv_transpose1d/2d/3d, and the single-channel
scipy.signal-style correlate2d/convolve2d. Argument checking lives in the C++ shape rules (cpp/src/ops/conv.cpp), so
graphs built from C++ behave the same; here only unbatched inputs get their batch axis.

fastconv extensions of `padding` (ONNX's forms): a tuple of (begin, end) pairs, one per spatial dimension, e.g.
``padding=((0, 1), (1, 2))``; and 'same_upper' / 'same_lower' (ONNX auto_pad: output ceil(input / stride) at any
stride, the odd extra pad after / before)."""
from __future__ import annotations

from ._util import as_float, is_symbol, op

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "correlate2d", "convolve2d"]


def padding_attrs(padding) -> dict:
    """`padding` as the C++ rules read it: (begin, end) pairs become `pads` (every begin, then every end)."""
    if isinstance(padding, (tuple, list)) and any(isinstance(q, (tuple, list)) for q in padding):
        pairs = [tuple(q) if isinstance(q, (tuple, list)) else (q, q) for q in padding]
        if any(len(q) != 2 for q in pairs):
            raise ValueError(f"padding: expected ints or (begin, end) pairs, got {padding!r}")
        return dict(pads=tuple(int(q[0]) for q in pairs) + tuple(int(q[1]) for q in pairs))
    return dict(padding=padding)


def _unsqueeze0(x):
    return x.reshape((1,) + tuple(x.shape))


def _squeeze0(y):
    return y.reshape(tuple(y.shape)[1:]) if is_symbol(y) else y[0]


def _run(name: str, nd: int, input, weight, bias, attrs: dict):
    x = as_float(input, name)
    w = as_float(weight, name, "weight")
    inputs = [x, w] + ([] if bias is None else [as_float(bias, name, "bias")])
    unbatched = len(x.shape) == nd + 1  # torch accepts (C, *spatial) and returns (C_out, *spatial)
    if unbatched:
        inputs[0] = _unsqueeze0(x)
    y = op(name, inputs, attrs)
    return _squeeze0(y) if unbatched else y


def _conv(nd):
    name = f"conv{nd}d"

    def f(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        return _run(name, nd, input, weight, bias, dict(stride=stride, dilation=dilation, groups=groups,
                                                       **padding_attrs(padding)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{nd}-D convolution (cross-correlation) as torch.nn.functional.{name}. padding: int, tuple, "
                 "'valid', 'same' (stride 1; an odd extra pad goes after, as in torch) or 'full' (fastconv: "
                 "dilation*(k-1) on each side, output size input + k - 1 at stride 1); ONNX's forms: (begin, end) "
                 "pairs per dimension, 'same_upper', 'same_lower'.")
    return f


def _conv_transpose(nd):
    name = f"conv_transpose{nd}d"

    def f(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
        return _run(name, nd, input, weight, bias, dict(stride=stride, output_padding=output_padding,
                                                       groups=groups, dilation=dilation, **padding_attrs(padding)))

    f.__name__ = f.__qualname__ = name
    f.__doc__ = (f"{nd}-D transposed convolution as torch.nn.functional.{name}; weight is "
                 "[C_in, C_out/groups, *kernel]; padding may also be (begin, end) pairs per dimension.")
    return f


conv1d, conv2d, conv3d = _conv(1), _conv(2), _conv(3)
conv_transpose1d, conv_transpose2d, conv_transpose3d = _conv_transpose(1), _conv_transpose(2), _conv_transpose(3)


def correlate2d(in1, in2, mode: str = "full"):
    """2-D cross-correlation of a single-channel array with a kernel, as scipy.signal.correlate2d (zero fill)."""
    return op("correlate2d", [as_float(in1, "correlate2d", "in1"), as_float(in2, "correlate2d", "in2")],
              dict(mode=mode))


def convolve2d(in1, in2, mode: str = "full"):
    """2-D convolution (flipped kernel) of a single-channel array, as scipy.signal.convolve2d (zero fill)."""
    return op("convolve2d", [as_float(in1, "convolve2d", "in1"), as_float(in2, "convolve2d", "in2")],
              dict(mode=mode))
