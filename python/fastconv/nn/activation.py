"""Activation layers (torch.nn names and arguments)."""
from __future__ import annotations

from .. import functional as F
from . import _checks
from .module import Module

import numpy as np

from .module import Parameter

__all__ = ["ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Identity", "Threshold",
           "Hardtanh", "ReLU6", "GELU", "SiLU", "Softplus", "Hardswish", "Hardsigmoid", "SELU", "Mish", "PReLU",
           "Softmax2d"]


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


def _inplace(m) -> str:
    return "inplace=True" if m.inplace else ""


class Threshold(Module):
    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        _checks.float_arg(self, "threshold", threshold), _checks.float_arg(self, "value", value)
        self.threshold, self.value = threshold, value  # as given, as torch prints them
        self.inplace = _checks.bool_arg(self, "inplace", inplace)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}" + (", inplace=True" if self.inplace else "")

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value)


class Hardtanh(Module):
    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.min_val = _checks.float_arg(self, "min_val", min_val)
        self.max_val = _checks.float_arg(self, "max_val", max_val)
        self.inplace = _checks.bool_arg(self, "inplace", inplace)
        if self.max_val <= self.min_val:
            raise ValueError(f"{type(self).__name__}: argument 'max_val' ({self.max_val}) must be greater than "
                             f"'min_val' ({self.min_val})")

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}" + (", inplace=True" if self.inplace else "")

    def forward(self, input):
        return F.hardtanh(input, self.min_val, self.max_val)


class ReLU6(Hardtanh):
    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self)

    def forward(self, input):
        return F.relu6(input)


class GELU(Module):
    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = _checks.choice_arg(self, "approximate", approximate, ("none", "tanh"))

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, input):
        return F.gelu(input, self.approximate)


class Softplus(Module):
    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = _checks.float_arg(self, "beta", beta)
        self.threshold = _checks.float_arg(self, "threshold", threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)


class _Inplace(Module):
    """Activations whose only argument is torch's `inplace` (accepted; eager results are fresh arrays)."""
    fn = None
    show_inplace = True  # torch prints inplace=True for SiLU and SELU only

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = _checks.bool_arg(self, "inplace", inplace)

    def extra_repr(self) -> str:
        return _inplace(self) if self.show_inplace else ""

    def forward(self, input):
        return type(self).fn(input)


class SiLU(_Inplace):
    fn = staticmethod(F.silu)


class SELU(_Inplace):
    fn = staticmethod(F.selu)


class Hardswish(_Inplace):
    fn, show_inplace = staticmethod(F.hardswish), False


class Hardsigmoid(_Inplace):
    fn, show_inplace = staticmethod(F.hardsigmoid), False


class Mish(_Inplace):
    fn, show_inplace = staticmethod(F.mish), False


class PReLU(Module):
    """x if x > 0 else a * x, with one learned slope `weight` per channel (num_parameters = channels) or shared."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        super().__init__()
        self.num_parameters = _checks.int_arg(self, "num_parameters", num_parameters, 1)
        self.init = _checks.float_arg(self, "init", init)
        _checks.reserve(self, (self.num_parameters,))
        self.weight = Parameter(np.full((self.num_parameters,), self.init, np.float32))

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"

    def forward(self, input):
        return F.prelu(input, self.weight)


class Softmax2d(Module):
    """Softmax over the channels at every position of a [N, C, H, W] or [C, H, W] input."""

    def forward(self, input):
        if len(input.shape) not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input ([C, H, W] or [N, C, H, W]), got shape "
                             f"{list(input.shape)}")
        return F.softmax(input, -3)
