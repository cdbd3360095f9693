"""dropout / dropout2d: mask statistics, exact scaling, exact backward, seeding and per-step masks, thread-count
and algorithm independence. (Masks are random, so torch is the reference only for the definition's parts that are
deterministic: eval identity, p=0/p=1, and the error for a bad p.)"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from fastconv._trace import op
from conftest import forced_algo, randn, rel_err, t64, torch


def scale_of(p):
    return np.float32(1) / (np.float32(1) - np.float32(p)) if p < 1 else np.float32(0)


def dropout_algo(name):
    return forced_algo(f"dropout={name}")


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_fraction_dropped_and_exact_scaling(p):
    x = randn(200_003, seed=1) + 5.0  # no zeros in x, so y == 0 exactly marks a dropped element
    y = F.dropout(x, p, seed=123)
    dropped = y == 0
    # 6 standard deviations of a binomial fraction: a false failure is astronomically unlikely
    assert abs(dropped.mean() - p) <= 6 * np.sqrt(p * (1 - p) / x.size)
    assert np.array_equal(y[~dropped], x[~dropped] * scale_of(p))  # the float32 product, bit for bit
    assert rel_err(y[~dropped], x[~dropped].astype(np.float64) / (1 - p)) <= 1e-6  # p rounds to float32


@settings(max_examples=25, deadline=None)
@given(shape=st.lists(st.integers(1, 7), min_size=1, max_size=4), p=st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0]),
       two_d=st.booleans(), seed=st.integers(0, 2**62))
def test_backward_is_mask_times_scale_exactly(shape, p, two_d, seed):
    if two_d and len(shape) < 2:
        shape = [2] + shape
    fn = F.dropout2d if two_d else F.dropout
    x = randn(*shape, seed=3) + 10.0
    w = randn(*shape, seed=4)
    y = fn(x, p, seed=seed)  # eager runs at step 0, as the first run of the compiled graph below
    v, g = fc.value_and_grad(lambda a: (fn(a, p, seed=seed) * w).sum())(x)
    kept = (y != 0).astype(np.float32)
    assert np.array_equal(g, w * kept * scale_of(p))
    terms = y.astype(np.float64) * w
    assert abs(float(v) - terms.sum()) <= 1e-6 * np.abs(terms).sum()  # float32 sum: error scales with sum |terms|


def test_seeds_steps_threads_and_algorithms():
    x = randn(4, 8, 33, seed=2) + 3.0
    a, b = F.dropout(x, 0.5, seed=7), F.dropout(x, 0.5, seed=7)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5, seed=8))
    fc.manual_seed(42)
    c = F.dropout(x, 0.5)
    d = F.dropout(x, 0.5)
    assert not np.array_equal(c, d)  # each call draws a new seed from the stream ...
    fc.manual_seed(42)
    assert np.array_equal(c, F.dropout(x, 0.5)) and np.array_equal(d, F.dropout(x, 0.5))  # ... reproducibly
    # Every run of a compiled graph is a new step: a new mask, the same for the same step.
    t = fc.trace(lambda v: F.dropout(v, 0.5, seed=7), x)
    first, _ = t.run([x])
    second, _ = t.run([x])
    assert np.array_equal(first, a) and not np.array_equal(first, second)
    t2 = fc.trace(lambda v: F.dropout(v, 0.5, seed=7), x)
    assert np.array_equal(t2.run([x])[0], first) and np.array_equal(t2.run([x])[0], second)
    # Independent of the thread count and of the kernel.
    big = randn(300_000, seed=5) + 3.0
    n = fc.get_num_threads()
    try:
        fc.set_num_threads(1)
        one = F.dropout(big, 0.3, seed=9)
        fc.set_num_threads(max(2, n))
        many = F.dropout(big, 0.3, seed=9)
    finally:
        fc.set_num_threads(n)
    with dropout_algo("ref"):
        ref = F.dropout(big, 0.3, seed=9)
        ref2d = F.dropout2d(x, 0.3, seed=9)
    assert np.array_equal(one, many) and np.array_equal(one, ref)
    assert np.array_equal(F.dropout2d(x, 0.3, seed=9), ref2d)


@pytest.mark.parametrize("shape", [(64, 50, 3, 3), (64, 50, 7), (40, 60)])
def test_dropout2d_zeroes_whole_channels(shape):
    x = randn(*shape, seed=6) + 4.0
    y = F.dropout2d(x, 0.4, seed=3)
    per_channel = y.reshape(shape[0], shape[1], -1)
    dropped = (per_channel == 0).all(axis=2)
    kept = (per_channel != 0).all(axis=2)
    assert np.all(dropped | kept)  # never a partly dropped channel
    assert abs(dropped.mean() - 0.4) <= 6 * np.sqrt(0.4 * 0.6 / dropped.size)
    xr = x.reshape(per_channel.shape)
    assert np.array_equal(per_channel[kept], xr[kept] * scale_of(0.4))


def test_identity_cases_match_torch():
    x = randn(5, 6, seed=1)
    for fn, tfn in [(F.dropout, torch.nn.functional.dropout), (F.dropout2d, torch.nn.functional.dropout2d)]:
        assert fn(x, 0.7, training=False) is x  # eval mode: the input itself
        assert np.array_equal(fn(x, 0.0), x)
        with pytest.warns(UserWarning) if fn is F.dropout2d else contextlib.nullcontext():
            ref = tfn(t64(x), 1.0)
        assert np.array_equal(fn(x, 1.0), ref.numpy().astype(np.float32))  # all zeros
        _, g = fc.value_and_grad(lambda v: (fn(v, 1.0) * x).sum())(x)
        assert not g.any()


def test_inplace_writes_back():
    x = randn(100, seed=2) + 3.0
    orig = x.copy()
    out = F.dropout(x, 0.5, inplace=True, seed=1)
    assert out is x and np.array_equal(x, F.dropout(orig, 0.5, seed=1))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_bad_probability(p):
    for fn in (F.dropout, F.dropout2d):
        with pytest.raises(ValueError, match=f"{fn.__name__}: dropout probability has to be between 0 and 1, but got"):
            fn(randn(2, 3), p)
    with pytest.raises(ValueError, match="dropout: dropout probability has to be between 0 and 1, but got 2"):
        op("dropout", [randn(3)], dict(p=2.0, seed=1), multi=True)  # graphs built without the wrapper


def test_dropout2d_needs_a_channel_dimension():
    with pytest.raises(ValueError, match=r"dropout2d: expected an input with at least 2 dimensions .*got shape \[5\]"):
        F.dropout2d(randn(5), 0.5)
