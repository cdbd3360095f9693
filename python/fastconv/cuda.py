"""CUDA device queries. fastconv imports and runs on machines without a GPU or driver; then is_available() is False."""
from __future__ import annotations

from . import _C


def is_compiled() -> bool:
    """True when this build contains the CUDA kernels (nvcc was found at build time)."""
    return _C.cuda_compiled()


def is_available() -> bool:
    """True when CUDA kernels are built in, a driver is loaded and a GPU is visible."""
    return _C.cuda_is_available()


def is_emulated() -> bool:
    """True when this build's CUDA device is the CPU emulation of CUDA (built with FASTCONV_CUDA=EMU, for testing
    the CUDA kernels without a GPU; see docs/cuda.md). Its speed says nothing about a GPU's."""
    return _C.cuda_is_emulated()


def device_count() -> int:
    return _C.cuda_device_count()


def get_device_name(index: int = 0) -> str:
    return _C.cuda_device_name(index)


def empty_cache() -> int:
    """Returns the device memory fastconv's caching allocator holds in free blocks to the driver (as
    torch.cuda.empty_cache); the bytes released. Blocks in use are untouched."""
    return int(_C.cuda_empty_cache())


def memory_cached() -> int:
    """Bytes of device memory held in free cached blocks, ready for the next allocation of the same size."""
    return int(_C.cuda_cached_bytes())
