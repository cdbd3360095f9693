"""Backends: who runs a compiled graph. Each has its own kernels in the engine's kernel table and its own memory;
"cpu" is built in (and "cuda" when the CUDA sources are). `fc.compile(model, shape, backend="cpu-ref")` runs on
another one. Kernel choice is overridden with FASTCONV_ALGO or `fc.compile(..., algo={"conv": "ref"})`.

    fastconv.backends.derive("cpu-ref")              # a CPU backend with only the reference kernels
    fastconv.backends.algorithms("conv")             # ['depthwise_direct', 'gemm_1x1', 'im2col_gemm', 'ref', ...]
"""
from __future__ import annotations

from . import _C

__all__ = ["names", "derive", "algorithms"]


def names() -> list[str]:
    """The registered backends."""
    return list(_C.backend_names())


def derive(name: str, base: str = "cpu", algos=None) -> int:
    """Registers a CPU backend `name` whose kernels are those of `base` with an algorithm in `algos`; with no algos,
    the reference set (each op's "ref" kernel, or its only one). Returns the number of kernels it got."""
    return int(_C.derive_backend(str(name), str(base), list(algos or [])))


def algorithms(family_or_op: str, backend: str = "cpu") -> list[str]:
    """The algorithm names an override may force for an op family ("conv", "norm", "pool", ...) or one op."""
    return list(_C.kernel_algos(str(family_or_op), str(backend)))
