"""Compiled models on device='cuda'. On a machine with a GPU, or with the CUDA emulator build (FASTCONV_CUDA=EMU,
which .ci/run builds and runs this file against: docs/cuda.md), the device tests run; elsewhere only the error
paths do. References: the same model compiled for the CPU (itself checked against PyTorch in the op tests), and
float64 NumPy where the model is small enough to write out."""
import os
import threading

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32) * 2


@pytest.mark.skipif(os.environ.get("FASTCONV_EXPECT_EMU") != "1", reason="set by .ci/run's emulator step")
def test_the_emulator_step_runs_the_device_tests():
    # Without this, a build that lost its device would skip every test below and still pass.
    assert fc.cuda.is_emulated() and fc.cuda.is_available() and fc.cuda.device_count() == 1


def test_device_argument_is_checked():
    m = nn.Sequential(nn.ReLU())
    for bad in ("gpu", "cuda:x", "cuda:-1", "tpu:0"):
        with pytest.raises(ValueError, match="argument 'device'"):
            fc.compile(m, (2, 3), device=bad)


@pytest.mark.skipif(fc.cuda.is_available(), reason="checks the message on machines without a CUDA device")
def test_cuda_without_a_device_says_why():
    with pytest.raises(RuntimeError, match="device='cpu'"):
        fc.compile(nn.Sequential(nn.ReLU()), (2, 3), device="cuda")


def _train_pair(make, opt, n_steps, x, y, loss="cross_entropy", **kw):
    """The same model trained on the CPU and on the device from the same weights: (cpu losses, device losses,
    cpu model, device model)."""
    fc.manual_seed(0)
    a = make()
    b = make()
    b.load_state_dict(a.state_dict())
    for ma, mb in zip(a.modules(), b.modules()):  # dropout layers draw their seeds when made
        if hasattr(ma, "seed"):
            mb.seed = ma.seed
    net_a = fc.compile(a, x.shape, loss=loss, optimizer=opt(a.parameters()), **kw)
    net_b = fc.compile(b, x.shape, loss=loss, optimizer=opt(b.parameters()), device="cuda", **kw)
    la = [net_a.train_step(x, y) for _ in range(n_steps)]
    lb = [net_b.train_step(x, y) for _ in range(n_steps)]
    return la, lb, a, b, net_b


def _assert_same_state(a, b, tol):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        w = np.asarray(sa[k], np.float64)
        d = np.abs(np.asarray(sb[k], np.float64) - w).max() if w.size else 0.0
        assert d <= tol * max(1.0, np.abs(w).max()), (k, d)


OPTIMIZERS = {
    "sgd_momentum": lambda p: fc.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-4),
    "sgd_nesterov": lambda p: fc.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
    "adam": lambda p: fc.optim.Adam(p, lr=1e-2),
    "adamw_amsgrad": lambda p: fc.optim.AdamW(p, lr=1e-2, amsgrad=True),
    "rmsprop_centered": lambda p: fc.optim.RMSprop(p, lr=1e-3, momentum=0.5, centered=True),
    "adadelta_maximize": lambda p: fc.optim.Adadelta(p, lr=0.5, weight_decay=1e-3, maximize=True),
    "adagrad_decay": lambda p: fc.optim.Adagrad(p, lr=1e-2, lr_decay=0.1, initial_accumulator_value=0.1),
}


@needs_device
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_training_steps_match_the_cpu(opt):
    # conv + batch norm (running statistics) + dropout (the mask follows the device step counter) + linear
    # (no conv bias before batch norm: its gradient is rounding noise, which Adam would amplify differently)
    make = lambda: nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.3),  # noqa
                                 nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 3 * 3, 5))
    x = _x((6, 2, 6, 6), 4)
    y = np.random.default_rng(5).integers(0, 5, 6)
    la, lb, a, b, net = _train_pair(make, OPTIMIZERS[opt], 4, x, y)
    np.testing.assert_allclose(lb, la, rtol=1e-4, atol=1e-6)
    assert la[-1] != la[0]  # it trained
    _assert_same_state(a, b, 1e-4)  # weights, running stats and the batch counter came back to the host
    assert net._main().exe.backend == "cuda"


