"""Activations (torch.nn.functional names and arguments).

`inplace=True` (where torch has it) writes the result back into a writable float32 NumPy input and returns it,
as torch does; other inputs (and traced values) get a new result.
"""
from __future__ import annotations

import warnings

import numpy as np

from ._util import as_float, is_symbol, number, op

__all__ = ["relu", "leaky_relu", "elu", "sigmoid", "tanh", "threshold", "relu6", "hardtanh", "gelu", "softplus",
           "hardsigmoid", "hardswish", "silu", "mish", "selu", "prelu", "softmax", "log_softmax", "identity"]


def relu(input, inplace: bool = False):
    """max(x, 0); NaN propagates as in PyTorch. `inplace` is accepted for compatibility; a new array is returned."""
    return op("relu", [as_float(input, "relu")])


def _write_back(input, out, inplace: bool):
    if inplace and isinstance(input, np.ndarray) and input.dtype == np.float32 and input.flags.writeable \
            and not is_symbol(out):
        np.copyto(input, out)
        return input
    return out


def _act(name: str, input, attrs=None, inplace: bool = False):
    return _write_back(input, op(name, [as_float(input, name)], attrs), inplace)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x if x > 0 else negative_slope * x."""
    return _act("leaky_relu", input, dict(negative_slope=number(negative_slope, "leaky_relu", "negative_slope")), inplace)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _act("elu", input, dict(alpha=number(alpha, "elu", "alpha")), inplace)


def sigmoid(input):
    return _act("sigmoid", input)


def tanh(input):
    return _act("tanh", input)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    """value where x <= threshold, else x (NaN stays NaN, as in torch)."""
    return _act("threshold", input, dict(threshold=number(threshold, "threshold", "threshold"), value=number(value, "threshold", "value")), inplace)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """clamp(x, min_val, max_val); NaN stays NaN; gradient 1 strictly inside (min_val, max_val), as torch."""
    return _act("hardtanh", input, dict(min_val=number(min_val, "hardtanh", "min_val"), max_val=number(max_val, "hardtanh", "max_val")), inplace)


def relu6(input, inplace: bool = False):
    """hardtanh(x, 0, 6)."""
    return _act("relu6", input, None, inplace)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) (approximate='none', via erf) or the tanh approximation."""
    return _act("gelu", input, dict(approximate=approximate))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta * x > threshold (torch's switch)."""
    return _act("softplus", input, dict(beta=number(beta, "softplus", "beta"), threshold=number(threshold, "softplus", "threshold")))


def hardsigmoid(input, inplace: bool = False):
    """relu6(x + 3) / 6 (gradient 1/6 strictly inside (-3, 3), as torch)."""
    return _act("hardsigmoid", input, None, inplace)


def hardswish(input, inplace: bool = False):
    """x * relu6(x + 3) / 6 (MobileNetV3)."""
    return _act("hardswish", input, None, inplace)


def silu(input, inplace: bool = False):
    """x * sigmoid(x) (swish)."""
    return _act("silu", input, None, inplace)


def mish(input, inplace: bool = False):
    """x * tanh(log(1 + exp(x)))."""
    return _act("mish", input, None, inplace)


def selu(input, inplace: bool = False):
    """scale * (x if x > 0 else alpha * (exp(x) - 1)) with torch's alpha = 1.6732632..., scale = 1.0507009..."""
    return _act("selu", input, None, inplace)


def prelu(input, weight):
    """x if x > 0 else weight[c] * x, with c the channel (dim 1; inputs of rank < 2 have one channel); weight has one
    element per channel or a single one shared by all. Differentiable in both input and weight."""
    return op("prelu", [as_float(input, "prelu"), as_float(weight, "prelu", "weight")])


def identity(input):
    """The linear activation: returns its input unchanged (torch.nn.Identity)."""
    return input if is_symbol(input) else as_float(input, "identity")


def _softmax_dim(name: str, input, dim, dtype):
    if dtype is not None:
        raise TypeError(f"{name}: argument 'dtype' is not supported (fastconv computes in float32), got {dtype!r}")
    if dim is None:  # torch's _get_softmax_dim: deprecated implicit choice
        nd = len(input.shape)
        dim = 0 if nd in (0, 1, 3) else 1
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X "
                      f"as an argument.", stacklevel=3)
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{name}: argument 'dim' must be an int, got {type(dim).__name__}")
    return int(dim)


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """exp(x) / sum(exp(x)) along dim (max-subtracted); a NaN in a slice makes that slice NaN, as in torch."""
    x = as_float(input, "softmax")
    return op("softmax", [x], dict(dim=_softmax_dim("softmax", x, dim, dtype)))


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    """x - logsumexp(x) along dim."""
    x = as_float(input, "log_softmax")
    return op("log_softmax", [x], dict(dim=_softmax_dim("log_softmax", x, dim, dtype)))
