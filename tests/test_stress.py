"""Random conv and pooling geometries, every algorithm forced, against PyTorch float64; and hostile geometries,
which must be ValueErrors rather than crashes or hangs.

The normal suite draws a few dozen examples per test (deterministic: derandomize, no example database). CI's
stress step runs the same tests with `--hypothesis-profile=stress` (tests/conftest.py): thousands of examples,
the kind of run that once found the im2col 3-D segfault and conv_transpose3d's depth-padding bug.
"""
from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import fastconv.functional as F
from conftest import rel_err, t64, torch

TF = torch.nn.functional
ALGOS = [None, "ref", "im2col_gemm", "gemm_1x1", "depthwise_direct", "winograd_f4x3"]
SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@contextlib.contextmanager
def forced(algo):
    old = os.environ.get("FASTCONV_ALGO")
    if algo:
        os.environ["FASTCONV_ALGO"] = f"conv={algo}"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("FASTCONV_ALGO", None)
        else:
            os.environ["FASTCONV_ALGO"] = old


def close(got, ref, tol):
    """rel_err on the finite entries; infinities (a max-pool window that lies wholly in the padding is -inf, as in
    torch) must match exactly."""
    got, ref = np.asarray(got, np.float64), ref.detach().numpy()
    assert got.shape == ref.shape
    fin = np.isfinite(ref)
    assert np.array_equal(got[~fin], ref[~fin])
    return rel_err(got[fin], ref[fin]) <= tol


def arr(r, *shape):
    return r.standard_normal(shape).astype(np.float32)


@st.composite
def conv_geometry(draw, transposed=False):
    nd = draw(st.sampled_from([1, 2, 2, 2, 3]))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    if draw(st.booleans()) and not transposed:  # depthwise
        groups, cin = cin, cin
        cout = cin * draw(st.integers(1, 2))
    size = [draw(st.integers(1, 9 if nd < 3 else 5)) for _ in range(nd)]
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    if draw(st.integers(0, 3)) == 0:
        k = [3] * nd
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    pad = [draw(st.integers(0, 3)) for _ in range(nd)]
    n = draw(st.integers(0, 3))
    return nd, n, cin, cout, groups, size, k, stride, dil, pad, draw(st.integers(0, 1000))


