"""Losses with torch.nn.functional's names, arguments, defaults and semantics.

Values a shape rule cannot see are checked here when they are concrete NumPy arrays (eager calls, or constants in a
trace): class indices out of range raise IndexError, binary_cross_entropy inputs outside [0, 1] raise ValueError.
A compiled step checks class indices that come from its inputs before it runs (IndexError, nothing updated); a
class index computed inside a graph makes that position's loss and gradient NaN (never an out-of-bounds read), and
a BCE input outside [0, 1] gives NaN from the log.
"""
from __future__ import annotations

import numpy as np

from ._util import Symbol, as_float, as_index, integer, is_symbol, number, op

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "triplet_margin_loss", "cosine_similarity"]


def _reduction(size_average, reduce, reduction: str) -> str:
    """torch's legacy size_average/reduce arguments, mapped as torch maps them."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else ("mean" if size_average else "sum")


def _shape(x) -> tuple:
    return tuple(x.shape)


def _broadcast_to(x, shape: tuple, opname: str, arg: str):
    """x broadcast to `shape` (a graph node when traced), or an error naming the argument and both shapes."""
    if _shape(x) == tuple(shape):
        return x
    try:
        ok = np.broadcast_shapes(_shape(x), tuple(shape)) == tuple(shape)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"{opname}: argument '{arg}' of shape {list(_shape(x))} cannot be broadcast to the input "
                         f"shape {list(shape)}")
    return op("broadcast_to", [x], dict(shape=tuple(int(s) for s in shape)))


def _class_target(input, target, opname: str, ignore_index: int, allow_prob: bool):
    """int64 class indices (range-checked when concrete) or, where allowed, float32 probabilities."""
    if is_symbol(target):
        return target if (target.dtype == "int64" or not allow_prob) else as_float(target, opname, "target")
    t = np.asarray(target.detach().cpu().numpy() if hasattr(target, "detach") else target)
    if allow_prob and t.dtype.kind == "f":
        return as_float(t, opname, "target")
    if t.dtype.kind not in "iu":
        kinds = "int64 class indices" + (" or float class probabilities" if allow_prob else "")
        raise TypeError(f"{opname}: argument 'target' must be {kinds}, got dtype {t.dtype}")
    t = as_index(t, opname, "target")
    shape = _shape(input)
    n_classes = shape[1] if len(shape) >= 2 else (shape[0] if shape else 0)
    bad = (t != ignore_index) & ((t < 0) | (t >= n_classes))
    if bad.any():
        raise IndexError(f"{opname}: target {int(t[bad].flat[0])} is out of bounds: expected class indices in "
                         f"[0, {n_classes}) or ignore_index={ignore_index}")
    return t


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Softmax cross entropy over dim 1 ([C], [N, C] or [N, C, d1, ...]); targets are class indices or class
    probabilities of the input's shape. One fused op: the backward reuses the forward's log-sum-exp."""
    x = as_float(input, "cross_entropy")
    inputs = [x, _class_target(x, target, "cross_entropy", ignore_index, True)]
    if weight is not None:
        inputs.append(as_float(weight, "cross_entropy", "weight"))
    return op("cross_entropy", inputs, dict(ignore_index=integer(ignore_index, "cross_entropy", "ignore_index"),
                                            reduction=_reduction(size_average, reduce, reduction),
                                            label_smoothing=number(label_smoothing, "cross_entropy",
                                                                                  "label_smoothing")))


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    """Negative log likelihood of class indices given log-probabilities (dim 1 is the class dimension)."""
    x = as_float(input, "nll_loss")
    inputs = [x, _class_target(x, target, "nll_loss", ignore_index, False)]
    if weight is not None:
        inputs.append(as_float(weight, "nll_loss", "weight"))
    return op("nll_loss", inputs, dict(ignore_index=integer(ignore_index, "nll_loss", "ignore_index"),
                                       reduction=_reduction(size_average, reduce, reduction)))


