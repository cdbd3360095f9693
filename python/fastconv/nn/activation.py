"""Activation layers (torch.nn names and arguments)."""
from __future__ import annotations

from .. import functional as F
from . import _checks
from .module import Module

__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Identity"]


class Identity(Module):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


class ReLU(Module):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _checks.bool_arg(self, "inplace", inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def forward(self, input):
        return F.relu(input)


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = _checks.float_arg(self, "negative_slope", negative_slope)
        self.inplace = _checks.bool_arg(self, "inplace", inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)


class ELU(Module):
    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = _checks.float_arg(self, "alpha", alpha)
        self.inplace = _checks.bool_arg(self, "inplace", inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")

    def forward(self, input):
        return F.elu(input, self.alpha)


class Sigmoid(Module):
    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input):
        return F.tanh(input)


def _softmax_dim(ndim: int) -> int:
    # torch's legacy rule when dim is not given
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = None if dim is None else _checks.int_arg(self, "dim", dim, None)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, input):
        return F.softmax(input, self.dim if self.dim is not None else _softmax_dim(len(input.shape)))


class LogSoftmax(Module):
    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = None if dim is None else _checks.int_arg(self, "dim", dim, None)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    def forward(self, input):
        return F.log_softmax(input, self.dim if self.dim is not None else _softmax_dim(len(input.shape)))
