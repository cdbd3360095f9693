"""torch.nn.functional-compatible ops. NumPy arrays in -> NumPy arrays out (eager); Symbols in -> graph nodes.

One module per op family, mirroring cpp/src/ops/; each exports its names through __all__.
"""
from __future__ import annotations

from .activation import *  # noqa: F401,F403
from .eltwise import *  # noqa: F401,F403
from . import activation as _activation, eltwise as _eltwise

__all__ = [*_activation.__all__, *_eltwise.__all__]


def cat(tensors, dim: int = 0):
    """Concatenates along `dim` (filled in by the shape-ops family)."""
    from ._util import op

    return op("cat", list(tensors), dict(dim=dim))
