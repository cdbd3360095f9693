"""Dropout layers. Each layer owns a seed (from fastconv's global stream): in a compiled step the mask is a hash of
that seed and the step number, so steps differ and runs are reproducible; eager calls draw a fresh seed each time."""
from __future__ import annotations

from .. import functional as F
from .._trace import next_seed
from ..functional._util import is_symbol
from . import _checks
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        self.p = _checks.prob_arg(self, "p", p)
        self.inplace = _checks.bool_arg(self, "inplace", inplace)
        self.seed = next_seed()

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"

    def _seed(self, input) -> int:
        return self.seed if is_symbol(input) else next_seed()


class Dropout(_DropoutNd):
    def forward(self, input):
        return F.dropout(input, self.p, self.training, seed=self._seed(input))


class Dropout2d(_DropoutNd):
    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, seed=self._seed(input))


class Dropout1d(_DropoutNd):
    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, seed=self._seed(input))


class Dropout3d(_DropoutNd):
    def forward(self, input):
        return F.dropout3d(input, self.p, self.training, seed=self._seed(input))
