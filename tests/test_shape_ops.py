"""reshape, flatten, cat (and slice, cat's backward) vs PyTorch: values, gradients, dtypes, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch


@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=5), data=st.data())
def test_flatten_matches_torch(shape, data):
    x = np.asarray(randn(*shape, seed=len(shape)))
    rank = max(len(shape), 1)
    a = data.draw(st.integers(-rank, rank - 1))
    e = data.draw(st.integers(-rank, rank - 1))
    if (a % rank) > (e % rank):
        with pytest.raises(ValueError, match="flatten: start_dim .* cannot come after end_dim"):
            F.flatten(x, a, e)
        return
    ref = torch.flatten(torch.from_numpy(x), a, e)
    out = F.flatten(x, a, e)
    assert out.shape == tuple(ref.shape) and np.array_equal(out, ref.numpy())


def test_flatten_defaults_and_gradient():
    x = randn(2, 3, 4, 5)
    assert F.flatten(x).shape == (120,)
    assert F.flatten(x, 1).shape == (2, 60)
    c = randn(2, 60, seed=1)
    _, g = fc.value_and_grad(lambda x: (F.flatten(x, start_dim=1) * c).sum())(x)
    assert np.array_equal(g, c.reshape(x.shape))
    assert F.flatten(np.arange(6).reshape(2, 3)).dtype == np.int64
    with pytest.raises(IndexError, match="flatten: argument 'start_dim': dim 4 is out of range"):
        F.flatten(x, 4)


@st.composite
def cat_case(draw):
    rank = draw(st.integers(1, 4))
    base = [draw(st.integers(1, 4)) for _ in range(rank)]
    dim = draw(st.integers(-rank, rank - 1))
    n = draw(st.integers(1, 5))
    shapes = []
    for _ in range(n):
        s = list(base)
        s[dim] = draw(st.integers(0, 4))
        shapes.append(tuple(s))
    return shapes, dim


@settings(max_examples=40, deadline=None)
@given(case=cat_case(), seed=st.integers(0, 1000))
def test_cat_forward_and_grads(case, seed):
    shapes, dim = case
    xs = [randn(*s, seed=seed + i) for i, s in enumerate(shapes)]
    ts = [t64(x, True) for x in xs]
    ref = torch.cat(ts, dim)
    assert rel_err(F.cat(xs, dim=dim), ref) == 0.0
    c = randn(*ref.shape, seed=seed + 99)
    (ref * t64(c)).sum().backward()
    _, grads = fc.value_and_grad(lambda *a: (F.cat(list(a), dim=dim) * c).sum(), argnums=tuple(range(len(xs))))(*xs)
    for g, t in zip(grads, ts):
        assert g.shape == tuple(t.shape) and np.array_equal(g, t.grad.numpy().astype(np.float32))


def test_cat_int64_and_single_input():
    a, b = np.arange(6).reshape(2, 3), np.arange(4).reshape(2, 2)
    out = F.cat([a, b], dim=1)
    assert out.dtype == np.int64 and np.array_equal(out, np.concatenate([a, b], 1))
    x = randn(3, 2)
    assert np.array_equal(F.cat([x]), x)


def test_cat_errors():
    with pytest.raises(ValueError, match=r"cat: tensor 2 has shape \[2, 4\] but tensor 0 has shape \[2, 3\]; sizes "
                                         r"must match except in dimension 0"):
        F.cat([np.zeros((2, 3), np.float32), np.zeros((1, 3), np.float32), np.zeros((2, 4), np.float32)])
    with pytest.raises(ValueError, match=r"cat: tensor 1 has shape \[2\] but tensor 0 has shape \[2, 3\]"):
        F.cat([np.zeros((2, 3), np.float32), np.zeros(2, np.float32)], dim=1)
    with pytest.raises(IndexError, match="cat: dim 2 is out of range for a 2-D input"):
        F.cat([np.zeros((2, 3), np.float32)], dim=2)
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence"):
        F.cat([])
    with pytest.raises(TypeError, match="cat: tensor 1 has dtype int64 but tensor 0 has dtype float32"):
        F.cat([np.zeros(2, np.float32), np.zeros(2, np.int64)])
    with pytest.raises(ValueError, match="zero-dimensional"):
        F.cat([np.zeros((), np.float32)])


def test_slice_and_its_backward():
    from fastconv._trace import op
    x = randn(3, 5, 2)
    assert np.array_equal(op("slice", [x], dict(dim=1, start=1, length=3)), x[:, 1:4])
    c = randn(3, 3, 2, seed=2)
    _, g = fc.value_and_grad(lambda x: (op("slice", [x], dict(dim=-2, start=2, length=3)) * c).sum())(x)
    want = np.zeros_like(x)
    want[:, 2:5] = c
    assert np.array_equal(g, want)
    with pytest.raises(IndexError, match="slice: start 4 and length 3 are out of range for dimension 1 of size 5"):
        op("slice", [x], dict(dim=1, start=4, length=3))


def test_reshape_still_works():
    x = randn(2, 6)
    assert F.reshape(x, (3, -1)).shape == (3, 4)
