"""pad (torch.nn.functional.pad): constant, reflect, replicate and circular padding.

As torch, `pad` lists (before, after) pairs starting from the last dimension, negative values crop, and 'reflect'
needs each pad smaller than its dimension ('circular': at most its size). Beyond torch, the non-constant modes pad
any number of trailing dimensions of an input of any rank (torch: 1 to 3 dims of a 2-D to 5-D input). Differentiable:
the gradient of a replicated or reflected element is the sum over all its copies.
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, op

__all__ = ["pad"]


def pad(input, pad, mode: str = "constant", value=None):
    name = "pad"
    if isinstance(pad, (int, np.integer)) or not hasattr(pad, "__len__"):
        raise TypeError(f"{name}: argument 'pad' must be a tuple of ints ((before, after) per dimension, last "
                        f"dimension first), got {type(pad).__name__} {pad!r}")
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pad):
        raise TypeError(f"{name}: argument 'pad' must contain only ints, got {tuple(pad)!r}")
    if not isinstance(mode, str):
        raise TypeError(f"{name}: argument 'mode' must be a string, got {type(mode).__name__}")
    attrs = dict(pad=tuple(int(v) for v in pad), mode=mode)
    if value is not None:
        attrs["value"] = float(value)
    return op(name, [as_float(input, name)], attrs)
