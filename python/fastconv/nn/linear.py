"""Linear and Flatten layers (torch.nn names, arguments and default initialisation)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import init
from .module import Module, Parameter

__all__ = ["Linear", "Flatten", "Unflatten"]


class Linear(Module):
    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), np.float32))
        if bias:
            self.bias = Parameter(np.empty((out_features,), np.float32))
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
        self.start_dim, self.end_dim = start_dim, end_dim

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
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        shape = tuple(input.shape)
        d = self.dim + len(shape) if self.dim < 0 else self.dim
        return F.reshape(input, shape[:d] + self.unflattened_size + shape[d + 1:])
