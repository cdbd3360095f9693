"""Activations (forward and gradients) against PyTorch float64, every ISA forced for the vectorised kernels."""
import contextlib
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
ORDER = ["scalar", "avx2", "avx512"]
BEST = fc.cpu_features()["best_isa"]
ISAS = ORDER[: ORDER.index(BEST) + 1]


@contextlib.contextmanager
def isa(level):
    fc.set_isa(level)
    try:
        yield
    finally:
        fc.set_isa(BEST)


# name -> (kwargs strategy, torch function taking the same kwargs)
POINTWISE = {
    "leaky_relu": (st.fixed_dictionaries({"negative_slope": st.sampled_from([0.01, 0.2, -0.5, 0.0])}), TF.leaky_relu),
    "elu": (st.fixed_dictionaries({"alpha": st.sampled_from([1.0, 0.5, 2.0])}), TF.elu),
    "sigmoid": (st.just({}), torch.sigmoid),
    "tanh": (st.just({}), torch.tanh),
    "threshold": (st.fixed_dictionaries({"threshold": st.sampled_from([0.0, 0.5, -1.0]),
                                         "value": st.sampled_from([0.0, -2.0, 3.0])}), TF.threshold),
    "hardtanh": (st.fixed_dictionaries({"min_val": st.sampled_from([-1.0, -0.5, 0.0]),
                                        "max_val": st.sampled_from([1.0, 0.5, 2.0])}), TF.hardtanh),
    "relu6": (st.just({}), TF.relu6),
    "gelu": (st.fixed_dictionaries({"approximate": st.sampled_from(["none", "tanh"])}), TF.gelu),
    "softplus": (st.fixed_dictionaries({"beta": st.sampled_from([1.0, 2.0, 0.5]),
                                        "threshold": st.sampled_from([20.0, 1.0])}), TF.softplus),
    "hardsigmoid": (st.just({}), TF.hardsigmoid),
    "hardswish": (st.just({}), TF.hardswish),
    "silu": (st.just({}), TF.silu),
    "mish": (st.just({}), TF.mish),
    "selu": (st.just({}), TF.selu),
}


@st.composite
def shapes(draw, min_rank=1, max_rank=4, max_side=9, allow_empty=True):
    nd = draw(st.integers(min_rank, max_rank))
    lo = 0 if allow_empty and draw(st.integers(0, 9)) == 0 else 1
    return tuple(draw(st.integers(lo, max_side)) for _ in range(nd))


def check_grad(fn, torch_fn, x, tol):
    """d/dx sum(f(x) * w) against torch.autograd in float64. sigmoid/tanh (like torch) differentiate through the
    saved float32 output, where 1 - y or 1 - y^2 carries an absolute error of ~ulp(1) = 6e-8 once |y| nears 1, so
    an absolute floor of 1e-7 per element is allowed on top of the relative tolerance."""
    tx = t64(x, True)
    ref = torch_fn(tx)
    w = randn(*ref.shape, seed=7)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda x: (fn(x) * w).sum())(x)
    r = tx.grad.numpy()
    err = np.linalg.norm(g - r)
    assert err <= tol * np.linalg.norm(r) + 1e-7 * np.sqrt(r.size), (err, np.linalg.norm(r))


@settings(max_examples=100, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(POINTWISE)), shape=shapes(), level=st.sampled_from(ISAS),
       scale=st.sampled_from([1.0, 4.0, 30.0]), seed=st.integers(0, 999))
def test_pointwise_forward_and_grad(data, name, shape, level, scale, seed):
    kw_strategy, torch_fn = POINTWISE[name]
    kw = data.draw(kw_strategy)
    if name == "hardtanh" and kw["min_val"] > kw["max_val"]:
        kw["min_val"], kw["max_val"] = kw["max_val"], kw["min_val"]
    x = randn(*shape, seed=seed, scale=scale)
    fn = lambda v: getattr(F, name)(v, **kw)  # noqa: E731
    tfn = lambda v: torch_fn(v, **kw)  # noqa: E731
    with isa(level):
        y = fn(x)
        assert y.shape == x.shape and y.dtype == np.float32
        assert rel_err(y, tfn(t64(x))) <= 1e-6
        if x.size:
            check_grad(fn, tfn, x, 1e-5)


