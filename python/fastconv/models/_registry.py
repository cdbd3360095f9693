"""The model registry behind fastconv.models.get(name, **kw) / list_models(), and small helpers the model files
share (torchvision's initialisers that fastconv.nn.init does not have)."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..nn import _checks

__all__ = ["register", "get", "list_models", "trunc_normal_", "bilinear_kernel", "count_parameters",
           "check_common", "widths_arg"]

_MODELS: dict[str, Callable] = {}


def register(fn: Callable) -> Callable:
    """Adds a constructor to the registry under its function name."""
    if fn.__name__ in _MODELS:
        raise ValueError(f"fastconv.models: a model named {fn.__name__!r} is already registered")
    _MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    """The names fastconv.models.get accepts, sorted."""
    return sorted(_MODELS)


def check_common(owner: str, num_classes=None, in_channels=None, dropout=None, **sizes) -> None:
    """The arguments every zoo constructor shares, checked with the class and argument in the message: class and
    channel counts positive ints, dropout a probability, other widths (base, hidden, embedding_dim...) positive."""
    if num_classes is not None:
        _checks.int_arg(owner, "num_classes", num_classes, 1)
    if in_channels is not None:
        _checks.int_arg(owner, "in_channels", in_channels, 1)
    if dropout is not None:
        _checks.prob_arg(owner, "dropout", dropout)
    for k, v in sizes.items():
        _checks.int_arg(owner, k, v, 1)


def widths_arg(owner: str, name: str, value, n: int, what: str) -> tuple:
    """A list or tuple of exactly n positive ints (a narrow variant's channel counts), as a tuple."""
    if not isinstance(value, (list, tuple)) or len(value) != n:
        err = ValueError if isinstance(value, (list, tuple)) else TypeError
        raise err(f"{owner}: argument '{name}' must be a list of {n} positive ints ({what}), got {value!r}")
    return _checks.ints_arg(owner, name, tuple(value), n, 1)


def get(name: str, **kwargs):
    """Builds the registered model `name` with keyword arguments (e.g. get('resnet18', num_classes=10))."""
    if not isinstance(name, str):
        raise TypeError(f"fastconv.models.get: name must be a string, got {type(name).__name__}")
    fn = _MODELS.get(name.lower())
    if fn is None:
        raise ValueError(f"fastconv.models.get: unknown model {name!r}; available: {', '.join(list_models())}")
    return fn(**kwargs)


def trunc_normal_(tensor: np.ndarray, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0):
    """torch.nn.init.trunc_normal_ (fastconv.nn.init.trunc_normal_; kept here for the zoo's imports)."""
    from ..nn.init import trunc_normal_ as impl

    return impl(tensor, mean, std, a, b)


def bilinear_kernel(channels: int, kernel_size: int) -> np.ndarray:
    """Weights [C, C, k, k] that make a ConvTranspose2d(C, C, k) with stride k//2 bilinear upsampling per channel (the
    FCN paper's initialisation of its upsampling layers)."""
    factor = (kernel_size + 1) // 2
    center = factor - 1 if kernel_size % 2 == 1 else factor - 0.5
    og = np.arange(kernel_size, dtype=np.float64)
    filt = 1 - np.abs(og - center) / factor
    k2 = np.outer(filt, filt)
    w = np.zeros((channels, channels, kernel_size, kernel_size), np.float32)
    w[np.arange(channels), np.arange(channels)] = k2
    return w


def count_parameters(model, trainable_only: bool = False) -> int:
    return int(sum(p.size for p in model.parameters() if p.requires_grad or not trainable_only))