@needs_device
def test_clipped_training_with_a_schedule_matches_the_cpu():
    make = lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 3))  # noqa: E731
    x = _x((5, 3, 4), 2)
    y = np.random.default_rng(3).integers(0, 3, 5)
    fc.manual_seed(0)
    a, b = make(), make()
    b.load_state_dict(a.state_dict())
    losses = []
    for m, dev in ((a, "cpu"), (b, "cuda")):
        opt = fc.optim.SGD(m.parameters(), lr=0.5, momentum=0.9)
        sched = fc.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
        net = fc.compile(m, x.shape, loss="cross_entropy", optimizer=opt, clip_grad_norm=0.05, device=dev)
        run = []
        for _ in range(5):
            run.append(net.train_step(x, y))
            sched.step()
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-4, atol=1e-6)
    _assert_same_state(a, b, 1e-4)


@needs_device
def test_host_edits_reach_the_device_before_the_next_call():
    m = nn.Sequential(nn.Linear(4, 3))
    x = _x((2, 4), 1)
    net = fc.compile(m, x.shape, device="cuda")
    first = net.predict(x)
    m[0].weight[...] *= -1.0
    m[0].bias[...] = 3.0
    want = x.astype(np.float64) @ m[0].weight.astype(np.float64).T + 3.0
    np.testing.assert_allclose(net.predict(x), want, rtol=1e-5, atol=1e-5)
    assert not np.allclose(first, want)


@needs_device
def test_device_index_out_of_range():
    with pytest.raises(ValueError, match="CUDA device"):
        fc.compile(nn.Sequential(nn.ReLU()), (2, 3), device=f"cuda:{fc.cuda.device_count()}")


@needs_device
def test_activation_model_predicts_as_float64_numpy_run_after_run():
    m = nn.Sequential(nn.LeakyReLU(0.1), nn.Sigmoid(), nn.Flatten(), nn.ReLU())
    net = fc.compile(m, (4, 3, 5, 7), device="cuda")
    for seed in range(3):  # the second and later runs replay a captured graph with new inputs
        x = _x((4, 3, 5, 7), seed)
        x64 = x.astype(np.float64)
        want = 1 / (1 + np.exp(-np.where(x64 > 0, x64, 0.1 * x64)))
        got = net.predict(x)
        assert isinstance(got, np.ndarray) and got.shape == (4, 105)
        np.testing.assert_allclose(got, want.reshape(4, 105), rtol=1e-6, atol=1e-7)


@needs_device
def test_prelu_weights_are_copied_to_the_device():
    m = nn.Sequential(nn.PReLU(3), nn.Tanh())
    m[0].weight[...] = np.array([0.1, -0.5, 2.0], np.float32)
    x = _x((2, 3, 4, 4))
    want = fc.compile(m, x.shape).predict(x)
    np.testing.assert_allclose(fc.compile(m, x.shape, device="cuda").predict(x), want, rtol=1e-6, atol=1e-7)


@needs_device
def test_prelu_trains_on_the_device_as_on_the_cpu():
    # prelu_backward's weight gradient: per-channel double parts, then one per channel or their sum (shared weight)
    for m in (nn.Sequential(nn.PReLU(3), nn.Flatten()), nn.Sequential(nn.PReLU(), nn.Flatten())):
        x, y = _x((2, 3, 4)), _x((2, 12), 1)
        la, ga = fc.compile(m, x.shape, loss="mse").loss_and_grads(x, y)
        lb, gb = fc.compile(m, x.shape, loss="mse", device="cuda").loss_and_grads(x, y)
        assert abs(la - lb) <= 1e-6 * abs(la) and set(ga) == set(gb) and ga
        for k in ga:
            np.testing.assert_allclose(gb[k], ga[k], rtol=1e-5, atol=1e-7)
            assert np.abs(ga[k]).max() > 0


@needs_device
@pytest.mark.parametrize("layer", ["channel_shuffle", "pixel_shuffle", "pixel_unshuffle", "reflect_pad",
                                   "circular_pad", "zero_pad"])
