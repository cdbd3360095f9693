"""torch.nn.utils' gradient clipping, for the eager loop's .grad (compiled steps clip inside the step:
fastconv.compile(..., clip_grad_norm=...)). Norms are accumulated in float64, so they match torch's within float32
rounding."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list[np.ndarray]:
    if isinstance(parameters, np.ndarray):
        parameters = [parameters]
    return [p.grad.numpy() for p in parameters if getattr(p, "grad", None) is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False):
    """Scales every .grad in place so their joint norm is at most max_norm; returns the norm before scaling."""
    from .._tensor import Tensor
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    if math.isinf(norm_type):
        total = max(float(np.abs(g).max()) if g.size else 0.0 for g in grads)
    else:
        total = sum(float((np.abs(g.astype(np.float64)) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it "
                           f"cannot be clipped. To disable this error and scale the gradients by the non-finite norm "
                           f"anyway, set `error_if_nonfinite=False`")
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= np.float32(coef)
    return Tensor(np.asarray(total, np.float32))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamps every .grad in place to [-clip_value, clip_value]."""
    for g in _grads(parameters):
        np.clip(g, -float(clip_value), float(clip_value), out=g)
