"""linear vs PyTorch float64: forward and gradients for every input, both algorithms, bad-input errors."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch


@pytest.fixture(params=["sgemm", "ref"])
def algo(request, monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", f"linear={request.param}")
    return request.param


def check_linear(lead, k, n, bias, seed):
    x, w = randn(*lead, k, seed=seed), randn(n, k, seed=seed + 1)
    b = randn(n, seed=seed + 2) if bias else None
    tx, tw = t64(x, True), t64(w, True)
    tb = t64(b, True) if bias else None
    ref = torch.nn.functional.linear(tx, tw, tb)
    assert rel_err(F.linear(x, w, b), ref) <= 1e-5
    c = randn(*ref.shape, seed=seed + 3)  # a random cotangent so every output element matters
    (ref * t64(c)).sum().backward()
    args = (x, w, b) if bias else (x, w)
    f = (lambda x, w, b: (F.linear(x, w, b) * c).sum()) if bias else (lambda x, w: (F.linear(x, w) * c).sum())
    v, grads = fc.value_and_grad(f, argnums=tuple(range(len(args))))(*args)
    # The loss sums products of both signs, so it can cancel to far below its terms: bound its error by the
    # magnitude of the terms (the condition of the sum), not by the small result.
    terms = (ref * t64(c)).detach().numpy()
    assert abs(float(v) - terms.sum()) <= 1e-5 * max(np.abs(terms).sum(), 1e-30)
    for g, t in zip(grads, [tx, tw, tb]):
        if t.grad is None or t.grad.numel() == 0 or np.linalg.norm(t.grad.numpy()) == 0:
            assert np.abs(g).max(initial=0) == 0
        else:
            assert rel_err(g, t.grad) <= 1e-5


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lead=st.lists(st.integers(1, 7), min_size=1, max_size=3), k=st.integers(1, 40), n=st.integers(1, 33),
       bias=st.booleans(), seed=st.integers(0, 10_000))
def test_linear_matches_torch(algo, lead, k, n, bias, seed):
    check_linear(tuple(lead), k, n, bias, seed)


@pytest.mark.parametrize("lead,k,n", [((0,), 5, 3), ((1,), 1, 1), ((5,), 300, 70), ((64,), 128, 10), ((), 7, 4)])
def test_linear_edge_and_larger_shapes(algo, lead, k, n):
    check_linear(lead, k, n, True, 7)


def test_linear_errors_name_both_shapes():
    x, w = np.zeros((2, 100), np.float32), np.zeros((10, 128), np.float32)
    with pytest.raises(ValueError, match=r"linear: input has 100 features but weight expects 128 .*weight shape "
                                         r"\[10, 128\]"):
        F.linear(x, w)
    with pytest.raises(ValueError, match=r"linear: argument 'bias' must have shape \[10\].*got \[11\]"):
        F.linear(np.zeros((2, 128), np.float32), w, np.zeros(11, np.float32))
    with pytest.raises(ValueError, match=r"linear: argument 'weight' must be 2-D"):
        F.linear(x, np.zeros(100, np.float32))
    with pytest.raises(TypeError, match=r"linear: argument 'weight' must be a floating-point array"):
        F.linear(x, np.zeros((10, 100), np.int64))


def test_bad_algo_env_is_an_error(monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", "linear=fast")
    with pytest.raises(ValueError, match=r"'linear=fast': no linear kernel is called 'fast' \(linear algorithms: "
                                         r"ref, sgemm\)"):
        F.linear(np.zeros((2, 3), np.float32), np.zeros((4, 3), np.float32))
