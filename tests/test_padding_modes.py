"""ONNX's padding forms for convolution and pooling: (begin, end) pairs, 'same_upper' / 'same_lower' at any stride,
and average pooling with dilation. References: torch on an explicitly padded input (float64), and float64 NumPy
loops for the average pools torch cannot express."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
_SETTINGS = dict(max_examples=25, deadline=None, derandomize=True, database=None)


def _same_pads(size, k, s, d, upper):
    e = d * (k - 1) + 1
    total = max(0, (-(-size // s) - 1) * s + e - size)
    b = total // 2 if upper else total - total // 2
    return b, total - b


def _torch_pad(pairs):
    """(begin, end) pairs per spatial dim -> torch.nn.functional.pad's last-dim-first list."""
    return [v for b, e in reversed(pairs) for v in (b, e)]


@st.composite
def conv_case(draw):
    nd = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 7)) for _ in range(nd)]
    k = [draw(st.integers(1, 3)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, 2)) for _ in range(nd)]
    mode = draw(st.sampled_from(["pairs", "same_upper", "same_lower"]))
    if mode == "pairs":
        pairs = [(draw(st.integers(0, 3)), draw(st.integers(0, 3))) for _ in range(nd)]
    else:
        pairs = [_same_pads(n, kk, ss, dd, mode == "same_upper") for n, kk, ss, dd in zip(sizes, k, s, d)]
    if any(n + b + e < dd * (kk - 1) + 1 for n, (b, e), kk, dd in zip(sizes, pairs, k, d)):
        pairs = [(b, e + dd * (kk - 1)) for (b, e), kk, dd in zip(pairs, k, d)]
        mode = "pairs"
    groups = draw(st.sampled_from([1, 2]))
    return nd, sizes, k, s, d, pairs, mode, groups


@settings(**_SETTINGS)
@given(case=conv_case(), algo=st.sampled_from(["ref", "im2col_gemm", None]))
def test_conv_onnx_padding_vs_torch(case, algo):
    nd, sizes, k, s, d, pairs, mode, groups = case
    x = randn(2, 2 * groups, *sizes, seed=1)
    w = randn(3 * groups, 2, *k, seed=2)
    b = randn(3 * groups, seed=3)
    padding = tuple(pairs) if mode == "pairs" else mode
    tx, tw, tb = t64(x, True), t64(w, True), t64(b, True)
    ref = getattr(TF, f"conv{nd}d")(TF.pad(tx, _torch_pad(pairs)), tw, tb, stride=s, dilation=d, groups=groups)
    g = randn(*ref.shape, seed=4)
    (ref * t64(g)).sum().backward()
    fn = getattr(F, f"conv{nd}d")
    kw = dict(stride=s, padding=padding, dilation=d, groups=groups)
    opts = {} if algo is None else dict(algo={"conv": algo})
    assert rel_err(fn(x, w, b, **kw), ref) <= 1e-5

    class Net(fc.nn.Module):
        def forward(self, inp):
            return fn(inp, w, b, **kw)

    net = fc.compile(Net(), x.shape, **opts)
    assert rel_err(net.predict(x), ref) <= 1e-5
    _, grads = fc.value_and_grad(lambda a, ww, bb: (fn(a, ww, bb, **kw) * g).sum(), argnums=(0, 1, 2))(x, w, b)
    for got, want in zip(grads, (tx.grad, tw.grad, tb.grad)):
        assert rel_err(got, want) <= 1e-4


