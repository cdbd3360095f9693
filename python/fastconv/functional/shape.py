"""Shape ops: reshape, flatten, cat."""
from __future__ import annotations

from ._util import op

__all__ = ["reshape", "cat"]


def reshape(input, shape):
    return op("reshape", [input], dict(shape=tuple(int(s) for s in shape)))


def cat(tensors, dim: int = 0):
    """Concatenates along `dim` (torch.cat)."""
    return op("cat", list(tensors), dict(dim=dim))
