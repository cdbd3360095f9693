"""The norm op family (torch.nn.functional names)."""
from __future__ import annotations

from ._util import as_float, as_index, op  # noqa: F401

__all__: list[str] = []
