"""Element-wise ops, reductions, relu, and value_and_grad against PyTorch float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

BINARY = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div}


@st.composite
def broadcast_pair(draw):
    nd = draw(st.integers(1, 4))
    shape = [draw(st.integers(1, 5)) for _ in range(nd)]
    other = [d if draw(st.booleans()) else 1 for d in shape]
    other = other[draw(st.integers(0, nd - 1)):]  # drop leading dims: right-aligned broadcasting
    if draw(st.booleans()):
        shape, other = other, shape
    return tuple(shape), tuple(other)


@settings(max_examples=40, deadline=None)
@given(shapes=broadcast_pair(), name=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 1000))
def test_binary_broadcast_forward_and_grads(shapes, name, seed):
    a, b = randn(*shapes[0], seed=seed), randn(*shapes[1], seed=seed + 1)
    if name == "div":
        b = np.where(np.abs(b) < 0.3, 0.5, b).astype(np.float32)
    out = getattr(F, name)(a, b)
    ta, tb = t64(a, True), t64(b, True)
    ref = BINARY[name](ta, tb)
    assert rel_err(out, ref) <= 1e-6
    (ref * ref).sum().backward()
    _, (ga, gb) = fc.value_and_grad(lambda x, y: (lambda z: (z * z).sum())(getattr(F, name)(x, y)),
                                    argnums=(0, 1))(a, b)
    assert rel_err(ga, ta.grad) <= 1e-5
    assert rel_err(gb, tb.grad) <= 1e-5


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 2), False), (-1, True)])
@pytest.mark.parametrize("fn", ["sum", "mean"])
def test_reductions(fn, dim, keepdim):
    x = randn(3, 4, 5, seed=3)
    out = getattr(F, fn)(x, dim=dim, keepdim=keepdim)
    tx = t64(x, True)
    ref = getattr(torch, fn)(tx, dim=dim, keepdim=keepdim) if dim is not None else getattr(torch, fn)(tx)
    assert rel_err(out, ref) <= 1e-6
    w = randn(*ref.shape, seed=4)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda x: (getattr(F, fn)(x, dim=dim, keepdim=keepdim) * w).sum())(x)
    assert rel_err(g, tx.grad) <= 1e-6


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
@pytest.mark.parametrize("n", [1, 15, 16, 17, 100003])
def test_relu_every_isa(isa, n):
    order = ["scalar", "avx2", "avx512"]
    best = fc.cpu_features()["best_isa"]
    if order.index(isa) > order.index(best):
        pytest.skip(f"CPU lacks {isa}")
    x = randn(n, seed=n)
    x[0] = np.nan
    try:
        fc.set_isa(isa)
        y = F.relu(x)
        v, g = fc.value_and_grad(lambda x: (F.relu(x) * x).sum())(np.nan_to_num(x))
    finally:
        fc.set_isa(best)
    ref = torch.relu(t64(x))
    assert np.isnan(y[0])  # NaN propagates, as in PyTorch
    assert rel_err(y[1:], ref[1:]) == 0.0
    tx = t64(np.nan_to_num(x), True)
    (torch.relu(tx) * tx).sum().backward()
    assert rel_err(g, tx.grad) <= 1e-6


def test_broadcast_error_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add: shapes \[2, 3\] and \[4\] cannot be broadcast"):
        F.add(np.zeros((2, 3), np.float32), np.zeros(4, np.float32))


def test_integer_input_is_rejected_with_the_argument_name():
    with pytest.raises(TypeError, match="relu: argument 'input' must be a floating-point array"):
        F.relu(np.arange(4))


def test_float64_input_is_computed_in_float32():
    y = F.relu(np.array([-1.0, 2.0]))
    assert y.dtype == np.float32 and list(y) == [0.0, 2.0]


def test_value_and_grad_caches_per_shape_and_checks_scalar_output():
    f = fc.value_and_grad(lambda x: F.relu(x).sum())
    f(randn(3))
    f(randn(3, seed=1))
    f(randn(4))
    assert len(f.cache) == 2
    with pytest.raises(ValueError, match="must return a scalar"):
        fc.value_and_grad(lambda x: F.relu(x))(randn(3))
    with pytest.raises(TypeError, match="non-array"):
        fc.value_and_grad(lambda x, k: F.relu(x).sum(), argnums=1)(randn(3), 2)


def test_symbol_arithmetic_with_scalars_and_arrays():
    x = randn(2, 3)
    c = randn(3, seed=9)
    v, g = fc.value_and_grad(lambda x: ((2.0 * x - 1.0) / 4.0 + c - x * c).sum())(x)
    tx = t64(x, True)
    ref = ((2.0 * tx - 1.0) / 4.0 + t64(c) - tx * t64(c)).sum()
    ref.backward()
    assert rel_err(v, ref) <= 1e-6 and rel_err(g, tx.grad) <= 1e-6
    with pytest.raises(TypeError, match="Python bool"):
        fc.value_and_grad(lambda x: x.sum() if x else x.sum())(x)


def test_value_and_grad_on_0d_input():
    x = np.array(1.5, dtype=np.float32)
    v, g = fc.value_and_grad(lambda x: F.relu(x * x).sum())(x)
    assert g.shape == () and float(v) == 2.25 and float(g) == 3.0


def test_0d_constant_in_traced_graph():
    c = np.array(2.0, dtype=np.float32)
    v, g = fc.value_and_grad(lambda x: (x * c).sum())(np.ones(3, np.float32))
    assert float(v) == 6.0 and list(g) == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("shape,dim", [((3, 70000), None), ((4, 33, 50, 50), (0, 2, 3)), ((257, 9), 0),
                                       ((5, 6, 7), (1, 2)), ((2, 3, 4, 5), (0, 2)), ((300, 700), 0),
                                       ((0, 5), 0), ((4, 0), 0), ((3, 0, 2), None)])
def test_large_reductions_and_their_broadcast_backward(shape, dim):
    # Past one chunk of the parallel fast paths (outer/kept/inner layouts), and a layout that needs the general one.
    x = randn(*shape, seed=11)
    tx = t64(x, True)
    ref = torch.sum(tx, dim=dim) if dim is not None else torch.sum(tx)
    assert rel_err(F.sum(x, dim=dim), ref) <= 1e-6
    w = randn(*ref.shape, seed=12)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda x: (F.sum(x, dim=dim) * w).sum())(x)
    assert rel_err(g, tx.grad) <= 1e-6
