"""Convolution arithmetic: output sizes (with the real-valued size and what the last window leaves uncovered) and
multiplication counts. Pure Python: these describe shapes, not data.

    >>> conv_output_size(7, 3, stride=3)
    ConvOutputSize(size=2, exact=2.333..., uncovered=1, effective_kernel=3)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Union

__all__ = ["ConvOutputSize", "conv_output_size", "conv_flops"]

IntOrTuple = Union[int, Sequence[int]]


@dataclass(frozen=True)
class ConvOutputSize:
    """size: the output length (floor, as torch; ceil with ceil_mode). exact: (i + 2p - d(k-1) - 1)/s + 1 before
    rounding. uncovered: trailing rows/cols of the padded input no window reaches. effective_kernel: d(k-1) + 1.
    Each is an int (float for exact) for 1-D arguments, or a tuple with one entry per axis."""

    size: Union[int, tuple]
    exact: Union[float, tuple]
    uncovered: Union[int, tuple]
    effective_kernel: Union[int, tuple]


def _axes(name: str, v, n: int) -> list:
    if isinstance(v, (list, tuple)):
        if n and len(v) != n:
            raise ValueError(f"conv_output_size: argument '{name}' has {len(v)} entries, expected {n}")
        return [int(a) for a in v]
    return [int(v)] * max(n, 1)


def _one(i: int, k: int, s: int, p, d: int, ceil_mode: bool, axis: int):
    if k < 1 or s < 1 or d < 1 or i < 0:
        raise ValueError(f"conv_output_size: need input_size >= 0, kernel_size, stride and dilation >= 1 "
                         f"(axis {axis}: input {i}, kernel {k}, stride {s}, dilation {d})")
    eff = d * (k - 1) + 1
    if p == "valid":
        lo = hi = 0
    elif p == "same":
        if s != 1:
            raise ValueError(f"conv_output_size: padding='same' needs stride 1, got stride {s}")
        lo, hi = (eff - 1) // 2, eff - 1 - (eff - 1) // 2
    elif p == "full":
        lo = hi = eff - 1
    else:
        lo = hi = int(p)
        if lo < 0:
            raise ValueError(f"conv_output_size: argument 'padding' must be non-negative, got {lo}")
    padded = i + lo + hi
    if padded < eff:
        raise ValueError(f"conv_output_size: the (dilated) kernel {eff} is larger than the padded input {padded} "
                         f"(axis {axis})")
    exact = (padded - eff) / s + 1
    size = (padded - eff) // s + 1
    if ceil_mode:
        size = -((eff - padded) // s) + 1  # ceil((padded - eff) / s) + 1
        if (size - 1) * s >= i + lo:  # torch pooling rule: the last window must start inside input or left pad
            size -= 1
    uncovered = max(0, padded - ((size - 1) * s + eff))
    return size, exact, uncovered, eff


def conv_output_size(input_size: IntOrTuple, kernel_size: IntOrTuple, stride: IntOrTuple = 1,
                     padding: Union[IntOrTuple, str] = 0, dilation: IntOrTuple = 1,
                     ceil_mode: bool = False) -> ConvOutputSize:
    """Output size of a convolution (or pooling) along each axis: o = floor((i + 2p - d(k-1) - 1)/s) + 1.

    The course example: a 7x7 input with a 3x3 filter gives 5, 3 and 2 at strides 1, 2 and 3; at stride 3 the exact
    value is (7-3)/3 + 1 = 2.33, i.e. the filter does not fit evenly and one row/column stays uncovered."""
    args = dict(input_size=input_size, kernel_size=kernel_size, stride=stride, dilation=dilation)
    if not isinstance(padding, str):
        args["padding"] = padding
    n = max((len(v) for v in args.values() if isinstance(v, (list, tuple))), default=0)
    ax = {k: _axes(k, v, n) for k, v in args.items()}
    pads = [padding] * max(n, 1) if isinstance(padding, str) else ax["padding"]
    res = [_one(ax["input_size"][a], ax["kernel_size"][a], ax["stride"][a], pads[a], ax["dilation"][a], ceil_mode, a)
           for a in range(max(n, 1))]
    if n == 0:
        return ConvOutputSize(*res[0])
    return ConvOutputSize(*(tuple(r[j] for r in res) for j in range(4)))


def conv_flops(input_shape: Sequence[int], weight_shape: Sequence[int], stride: IntOrTuple = 1,
               padding: Union[IntOrTuple, str] = 0, dilation: IntOrTuple = 1, groups: int = 1) -> int:
    """Multiplications a convolution performs: N * C_out * prod(output size) * (C_in/groups) * prod(kernel).

    input_shape is (N, C, *spatial) or unbatched (C, *spatial); weight_shape is (C_out, C_in/groups, *kernel), as
    torch. The course: a 6x6x3 input and one 3x3x3 filter -> (4*4) * (3*3*3) = 432; two filters -> 864."""
    w = [int(v) for v in weight_shape]
    nd = len(w) - 2
    if nd < 1:
        raise ValueError(f"conv_flops: weight_shape must be (C_out, C_in/groups, *kernel), got {tuple(w)}")
    x = [int(v) for v in input_shape]
    if len(x) == nd + 1:
        x = [1] + x
    if len(x) != nd + 2:
        raise ValueError(f"conv_flops: input_shape must be (N, C, *spatial) or (C, *spatial) with {nd} spatial "
                         f"axes to match weight_shape {tuple(w)}, got {tuple(input_shape)}")
    if groups < 1 or x[1] != w[1] * groups or w[0] % groups:
        raise ValueError(f"conv_flops: input has {x[1]} channels but weight expects {w[1] * groups} "
                         f"(groups={groups}, weight shape {tuple(w)})")
    out = conv_output_size(tuple(x[2:]), tuple(w[2:]), stride, padding, dilation).size
    return x[0] * w[0] * math.prod(out) * w[1] * math.prod(w[2:])
