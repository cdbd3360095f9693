"""The CUDA ops on hypothesis-drawn shapes: odd sizes, sizes that are not multiples of any tile, strides, padding,
dilation and groups. Each example runs one small model on device='cuda' and on the CPU from the same weights and
compares the forward output (eval mode), the loss and every gradient (training mode): FP32, rel err <= 1e-5 in the
norm (conftest.rel_err). The input gradient is seen through a zero parameter added to the input (_Shift).
Deterministic: derandomized, no example database (conftest's "ci" profile, repeated here for the settings that
matter), few examples per family, since the emulator runs a GPU's threads one by one."""
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from conftest import rel_err

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")

SETTINGS = dict(max_examples=12, derandomize=True, database=None, deadline=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TOL = 1e-5


class _Shift(nn.Module):
    """x + p with p = 0 of x's shape: p's gradient is the gradient with respect to the model's input."""

    def __init__(self, shape):
        super().__init__()
        self.p = nn.Parameter(np.zeros(shape, np.float32))

    def forward(self, x):
        return F.add(x, self.p)


def _x(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _check(make, x, loss="mse", y=None, seed=0):
    """make() -> the model after _Shift; compares device and CPU forward, loss and gradients."""
    fc.manual_seed(seed)
    a = nn.Sequential(_Shift(x.shape), make())
    b = nn.Sequential(_Shift(x.shape), make())
    b.load_state_dict(a.state_dict())
    cpu = fc.compile(a, x.shape, loss=loss)
    dev = fc.compile(b, x.shape, loss=loss, device="cuda")
    want = cpu.predict(x)
    got = dev.predict(x)
    assert got.shape == want.shape
    assume(np.abs(want).max() > 0)  # a window over padding only: nothing to compare
    assert rel_err(got, want) <= TOL, "forward"
    if y is None:
        y = _x(want.shape, seed + 1)
    la, ga = cpu.loss_and_grads(x, y)
    lb, gb = dev.loss_and_grads(x, y)
    assert abs(lb - la) <= TOL * abs(la), ("loss", la, lb)
    assert ga.keys() == gb.keys() and "0.p" in ga
    for k in ga:
        assert rel_err(gb[k], ga[k]) <= TOL, k


def _out(size, k, stride, pad, dil):
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 3), cin_g=st.integers(1, 3), cout_g=st.integers(1, 3), groups=st.integers(1, 3),
       h=st.integers(1, 11), w=st.integers(1, 13), kh=st.integers(1, 4), kw=st.integers(1, 4),
       stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2), bias=st.booleans())
def test_conv2d(n, cin_g, cout_g, groups, h, w, kh, kw, stride, pad, dil, bias):
    assume(_out(h, kh, stride, pad, dil) >= 1 and _out(w, kw, stride, pad, dil) >= 1)
    cin, cout = cin_g * groups, cout_g * groups
    _check(lambda: nn.Sequential(nn.Conv2d(cin, cout, (kh, kw), stride=stride, padding=pad, dilation=dil,
                                           groups=groups, bias=bias), nn.Flatten()),
           _x((n, cin, h, w), h * w))


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 3), cin=st.integers(1, 5), cout=st.integers(1, 5), length=st.integers(1, 19),
       k=st.integers(1, 5), stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 3),
       depthwise=st.booleans())
def test_conv1d(n, cin, cout, length, k, stride, pad, dil, depthwise):
    assume(_out(length, k, stride, pad, dil) >= 1)
    groups, cout = (cin, cin * (1 + cout % 2)) if depthwise else (1, cout)
    _check(lambda: nn.Sequential(nn.Conv1d(cin, cout, k, stride=stride, padding=pad, dilation=dil, groups=groups),
                                 nn.Flatten()), _x((n, cin, length), length))


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 2), cin_g=st.integers(1, 3), cout_g=st.integers(1, 3), groups=st.integers(1, 2),
       h=st.integers(1, 7), w=st.integers(1, 8), k=st.integers(1, 4), stride=st.integers(1, 3),
       pad=st.integers(0, 2), extra=st.integers(0, 2))
def test_conv_transpose2d(n, cin_g, cout_g, groups, h, w, k, stride, pad, extra):
    out_pad = min(extra, stride - 1)  # output_padding must be smaller than the stride
    assume(pad <= k - 1 and (h - 1) * stride - 2 * pad + k + out_pad >= 1 and (w - 1) * stride - 2 * pad + k >= 1)
    cin, cout = cin_g * groups, cout_g * groups
    _check(lambda: nn.Sequential(nn.ConvTranspose2d(cin, cout, k, stride=stride, padding=pad,
                                                    output_padding=out_pad, groups=groups), nn.Flatten()),
           _x((n, cin, h, w), 7 * h + w))


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 12), w=st.integers(1, 12), k=st.integers(1, 4),
       stride=st.integers(1, 3), pad=st.integers(0, 2), dil=st.integers(1, 2), ceil=st.booleans(),
       kind=st.sampled_from(["max", "avg", "avg_nopad"]))
