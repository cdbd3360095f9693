"""Activations (torch.nn.functional names and arguments)."""
from __future__ import annotations

from ._util import as_float, op

__all__ = ["relu"]


def relu(input, inplace: bool = False):
    """max(x, 0); NaN propagates as in PyTorch. `inplace` is accepted for compatibility; a new array is returned."""
    return op("relu", [as_float(input, "relu")])
