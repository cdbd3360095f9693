"""The ops whose CUDA entries came last (docs/cuda.md): 3-D grouped convolution, flipped kernels (convolve2d), unfold
and fold, resize, and SGD with maximize=True and gradient clipping, each compiled with device='cuda' and compared
with the same model compiled for the CPU (whose ops tests/test_conv.py, test_fold.py, test_resize.py and
test_optim.py check against PyTorch and SciPy): the forward pass and every parameter's gradient, whose backward
runs through the op's backward kernels (or the training steps, for the optimizer). On a machine with a GPU, or with
the CUDA emulator build (FASTCONV_CUDA=EMU, which .ci/run builds and runs tests/test_cuda*.py against), the device
tests run; elsewhere they are skipped."""
import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _pair(make):
    """Two copies of a model with the same parameters."""
    fc.manual_seed(0)
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    return a, b


def _check_forward_and_grads(make, x, rtol=1e-5):
    a, b = _pair(make)
    want = fc.compile(a, x.shape).predict(x)
    got = fc.compile(b, x.shape, device="cuda").predict(x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * max(1.0, float(np.abs(want).max())))
    y = np.random.default_rng(7).standard_normal(want.shape).astype(np.float32)
    la, ga = fc.compile(a, x.shape, loss="mse").loss_and_grads(x, y)
    lb, gb = fc.compile(b, x.shape, loss="mse", device="cuda").loss_and_grads(x, y)
    assert lb == pytest.approx(la, rel=rtol)
    assert ga.keys() == gb.keys() and ga
    for k in ga:
        scale = max(1.0, float(np.abs(ga[k]).max()))
        np.testing.assert_allclose(gb[k], ga[k], rtol=10 * rtol, atol=10 * rtol * scale, err_msg=k)


CONV3D = {
    "groups2": lambda: nn.Conv3d(4, 6, 3, padding=1, groups=2),
    "groups3_stride_dilation": lambda: nn.Conv3d(6, 3, (2, 3, 3), stride=(1, 2, 1), dilation=(2, 1, 2),
                                                 padding=(1, 0, 2), groups=3),
    "groups2_no_bias_odd": lambda: nn.Conv3d(2, 4, (1, 3, 2), padding=(0, 1, 0), groups=2, bias=False),
    "dense": lambda: nn.Conv3d(3, 4, 2, stride=2, padding=1),
    "transpose_groups2": lambda: nn.ConvTranspose3d(4, 6, 2, stride=2, groups=2),
}


@needs_device
@pytest.mark.parametrize("name", sorted(CONV3D))
def test_conv3d_forward_and_gradients_match_the_cpu(name):
    shape = {"groups3_stride_dilation": (2, 6, 5, 7, 6), "groups2_no_bias_odd": (1, 2, 3, 5, 7),
             "dense": (2, 3, 5, 4, 3)}.get(name, (2, 4, 3, 5, 4))
    _check_forward_and_grads(lambda: nn.Sequential(CONV3D[name](), nn.Flatten()), _x(shape, 1))


class _Signal(nn.Module):
    """x * a (so that the data gradient of the op is needed too), then convolve2d or correlate2d with a kernel."""

    def __init__(self, op, mode, kshape):
        super().__init__()
        self.op, self.mode = op, mode
        self.a = nn.Parameter(np.linspace(0.5, 1.5, 7 * 9).reshape(7, 9))
        self.k = nn.Parameter(np.random.default_rng(3).standard_normal(kshape))

    def forward(self, x):  # x: one sample [1, 7, 9]; the output as one sample too
        y = getattr(F, self.op)(F.reshape(x, (7, 9)) * self.a, self.k, self.mode)
        return F.reshape(y, (1, -1))


@needs_device
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("kshape", [(3, 3), (2, 4), (4, 1)])
@pytest.mark.parametrize("op", ["convolve2d", "correlate2d"])
def test_signal_ops_forward_and_gradients_match_the_cpu(op, mode, kshape):
    _check_forward_and_grads(lambda: _Signal(op, mode, kshape), _x((1, 7, 9), 2))