@settings(**_SETTINGS)
@given(nd=st.integers(1, 3), data=st.data())
def test_conv_transpose_asymmetric_pads_vs_torch(nd, data):
    sizes = [data.draw(st.integers(1, 5)) for _ in range(nd)]
    k = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    s = [data.draw(st.integers(1, 3)) for _ in range(nd)]
    op = [data.draw(st.integers(0, ss - 1)) for ss in s]
    full = [(n - 1) * ss + kk + o for n, ss, kk, o in zip(sizes, s, k, op)]
    pairs = []
    for f in full:
        b = data.draw(st.integers(0, (f - 1) // 2))
        pairs.append((b, data.draw(st.integers(0, f - 1 - b))))
    x, w, b = randn(2, 4, *sizes, seed=5), randn(4, 3, *k, seed=6), randn(3, seed=7)
    tx, tw, tb = t64(x, True), t64(w, True), t64(b, True)
    y = getattr(TF, f"conv_transpose{nd}d")(tx, tw, tb, stride=s, output_padding=op)
    ref = y[(slice(None), slice(None)) + tuple(slice(pb, f - pe) for (pb, pe), f in zip(pairs, full))]
    g = randn(*ref.shape, seed=8)
    (ref * t64(g)).sum().backward()
    fn = getattr(F, f"conv_transpose{nd}d")
    kw = dict(stride=s, padding=tuple(pairs), output_padding=op)
    assert rel_err(fn(x, w, b, **kw), ref) <= 1e-5
    _, grads = fc.value_and_grad(lambda a, ww, bb: (fn(a, ww, bb, **kw) * g).sum(), argnums=(0, 1, 2))(x, w, b)
    for got, want in zip(grads, (tx.grad, tw.grad, tb.grad)):
        assert rel_err(got, want) <= 1e-4


def _np_avg_pool(x, k, s, pairs, d, ceil_mode, count_include_pad):
    """float64 loops over the dilated taps; the divisor counts taps in [-begin, in + end) with count_include_pad,
    else the taps inside the input (ONNX AveragePool; torch's avg_pool for undilated, symmetric pads)."""
    x = np.asarray(x, np.float64)
    sp = x.shape[2:]
    outs = []
    for n, kk, ss, (b, e), dd in zip(sp, k, s, pairs, d):
        eff = dd * (kk - 1) + 1
        num = n + b + e - eff + (ss - 1 if ceil_mode else 0)
        o = num // ss + 1
        if ceil_mode and (o - 1) * ss >= n + b:
            o -= 1
        outs.append(o)
    y = np.zeros(x.shape[:2] + tuple(outs))
    for idx in itertools.product(*[range(o) for o in outs]):
        taps = [[st_ + j * dd for j in range(kk)] for st_, kk, dd in
                zip([i * ss - b for i, ss, (b, _) in zip(idx, s, pairs)], k, d)]
        inside = [[t for t in tp if 0 <= t < n] for tp, n in zip(taps, sp)]
        if count_include_pad:
            cnt = np.prod([len([t for t in tp if -b <= t < n + e]) for tp, n, (b, e) in zip(taps, sp, pairs)])
        else:
            cnt = np.prod([len(v) for v in inside])
        total = np.zeros(x.shape[:2])
        for pos in itertools.product(*inside):
            total += x[(slice(None), slice(None)) + pos]
        y[(slice(None), slice(None)) + idx] = total / cnt
    return y


@st.composite
def pool_case(draw):
    nd = draw(st.integers(1, 3))
    k = [draw(st.integers(1, 3)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    d = [draw(st.integers(1, 3)) for _ in range(nd)]
    sizes = [draw(st.integers(dd * (kk - 1) + 1, 8)) for kk, dd in zip(k, d)]
    mode = draw(st.sampled_from(["pairs", "same_upper", "same_lower", "valid"]))
    if mode == "pairs":
        pairs = [(draw(st.integers(0, kk - 1)), draw(st.integers(0, kk - 1))) for kk in k]
    elif mode == "valid":
        pairs = [(0, 0)] * nd
    else:
        pairs = [_same_pads(n, kk, ss, dd, mode == "same_upper") for n, kk, ss, dd in zip(sizes, k, s, d)]
    ceil_mode = mode == "pairs" and draw(st.booleans())
    return nd, sizes, k, s, d, pairs, mode, ceil_mode


@settings(**_SETTINGS)
@given(case=pool_case(), count_include_pad=st.booleans(), algo=st.sampled_from(["ref", "vec"]))
def test_avg_pool_dilation_and_onnx_padding_vs_numpy(case, count_include_pad, algo):
    nd, sizes, k, s, d, pairs, mode, ceil_mode = case
    if mode.startswith("same") and any(e >= kk for (_, e), kk in zip(pairs, k)):
        d = [1] * nd  # SAME pads of a dilated window can exceed the kernel, which pads must not
        pairs = [_same_pads(n, kk, ss, 1, mode == "same_upper") for n, kk, ss in zip(sizes, k, s)]
    x = randn(2, 3, *sizes, seed=9)
    ref = _np_avg_pool(x, k, s, pairs, d, ceil_mode, count_include_pad)
    padding = tuple(pairs) if mode == "pairs" else mode
    fn = getattr(F, f"avg_pool{nd}d")
    kw = dict(stride=s, padding=padding, ceil_mode=ceil_mode, count_include_pad=count_include_pad, dilation=d)

    class Net(fc.nn.Module):
        def forward(self, inp):
            return fn(inp, k, **kw)

    out = fc.compile(Net(), x.shape, algo={"pool": algo}).predict(x)
    assert out.shape == ref.shape
    assert rel_err(out, ref) <= 1e-6
    assert rel_err(fn(x, k, **kw), ref) <= 1e-6
    # avg pooling is linear: <grad of sum(A(x) g), v> = <g, A v>, with A v from the NumPy loops.
    g = randn(*ref.shape, seed=10)
    _, gx = fc.value_and_grad(lambda a: (fn(a, k, **kw) * g).sum())(x)
    v = randn(*x.shape, seed=11)
    av = _np_avg_pool(v, k, s, pairs, d, ceil_mode, count_include_pad)
    want = float(np.sum(av * g))
    assert abs(float(np.sum(np.asarray(gx, np.float64) * v)) - want) <= 1e-5 * float(np.sum(np.abs(av * g)))


@settings(**_SETTINGS)
@given(case=pool_case(), algo=st.sampled_from(["ref", "vec"]))
def test_max_pool_onnx_padding_vs_torch(case, algo):
    nd, sizes, k, s, d, pairs, mode, ceil_mode = case
    if mode.startswith("same") and any(e >= kk for (_, e), kk in zip(pairs, k)):
        d = [1] * nd
        pairs = [_same_pads(n, kk, ss, 1, mode == "same_upper") for n, kk, ss in zip(sizes, k, s)]
    x = randn(2, 3, *sizes, seed=12)
    tx = t64(x, True)
    ref = getattr(TF, f"max_pool{nd}d")(TF.pad(tx, _torch_pad(pairs), value=-np.inf), k, s, dilation=d,
                                          ceil_mode=ceil_mode)
    # torch bounds ceil_mode windows by the (here explicitly) padded input: the same rule as the begin-pad one
    # only when the extra windows start inside input + begin pad, which the reference checks below.
    fn = getattr(F, f"max_pool{nd}d")
    kw = dict(stride=s, padding=tuple(pairs) if mode == "pairs" else mode, dilation=d, ceil_mode=ceil_mode)

    class Net(fc.nn.Module):
        def forward(self, inp):
            return fn(inp, k, **kw)

    out = fc.compile(Net(), x.shape, algo={"pool": algo}).predict(x)
    if out.shape != tuple(ref.shape):  # ceil_mode: a last window starting in the end pad is dropped (ONNX, torch)
        ref = ref[(slice(None), slice(None)) + tuple(slice(0, o) for o in out.shape[2:])]
    assert rel_err(out, ref) == 0.0
    g = randn(*ref.shape, seed=13)
    (ref * t64(g)).sum().backward()
    _, gx = fc.value_and_grad(lambda a: (fn(a, k, **kw) * g).sum())(x)
    assert rel_err(gx, tx.grad) <= 1e-6


def test_padding_errors_name_the_argument():
    x = randn(1, 2, 5, 5)
    with pytest.raises(ValueError, match=r"max_pool2d: argument 'pads' must be non-negative and smaller than the "
                                         r"kernel, got pads=\(3, 0, 0, 0\) and kernel_size=\(3, 3\)"):
        F.max_pool2d(x, 3, padding=((3, 0), (0, 0)))
    with pytest.raises(ValueError, match="ceil_mode cannot be used with padding='same_upper'"):
        F.avg_pool2d(x, 3, padding="same_upper", ceil_mode=True)
    with pytest.raises(ValueError, match=r"conv2d: argument 'pads' must be non-negative, got \(1, -1, 0, 0\)"):
        F.conv2d(x, randn(3, 2, 3, 3), padding=((1, 0), (-1, 0)))
    with pytest.raises(ValueError, match="padding: expected ints or"):
        F.conv2d(x, randn(3, 2, 3, 3), padding=((1, 0, 2), 1))
    with pytest.raises(ValueError, match="'valid', 'same_upper' or 'same_lower', got 'same'"):
        F.max_pool2d(x, 3, padding="same")
    # SAME at a stride: output ceil(input / stride) (torch's 'same' refuses strides)
    assert F.conv2d(x, randn(3, 2, 3, 3), stride=2, padding="same_lower").shape == (1, 3, 3, 3)
    assert F.max_pool2d(x, 2, 2, padding="same_upper").shape == (1, 2, 3, 3)