def test_pool2d(n, c, h, w, k, stride, pad, dil, ceil, kind):
    assume(2 * pad <= k)  # padding at most half the window (torch's rule, and the engine's)
    if kind != "max":
        dil = 1
    assume(_out(h, k, stride, pad, dil) >= 1 and _out(w, k, stride, pad, dil) >= 1)
    if kind == "max":
        make = lambda: nn.Sequential(nn.MaxPool2d(k, stride, pad, dilation=dil, ceil_mode=ceil), nn.Flatten())  # noqa
    else:
        make = lambda: nn.Sequential(nn.AvgPool2d(k, stride, pad, ceil_mode=ceil,  # noqa: E731
                                                  count_include_pad=kind == "avg"), nn.Flatten())
    _check(make, _x((n, c, h, w), h + 13 * w))


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 3), c=st.integers(1, 4), h=st.integers(1, 13), w=st.integers(1, 13), oh=st.integers(1, 6),
       ow=st.integers(1, 6), kind=st.sampled_from(["avg", "max"]))
def test_adaptive_pool2d(n, c, h, w, oh, ow, kind):
    layer = nn.AdaptiveAvgPool2d((oh, ow)) if kind == "avg" else nn.AdaptiveMaxPool2d((oh, ow))
    _check(lambda: nn.Sequential(layer, nn.Flatten()), _x((n, c, h, w), 3 * h + w))


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(2, 5), c=st.integers(1, 5), spatial=st.lists(st.integers(1, 7), min_size=0, max_size=2),
       affine=st.booleans())
def test_batch_norm(n, c, spatial, affine):
    # two values per channel normalise to +-1 whatever they are: the input gradient is then rounding noise
    assume(n * int(np.prod(spatial)) >= 4)
    shape = (n, c, *spatial)
    bn = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d}[len(spatial)]

    def make():
        m = bn(c, affine=affine)
        m.running_mean[...] = _x((c,), 5)
        m.running_var[...] = 0.5 + np.abs(_x((c,), 6))
        if affine:
            m.weight[...] = 1 + 0.5 * _x((c,), 7)
            m.bias[...] = _x((c,), 8)
        return nn.Sequential(m, nn.Flatten())
    x = _x(shape, n * 7 + c) * 3 + 1
    _check(make, x)


@needs_device
@settings(**SETTINGS)
@given(shape=st.lists(st.integers(1, 9), min_size=2, max_size=4), dim=st.integers(0, 3), log=st.booleans())
def test_softmax(shape, dim, log):
    assume(dim < len(shape))
    layer = nn.LogSoftmax(dim=dim) if log else nn.Softmax(dim=dim)
    _check(lambda: layer, _x(tuple(shape), sum(shape)) * 3)


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 6), c=st.integers(2, 11), spatial=st.lists(st.integers(1, 5), min_size=0, max_size=2),
       smoothing=st.sampled_from([0.0, 0.1]), ignore=st.booleans(), mean=st.booleans())
def test_cross_entropy(n, c, spatial, smoothing, ignore, mean):
    shape = (n, c, *spatial)
    rng = np.random.default_rng(n * c)
    y = rng.integers(0, c, (n, *spatial))
    if ignore and y.size > 1:
        y.flat[0] = -100  # torch's default ignore_index
    loss = lambda out, t: F.cross_entropy(out, t, label_smoothing=smoothing,  # noqa: E731
                                          reduction="mean" if mean else "sum")
    _check(lambda: nn.Identity(), _x(shape, c) * 2, loss=loss, y=y)


@needs_device
@settings(**SETTINGS)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 7), w=st.integers(1, 7),
       mode=st.sampled_from(["nearest", "bilinear", "bilinear_ac"]), by_size=st.booleans(),
       scale=st.integers(1, 3), oh=st.integers(1, 11), ow=st.integers(1, 11))
def test_upsample(n, c, h, w, mode, by_size, scale, oh, ow):
    kw = dict(size=(oh, ow)) if by_size else dict(scale_factor=scale)
    if mode == "bilinear_ac":
        kw.update(mode="bilinear", align_corners=True)
    else:
        kw.update(mode=mode)
    _check(lambda: nn.Sequential(nn.Upsample(**kw), nn.Flatten()), _x((n, c, h, w), oh * ow + h))


class _Broadcast(nn.Module):
    """op(x, q) for a parameter q whose shape broadcasts against x's."""

    def __init__(self, op, q):
        super().__init__()
        self.op, self.q = op, nn.Parameter(q)

    def forward(self, x):
        return getattr(F, self.op)(x, self.q)


@needs_device
@settings(**SETTINGS)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), data=st.data(),
       op=st.sampled_from(["add", "sub", "mul", "div"]))
def test_broadcast_eltwise(shape, data, op):
    # q: each of x's trailing dimensions kept or set to 1, and maybe fewer dimensions than x
    ndim = data.draw(st.integers(1, len(shape)), "q ndim")
    q_shape = tuple(1 if data.draw(st.booleans(), f"squeeze {i}") else s for i, s in enumerate(shape[-ndim:]))
    q = _x(q_shape, 11)
    if op == "div":
        q = np.sign(q + 0.1) * (0.5 + np.abs(q))  # away from zero
    _check(lambda: _Broadcast(op, q), _x(tuple(shape), len(shape)) * 2)