def test_shuffle_and_padding_layers_match_the_cpu(layer):
    make = {"channel_shuffle": lambda: nn.ChannelShuffle(2), "pixel_shuffle": lambda: nn.PixelShuffle(2),
            "pixel_unshuffle": lambda: nn.PixelUnshuffle(2), "reflect_pad": lambda: nn.ReflectionPad2d((1, 2, 0, 1)),
            "circular_pad": lambda: nn.CircularPad2d(1), "zero_pad": lambda: nn.ZeroPad2d((2, 0, 1, 1))}[layer]
    m = nn.Sequential(make(), nn.Tanh())
    x = _x((2, 4, 6, 4), 8)
    want = fc.compile(m, x.shape).predict(x)
    np.testing.assert_allclose(fc.compile(m, x.shape, device="cuda").predict(x), want, rtol=1e-6, atol=1e-7)


@needs_device
def test_concurrent_predict_on_one_device_model():
    m = nn.Sequential(nn.GELU(), nn.Flatten())
    cpu = fc.compile(m, (3, 2, 9))
    dev = fc.compile(m, (3, 2, 9), device="cuda")
    errors = []

    def work(t):
        for i in range(4):
            x = _x((3, 2, 9), 100 * t + i)
            d = np.abs(dev.predict(x) - cpu.predict(x)).max()
            if not d <= 1e-6:
                errors.append((t, i, d))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


POOL_MODELS = {
    "max2d": (lambda: nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1)), (2, 3, 9, 11)),
    "max2d_ceil_dil": (lambda: nn.Sequential(nn.MaxPool2d(2, stride=2, dilation=2, ceil_mode=True)), (1, 2, 9, 8)),
    "max1d": (lambda: nn.Sequential(nn.MaxPool1d(3, stride=2)), (2, 3, 17)),
    "max3d": (lambda: nn.Sequential(nn.MaxPool3d(2)), (1, 2, 4, 5, 6)),
    "avg2d_nopad_count": (lambda: nn.Sequential(nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)),
                          (2, 3, 10, 7)),
    "avg3d": (lambda: nn.Sequential(nn.AvgPool3d(2, stride=1)), (1, 2, 3, 4, 5)),
    "adaptive_avg": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d((3, 5))), (2, 3, 7, 11)),
    "adaptive_max": (lambda: nn.Sequential(nn.AdaptiveMaxPool2d(4)), (2, 3, 9, 10)),
    "global": (lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), (3, 4, 5, 6)),
    "up_nearest": (lambda: nn.Sequential(nn.Upsample(scale_factor=2)), (2, 3, 4, 5)),
    "up_bilinear": (lambda: nn.Sequential(nn.Upsample(size=(7, 9), mode="bilinear")), (2, 3, 4, 5)),
    "up_bilinear_ac": (lambda: nn.Sequential(nn.Upsample(scale_factor=3, mode="bilinear", align_corners=True)),
                       (1, 2, 3, 4)),
}


@needs_device
@pytest.mark.parametrize("name", sorted(POOL_MODELS))
def test_pooling_and_upsampling_match_the_cpu(name):
    make, shape = POOL_MODELS[name]
    m = make()
    x = _x(shape, 3)
    want = fc.compile(m, shape).predict(x)
    got = fc.compile(m, shape, device="cuda").predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


class _PoolUnpool(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)

    def forward(self, x):
        y, idx = self.pool(x)
        return self.unpool(y, idx)


@needs_device
def test_max_pool_indices_and_unpool_match_the_cpu():
    m = _PoolUnpool()
    x = _x((2, 3, 8, 6), 5)
    want = fc.compile(m, x.shape).predict(x)
    np.testing.assert_array_equal(fc.compile(m, x.shape, device="cuda").predict(x), want)


