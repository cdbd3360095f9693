"""Element-wise arithmetic with broadcasting, and reductions."""
from __future__ import annotations

from ._util import as_float, op

__all__ = ["add", "sub", "mul", "div", "sum", "mean"]


def add(input, other):
    return op("add", [as_float(input, "add"), as_float(other, "add", "other")])


def sub(input, other):
    return op("sub", [as_float(input, "sub"), as_float(other, "sub", "other")])


def mul(input, other):
    return op("mul", [as_float(input, "mul"), as_float(other, "mul", "other")])


def div(input, other):
    return op("div", [as_float(input, "div"), as_float(other, "div", "other")])


def sum(input, dim=None, keepdim: bool = False):  # noqa: A001 - torch's name
    return op("sum", [as_float(input, "sum")], dict(dim=dim, keepdim=keepdim))


def mean(input, dim=None, keepdim: bool = False):
    return op("mean", [as_float(input, "mean")], dict(dim=dim, keepdim=keepdim))