@settings(**SETTINGS)
@given(g=conv_geometry(), algo=st.sampled_from(ALGOS), mode=st.sampled_from(["int", "int", "same", "valid"]))
def test_conv_random_geometry(g, algo, mode):
    nd, n, cin, cout, groups, size, k, stride, dil, pad, seed = g
    r = np.random.default_rng(seed)
    x, w = arr(r, n, cin, *size), arr(r, cout, cin // groups, *k)
    padding = tuple(pad) if mode == "int" else mode
    if mode == "same":
        stride = [1] * nd
    kw = dict(stride=tuple(stride), padding=padding, dilation=tuple(dil), groups=groups)
    fn, tfn = getattr(F, f"conv{nd}d"), getattr(TF, f"conv{nd}d")
    try:
        ref = tfn(t64(x), t64(w), None, **kw)
    except RuntimeError:  # torch refuses it (kernel larger than the padded input): so must we, clearly
        with pytest.raises(ValueError, match=f"conv{nd}d"):
            with forced(algo):
                fn(x, w, None, **kw)
        return
    with forced(algo):
        y = fn(x, w, None, **kw)
    assert rel_err(y, ref) <= 1e-4


@settings(**SETTINGS)
@given(g=conv_geometry(transposed=True), algo=st.sampled_from([None, "ref", "im2col_gemm"]))
def test_conv_transpose_random_geometry(g, algo):
    nd, n, cin, cout, groups, size, k, stride, dil, pad, seed = g
    r = np.random.default_rng(seed)
    opad = [int(r.integers(0, max(s, d))) for s, d in zip(stride, dil)]
    x, w = arr(r, n, cin, *size), arr(r, cin, cout // groups, *k)
    kw = dict(stride=tuple(stride), padding=tuple(pad), output_padding=tuple(opad), groups=groups,
              dilation=tuple(dil))
    fn, tfn = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    try:
        ref = tfn(t64(x), t64(w), None, **kw)
    except RuntimeError:
        with pytest.raises(ValueError, match=f"conv_transpose{nd}d"):
            fn(x, w, None, **kw)
        return
    if 0 in ref.shape[2:]:  # torch lets an empty batch have an empty output; fastconv refuses the geometry
        with pytest.raises(ValueError, match="would not be positive"):
            fn(x, w, None, **kw)
        return
    with forced(algo):
        y = fn(x, w, None, **kw)
    assert rel_err(y, ref) <= 1e-4


@st.composite
def pool_geometry(draw):
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    size = [draw(st.integers(1, 10 if nd < 3 else 5)) for _ in range(nd)]
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    stride = [draw(st.integers(1, 4)) for _ in range(nd)]
    pad = [draw(st.integers(0, ki // 2)) for ki in k]
    dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    lead = (draw(st.integers(0, 2)), draw(st.integers(1, 3))) if draw(st.integers(0, 4)) else \
        (draw(st.integers(1, 3)),)  # batched, or unbatched [C, ...]
    return nd, lead, size, k, stride, pad, dil, draw(st.booleans()), draw(st.booleans()), draw(st.integers(0, 999))


@settings(**SETTINGS)
@given(g=pool_geometry(), kind=st.sampled_from(["max", "avg", "max_indices"]))
def test_pool_random_geometry(g, kind):
    nd, lead, size, k, stride, pad, dil, ceil, include_pad, seed = g
    x = arr(np.random.default_rng(seed), *lead, *size)
    if kind == "avg":
        fn, tfn = getattr(F, f"avg_pool{nd}d"), getattr(TF, f"avg_pool{nd}d")
        kw = dict(kernel_size=tuple(k), stride=tuple(stride), padding=tuple(pad), ceil_mode=ceil,
                  count_include_pad=include_pad)
    else:
        fn, tfn = getattr(F, f"max_pool{nd}d"), getattr(TF, f"max_pool{nd}d")
        kw = dict(kernel_size=tuple(k), stride=tuple(stride), padding=tuple(pad), dilation=tuple(dil), ceil_mode=ceil,
                  return_indices=kind == "max_indices")
    try:
        ref = tfn(t64(x), **kw)
    except RuntimeError:
        with pytest.raises(ValueError):
            fn(x, **kw)
        return
    got = fn(x, **kw)
    if kind == "max_indices":
        assert close(got[0], ref[0], 1e-6)
        assert np.array_equal(np.asarray(got[1]), ref[1].numpy())
    else:
        assert close(got, ref, 1e-5)


HUGE = st.one_of(st.integers(2 ** 31 - 5, 2 ** 31 + 5), st.integers(2 ** 40, 2 ** 62), st.just(2 ** 63 - 1),
                 st.integers(2 ** 63, 2 ** 70), st.integers(-2 ** 70, -1))


@settings(**SETTINGS)
@given(arg=st.sampled_from(["stride", "padding", "dilation"]), v=HUGE, op=st.sampled_from(["conv", "max", "avg"]))
def test_hostile_geometry_is_a_value_error(arg, v, op):
    x = np.ones((1, 1, 4, 4), np.float32)
    if op == "conv":
        call = lambda: F.conv2d(x, np.ones((1, 1, 3, 3), np.float32), **{arg: v})  # noqa: E731
    elif op == "max":
        call = lambda: F.max_pool2d(x, 2 ** 41, **{arg: v})  # noqa: E731
    else:
        assume(arg != "dilation")
        call = lambda: F.avg_pool2d(x, 3, **{arg: v})  # noqa: E731
    try:
        y = call()
    except ValueError as e:
        assert arg in str(e) or "kernel_size" in str(e) or "pad" in str(e), str(e)
    else:  # a stride past the input is legal (one output); anything else must have been refused
        assert arg == "stride" and 0 < v and np.asarray(y).size >= 1
