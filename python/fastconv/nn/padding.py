"""Padding layers (torch.nn's ZeroPad/ConstantPad/ReflectionPad/ReplicationPad/CircularPad 1d/2d/3d): an int pads
every side, a tuple lists (before, after) pairs from the last dimension, as F.pad; torch's reprs."""
from __future__ import annotations

from .. import functional as F
from . import _checks
from .module import Module

_MODES = {"Zero": "constant", "Constant": "constant", "Reflection": "reflect", "Replication": "replicate",
          "Circular": "circular"}
__all__ = [f"{kind}Pad{n}d" for kind in _MODES for n in (1, 2, 3)]


class _PadNd(Module):
    mode = "constant"
    dims = 2

    def __init__(self, padding) -> None:
        super().__init__()
        # negative pads crop, as in F.pad and torch's layers
        self.padding = _checks.ints_arg(self, "padding", padding, 2 * self.dims, lo=None)

    def extra_repr(self) -> str:
        return f"{self.padding}"

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value: float) -> None:
        super().__init__(padding)
        _checks.float_arg(self, "value", value)
        self.value = value  # as given: torch's repr prints value=3 for an int

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


_BASES = {"Zero": _ZeroPadNd, "Constant": _ConstantPadNd}
for _kind, _mode in _MODES.items():
    for _n in (1, 2, 3):
        _name = f"{_kind}Pad{_n}d"
        _cls = type(_name, (_BASES.get(_kind, _PadNd),), {"mode": _mode, "dims": _n, "__module__": __name__,
                                                          "__qualname__": _name})
        globals()[_name] = _cls
del _kind, _mode, _n, _name, _cls
