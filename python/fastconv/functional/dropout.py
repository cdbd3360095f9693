"""The dropout op family (torch.nn.functional names and arguments, plus a keyword-only `seed`).

Masks come from a counter-based hash of (seed, step, index): with `seed=None` a seed is drawn from fastconv's
global stream (fastconv.manual_seed makes eager calls reproducible); inside a compiled graph the seed is fixed at
trace time and the graph's step counter (the optimizer's, in a training step) gives every run a fresh mask.
"""
from __future__ import annotations

import numpy as np

from .._trace import next_seed
from ._util import Symbol, as_float, integer, is_symbol, number, op

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]


def _dropout(name: str, input, p, training: bool, inplace: bool, seed):
    p = number(p, name, "p")
    if not 0.0 <= p <= 1.0:  # also rejects NaN
        raise ValueError(f"{name}: dropout probability has to be between 0 and 1, but got {p}")
    x = as_float(input, name)
    if not training:
        return x  # the identity, as torch (no copy)
    if seed is None:  # an eager step records a seed fixed by its place, so its program is cached across steps
        seed = x.ctx.positional_seed() if is_symbol(x) and not isinstance(x, Symbol) else next_seed()
    else:
        seed = integer(seed, name, "seed")
    inputs = [x, x.ctx.step()] if is_symbol(x) else [x]  # traced: a fresh mask every step
    y = op(name, inputs, dict(p=p, seed=seed & 0x7FFFFFFFFFFFFFFF), multi=True)[0]
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable \
            and not is_symbol(y):
        np.copyto(input, y)
        return input
    return y


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, seed=None):
    """Zeroes each element with probability p and scales the kept ones by 1/(1-p) (p=1: all zeros)."""
    return _dropout("dropout", input, p, training, inplace, seed)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, seed=None):
    """Zeroes whole channels of [N, C, *] with probability p (one draw per (n, c)), scaling kept ones by 1/(1-p).
    As torch, a 3-D input is read as (N, C, L) and a 2-D one as (N, C) (element-wise)."""
    return _dropout("dropout2d", input, p, training, inplace, seed)


def _channel_dropout(name: str, input, p, training: bool, inplace: bool, seed, batched_rank: int):
    """dropout1d / dropout3d: channels of [N, C, L] / [N, C, D, H, W], or of one unbatched sample (given a batch axis
    of 1 here, so its channels, not its first axis, are dropped)."""
    x = as_float(input, name)
    rank = len(x.shape)
    if rank not in (batched_rank - 1, batched_rank):
        raise ValueError(f"{name}: expected a {batched_rank - 1}-D (unbatched) or {batched_rank}-D (batched) input, "
                         f"got shape {list(x.shape)}")
    if rank == batched_rank:
        return _dropout("dropout2d", input if inplace else x, p, training, inplace, seed)
    from .shape import reshape
    y = _dropout("dropout2d", reshape(x, (1,) + tuple(x.shape)), p, training, False, seed)
    return reshape(y, tuple(x.shape))


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, seed=None):
    """Zeroes whole channels of [N, C, L] (or unbatched [C, L]) with probability p, scaling kept ones by 1/(1-p)."""
    return _channel_dropout("dropout1d", input, p, training, inplace, seed, 3)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *, seed=None):
    """Zeroes whole channels of [N, C, D, H, W] (or unbatched [C, D, H, W]) with probability p."""
    return _channel_dropout("dropout3d", input, p, training, inplace, seed, 5)
