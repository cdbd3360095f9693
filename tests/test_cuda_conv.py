"""The device convolution algorithms (docs/cuda.md, "Convolution algorithms"): a small conv net compiled for
device='cuda' with each algorithm forced (CompileOptions algo through fc.compile, and FASTCONV_ALGO), against the
same net on the CPU (itself checked against PyTorch in test_conv.py): predictions, the loss and every parameter
gradient, and the schedule names what ran. Then the selection rule on single layers. Runs on a GPU or on the CUDA
emulator build (FASTCONV_CUDA=EMU); shapes are small because the emulator runs every GPU thread as a fiber."""
import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _net():
    # Every pass of every algorithm somewhere: 3x3 stride-1 convs (Winograd's forward; the second one's data
    # gradient too), a strided grouped conv, a dilated one, a stride-1 transposed conv (its forward is a data
    # gradient with a bias: Winograd applies), and a 1x1 conv (the pointwise case).
    return nn.Sequential(
        nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 6, 3, padding=1), nn.ReLU(),
        nn.Conv2d(6, 4, 3, stride=2, padding=1, groups=2), nn.ReLU(),
        nn.ConvTranspose2d(4, 5, 3, padding=1),
        nn.Conv2d(5, 4, 3, padding=2, dilation=2), nn.ReLU(),
        nn.Conv2d(4, 3, 1),
        nn.Flatten())


# algorithm -> (tolerance, algorithms that must not appear: where the forced one applies, nothing else runs)
ALGOS = {
    "implicit_gemm": (1e-5, ("im2col_gemm__cuda", "winograd_f2x3__cuda")),
    "im2col_gemm": (1e-5, ("implicit_gemm__cuda", "winograd_f2x3__cuda")),
    # Winograd's transforms add several inputs before the product: a few times the direct sum's rounding error
    "winograd_f2x3": (1e-4, ()),
}


def _pair():
    fc.manual_seed(0)
    a, b = _net(), _net()
    b.load_state_dict(a.state_dict())
    return a, b


def _check(a, b, x, tol, **kw):
    want = fc.compile(a, x.shape).predict(x)
    net = fc.compile(b, x.shape, device="cuda", **kw)
    got = net.predict(x)
    assert np.abs(got - want).max() <= tol * max(1.0, float(np.abs(want).max()))
    y = _x(want.shape, 7)
    la, ga = fc.compile(a, x.shape, loss="mse").loss_and_grads(x, y)
    dev = fc.compile(b, x.shape, loss="mse", device="cuda", **kw)
    lb, gb = dev.loss_and_grads(x, y)
    assert lb == pytest.approx(la, rel=tol)
    assert ga.keys() == gb.keys() and len(ga) == 12
    for k in ga:
        scale = max(1.0, float(np.abs(ga[k]).max()))
        assert np.abs(gb[k] - ga[k]).max() <= 10 * tol * scale, k
    return net.schedule() + dev.schedule()


@needs_device
@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_forced_algorithm_matches_the_cpu(algo):
    tol, absent = ALGOS[algo]
    a, b = _pair()
    sched = _check(a, b, _x((2, 3, 9, 7), 1), tol, algo={"conv": algo})
    assert f"{algo}__cuda" in sched
    for other in absent:
        assert other not in sched, (algo, other)


@needs_device
def test_fastconv_algo_variable_forces_too(monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", "conv=implicit_gemm")
    a, b = _pair()
    sched = _check(a, b, _x((1, 3, 6, 5), 2), 1e-5)
    assert "implicit_gemm__cuda" in sched and "im2col_gemm__cuda" not in sched
    monkeypatch.setenv("FASTCONV_ALGO", "conv=im2col_gemm")
    sched = fc.compile(b, (1, 3, 6, 5), device="cuda").schedule()
    assert "im2col_gemm__cuda" in sched and "implicit_gemm__cuda" not in sched


def _conv_lines(layer, shape):
    """The schedule lines of the device conv kernels of `layer` compiled for inference."""
    sched = fc.compile(nn.Sequential(layer, nn.Flatten()), shape, device="cuda").schedule()
    return [ln for ln in sched.splitlines() if "conv" in ln and "__cuda" in ln]


@needs_device
def test_selection_rule():
    def fwd(layer, shape):
        lines = _conv_lines(layer, shape)
        assert len(lines) == 1, lines
        return lines[0]
    # 3x3 stride 1 with >= 32 channels on both sides and >= 32 tiles: Winograd
    assert "winograd_f2x3__cuda" in fwd(nn.Conv2d(32, 32, 3, padding=1), (2, 32, 8, 8))
    # ... with few channels, or few tiles: the implicit GEMM
    assert "implicit_gemm__cuda" in fwd(nn.Conv2d(8, 32, 3, padding=1), (2, 8, 8, 8))
    assert "implicit_gemm__cuda" in fwd(nn.Conv2d(32, 32, 3, padding=1), (1, 32, 4, 4))
    # strided, dilated, grouped, 1-D and 3-D: the implicit GEMM
    assert "implicit_gemm__cuda" in fwd(nn.Conv2d(4, 4, 3, stride=2, groups=2), (1, 4, 7, 7))
    assert "implicit_gemm__cuda" in fwd(nn.Conv1d(3, 4, 5, dilation=2), (1, 3, 12))
    assert "implicit_gemm__cuda" in fwd(nn.Conv3d(2, 3, 3, padding=1), (1, 2, 4, 4, 4))
    # pointwise: im2col_gemm, which is the GEMM on x itself
    assert "im2col_gemm__cuda" in fwd(nn.Conv2d(8, 4, 1), (1, 8, 5, 5))


@needs_device
def test_selection_rule_in_the_gradient_program():
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.Flatten())
    x = _x((1, 3, 6, 6), 3)
    sched = fc.compile(m, x.shape, loss="mse", optimizer=fc.optim.SGD(m.parameters(), lr=0.1),
                       device="cuda").schedule()
    # the strided conv's data gradient goes to im2col_gemm (the gather would read mostly zeros: 1 tap in 4); both
    # weight gradients to the implicit GEMM (the first conv's data gradient is not needed: x has no gradient)
    bd = [ln for ln in sched.splitlines() if "conv2d_backward_data" in ln]
    bw = [ln for ln in sched.splitlines() if "conv2d_backward_weight" in ln]
    assert bd and all("im2col_gemm__cuda" in ln for ln in bd), bd
    assert len(bw) == 2 and all("implicit_gemm__cuda" in ln for ln in bw), bw


def test_unknown_algorithm_is_refused_by_name():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    with pytest.raises(ValueError, match="implicit_gem"):
        fc.compile(m, (1, 3, 5, 5), algo={"conv": "implicit_gem"}).predict(_x((1, 3, 5, 5)))
