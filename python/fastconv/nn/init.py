"""Parameter initialisation (torch.nn.init names and formulas), in place on float32 arrays.

Random draws come from a NumPy generator seeded from fastconv's global stream, so `fastconv.manual_seed(s)` makes
model construction reproducible.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .._trace import next_seed

__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_", "kaiming_uniform_",
           "kaiming_normal_", "xavier_uniform_", "xavier_normal_", "trunc_normal_",
           "_calculate_fan_in_and_fan_out"]


def _rng() -> np.random.Generator:
    return np.random.default_rng(next_seed())


def calculate_gain(nonlinearity: str, param=None) -> float:
    if nonlinearity in ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                        "conv_transpose3d", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: np.ndarray) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: np.ndarray, values: np.ndarray) -> np.ndarray:
    tensor[...] = values.astype(tensor.dtype, copy=False)
    return tensor


def _num(fn: str, name: str, v, lo: float | None = None) -> float:
    if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(float(v)) or \
            (lo is not None and float(v) < lo):
        want = "a finite number" + ("" if lo is None else f" >= {lo}")
        raise ValueError(f"{fn}: argument '{name}' must be {want}, got {v!r}")
    return float(v)


def uniform_(tensor, a: float = 0.0, b: float = 1.0):
    a, b = _num("uniform_", "a", a), _num("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_: argument 'a' ({a}) must not be greater than 'b' ({b})")
    return _fill(tensor, _rng().uniform(a, b, tensor.shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0):
    mean, std = _num("normal_", "mean", mean), _num("normal_", "std", std, 0.0)
    return _fill(tensor, _rng().normal(mean, std, tensor.shape))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """torch.nn.init.trunc_normal_: N(mean, std) restricted to [a, b] (absolute bounds, as in torch).

    Samples are drawn by rejection while that accepts a good share of them (the usual case, [a, b] around the
    mean); the rest, or all of them when [a, b] lies in a far tail (mean=100, [a, b] = [-2, 2]), come from the
    inverse CDF of the truncated distribution, so the call always finishes."""
    fn = "trunc_normal_"
    mean, std, a, b = _num(fn, "mean", mean), _num(fn, "std", std, 0.0), _num(fn, "a", a), _num(fn, "b", b)
    if a > b:
        raise ValueError(f"{fn}: argument 'a' ({a}) must not be greater than 'b' ({b})")
    if std == 0.0 or a == b:
        tensor[...] = min(max(mean, a), b)
        return tensor
    from scipy.special import log_ndtr, ndtri_exp  # scikit-learn, a dependency, depends on scipy

    rng = _rng()
    out = rng.normal(mean, std, tensor.shape)
    bad = (out < a) | (out > b)
    for _ in range(16):  # each round keeps >= half the remaining draws when the window holds >= half the mass
        if not bad.any():
            break
        out[bad] = rng.normal(mean, std, int(bad.sum()))
        bad = (out < a) | (out > b)
    if bad.any():
        # Inverse CDF in log space on the side of the window nearer the mean: precise in either tail.
        alpha, beta = (a - mean) / std, (b - mean) / std
        flip = alpha > 0  # work in the left tail, where log CDFs are well resolved
        lo, hi = (-beta, -alpha) if flip else (alpha, beta)
        la, lb = log_ndtr(lo), log_ndtr(hi)
        u = rng.uniform(0.0, 1.0, int(bad.sum()))
        # log(Phi(lo) + u * (Phi(hi) - Phi(lo))) without leaving log space
        lp = lb + np.log1p(-(1.0 - u) * -np.expm1(la - lb)) if lb > la else np.full(u.shape, lb)
        z = ndtri_exp(lp)
        z = -z if flip else z
        out[bad] = np.clip(mean + std * z, a, b)
    tensor[...] = out.astype(tensor.dtype)
    return tensor


def constant_(tensor, val: float):
    tensor[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def _fan(tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu"):
    fan = _fan(tensor, mode)
    if fan == 0:
        return tensor
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan))


def xavier_uniform_(tensor, gain: float = 1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:  # an empty tensor: nothing to fill
        return tensor
    a = gain * math.sqrt(6.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor, gain: float = 1.0):
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    if fan_in + fan_out == 0:
        return tensor
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))
