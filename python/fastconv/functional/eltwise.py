"""Element-wise arithmetic with broadcasting, and reductions."""
from __future__ import annotations

import numpy as np

from ._util import as_float, number, op

__all__ = ["add", "sub", "mul", "div", "pow", "sum", "mean"]


def add(input, other):
    return op("add", [as_float(input, "add"), as_float(other, "add", "other")])


def sub(input, other):
    return op("sub", [as_float(input, "sub"), as_float(other, "sub", "other")])


def mul(input, other):
    return op("mul", [as_float(input, "mul"), as_float(other, "mul", "other")])


def div(input, other):
    return op("div", [as_float(input, "div"), as_float(other, "div", "other")])


def pow(input, exponent):  # noqa: A001 - torch's name
    """torch.pow(input, exponent) with a scalar exponent: NaN where input < 0 and the exponent is not an integer;
    differentiable (gradient exponent * input ** (exponent - 1), 0 everywhere for exponent 0, as torch)."""
    if not isinstance(exponent, (int, float, np.integer, np.floating)) or isinstance(exponent, bool):
        raise TypeError(f"pow: argument 'exponent' must be a number (a tensor exponent is not supported), got "
                        f"{type(exponent).__name__}")
    return op("pow", [as_float(input, "pow")], dict(exponent=number(exponent, "pow", "exponent")))


def sum(input, dim=None, keepdim: bool = False):  # noqa: A001 - torch's name
    return op("sum", [as_float(input, "sum")], dict(dim=dim, keepdim=keepdim))


def mean(input, dim=None, keepdim: bool = False):
    return op("mean", [as_float(input, "mean")], dict(dim=dim, keepdim=keepdim))