def _pointwise(name: str, input, target, reduction: str, weight=None, pos_weight=None, broadcast_weights=False,
               **attrs):
    x = as_float(input, name)
    inputs = [x, as_float(target, name, "target")]
    for arg, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None:
            w = as_float(w, name, arg)
            inputs.append(_broadcast_to(w, _shape(x), name, arg) if broadcast_weights else w)
    # has_* only where given: each op declares just the optional inputs it takes (mse_loss has no pos_weight)
    if weight is not None:
        attrs["has_weight"] = True
    if pos_weight is not None:
        attrs["has_pos_weight"] = True
    return op(name, inputs, dict(reduction=reduction, **attrs))


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    """Mean squared error; with weight, 'mean' divides by sum(weight) as torch does. target must have the input's
    shape (torch only warns and broadcasts)."""
    return _pointwise("mse_loss", input, target, _reduction(size_average, reduce, reduction), weight)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", weight=None):
    return _pointwise("l1_loss", input, target, _reduction(size_average, reduce, reduction), weight)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    return _pointwise("smooth_l1_loss", input, target, _reduction(size_average, reduce, reduction),
                      beta=number(beta, "smooth_l1_loss", "beta"))


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    return _pointwise("huber_loss", input, target, reduction, weight, delta=number(delta, "huber_loss", "delta"))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean"):
    """BCE on probabilities; each log is clamped at -100 as in torch. weight broadcasts to the input's shape."""
    if not isinstance(input, Symbol):
        x = as_float(input, "binary_cross_entropy")
        if x.size and not ((x >= 0) & (x <= 1)).all():
            raise ValueError(f"binary_cross_entropy: all elements of argument 'input' must be between 0 and 1, got "
                             f"values in [{np.nanmin(x)}, {np.nanmax(x)}] (use binary_cross_entropy_with_logits "
                             f"for logits)")
        input = x
    return _pointwise("binary_cross_entropy", input, target, _reduction(size_average, reduce, reduction), weight,
                      broadcast_weights=True)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    """sigmoid + BCE in the numerically stable form; weight and pos_weight broadcast to the input's shape."""
    return _pointwise("binary_cross_entropy_with_logits", input, target, _reduction(size_average, reduce, reduction),
                      weight, pos_weight, broadcast_weights=True)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
    """max(d(a, p) - d(a, n) + margin, 0) with d(u, v) = ||u - v + eps||_p over the last dim ([N, D] or [D])."""
    args = [as_float(anchor, "triplet_margin_loss", "anchor"), as_float(positive, "triplet_margin_loss", "positive"),
            as_float(negative, "triplet_margin_loss", "negative")]
    return op("triplet_margin_loss", args, dict(margin=number(margin, "triplet_margin_loss", "margin"),
                                                p=number(p, "triplet_margin_loss", "p"),
                                                eps=number(eps, "triplet_margin_loss", "eps"), swap=bool(swap),
                                                reduction=_reduction(size_average, reduce, reduction)))


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """sum(x1/max(||x1||, eps) * x2/max(||x2||, eps)) along dim (torch 2.x); x1 and x2 broadcast together."""
    a, b = as_float(x1, "cosine_similarity", "x1"), as_float(x2, "cosine_similarity", "x2")
    if _shape(a) != _shape(b):
        try:
            shape = np.broadcast_shapes(_shape(a), _shape(b))
        except ValueError:
            raise ValueError(f"cosine_similarity: x1 of shape {list(_shape(a))} and x2 of shape {list(_shape(b))} "
                             f"cannot be broadcast together") from None
        a, b = _broadcast_to(a, shape, "cosine_similarity", "x1"), _broadcast_to(b, shape, "cosine_similarity", "x2")
    return op("cosine_similarity", [a, b], dict(dim=integer(dim, "cosine_similarity", "dim"),
                                                     eps=number(eps, "cosine_similarity", "eps")))
