"""Constructor argument checks shared by the layers and the model zoo, and the parameter budget that fastconv.load
sets while it rebuilds a model from a file.

Every check raises with the class, the argument, the value and what was expected ("Conv2d: argument 'out_channels'
must be a positive int, got -3"): TypeError for the wrong kind of value, ValueError for a value out of range.
"""
from __future__ import annotations

import contextlib
import contextvars
import math
import numbers
from typing import Iterator

import numpy as np

__all__ = ["int_arg", "ints_arg", "float_arg", "prob_arg", "bool_arg", "choice_arg", "reserve", "param_budget",
           "MAX_INT"]

MAX_INT = 2 ** 63 - 1  # what the C++ core's int64 attributes hold
# No tensor can hold more float32 elements than this (2**62 bytes, the most a 64-bit allocation can plausibly get).
MAX_ELEMENTS = 2 ** 60


def _owner(owner) -> str:
    return owner if isinstance(owner, str) else type(owner).__name__


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_arg(owner, name: str, value, lo: int | None = 0, hi: int = MAX_INT) -> int:
    """`value` as a Python int in [lo, hi] (lo=None: no lower bound)."""
    who = _owner(owner)
    if not _is_int(value):
        raise TypeError(f"{who}: argument '{name}' must be an int, got {type(value).__name__} {value!r}")
    v = int(value)
    if lo is not None and v < lo:
        want = "a positive int" if lo == 1 else ("a non-negative int" if lo == 0 else f"an int >= {lo}")
        raise ValueError(f"{who}: argument '{name}' must be {want}, got {v}")
    if v > hi or (lo is None and v < -MAX_INT - 1):
        raise ValueError(f"{who}: argument '{name}' must be at most {hi}, got {v}")
    return v


def ints_arg(owner, name: str, value, n: int, lo: int | None = 0, hi: int = MAX_INT) -> tuple:
    """An int or a sequence of exactly n ints, each in [lo, hi], as an n-tuple."""
    who = _owner(owner)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{who}: argument '{name}' must be an int or a {n}-tuple of ints, got {tuple(value)!r}")
        items = list(value)
    elif _is_int(value):
        items = [value] * n
    else:
        raise TypeError(f"{who}: argument '{name}' must be an int or a {n}-tuple of ints, got "
                        f"{type(value).__name__} {value!r}")
    out = []
    for v in items:
        if not _is_int(v):
            raise TypeError(f"{who}: argument '{name}' must be an int or a {n}-tuple of ints, got {value!r}")
        if lo is not None and int(v) < lo:
            want = {1: "positive", 0: "non-negative"}.get(lo, f">= {lo}")
            raise ValueError(f"{who}: argument '{name}' must hold {want} ints, got {tuple(items)!r}")
        if int(v) > hi or int(v) < -MAX_INT - 1:
            raise ValueError(f"{who}: argument '{name}' must hold ints of at most {hi}, got {tuple(items)!r}")
        out.append(int(v))
    return tuple(out)


def float_arg(owner, name: str, value, lo: float | None = None, hi: float | None = None,
              lo_open: bool = False) -> float:
    """A finite real number in [lo, hi] (or (lo, hi] with lo_open)."""
    who = _owner(owner)
    if not isinstance(value, numbers.Real) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{who}: argument '{name}' must be a number, got {type(value).__name__} {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{who}: argument '{name}' must be a finite number, got {v}")
    below = lo is not None and (v <= lo if lo_open else v < lo)
    if below or (hi is not None and v > hi):
        lo_s = "" if lo is None else (f"> {lo}" if lo_open else f">= {lo}")
        hi_s = "" if hi is None else f"<= {hi}"
        raise ValueError(f"{who}: argument '{name}' must be {' and '.join(s for s in (lo_s, hi_s) if s)}, got {v}")
    return v


def prob_arg(owner, name: str, value) -> float:
    """A probability in [0, 1]."""
    return float_arg(owner, name, value, 0.0, 1.0)


def bool_arg(owner, name: str, value) -> bool:
    """True/False (0 and 1 too, as PyTorch code often passes them)."""
    if _is_int(value) and int(value) in (0, 1):
        return bool(value)
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{_owner(owner)}: argument '{name}' must be True or False, got "
                        f"{type(value).__name__} {value!r}")
    return bool(value)


def choice_arg(owner, name: str, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{_owner(owner)}: argument '{name}' must be one of {', '.join(map(repr, choices))}, "
                         f"got {value!r}")
    return value


# ---- parameter budget -------------------------------------------------------------------------------------------
# fastconv.load knows how many elements the file's tensors hold before it rebuilds the model; layers reserve their
# parameters and buffers against that number *before* allocating, so a tiny file describing Linear(15000, 15000)
# fails at once instead of allocating and initialising 900 MB that no tensor in the file could fill.
_BUDGET: contextvars.ContextVar = contextvars.ContextVar("fastconv_param_budget", default=None)


@contextlib.contextmanager
def param_budget(elements: int, source: str) -> Iterator[None]:
    token = _BUDGET.set([int(elements), int(elements), source])
    try:
        yield
    finally:
        _BUDGET.reset(token)


def reserve(owner, *shapes) -> None:
    """Checks that tensors of these shapes can exist (and fit the active load budget) before they are allocated."""
    n = sum(math.prod(int(d) for d in s) for s in shapes)
    who = owner if isinstance(owner, str) else f"{type(owner).__name__}"
    if n > MAX_ELEMENTS:
        raise ValueError(f"{who}: its parameters would hold {n} elements ({', '.join(str(tuple(s)) for s in shapes)}), "
                         f"more than any tensor can ({MAX_ELEMENTS})")
    b = _BUDGET.get()
    if b is None:
        return
    b[0] -= n
    if b[0] < 0:
        raise ValueError(f"{who} needs {n} parameter elements (shapes {', '.join(str(tuple(s)) for s in shapes)}), "
                         f"which with the layers before it is more than the {b[1]} elements all tensors in "
                         f"{b[2]} hold together")