# The model zoo in eval mode, small widths (the emulator runs a GPU's threads one by one: seconds per model).
ZOO_CASES = [
    ("lenet5", dict(num_classes=10, in_channels=1), 32),
    ("vgg11_bn", dict(num_classes=10, in_channels=3, hidden=16, avgpool_size=1), 32),
    ("resnet18", dict(num_classes=10, in_channels=3), 32),
    ("fcn", dict(num_classes=4, in_channels=3, variant="8s"), 32),
    ("siamese_net", dict(embedding_dim=16, in_channels=1), 32),
    ("localization_net", dict(num_classes=3, in_channels=3), 32),
    ("googlenet", dict(num_classes=10, in_channels=3), 32),
    ("resnet50", dict(num_classes=10, in_channels=3, shortcut="A"), 32),
    ("unet", dict(num_classes=3, in_channels=1, base=8, depth=3), 32),
]


@needs_device
@pytest.mark.parametrize("name,kw,s", ZOO_CASES, ids=[c[0] for c in ZOO_CASES])
def test_zoo_model_predicts_as_on_the_cpu(name, kw, s):
    import fastconv.models as M
    fc.manual_seed(0)
    model = M.get(name, **kw).eval()
    x = _x((1, kw["in_channels"], s, s), 1)
    want = fc.compile(model, x.shape).predict(x)
    net = fc.compile(model, x.shape, device="cuda")
    assert any(f"{a}__cuda" in net.schedule()
               for a in ("im2col_gemm", "implicit_gemm", "winograd_f2x3", "depthwise"))
    for run in range(2):  # direct, then captured and replayed
        got = net.predict(x)
        outs = zip(got, want) if isinstance(want, tuple) else [(got, want)]
        for g, w in outs:
            assert g.shape == w.shape
            assert np.abs(g - w).max() <= 1e-5 * max(1.0, float(np.abs(w).max())), (name, run)
            assert np.abs(w).max() > 0


class _CatPermuteSlice(nn.Module):
    def forward(self, x):
        import fastconv.functional as F
        a = F.permute(x, (0, 2, 3, 1))
        return F.cat([a, F.relu(a), F.permute(x, (0, 2, 3, 1))], dim=-1)


@needs_device
def test_cat_and_permute_match_the_cpu():
    m = _CatPermuteSlice()
    x = _x((2, 3, 5, 4), 9)
    want = fc.compile(m, x.shape).predict(x)
    np.testing.assert_array_equal(fc.compile(m, x.shape, device="cuda").predict(x), want)


# A few training steps of each trainable zoo family, on the device and on the CPU from the same weights. Batch 4
# for ResNet: its last batch norms see one value per sample, so a batch of 2 makes the step ill-conditioned (the
# CPU's own reference kernels then differ from its fast ones by 10%). AlexNet, GoogLeNet and ResNet-50 train in their
# narrow variants (widths/hidden, width_mult, widths: the same layers, 8x fewer channels), whose full widths (4096-wide
# classifier, 1024/2048 channels) take minutes each under the emulator; their full-width forward is in ZOO_CASES.
# ResNet-50's 16 bottlenecks at init are chaotic: on the CPU alone a 1e-6 relative change of the input moves the
# second loss by 0.4-25% (every batch, width and input size tried), so it starts from zero_init_residual=True
# (torchvision's option: every block an identity at first; 1e-6 in, 1e-6 out), and bottleneck_resnet, one bottleneck
# per stage with the default initialisation (as well-conditioned as ResNet-18), trains every bottleneck layer from
# the first step.
ZOO_TRAIN = [
    ("lenet5", dict(num_classes=10, in_channels=1), 2, 32),
    ("lenet5_modern", dict(num_classes=10, in_channels=1), 2, 28),
    ("vgg11_bn", dict(num_classes=10, in_channels=3, hidden=16, avgpool_size=1), 2, 32),
    ("resnet18", dict(num_classes=10, in_channels=3, shortcut="A"), 4, 32),
    ("fcn", dict(num_classes=4, in_channels=3, variant="8s"), 2, 32),
    ("unet", dict(num_classes=3, in_channels=1, base=8, depth=3), 2, 32),
    ("siamese_net", dict(embedding_dim=16, in_channels=1), 2, 32),
    ("localization_net", dict(num_classes=3, in_channels=3, base=8), 4, 32),
    ("alexnet", dict(num_classes=10, in_channels=3, small_input=True, widths=(8, 24, 48, 32, 32), hidden=64), 2, 32),
    ("googlenet", dict(num_classes=10, in_channels=3, width_mult=0.125), 4, 32),
    ("resnet50", dict(num_classes=10, in_channels=3, widths=(8, 16, 32, 64), zero_init_residual=True), 4, 32),
    ("bottleneck_resnet", dict(num_classes=10, in_channels=3, block="bottleneck", layers=(1, 1, 1, 1),
                               widths=(8, 16, 32, 64)), 4, 32),
]


