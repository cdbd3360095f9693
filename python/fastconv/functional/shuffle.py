"""pixel_shuffle / pixel_unshuffle (depth to space and back, torch.nn.functional's) and channel_shuffle (ShuffleNet's
channel interleave). Pure permutations: each is differentiable, its gradient the inverse permutation."""
from __future__ import annotations

import numpy as np

from ._util import as_float, op

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle"]


def _int(name: str, arg: str, v) -> int:
    # torch refuses floats and bools here; so do we, naming the argument, rather than truncating 1.5 to 1
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{name}: argument '{arg}' must be an int, got {type(v).__name__} {v!r}")
    return int(v)


def pixel_shuffle(input, upscale_factor):
    """[*, C*r*r, H, W] -> [*, C, H*r, W*r]."""
    name = "pixel_shuffle"
    return op(name, [as_float(input, name)], dict(upscale_factor=_int(name, "upscale_factor", upscale_factor)))


def pixel_unshuffle(input, downscale_factor):
    """[*, C, H*r, W*r] -> [*, C*r*r, H, W]."""
    name = "pixel_unshuffle"
    return op(name, [as_float(input, name)], dict(downscale_factor=_int(name, "downscale_factor", downscale_factor)))


def channel_shuffle(input, groups):
    """[N, g*k, *] -> channels viewed as a g x k matrix, transposed."""
    name = "channel_shuffle"
    return op(name, [as_float(input, name)], dict(groups=_int(name, "groups", groups)))