@pytest.mark.parametrize("level", ISAS)
@pytest.mark.parametrize("name", sorted(POINTWISE))
def test_pointwise_nan_and_extremes(name, level):
    """NaN in -> NaN out for every activation (torch's behaviour, incl. hardtanh/relu6 clamps and threshold,
    where NaN <= t is false); extreme finite inputs saturate like torch (no overflow to inf/NaN)."""
    x = np.array([np.nan, -1e4, -100.0, -88.0, -20.0, -1e-6, 0.0, 1e-6, 0.3, 20.0, 88.0, 100.0, 1e4] * 2,
                 np.float32)[:-3]  # 23 elements: full vectors plus a tail on both ISAs
    x[17] = np.nan
    kw = {"threshold": {"threshold": 0.5, "value": -2.0}}.get(name, {})
    with isa(level):
        y = getattr(F, name)(x, **kw)
    ref = POINTWISE[name][1](t64(x), **kw).numpy()
    assert np.array_equal(np.isnan(y), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(y[ok], ref[ok], rtol=1e-6, atol=1e-30)


@st.composite
def softmax_case(draw):
    shape = draw(shapes(min_rank=0, max_rank=4, max_side=21))
    dim = draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    return shape, dim


@settings(max_examples=50, deadline=None)
@given(case=softmax_case(), log=st.booleans(), level=st.sampled_from(ISAS), scale=st.sampled_from([1.0, 10.0]),
       seed=st.integers(0, 999))
def test_softmax_forward_and_grad(case, log, level, scale, seed):
    shape, dim = case
    x = randn(*shape, seed=seed, scale=scale)
    fn = (lambda v: F.log_softmax(v, dim=dim)) if log else (lambda v: F.softmax(v, dim=dim))
    tfn = (lambda v: torch.log_softmax(v, dim)) if log else (lambda v: torch.softmax(v, dim))
    with isa(level):
        y = fn(x)
        assert rel_err(y, tfn(t64(x))) <= 1e-5
        if x.size and x.ndim:  # 0-d: _trace._convert_input's np.ascontiguousarray makes it 1-d (shared-file bug)
            check_grad(fn, tfn, x, 1e-4)


@pytest.mark.parametrize("level", ISAS)
@pytest.mark.parametrize("log", [False, True])
def test_softmax_nan_row_and_large_values(level, log):
    """A NaN makes its whole slice NaN (torch); other slices are untouched. Huge logits do not overflow."""
    x = randn(4, 19, seed=3)
    x[1, 5] = np.nan
    x[2] *= 1e4
    fn, tfn = (F.log_softmax, torch.log_softmax) if log else (F.softmax, torch.softmax)
    with isa(level):
        for dim in (1, 0):
            y = fn(x, dim=dim)
            ref = tfn(t64(x), dim).numpy()
            assert np.array_equal(np.isnan(y), np.isnan(ref))
            ok = ~np.isnan(ref)
            assert rel_err(y[ok], ref[ok]) <= 1e-6


def test_softmax_implicit_dim_follows_torch():
    for shape, dim in [((5,), 0), ((3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4, 5), 1)]:
        x = randn(*shape, seed=1)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            y = F.softmax(x)
        assert rel_err(y, torch.softmax(t64(x), dim)) <= 1e-6


def test_bad_arguments():
    x = randn(2, 3)
    with pytest.raises(IndexError, match=r"softmax: dim 2 is out of range for a 2-D input"):
        F.softmax(x, dim=2)
    with pytest.raises(IndexError, match=r"log_softmax: dim -3 is out of range"):
        F.log_softmax(x, dim=-3)
    with pytest.raises(TypeError, match="softmax: argument 'dim' must be an int"):
        F.softmax(x, dim=1.5)
    with pytest.raises(ValueError, match=r"hardtanh: min_val cannot be greater than max_val \(got min_val=2"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="gelu: argument 'approximate' must be 'none' or 'tanh', got 'fast'"):
        F.gelu(x, approximate="fast")
    with pytest.raises(TypeError, match="sigmoid: argument 'input' must be a floating-point array"):
        F.sigmoid(np.arange(3))
    with pytest.raises(ValueError, match="softplus: argument 'beta' must be non-zero"):
        F.softplus(x, beta=0.0)


def test_inplace_writes_back_and_identity():
    x = randn(3, 5, seed=2)
    ref = TF.leaky_relu(t64(x), 0.1).numpy()
    out = F.leaky_relu(x, 0.1, inplace=True)
    assert out is x and rel_err(x, ref) <= 1e-7
    y = randn(4, seed=5)
    assert F.identity(y) is y
    _, g = fc.value_and_grad(lambda v: (F.identity(v) * v).sum())(y)
    assert rel_err(g, 2 * y) <= 1e-7


@pytest.mark.parametrize("level", ISAS)
def test_kinks_follow_torch(level):
    """Values and gradients exactly at the kinks, where torch picks a side: hardsigmoid/hardswish at +-3, selu at
    0, and the gradient of hardswish for NaN input (torch's comparisons fall through to 1)."""
    x = np.array([-3.0, 3.0, 0.0, -3.0 - 1e-6, 3.0 + 1e-6, -2.9999, 2.9999, -1e-30], np.float32)
    g = randn(*x.shape, seed=3)
    for name in ("hardsigmoid", "hardswish", "selu", "silu", "mish"):
        tx = t64(x, True)
        ref = POINTWISE[name][1](tx)
        (ref * t64(g)).sum().backward()
        with isa(level):
            y = getattr(F, name)(x)
            _, dx = fc.value_and_grad(lambda v: (getattr(F, name)(v) * g).sum())(x)
        np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
        np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6, atol=1e-7, err_msg=name)
    nan = np.array([np.nan, 1.0], np.float32)
    with isa(level):
        _, dx = fc.value_and_grad(lambda v: F.hardswish(v).sum())(nan)
    tx = t64(nan, True)
    TF.hardswish(tx).sum().backward()
    assert dx[0] == tx.grad[0] == 1.0
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-6)


