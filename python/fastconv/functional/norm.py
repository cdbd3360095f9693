"""The norm op family (torch.nn.functional names and arguments).

The C++ ops take optional tensors as extra inputs announced by has_* attributes; these wrappers build that list.
"""
from __future__ import annotations

import numpy as np

from ._util import as_float, is_symbol, op

__all__ = ["batch_norm", "instance_norm", "group_norm", "layer_norm", "local_response_norm"]


def _running_stat(x, name: str, training: bool):
    """Running statistics are persistent buffers that a training step updates in place (as in torch), so in training
    they must be the caller's own float32 C-contiguous array (or a traced value); a converted copy would silently
    lose the update."""
    if x is None or is_symbol(x):
        return x
    if hasattr(x, "detach") and hasattr(x, "numpy") and not isinstance(x, np.ndarray):
        x = x.detach().numpy()  # a CPU torch tensor: shares memory, so its buffer is updated too
    if not training:
        return as_float(x, "batch_norm", name)
    if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous or not x.flags.writeable:
        what = type(x).__name__ if not isinstance(x, np.ndarray) else (
            f"dtype {x.dtype}" + ("" if x.flags.c_contiguous else ", not C-contiguous") +
            ("" if x.flags.writeable else ", read-only"))
        raise TypeError(f"batch_norm: argument '{name}' is updated in place when training, so it must be a writable "
                        f"float32 C-contiguous NumPy array; got {what}")
    return x


def _optional(inputs: list, attrs: dict, key: str, value, opname: str, arg: str) -> None:
    attrs[key] = value is not None
    if value is not None:
        inputs.append(as_float(value, opname, arg))


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-05, *, running_var_unbiased: bool = True):
    """Batch normalisation over [N, C, *] (2-D to 5-D). Training: batch statistics (biased variance) normalise, and
    running_mean / running_var (if given) are updated in place: r = (1 - momentum) r + momentum * stat, with the
    unbiased variance, as in torch (running_var_unbiased=False: the biased one, as ONNX's BatchNormalization).
    Eval: the running statistics normalise."""
    return _batch_norm("batch_norm", input, running_mean, running_var, weight, bias, training, momentum, eps,
                       running_var_unbiased)


def _batch_norm(name: str, input, running_mean, running_var, weight, bias, training, momentum, eps,
                running_var_unbiased: bool = True):
    # name: "batch_norm", or "sync_batch_norm" (nn.SyncBatchNorm: the same op over every rank's batch together)
    x = as_float(input, "batch_norm")
    rm = _running_stat(running_mean, "running_mean", training)
    rv = _running_stat(running_var, "running_var", training)
    if (rm is None) != (rv is None):
        raise ValueError("batch_norm: running_mean and running_var must both be given or both be None")
    inputs = [x]
    attrs = dict(training=bool(training), momentum=float(momentum), eps=float(eps), has_running=rm is not None)
    if not running_var_unbiased:
        if not isinstance(running_var_unbiased, bool):
            raise TypeError(f"batch_norm: argument 'running_var_unbiased' must be a bool, got "
                            f"{type(running_var_unbiased).__name__}")
        attrs["running_var_unbiased"] = False
    if rm is not None:
        inputs += [rm, rv]
    _optional(inputs, attrs, "has_weight", weight, "batch_norm", "weight")
    _optional(inputs, attrs, "has_bias", bias, "batch_norm", "bias")
    return op(name, inputs, attrs, multi=True)[0]


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-05):
    """Normalises each group of num_groups channel groups of each sample; weight/bias are per channel."""
    inputs, attrs = [as_float(input, "group_norm")], dict(num_groups=int(num_groups), eps=float(eps))
    _optional(inputs, attrs, "has_weight", weight, "group_norm", "weight")
    _optional(inputs, attrs, "has_bias", bias, "group_norm", "bias")
    return op("group_norm", inputs, attrs, multi=True)[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-05):
    """Normalises each channel of each sample over its spatial positions ([N, C, *]): group_norm with one group per
    channel. With use_input_stats and running statistics given, those are updated in place as torch does (the mean
    over the batch of each instance's mean and unbiased variance); without use_input_stats they normalise."""
    name = "instance_norm"
    x = as_float(input, name)
    shape = tuple(x.shape)
    if len(shape) < 3:
        raise ValueError(f"{name}: expected an input of at least 3 dimensions [N, C, *], got shape {list(shape)}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{name}: running_mean and running_var must both be given or both be None")
    if not use_input_stats:
        if running_mean is None:
            raise ValueError(f"{name}: use_input_stats=False needs running_mean and running_var")
        return batch_norm(x, running_mean, running_var, weight, bias, training=False, eps=eps)
    if running_mean is not None:
        if is_symbol(x):
            # the compiled step has no node for this update yet; silently skipping it would freeze the statistics
            raise NotImplementedError(f"{name}: updating running statistics inside a traced graph is not supported; "
                                      f"use track_running_stats=False (torch's default) or call it eagerly")
        rm, rv = (_running_stat(r, a, True) for r, a in ((running_mean, "running_mean"), (running_var, "running_var")))
        xs = np.asarray(x, np.float64).reshape(shape[0], shape[1], -1)
        n = xs.shape[2]
        m = float(momentum)
        rm[...] = (1 - m) * rm + m * xs.mean(2).mean(0)
        rv[...] = (1 - m) * rv + m * (xs.var(2) * (n / (n - 1) if n > 1 else np.nan)).mean(0)
    return group_norm(x, shape[1], weight, bias, eps)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-05):
    """Normalises over the trailing dimensions given by normalized_shape; weight/bias have that shape."""
    ns = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    inputs, attrs = [as_float(input, "layer_norm")], dict(normalized_shape=ns, eps=float(eps))
    _optional(inputs, attrs, "has_weight", weight, "layer_norm", "weight")
    _optional(inputs, attrs, "has_bias", bias, "layer_norm", "bias")
    return op("layer_norm", inputs, attrs, multi=True)[0]


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """torch's across-channel LRN: y = x / (k + alpha/size * sum of x^2 over channels [c - size//2,
    c + (size-1)//2], zero outside)^beta. (The course notes' inter-channel formula has alpha without the 1/size and
    a window of c +- n/2: pass alpha*size and an odd size to get it.)"""
    return op("local_response_norm", [as_float(input, "local_response_norm")],
              dict(size=int(size), alpha=float(alpha), beta=float(beta), k=float(k)), multi=True)[0]