def _zoo_model(name, kw):
    import fastconv.models as M
    return M.ResNet(**kw) if name == "bottleneck_resnet" else M.get(name, **kw)


def _zoo_targets(name, kw, n, s, rng):
    """(target, loss, extra compile arguments) for a zoo model's training step."""
    import fastconv.models as M
    if name in ("fcn", "unet"):
        return rng.integers(0, kw["num_classes"], (n, s, s)), "cross_entropy", {}
    if name == "siamese_net":
        return rng.standard_normal((n, kw["embedding_dim"])).astype(np.float32), "mse", {}
    if name == "googlenet":  # training mode: (logits, aux2, aux1), the auxiliary heads weighted 0.3
        return rng.integers(0, kw["num_classes"], n), M.googlenet_loss, {}
    if name == "localization_net":
        c = kw["num_classes"]
        boxes = rng.uniform(0.1, 0.9, (n, 4)).astype(np.float32)
        y = M.pack_targets(rng.integers(0, c, n), boxes, np.arange(n) % 2, c)  # half the images hold an object
        return y, M.localization_loss, dict(target_shape=y.shape, target_dtype="float32")
    return rng.integers(0, kw["num_classes"], n), "cross_entropy", {}


@needs_device
@pytest.mark.parametrize("name,kw,n,s", ZOO_TRAIN, ids=[c[0] for c in ZOO_TRAIN])
def test_zoo_model_trains_as_on_the_cpu(name, kw, n, s):
    x = _x((n, kw["in_channels"], s, s), 2)
    y, loss, extra = _zoo_targets(name, kw, n, s, np.random.default_rng(3))
    sgd = lambda p: fc.optim.SGD(p, lr=0.01, momentum=0.9)  # noqa: E731
    fc.manual_seed(0)  # the weights _train_pair starts from
    start = {k: np.array(v, np.float64) for k, v in _zoo_model(name, kw).state_dict().items()}
    la, lb, a, b, net = _train_pair(lambda: _zoo_model(name, kw), sgd, 2, x, y, loss=loss, **extra)
    np.testing.assert_allclose(lb, la, rtol=1e-3)
    assert la[1] != la[0]  # the first step changed the weights
    _assert_same_state(a, b, 1e-3)
    # Many tensors move far less than that bound in two steps (ResNet-50's branches by ~1e-6): each tensor's
    # change from the start must also agree with the CPU's to 1% of that change, up to a few float32 ulps of the
    # weights themselves, so a wrong gradient of a layer that barely moves still fails. Not for ResNet-18 and
    # VGG-11-BN, whose steps at init amplify rounding to about 1% of some updates (they keep the bound above).
    if name in ("resnet18", "vgg11_bn"):
        return
    sa, sb = a.state_dict(), b.state_dict()
    for k, w0 in start.items():
        wa, wb = np.asarray(sa[k], np.float64), np.asarray(sb[k], np.float64)
        if w0.size:
            ulps = 4 * float(np.spacing(np.float32(np.abs(wa).max())))
            assert np.abs(wb - wa).max() <= 1e-2 * np.abs(wa - w0).max() + ulps, k
    assert net._main().exe.backend == "cuda"


@needs_device
def test_cli_train_on_cuda_learns_as_on_the_cpu(tmp_path):
    import re
    import subprocess
    import sys

    def train(device):
        out = tmp_path / device
        out.mkdir()
        r = subprocess.run([sys.executable, "-m", "fastconv", "train", "--epochs", "1", "--quiet", "--seed", "1",
                            "--device", device, "--out", str(out)], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, MPLBACKEND="Agg"))
        assert r.returncode == 0, r.stderr
        return float(re.search(r"test accuracy: ([0-9.]+)", r.stdout).group(1))

    acc_cpu, acc_cuda = train("cpu"), train("cuda")
    assert acc_cuda >= 0.5
    assert abs(acc_cuda - acc_cpu) <= 0.02


