"""fastconv: a CNN engine with its own AVX-512/AVX2 and CUDA kernels, a static-graph compiler and a thin Python API.

    import fastconv as fc
    import fastconv.functional as F
    y = F.relu(np.random.randn(2, 3).astype(np.float32))        # NumPy in, NumPy out (eager)
    value, grad = fc.value_and_grad(lambda x: F.relu(x).sum())(x) # traced, compiled, run in C++
"""
from __future__ import annotations

import builtins as _builtins
import os as _os

from . import _C
from ._C import from_dlpack
from . import backends, cuda
from ._trace import Symbol, value_and_grad, trace, manual_seed
from . import functional
from .functional import cat
from ._shapes import ConvOutputSize, conv_flops, conv_output_size
from . import nn, optim
from .compile import compile, Compiled
from .summary import summary
from .training import fit, evaluate, predict, History
from .io import save, load, register_module
from . import data, models, utils
from . import onnx  # fastconv.onnx imports the onnx package only inside its functions
from ._grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from ._tensor import *  # noqa: F401,F403  (Tensor, tensor, from_numpy, zeros, ..., the dtypes)
from . import _tensor as _tensor_mod

__version__ = _C.__version__

__all__ = list(_tensor_mod.__all__) + ["from_dlpack", "backends", "cuda", "functional", "value_and_grad", "trace",
           "cpu_features", "set_num_threads", "get_num_threads", "set_detect_anomaly", "is_anomaly_enabled",
           "detect_anomaly", "empty_cache", "cached_memory_bytes",
           "memory_allocated", "max_memory_allocated", "reset_peak_memory_stats", "set_isa", "get_isa", "get_cmake_dir",
           "manual_seed", "Symbol", "cat", "utils", "no_grad", "enable_grad", "inference_mode",
           "set_grad_enabled", "is_grad_enabled", "conv_output_size", "conv_flops", "ConvOutputSize", "nn", "optim",
           "compile", "Compiled", "summary", "fit", "evaluate", "predict", "History", "save",
           "load", "register_module", "data", "models", "onnx"]


def cpu_features() -> dict:
    """What the CPU supports (AVX2, FMA, AVX-512 subsets), the best kernel level found and the one in use."""
    return _C.cpu_features()


def get_isa() -> str:
    """The instruction-set level CPU kernels are picked for: 'avx512', 'avx2' or 'scalar'."""
    return _C.get_isa()


def set_isa(isa: str) -> None:
    """Forces a kernel level ('avx512', 'avx2', 'scalar') for code compiled after this call; FASTCONV_ISA does the
    same from the environment. Raises ValueError if the CPU cannot run it."""
    _C.set_isa(isa)


def set_num_threads(n: int) -> None:
    """Threads used by CPU kernels (default: FASTCONV_NUM_THREADS, else OMP_NUM_THREADS, else all cores)."""
    import numbers

    if not isinstance(n, numbers.Integral) or isinstance(n, _builtins.bool) or not 1 <= int(n) <= 1024:
        raise ValueError(f"set_num_threads: argument 'n' must be an int between 1 and 1024, got {n!r}")
    _C.set_num_threads(int(n))


def set_detect_anomaly(mode: bool) -> None:
    """While on, every compiled step checks each node's floating-point outputs and raises RuntimeError at the first
    NaN or infinity, naming the node, its layer and the position (torch.autograd.set_detect_anomaly's role). The
    nodes after it do not run, so a step whose forward or backward goes bad updates no weights. Costs a pass over
    every value: for debugging."""
    if not isinstance(mode, (_builtins.bool, int)):
        raise TypeError(f"set_detect_anomaly: argument 'mode' must be a bool, got {type(mode).__name__}")
    _C.set_detect_anomaly(_builtins.bool(mode))


def is_anomaly_enabled() -> bool:
    return _builtins.bool(_C.is_anomaly_enabled())


class detect_anomaly:
    """Context manager: anomaly detection on inside the block (see set_detect_anomaly)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = _builtins.bool(mode)

    def __enter__(self):
        self.prev = is_anomaly_enabled()
        set_detect_anomaly(self.mode)
        return self

    def __exit__(self, *exc):
        set_detect_anomaly(self.prev)
        return False


def get_num_threads() -> int:
    return _C.get_num_threads()


def empty_cache() -> int:
    """Returns the large freed CPU blocks that fastconv keeps for reuse to the system; the number of bytes freed.

    Tensors of 1 MiB and more go back to a cache when freed (up to FASTCONV_CACHE_MB, default 256) so that the next
    tensor of that size does not fault its pages in again; `FASTCONV_CACHE_MB=0` turns the cache off."""
    return int(_C.empty_cache())


def cached_memory_bytes() -> int:
    """Bytes currently held by that cache (freed tensors kept for reuse, not in use)."""
    return int(_C.cached_memory_bytes())


def memory_allocated() -> int:
    """Bytes of CPU tensor storage fastconv has allocated now (compiled arenas, outputs, eager results; NumPy-owned
    arrays not included)."""
    return int(_C.memory_allocated())


def max_memory_allocated() -> int:
    """The most bytes allocated at any time since the last reset_peak_memory_stats() (torch.cuda's meaning)."""
    return int(_C.max_memory_allocated())


def reset_peak_memory_stats() -> None:
    """Starts max_memory_allocated() over from what is allocated now."""
    _C.reset_peak_memory_stats()


def get_cmake_dir() -> str:
    """The folder holding fastconvConfig.cmake, for `cmake -Dfastconv_DIR=$(python -c ...)` in C++ projects."""
    return _os.path.join(_os.path.dirname(__file__), "lib", "cmake", "fastconv")