@needs_device
def test_convolve2d_is_the_flipped_correlation_on_the_device():
    # An independent check of the flip: convolve2d(x, k) == correlate2d(x, k[::-1, ::-1]), both on the device.
    x, k = _x((6, 8), 4), _x((3, 2), 5)

    class M(nn.Module):
        def __init__(self, op, kern):
            super().__init__()
            self.op, self.k = op, nn.Parameter(kern)

        def forward(self, v):
            return getattr(F, self.op)(v, self.k, "full")

    conv = fc.compile(M("convolve2d", k), x.shape, device="cuda").predict(x)
    corr = fc.compile(M("correlate2d", np.ascontiguousarray(k[::-1, ::-1])), x.shape, device="cuda").predict(x)
    np.testing.assert_allclose(conv, corr, rtol=1e-6, atol=1e-6)


FOLD = {
    "unfold_3x3_pad": lambda: nn.Sequential(nn.Conv2d(2, 3, 1), nn.Unfold(3, padding=1)),
    "unfold_stride_dilation": lambda: nn.Sequential(nn.Conv2d(2, 3, 1), nn.Unfold((2, 3), dilation=(2, 1),
                                                                                  padding=(1, 0), stride=(2, 3))),
    "fold_overlapping": lambda: nn.Sequential(nn.Conv1d(3 * 4, 3 * 4, 1), nn.Fold((5, 6), 2)),
    "fold_stride_gaps": lambda: nn.Sequential(nn.Conv1d(2 * 6, 2 * 6, 1), nn.Fold((7, 8), (2, 3), stride=3,
                                                                                  padding=1)),
}


@needs_device
@pytest.mark.parametrize("name", sorted(FOLD))
def test_unfold_and_fold_forward_and_gradients_match_the_cpu(name):
    shape = {"unfold_3x3_pad": (2, 2, 5, 7), "unfold_stride_dilation": (2, 2, 7, 9),
             "fold_overlapping": (2, 12, 4 * 5), "fold_stride_gaps": (1, 12, 3 * 3)}[name]
    _check_forward_and_grads(FOLD[name], _x(shape, 3))


class _Resize(nn.Module):
    def __init__(self, **kw):
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 1)
        self.kw = kw

    def forward(self, x):
        return F.resize(self.conv(x), **self.kw)


RESIZE = {
    "nearest_up": dict(size=(2, 3, 9, 13), mode="nearest"),
    "nearest_floor_down": dict(scale_factor=(0.5, 0.6), axes=(2, 3), mode="nearest", nearest_mode="floor",
                               coordinate_transformation_mode="asymmetric"),
    "linear_align_corners": dict(size=(7, 4), axes=(2, 3), mode="linear",
                                 coordinate_transformation_mode="align_corners"),
    "cubic_up": dict(scale_factor=(1.7, 2.0), axes=(2, 3), mode="cubic"),
    "cubic_antialias_down": dict(size=(3, 2), axes=(2, 3), mode="cubic", antialias=True),
    "linear_channels_too": dict(size=(5, 9), axes=(1, 3), mode="linear"),
    "tf_crop_and_resize": dict(size=(6, 5), axes=(2, 3), mode="linear",
                               coordinate_transformation_mode="tf_crop_and_resize",
                               roi=(0.1, -0.2, 0.8, 1.1), extrapolation_value=0.5),
    "identity": dict(size=(5, 7), axes=(2, 3), mode="linear"),
}


@needs_device
@pytest.mark.parametrize("name", sorted(RESIZE))
def test_resize_forward_and_gradients_match_the_cpu(name):
    _check_forward_and_grads(lambda: _Resize(**RESIZE[name]), _x((2, 2, 5, 7), 4))


@needs_device
@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_maximize_with_clipping_trains_as_on_the_cpu(momentum, norm_type):
    make = lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3))  # noqa: E731
    x = _x((5, 3, 4), 2)
    y = np.random.default_rng(3).integers(0, 3, 5)
    a, b = _pair(make)
    losses = []
    for m, dev in ((a, "cpu"), (b, "cuda")):
        opt = fc.optim.SGD(m.parameters(), lr=0.1, momentum=momentum, weight_decay=1e-3, maximize=True)
        net = fc.compile(m, x.shape, loss="cross_entropy", optimizer=opt, clip_grad_norm=0.05,
                         clip_norm_type=norm_type, device=dev)
        losses.append([net.train_step(x, y) for _ in range(4)])
    assert losses[0][-1] > losses[0][0]  # maximize: the loss grows
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_allclose(sb[k], sa[k], rtol=1e-5, atol=1e-6, err_msg=k)
