"""Packed forward weights (docs/inference.md, "Packed weights"): compiled GEMM convolutions with more than 64 output
channels keep their weights packed between calls, keyed by the weight's storage version. After every kind of weight
write predict must equal a NumPy float64 reference of the new weights (a stale packed copy would not), on every ISA
level, for a folded weight (conv -> bn, gemm_1x1) and a parameter weight (3x3 stride 2, im2col_gemm)."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn


def _conv(x, w, b, stride=1, pad=0):  # float64 NCHW
    n, c, h, wd = x.shape
    k, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    out = np.zeros((n, k, oh, ow))
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, :, i:i + stride * oh:stride, j:j + stride * ow:stride]
            out += np.einsum("nchw,kc->nkhw", patch, w[:, :, i, j])
    return out + b[None, :, None, None]


def _reference(m, x):
    f = lambda a: np.asarray(a, np.float64)  # noqa: E731
    c1, bn, c2 = m[0], m[1], m[3]
    z = _conv(f(x), f(c1.weight), f(c1.bias))
    s = f(bn.weight) / np.sqrt(f(bn.running_var) + bn.eps)
    z = (z - f(bn.running_mean)[None, :, None, None]) * s[None, :, None, None] + f(bn.bias)[None, :, None, None]
    z = np.maximum(z, 0)
    return _conv(z, f(c2.weight), f(c2.bias), stride=2, pad=1)


def _model(seed=0):
    rng = np.random.default_rng(seed)
    m = nn.Sequential(nn.Conv2d(24, 80, 1), nn.BatchNorm2d(80), nn.ReLU(), nn.Conv2d(80, 72, 3, stride=2, padding=1))
    bn = m[1]
    bn.running_mean[...] = rng.standard_normal(80).astype(np.float32) * 0.1
    bn.running_var[...] = rng.uniform(0.5, 2.0, 80).astype(np.float32)
    bn.weight[...] = rng.uniform(0.5, 1.5, 80).astype(np.float32)
    bn.bias[...] = rng.standard_normal(80).astype(np.float32) * 0.1
    return m.eval()


@pytest.fixture(params=["avx512", "avx2", "scalar"])
def isa(request):
    old = fc.get_isa()
    try:
        fc.set_isa(request.param)
    except Exception as e:  # the machine lacks it
        pytest.skip(f"{request.param}: {e}")
    yield request.param
    fc.set_isa(old)


def _check(net, m, x):
    np.testing.assert_allclose(net.predict(x), _reference(m, x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("write", ["folded_setitem", "param_setitem", "param_imul", "load_state_dict", "raw_view"])
def test_predict_after_weight_write_uses_new_weights(isa, batch, write):
    m = _model()
    x = np.random.default_rng(1).standard_normal((batch, 24, 9, 9)).astype(np.float32)
    net = fc.compile(m, x.shape)
    sched = net.schedule()
    assert "gemm_1x1" in sched and "im2col_gemm" in sched, sched
    for _ in range(2):  # the second call reads the packed copies
        _check(net, m, x)
    if write == "folded_setitem":  # the 1x1 conv's weight reaches its GEMM through conv_bn_fold
        m[0].weight[5] = 0.3
    elif write == "param_setitem":  # the 3x3 conv's weight is the parameter itself
        m[3].weight[7] = -0.2
    elif write == "param_imul":
        m[3].weight *= 2
    elif write == "load_state_dict":
        m.load_state_dict(_model(seed=7).state_dict())
    elif write == "raw_view":  # invisible writes, then the call the docs require
        m[0].weight.view(np.ndarray)[...] *= -1
        m[3].weight.view(np.ndarray)[...] *= 3
        net.weights_changed()
    for _ in range(2):
        _check(net, m, x)


def test_packed_and_unpacked_paths_agree(isa):
    m = _model(3)
    x = np.random.default_rng(2).standard_normal((2, 24, 9, 9)).astype(np.float32)
    packed = fc.compile(m, x.shape).predict(x)
    plain = fc.compile(m, x.shape, algo={"conv.packed_weights": 0}).predict(x)
    np.testing.assert_allclose(packed, plain, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(packed, _reference(m, x), rtol=1e-4, atol=1e-4)
