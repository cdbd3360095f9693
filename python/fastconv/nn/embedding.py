"""Embedding (torch.nn name, arguments, N(0, 1) initialisation, a zero padding row)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from . import _checks, init
from .module import Module, Parameter

__all__ = ["Embedding"]


class Embedding(Module):
    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        self.num_embeddings = _checks.int_arg("Embedding", "num_embeddings", num_embeddings, 1)
        self.embedding_dim = _checks.int_arg("Embedding", "embedding_dim", embedding_dim, 1)
        if padding_idx is not None:
            padding_idx = _checks.int_arg("Embedding", "padding_idx", padding_idx, -self.num_embeddings)
            if padding_idx >= self.num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings ({self.num_embeddings}), "
                                 f"got {padding_idx}")
            padding_idx %= self.num_embeddings
        if max_norm is not None or scale_grad_by_freq or sparse:
            raise NotImplementedError("Embedding: max_norm, scale_grad_by_freq and sparse are not supported")
        self.padding_idx, self.max_norm, self.norm_type = padding_idx, max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        shape = (self.num_embeddings, self.embedding_dim)
        _checks.reserve(f"Embedding({self.num_embeddings}, {self.embedding_dim})", shape)
        if _weight is None:
            self.weight = Parameter(np.empty(shape, np.float32), requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if tuple(np.shape(_weight)) != shape:
                raise ValueError(f"Embedding: _weight must have shape {list(shape)}, got {list(np.shape(_weight))}")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight[self.padding_idx] = 0

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None, **kwargs) -> "Embedding":
        rows, dim = np.shape(embeddings)
        return cls(rows, dim, padding_idx, _weight=embeddings, _freeze=freeze, **kwargs)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx)
