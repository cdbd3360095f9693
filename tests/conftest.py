"""Shared test helpers: the PyTorch float64 reference and error measures."""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import settings

# Deterministic by default: every run (CI or not) draws the same examples (derandomize) and no example database is
# written, so a failure found once is reproduced by the test itself, not by a stale .hypothesis/ entry.
# HYPOTHESIS_PROFILE=explore draws fresh random examples (for hunting new failures; then pin them with @example).
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("explore", database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

torch = pytest.importorskip("torch")  # the reference implementation ([test] extra)
torch.set_num_threads(1)


def rel_err(out, ref) -> float:
    """‖out − ref‖ / ‖ref‖ in float64 (absolute error when ref is all zeros)."""
    out = np.asarray(out, dtype=np.float64)
    ref = np.asarray(ref.detach().numpy() if hasattr(ref, "detach") else ref, dtype=np.float64)
    assert out.shape == ref.shape, f"shape {out.shape} != reference {ref.shape}"
    denom = np.linalg.norm(ref)
    num = np.linalg.norm(out - ref)
    return float(num / denom) if denom > 0 else float(num)


def assert_grad_close(got, ref, mag, tol: float = 1e-4) -> None:
    """A gradient vs its float64 reference, where each element is a sum of products that may cancel: the error may
    be tol relative to the result plus a few float32 ulps (1e-6) of the terms' magnitude `mag` (the same gradient
    computed with every operand replaced by its absolute value). A wrong element is still of the order of `mag`."""
    out = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref.detach().numpy() if hasattr(ref, "detach") else ref, dtype=np.float64)
    mag = np.asarray(mag.detach().numpy() if hasattr(mag, "detach") else mag, dtype=np.float64)
    assert out.shape == ref.shape, f"shape {out.shape} != reference {ref.shape}"
    err = np.linalg.norm(out - ref)
    bound = tol * np.linalg.norm(ref) + 1e-6 * np.linalg.norm(mag)
    assert err <= bound, f"gradient error {err:.3g} > {bound:.3g} (|ref| {np.linalg.norm(ref):.3g}, " \
                         f"|terms| {np.linalg.norm(mag):.3g})"


def t64(a, requires_grad: bool = False):
    """A float64 torch tensor copy of a NumPy array (the reference computes in float64)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


def randn(*shape, seed: int = 0, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@contextlib.contextmanager
def forced_algo(spec: str):
    """FASTCONV_ALGO=spec for the block (inside hypothesis tests, where the monkeypatch fixture is not reset)."""
    old = os.environ.get("FASTCONV_ALGO")
    os.environ["FASTCONV_ALGO"] = spec
    try:
        yield
    finally:
        if old is None:
            del os.environ["FASTCONV_ALGO"]
        else:
            os.environ["FASTCONV_ALGO"] = old


# `pytest --hypothesis-profile=stress tests/test_stress.py` (CI's stress step): many deterministic examples and no
# example database in the checkout. Tests that set max_examples themselves keep their own number.
from hypothesis import HealthCheck, settings as _hyp_settings  # noqa: E402

_hyp_settings.register_profile("stress", max_examples=2500, deadline=None, database=None, derandomize=True,
                               suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
