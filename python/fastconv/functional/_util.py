"""Argument handling shared by the functional wrappers: dtype policy and clear errors."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np

from .. import _trace
from .._trace import Symbol, op

__all__ = ["op", "as_float", "as_index", "Symbol", "is_symbol", "is_tensor", "number", "integer"]


def is_symbol(x: Any) -> bool:
    """A value with no data yet: a traced Symbol, or a Tensor recorded in an open eager step."""
    return isinstance(x, Symbol) or (is_tensor(x) and x._live())


def is_tensor(x: Any) -> bool:
    return _trace._Tensor is not None and isinstance(x, _trace._Tensor)


def _keep_tensor(x, a: np.ndarray):
    """A fastconv Tensor stays a Tensor through the argument checks (so ops given Tensors return Tensors)."""
    if not is_tensor(x):
        return a
    return x if a is x._value() else _trace._Tensor(a)


def _to_numpy(x: Any, opname: str, arg: str) -> np.ndarray:
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy"):  # a torch tensor: DLPack/NumPy view without copy on cpu
        return x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except Exception as e:  # pragma: no cover - the message is what matters
        raise TypeError(f"{opname}: argument '{arg}' must be an array, got {type(x).__name__}") from e


def as_float(x: Any, opname: str, arg: str = "input"):
    """float32 array (or Symbol). Other floating dtypes are converted; integer, bool and object arrays are rejected,
    as PyTorch rejects them, rather than silently reinterpreted."""
    if is_symbol(x):
        if x.dtype != "float32":
            raise TypeError(f"{opname}: argument '{arg}' must be float32, got {x.dtype}")
        return x
    a = x._value() if is_tensor(x) else _to_numpy(x, opname, arg)
    if a.dtype.kind != "f":
        raise TypeError(f"{opname}: argument '{arg}' must be a floating-point array (float32 is computed), "
                        f"got dtype {a.dtype}")
    return _keep_tensor(x, a if a.dtype == np.float32 else a.astype(np.float32))


def as_index(x: Any, opname: str, arg: str = "target"):
    """int64 array (or Symbol) of indices: class labels, pooling indices."""
    if is_symbol(x):
        if x.dtype != "int64":
            raise TypeError(f"{opname}: argument '{arg}' must be int64, got {x.dtype}")
        return x
    a = x._value() if is_tensor(x) else _to_numpy(x, opname, arg)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{opname}: argument '{arg}' must be an integer array (class indices), got dtype {a.dtype}")
    return _keep_tensor(x, a if a.dtype == np.int64 else a.astype(np.int64))


def number(v: Any, opname: str, arg: str) -> float:
    """A real-number argument as a float; a string, a list or None is a TypeError naming the argument (float()
    would say only "could not convert string to float")."""
    if not isinstance(v, numbers.Real):
        raise TypeError(f"{opname}: argument '{arg}' must be a number, got {type(v).__name__} {v!r:.60}")
    try:
        return float(v)
    except OverflowError:
        raise ValueError(f"{opname}: argument '{arg}' = {v} is too large for a float") from None


def integer(v: Any, opname: str, arg: str) -> int:
    """An integer argument (Python or NumPy int) as an int; anything else is a TypeError naming the argument."""
    if not isinstance(v, (numbers.Integral, np.integer)):
        raise TypeError(f"{opname}: argument '{arg}' must be an int, got {type(v).__name__} {v!r:.60}")
    return int(v)
