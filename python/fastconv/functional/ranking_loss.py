"""margin_ranking_loss and cosine_embedding_loss (torch.nn.functional's), composed from traceable ops so they are
differentiable and compile like the rest. margin_ranking_loss takes any real target (torch's formula is plain
arithmetic); cosine_embedding_loss's target must be +1/-1: its masks are computed as (1 +- y) / 2, so a concrete
target with other values is refused (torch would give those positions a zero loss, which hides a label bug)."""
from __future__ import annotations

import numpy as np

from ._util import as_float, is_symbol, number
from .activation import relu
from .eltwise import add, mean, mul, sub, sum as _sum
from .loss import _reduction, cosine_similarity

__all__ = ["margin_ranking_loss", "cosine_embedding_loss"]


def _target(name: str, target):
    if not is_symbol(target):
        t = np.asarray(target.detach().numpy() if hasattr(target, "detach") else target)
        if t.dtype.kind not in "iuf":
            raise TypeError(f"{name}: argument 'target' must be a numeric array of 1 and -1, got dtype {t.dtype}")
        if t.size and not np.isin(t, (1, -1)).all():
            bad = t[~np.isin(t, (1, -1))].flat[0]
            raise ValueError(f"{name}: argument 'target' must hold only 1 and -1, got {bad}")
        target = t.astype(np.float32)
    return as_float(target, name, "target")


def _real_target(name: str, target):
    """Any real target; integer labels (what ranking datasets store) become float32, as torch promotes them."""
    if not is_symbol(target):
        t = np.asarray(target.detach().numpy() if hasattr(target, "detach") else target)
        if t.dtype.kind in "iu":
            target = t.astype(np.float32)
    return as_float(target, name, "target")


def _reduce(loss, reduction: str):
    return loss if reduction == "none" else (mean(loss) if reduction == "mean" else _sum(loss))


def _check_reduction(name: str, reduction: str) -> None:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{name}: argument 'reduction' must be 'none', 'mean' or 'sum', got {reduction!r}")


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """max(0, -target * (input1 - input2) + margin)."""
    name = "margin_ranking_loss"
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(name, reduction)
    x1, x2, y = as_float(input1, name, "input1"), as_float(input2, name, "input2"), _real_target(name, target)
    m = np.float32(number(margin, name, "margin"))
    return _reduce(relu(sub(m, mul(y, sub(x1, x2)))), reduction)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                          reduction: str = "mean"):
    """1 - cos(x1, x2) where target = 1, max(0, cos(x1, x2) - margin) where target = -1; cos over the last dim
    ([N, D] with target [N], or [D] with a 0-d target)."""
    name = "cosine_embedding_loss"
    reduction = _reduction(size_average, reduce, reduction)
    _check_reduction(name, reduction)
    x1, x2, y = as_float(input1, name, "input1"), as_float(input2, name, "input2"), _target(name, target)
    if len(x1.shape) not in (1, 2) or tuple(x1.shape) != tuple(x2.shape):
        raise ValueError(f"{name}: input1 and input2 must have the same shape, [N, D] or [D]; got "
                         f"{list(x1.shape)} and {list(x2.shape)}")
    if tuple(y.shape) != tuple(x1.shape[:-1]):
        raise ValueError(f"{name}: target must have shape {list(x1.shape[:-1])} (one label per pair), got "
                         f"{list(y.shape)}")
    cos = cosine_similarity(x1, x2, dim=-1, eps=1e-8)
    one, half = np.float32(1), np.float32(0.5)
    pos, neg = mul(half, add(one, y)), mul(half, sub(one, y))  # the 1 / -1 masks, as arithmetic (traceable)
    m = np.float32(number(margin, name, "margin"))
    return _reduce(add(mul(pos, sub(one, cos)), mul(neg, relu(sub(cos, m)))), reduction)
