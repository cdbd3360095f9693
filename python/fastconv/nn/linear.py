"""Linear and Flatten layers (torch.nn names, arguments and default initialisation)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import _checks, init
from .module import Module, Parameter

__all__ = ["Linear", "Flatten", "Unflatten"]


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = _checks.int_arg("Linear", "in_features", in_features, 1)
        self.out_features = _checks.int_arg("Linear", "out_features", out_features, 1)
        has_bias = _checks.bool_arg("Linear", "bias", bias)
        shape = (self.out_features, self.in_features)
        _checks.reserve(f"Linear({self.in_features}, {self.out_features})", shape,
                        *([(self.out_features,)] if has_bias else []))
        self.weight = Parameter(np.empty(shape, np.float32))
        if has_bias:
            self.bias = Parameter(np.empty((self.out_features,), np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"

    def forward(self, input):
        if input.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input has {input.shape[-1]} features (shape {tuple(input.shape)}) but the "
                             f"layer expects in_features={self.in_features}")
        return F.linear(input, self.weight, self.bias)


class Flatten(Module):
    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = _checks.int_arg("Flatten", "start_dim", start_dim, None)
        self.end_dim = _checks.int_arg("Flatten", "end_dim", end_dim, None)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"

    def forward(self, input):
        shape = tuple(input.shape)
        n = len(shape)
        s = self.start_dim + n if self.start_dim < 0 else self.start_dim
        e = self.end_dim + n if self.end_dim < 0 else self.end_dim
        if n == 0:
            return F.reshape(input, (1,))
        if not (0 <= s < n and 0 <= e < n) or s > e:
            raise IndexError(f"Flatten: start_dim={self.start_dim}, end_dim={self.end_dim} are out of range for a "
                             f"{n}-D input of shape {shape}")
        new = shape[:s] + (int(np.prod(shape[s:e + 1], dtype=np.int64)),) + shape[e + 1:]
        return F.reshape(input, new)


class Unflatten(Module):
    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = _checks.int_arg("Unflatten", "dim", dim, None)
        if not isinstance(unflattened_size, (list, tuple)) or not unflattened_size:
            raise TypeError(f"Unflatten: argument 'unflattened_size' must be a non-empty tuple of ints, got "
                            f"{unflattened_size!r}")
        self.unflattened_size = tuple(_checks.int_arg("Unflatten", "unflattened_size", s, -1)
                                      for s in unflattened_size)

    def forward(self, input):
        shape = tuple(input.shape)
        d = self.dim + len(shape) if self.dim < 0 else self.dim
        return F.reshape(input, shape[:d] + self.unflattened_size + shape[d + 1:])