@st.composite
def prelu_case(draw):
    rank = draw(st.integers(0, 5))
    shape = tuple(draw(st.integers(0 if i == 0 else 1, 5)) for i in range(rank))
    channels = shape[1] if rank >= 2 else 1
    nw = draw(st.sampled_from([1, channels]))
    return shape, (draw(st.sampled_from([(), (1,)])) if nw == 1 else (nw,))


@settings(max_examples=50)
@given(case=prelu_case(), seed=st.integers(0, 999))
def test_prelu_forward_and_both_gradients(case, seed):
    shape, wshape = case
    x, w = randn(*shape, seed=seed), randn(*wshape, seed=seed + 1)
    tx, tw = t64(x, True), t64(w, True)
    ref = TF.prelu(tx, tw)
    assert rel_err(F.prelu(x, w), ref) <= 1e-7
    if not x.size:
        return
    c = randn(*ref.shape, seed=seed + 2)
    (ref * t64(c)).sum().backward()
    # 0-d arrays travel as [1] through value_and_grad (the tracer's np.ascontiguousarray; see test_loss.check)
    xs, ws = x.reshape(x.shape or (1,)), w.reshape(w.shape or (1,))
    _, (gx, gw) = fc.value_and_grad(
        lambda a, b: (F.prelu(F.reshape(a, shape), F.reshape(b, wshape)) * c).sum(), argnums=(0, 1))(xs, ws)
    assert rel_err(gx.reshape(shape), tx.grad) <= 1e-6
    assert rel_err(gw.reshape(wshape), tw.grad) <= 1e-5


def test_prelu_errors():
    x = randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"prelu: argument 'weight' has 2 elements but the input has 3 channel\(s\) "
                                         r"\(dim 1 of shape \[2, 3, 4\]\); expected 1 or 3"):
        F.prelu(x, randn(2))
    with pytest.raises(ValueError, match=r"prelu: argument 'weight' must be a scalar or 1-D, got shape \[1, 3\]"):
        F.prelu(x, randn(1, 3))
    with pytest.raises(TypeError, match="prelu: argument 'weight' must be a floating-point array"):
        F.prelu(x, np.ones(3, np.int64))


def test_compiled_graph_reports_the_isa_kernel():
    x = randn(4, 40)
    t = fc.trace(lambda v: F.softmax(F.sigmoid(v), dim=1), x)
    sched = t.exe.schedule()
    assert f"softmax__{fc.get_isa()}" in sched and f"sigmoid__{fc.get_isa()}" in sched


@pytest.mark.parametrize("level", ISAS)
def test_vector_exp_accuracy_elementwise(level):
    """The vector exp/expm1 behind sigmoid/tanh/elu/silu/selu/softmax (and the hard* clamps): every element within 4 ulp-ish (5e-7 relative) of
    float64 over a dense sweep, including tiny |x| where tanh and elu must not lose relative accuracy."""
    x = np.concatenate([np.linspace(-30, 30, 200_001), np.geomspace(1e-30, 1.0, 2001), -np.geomspace(1e-30, 1.0, 2001)])
    x = x.astype(np.float32)
    with isa(level):
        for name in ("sigmoid", "tanh", "elu", "silu", "selu", "hardswish", "hardsigmoid"):
            y = getattr(F, name)(x).astype(np.float64)
            ref = POINTWISE[name][1](t64(x)).numpy()
            ok = np.abs(ref) > 1e-37  # below, the float32 result is subnormal
            assert (np.abs(y - ref)[ok] / np.abs(ref[ok])).max() <= 5e-7, name
        rows = x[:200_000].reshape(100, 2000) / 10
        s = F.softmax(rows, dim=1).astype(np.float64)
        ref = torch.softmax(t64(rows), 1).numpy()
        assert (np.abs(s - ref) / ref).max() <= 5e-6  # + the float32 sum over 2000 terms
