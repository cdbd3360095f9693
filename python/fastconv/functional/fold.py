"""unfold / fold (torch.nn.functional's im2col and col2im): "convolution as matrix multiplication".

    cols = F.unfold(x, 3, padding=1)                      # [N, C*3*3, H*W]
    y = (w.reshape(K, -1) @ cols).reshape(N, K, H, W)     # = F.conv2d(x, w, padding=1)

fold is unfold's adjoint: it sums overlapping blocks, so fold(unfold(x)) multiplies each pixel by the number of
blocks that cover it. Unbatched inputs ([C, H, W] for unfold, [C*kh*kw, L] for fold) work as in torch.
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, is_symbol, op

__all__ = ["unfold", "fold"]


def _pair(v):
    return int(v) if isinstance(v, (int, np.integer)) else tuple(int(x) for x in v)


def _attrs(kernel_size, dilation, padding, stride) -> dict:
    return dict(kernel_size=_pair(kernel_size), dilation=_pair(dilation), padding=_pair(padding),
                stride=_pair(stride))


def _batched(name, x, rank):
    """(x with a batch axis, whether one was added); other ranks go to the shape rule unchanged (its error)."""
    if len(x.shape) == rank - 1:
        return op("reshape", [x], dict(shape=(1,) + tuple(x.shape))), True
    return x, False


def _unbatch(y):
    return op("reshape", [y], dict(shape=tuple(y.shape)[1:])) if is_symbol(y) else y[0]


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    x, added = _batched("unfold", as_float(input, "unfold"), 4)
    y = op("unfold", [x], _attrs(kernel_size, dilation, padding, stride))
    return _unbatch(y) if added else y


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    x, added = _batched("fold", as_float(input, "fold"), 3)
    y = op("fold", [x], dict(_attrs(kernel_size, dilation, padding, stride), output_size=_pair(output_size)))
    return _unbatch(y) if added else y