def test_module_to_checks_the_device():
    m = nn.Sequential(nn.ReLU())
    assert m.device == "cpu" and m.to("cpu") is m
    with pytest.raises(ValueError, match="Module.to: argument 'device'"):
        m.to("gpu")
    if not fc.cuda.is_available():
        with pytest.raises(RuntimeError, match="Module.to"):
            m.to("cuda")


@needs_device
def test_module_to_cuda_makes_compile_use_the_device():
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    x = _x((2, 4), 1)
    want = fc.compile(m, x.shape).predict(x)
    assert m.cuda() is m and m.device == "cuda:0"
    net = fc.compile(m, x.shape)
    assert net.device == "cuda:0" and net._main().exe.backend == "cuda"
    np.testing.assert_allclose(net.predict(x), want, rtol=1e-6, atol=1e-7)
    assert fc.compile(m, x.shape, device="cpu").device == "cpu"  # an explicit device wins
    assert m.cpu().device == "cpu"


CONV_LAYERS = {
    "conv2d_stride_pad": lambda: nn.Conv2d(3, 5, 3, stride=2, padding=1),
    "conv2d_dilation_groups": lambda: nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2),
    "conv2d_1x1": lambda: nn.Conv2d(3, 7, 1),
    "conv2d_depthwise_mult2": lambda: nn.Conv2d(3, 6, 3, padding=1, groups=3),
    "conv2d_same_even": lambda: nn.Conv2d(3, 4, 4, padding="same", bias=False),
    "conv1d": lambda: nn.Conv1d(3, 4, 5, stride=2, padding=2),
    "conv3d_depthwise": lambda: nn.Conv3d(3, 3, 3, padding=1, groups=3),
    "conv_transpose2d": lambda: nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
    "conv_transpose2d_groups": lambda: nn.ConvTranspose2d(4, 6, 2, stride=2, groups=2),
}


@needs_device
@pytest.mark.parametrize("name", sorted(CONV_LAYERS))
def test_conv_layers_forward_and_gradients_match_the_cpu(name):
    layer = CONV_LAYERS[name]
    shape = {"conv1d": (2, 3, 11), "conv3d_depthwise": (1, 3, 4, 5, 3),
             "conv2d_dilation_groups": (2, 4, 7, 9), "conv_transpose2d_groups": (2, 4, 5, 3)}.get(name, (2, 3, 7, 9))
    x = _x(shape, 6)
    fc.manual_seed(0)
    a = nn.Sequential(layer(), nn.Flatten())
    b = nn.Sequential(layer(), nn.Flatten())
    b.load_state_dict(a.state_dict())
    want = fc.compile(a, x.shape).predict(x)
    got = fc.compile(b, x.shape, device="cuda").predict(x)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    y = np.random.default_rng(7).standard_normal(want.shape).astype(np.float32)
    la, ga = fc.compile(a, x.shape, loss="mse").loss_and_grads(x, y)
    lb, gb = fc.compile(b, x.shape, loss="mse", device="cuda").loss_and_grads(x, y)
    assert lb == pytest.approx(la, rel=1e-5)
    assert ga.keys() == gb.keys() and ga
    for k in ga:
        np.testing.assert_allclose(gb[k], ga[k], rtol=1e-4, atol=1e-5 * max(1.0, float(np.abs(ga[k]).max())))


@needs_device
def test_device_memory_is_cached_between_calls_and_released_on_request():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten())
    x = _x((2, 3, 6, 6), 1)
    net = fc.compile(m, x.shape, device="cuda")
    net.predict(x)
    cached = fc.cuda.memory_cached()
    assert cached > 0  # the call's output buffers went back to the cache
    net.predict(x)
    assert fc.cuda.memory_cached() == cached  # ... and the next call took them again
    assert fc.cuda.empty_cache() == cached and fc.cuda.memory_cached() == 0
    np.testing.assert_allclose(net.predict(x), fc.compile(m, x.shape).predict(x), rtol=1e-5, atol=1e-6)
