"""one_hot and embedding (torch.nn.functional names).

embedding is a one-hot matrix times the weight (the linear op), so its weight gradient comes from the linear op's
backward in every mode (eager loop, compiled graphs): cheap for the small vocabularies of CNN work (class
embeddings, conditioning), O(indices x num_embeddings) memory for large ones.
"""
from __future__ import annotations

import numpy as np

from .._trace import Symbol
from ._util import is_symbol, is_tensor, op

__all__ = ["one_hot", "embedding"]


def _indices(x, who: str) -> np.ndarray:
    if isinstance(x, Symbol):
        raise TypeError(f"{who}: the indices must be data (an array or Tensor), not a traced value: a compiled graph "
                        f"takes them as float one-hot rows instead")
    a = np.asarray(x.numpy() if is_tensor(x) else (x.detach().cpu().numpy() if hasattr(x, "detach") else x))
    if a.dtype.kind not in "iu":
        raise TypeError(f"{who}: argument 'input' must be an integer tensor of indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def one_hot(tensor, num_classes: int = -1):
    """int64 [*, num_classes] with a 1 at each index (num_classes=-1: max index + 1), as torch.nn.functional.one_hot."""
    a = _indices(tensor, "one_hot")
    if a.size and a.min() < 0:
        raise RuntimeError(f"one_hot: Class values must be non-negative, got {int(a.min())}")
    n = int(a.max()) + 1 if num_classes == -1 and a.size else int(num_classes)
    if num_classes == -1 and not a.size:
        raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor")
    if a.size and a.max() >= n:
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({n}), got {int(a.max())}")
    out = np.zeros(a.shape + (n,), np.int64)
    np.put_along_axis(out, a[..., None], 1, axis=-1)
    if is_tensor(tensor):
        from .._tensor import Tensor
        return Tensor(out)
    return out


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """weight[input] for int indices, differentiable in weight (torch.nn.functional.embedding). Positions holding
    padding_idx give zero rows and no gradient (torch gives weight[padding_idx], zero as nn.Embedding makes it)."""
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: max_norm, scale_grad_by_freq and sparse are not supported")
    idx = _indices(input, "embedding")
    if len(weight.shape) != 2:
        raise ValueError(f"embedding: argument 'weight' must be 2-D [num_embeddings, embedding_dim], got shape "
                         f"{list(weight.shape)}")
    num, dim = (int(s) for s in weight.shape)
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = int(idx[(idx < 0) | (idx >= num)].flat[0])
        raise IndexError(f"embedding: index {bad} out of range for {num} embeddings")
    rows = np.zeros((idx.size, num), np.float32)
    rows[np.arange(idx.size), idx.reshape(-1)] = 1.0
    if padding_idx is not None:
        rows[:, int(padding_idx) % num] = 0.0
    if is_tensor(input) and not is_symbol(weight):  # the eager loop: weight (a Parameter) is recorded, not run
        from .._lazy import dispatch
        from .._tensor import Tensor
        wt = dispatch("permute", [weight], dict(dims=(1, 0)), False, "")
        out = dispatch("linear", [Tensor(rows), wt], {}, False, "")
    else:
        wt = op("permute", [weight], dict(dims=(1, 0)))
        out = op("linear", [rows, wt])
    return op("reshape", [out], dict(shape=tuple(idx.shape) + (dim,)))
