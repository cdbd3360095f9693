"""Shape ops: reshape, flatten, cat, permute, transpose (torch names and arguments)."""
from __future__ import annotations

import numpy as np

from ._util import Symbol, as_float, is_symbol, is_tensor, op

__all__ = ["reshape", "flatten", "cat", "permute", "transpose"]


def _as_tensor(x, opname: str, arg: str):
    """Symbols pass through; floating arrays become float32 and integer arrays int64 (shape ops keep the kind)."""
    if is_symbol(x):
        return x
    if is_tensor(x):
        return x if x.dtype in (np.float32, np.int64) else as_float(x, opname, arg)
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    return as_float(a, opname, arg)


def reshape(input, shape):
    return op("reshape", [input], dict(shape=tuple(int(s) for s in shape)))


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """torch.flatten: merges dims start_dim..end_dim (nn.Flatten passes start_dim=1)."""
    return op("flatten", [_as_tensor(input, "flatten", "input")], dict(start_dim=int(start_dim), end_dim=int(end_dim)))


def cat(tensors, dim: int = 0):
    """Concatenates along `dim` (torch.cat)."""
    if isinstance(tensors, (np.ndarray, Symbol)):
        raise TypeError("cat: argument 'tensors' must be a sequence of tensors, got a single "
                        f"{type(tensors).__name__}")
    return op("cat", [_as_tensor(t, "cat", f"tensors[{i}]") for i, t in enumerate(tensors)], dict(dim=int(dim)))


def permute(input, dims):
    """torch.permute: output dimension i is input dimension dims[i] (a copy, any dtype)."""
    if isinstance(dims, (int, np.integer)):
        dims = (dims,)
    return op("permute", [_as_tensor(input, "permute", "input")], dict(dims=tuple(int(d) for d in dims)))


def transpose(input, dim0: int, dim1: int):
    """torch.transpose: swaps two dimensions."""
    x = _as_tensor(input, "transpose", "input")
    rank = len(x.shape)
    dims = list(range(rank))
    for d in (dim0, dim1):
        if not -rank <= int(d) < max(rank, 1):
            raise IndexError(f"transpose: dimension {d} is out of range for a {rank}-D input")
    a, b = int(dim0) % max(rank, 1), int(dim1) % max(rank, 1)
    dims[a], dims[b] = dims[b], dims[a]
    return op("permute", [x], dict(dims=tuple(dims)))
