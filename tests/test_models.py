"""fastconv.models: parameter counts (published numbers, the course's VGG-19 table and Inception module, formulas
written out here), output shapes at 32/64/224 (traced shapes everywhere, real forwards where cheap), one compiled
train step per family checked against a float64 torch loss on the step's own outputs, the localisation and
GoogLeNet losses vs torch, triplet training, the registry, save/load and error messages."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import fastconv as fc
import fastconv.models as M
import fastconv.nn as nn
from fastconv._trace import TraceContext
from fastconv.nn.module import binder_for

from conftest import rel_err, t64, torch

# The submodules (the package re-exports same-named constructors, which shadow them as attributes).
_googlenet_mod = importlib.import_module("fastconv.models.googlenet")
_resnet_mod = importlib.import_module("fastconv.models.resnet")

TF = torch.nn.functional


# ---- helpers ------------------------------------------------------------------------------------------------------
@pytest.fixture
def no_init(monkeypatch):
    """Skips random initialisation (the big VGG/AlexNet linear layers take seconds to fill) for tests that only
    count parameters or trace shapes: the arrays stay uninitialised, their shapes are what is tested."""
    monkeypatch.setattr(nn.init, "uniform_", lambda t, *a, **k: t)
    monkeypatch.setattr(nn.init, "normal_", lambda t, *a, **k: t)
    monkeypatch.setattr(_googlenet_mod, "trunc_normal_", lambda t, *a, **k: t)


def n_params(model) -> int:
    return int(sum(p.size for p in model.parameters()))


def traced_shapes(model, shape):
    """Output shape(s) from shape inference alone (nothing runs)."""
    with TraceContext() as ctx:
        out = model(ctx.input("x", shape, "float32"))

    def f(o):
        return tuple(f(v) for v in o) if isinstance(o, (tuple, list)) else tuple(o.shape)
    return f(out)


def conv_p(cin, cout, k, bias=True, groups=1):
    return cout * (cin // groups) * k * k + (cout if bias else 0)


def bn_p(c):
    return 2 * c


def lin_p(i, o):
    return i * o + o


def resnet_formula(block: str, layers, num_classes: int, shortcut: str, in_channels: int = 3,
                   widths=(64, 128, 256, 512)) -> int:
    """Parameter count of a torchvision-layout ResNet, written out from the paper's tables."""
    exp = 1 if block == "basic" else 4
    total = conv_p(in_channels, widths[0], 7, bias=False) + bn_p(widths[0])
    inpl = widths[0]
    for stage, (planes, n) in enumerate(zip(widths, layers)):
        for j in range(n):
            stride = 2 if stage > 0 and j == 0 else 1
            out = planes * exp
            if block == "basic":
                total += conv_p(inpl, planes, 3, False) + bn_p(planes) + conv_p(planes, planes, 3, False) + bn_p(planes)
            else:
                total += (conv_p(inpl, planes, 1, False) + bn_p(planes) + conv_p(planes, planes, 3, False)
                          + bn_p(planes) + conv_p(planes, out, 1, False) + bn_p(out))
            if shortcut == "C" or (shortcut == "B" and (stride != 1 or inpl != out)):
                total += conv_p(inpl, out, 1, False) + bn_p(out)
            inpl = out
    return total + lin_p(inpl, num_classes)


# ---- registry -----------------------------------------------------------------------------------------------------
ALL = ["alexnet", "fcn", "googlenet", "lenet5", "lenet5_modern", "localization_net", "resnet101", "resnet152",
       "resnet18", "resnet34", "resnet50", "siamese_net", "unet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
       "vgg16_bn", "vgg19", "vgg19_bn"]


def test_registry_lists_and_builds():
    assert M.list_models() == ALL
    m = M.get("ResNet18", num_classes=7, in_channels=1)
    assert isinstance(m, M.ResNet) and m.fc.out_features == 7 and m.conv1.in_channels == 1
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'; available: alexnet, fcn"):
        M.get("resnet19")
    with pytest.raises(TypeError, match="name must be a string"):
        M.get(18)


# ---- parameter counts -----------------------------------------------------------------------------------------------
PUBLISHED = [  # torchvision's model tables / the papers, 1000 classes, 3 input channels
    ("vgg11", {}, 132_863_336), ("vgg13", {}, 133_047_848), ("vgg16", {}, 138_357_544), ("vgg19", {}, 143_667_240),
    ("vgg11_bn", {}, 132_868_840), ("vgg13_bn", {}, 133_053_736), ("vgg16_bn", {}, 138_365_992),
    ("vgg19_bn", {}, 143_678_248),
    ("resnet18", {}, 11_689_512), ("resnet34", {}, 21_797_672), ("resnet50", {}, 25_557_032),
    ("resnet101", {}, 44_549_160), ("resnet152", {}, 60_192_808),
    ("googlenet", {}, 13_004_888), ("googlenet", dict(aux_logits=False), 6_624_904),
    ("alexnet", {}, 61_100_840), ("alexnet", dict(small_input=True), 61_100_840),
    ("alexnet", dict(original=True, lrn=True), 62_378_344),
    ("alexnet", dict(original=True, lrn=True, grouped=True), 60_965_224),
    ("lenet5", dict(num_classes=10, in_channels=1), 61_706),
    ("lenet5_modern", dict(num_classes=10, in_channels=1), 61_706),
]


@pytest.mark.parametrize("name,kw,count", PUBLISHED, ids=[f"{n}-{c}" for n, _, c in PUBLISHED])
def test_published_parameter_counts(no_init, name, kw, count):
    assert n_params(M.get(name, **kw)) == count


@pytest.mark.parametrize("block,layers,name", [("basic", (2, 2, 2, 2), "resnet18"), ("basic", (3, 4, 6, 3), "resnet34"),
                                               ("bottleneck", (3, 4, 6, 3), "resnet50")])
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_resnet_shortcut_options(no_init, block, layers, name, shortcut):
    m = M.get(name, num_classes=10, in_channels=1, shortcut=shortcut)
    assert n_params(m) == resnet_formula(block, layers, 10, shortcut, in_channels=1)
    keys = m.state_dict().keys()
    has_ds = [k for k in keys if ".downsample." in k]
    if shortcut == "A":
        assert not has_ds
    elif shortcut == "B":  # exactly the first block of stages 2-4 (and of stage 1 for bottlenecks)
        blocks = {k.split(".downsample")[0] for k in has_ds}
        assert blocks == ({"layer1.0"} if block == "bottleneck" else set()) | {"layer2.0", "layer3.0", "layer4.0"}
    else:
        assert len({k.split(".downsample")[0] for k in has_ds}) == sum(layers)


def test_resnet_formula_matches_published_option_b():
    assert resnet_formula("basic", (2, 2, 2, 2), 1000, "B") == 11_689_512
    assert resnet_formula("bottleneck", (3, 8, 36, 3), 1000, "B") == 60_192_808


def test_resnet_shortcut_a_zero_pads_and_subsamples():
    """Option A's shortcut: x[:, :, ::s, ::s] with zero channels appended (checked on the helper directly)."""
    x = np.random.default_rng(0).standard_normal((2, 3, 7, 6)).astype(np.float32)
    y = _resnet_mod.zero_pad_shortcut(x, 8, 2)
    ref = np.zeros((2, 8, 4, 3), np.float32)
    ref[:, :3] = x[:, :, ::2, ::2]
    np.testing.assert_array_equal(y, ref)
    with pytest.raises(ValueError, match="shortcut must be 'A'"):
        M.resnet18(shortcut="D")


# The course's Table 6.1 (VGG19): (layer type, output shape, learned parameters) for layers 1..24.
VGG19_TABLE = (
    [("conv", (64, 224, 224), 1_792), ("conv", (64, 224, 224), 36_928), ("pool", (64, 112, 112), 0),
     ("conv", (128, 112, 112), 73_856), ("conv", (128, 112, 112), 147_584), ("pool", (128, 56, 56), 0),
     ("conv", (256, 56, 56), 295_168)] + [("conv", (256, 56, 56), 590_080)] * 3 + [("pool", (256, 28, 28), 0),
     ("conv", (512, 28, 28), 1_180_160)] + [("conv", (512, 28, 28), 2_359_808)] * 3 + [("pool", (512, 14, 14), 0)]
    + [("conv", (512, 14, 14), 2_359_808)] * 4 + [("pool", (512, 7, 7), 0),
       ("fc", (4096,), 102_764_544), ("fc", (4096,), 16_781_312), ("fc", (1000,), 4_097_000)])


def test_vgg19_layer_table_from_course(no_init):
    model = M.vgg19()
    with TraceContext() as ctx:
        binder = binder_for(ctx, model)
        model(ctx.input("x", (1, 3, 224, 224), "float32"))
    kinds = {nn.Conv2d: "conv", nn.MaxPool2d: "pool", nn.Linear: "fc"}
    rows = [(kinds[type(m)], tuple(out.shape[1:]), sum(int(p.size) for p in m.parameters()))
            for m, _, out in binder.calls if type(m) in kinds]
    assert rows == VGG19_TABLE
    assert sum(p for _, _, p in rows) == 143_667_240  # the table's total
    assert sum(int(np.prod(s)) for _, s, _ in rows) == 16_391_656  # its total number of neurons


def test_inception_module_course_count():
    """The course's module 192 -> 256 (64 | 96->128 | 16->32 | pool->32), paper form: 163,696 parameters."""
    m = M.Inception(192, 64, 96, 128, 16, 32, 32, original=True)
    expect = (conv_p(192, 64, 1) + conv_p(192, 96, 1) + conv_p(96, 128, 3) + conv_p(192, 16, 1)
              + conv_p(16, 32, 5) + conv_p(192, 32, 1))
    assert n_params(m) == expect == 163_696
    assert m.branch3[1].conv.kernel_size == (5, 5) and m.branch1.bn is None
    x = np.random.default_rng(0).standard_normal((1, 192, 28, 28)).astype(np.float32)
    assert m(x).shape == (1, 256, 28, 28)
    # torchvision's form: no conv bias, BN(eps=1e-3), 3x3 in the "5x5" branch
    tv = M.Inception(192, 64, 96, 128, 16, 32, 32)
    assert n_params(tv) == (conv_p(192, 64, 1, False) + conv_p(192, 96, 1, False) + conv_p(96, 128, 3, False)
                            + conv_p(192, 16, 1, False) + conv_p(16, 32, 3, False) + conv_p(192, 32, 1, False)
                            + bn_p(64 + 96 + 128 + 16 + 32 + 32))
    assert tv.branch1.bn.eps == 1e-3


def unet_formula(nc, cin, base, depth):
    w = [base * 2 ** i for i in range(depth + 1)]

    def dc(a, b):
        return conv_p(a, b, 3, False) + bn_p(b) + conv_p(b, b, 3, False) + bn_p(b)
    total = sum(dc(cin if i == 0 else w[i - 1], w[i]) for i in range(depth)) + dc(w[depth - 1], w[depth])
    total += sum(w[i + 1] * w[i] * 4 + w[i] + dc(2 * w[i], w[i]) for i in range(depth))
    return total + conv_p(w[0], nc, 1)


def fcn_formula(nc, cin, backbone, variant, base=16):
    if backbone == "vgg16":
        widths, convs_per_stage, bn, hidden = [64, 128, 256, 512, 512], [2, 2, 3, 3, 3], False, 4096
    else:
        widths, convs_per_stage, bn, hidden = [base * m for m in (1, 2, 4, 8, 16)], [1, 1, 2, 2, 2], True, 32 * base
    total, c = 0, cin
    for w, n in zip(widths, convs_per_stage):
        for _ in range(n):
            total += conv_p(c, w, 3) + (bn_p(w) if bn else 0)
            c = w
    total += conv_p(c, hidden, 7) + conv_p(hidden, hidden, 1) + conv_p(hidden, nc, 1)
    up = {"32s": [64], "16s": [4, 32], "8s": [4, 4, 16]}[variant]
    total += sum(nc * nc * k * k for k in up)  # bias-free transposed convolutions
    if variant != "32s":
        total += conv_p(widths[3], nc, 1)
    if variant == "8s":
        total += conv_p(widths[2], nc, 1)
    return total


@pytest.mark.parametrize("backbone,variant", [("small", "32s"), ("small", "16s"), ("small", "8s"), ("vgg16", "16s")])
def test_fcn_parameter_count(no_init, backbone, variant):
    assert n_params(M.fcn(5, 3, backbone=backbone, variant=variant)) == fcn_formula(5, 3, backbone, variant)


@pytest.mark.parametrize("base,depth", [(16, 4), (8, 2), (4, 1)])
def test_unet_parameter_count(base, depth):
    assert n_params(M.unet(3, 2, base=base, depth=depth)) == unet_formula(3, 2, base, depth)


def test_small_heads_parameter_counts():
    e = M.siamese_net(32, in_channels=3, base=8)
    assert n_params(e) == (conv_p(3, 8, 3, False) + bn_p(8) + conv_p(8, 16, 3, False) + bn_p(16)
                           + conv_p(16, 32, 3, False) + bn_p(32) + lin_p(32, 32))
    loc = M.localization_net(3, in_channels=1, base=8)
    assert n_params(loc) == (conv_p(1, 8, 3, False) + bn_p(8) + conv_p(8, 16, 3, False) + bn_p(16)
                             + conv_p(16, 32, 3, False) + bn_p(32) + conv_p(32, 64, 3, False) + bn_p(64)
                             + lin_p(64, 3) + lin_p(64, 4) + lin_p(64, 1))
    v = M.vgg11_bn(10, hidden=64, avgpool_size=1)
    assert n_params(v) == 132_868_840 - lin_p(25088, 4096) - lin_p(4096, 4096) - lin_p(4096, 1000) + \
        lin_p(512, 64) + lin_p(64, 64) + lin_p(64, 10)


# ---- output shapes ------------------------------------------------------------------------------------------------
def _expected(name, kw, n, s):
    nc = kw.get("num_classes")
    if name in ("fcn", "unet"):
        return (n, nc, s, s)
    if name == "siamese_net":
        return (n, kw["embedding_dim"])
    if name == "localization_net":
        return ((n, nc), (n, 4), (n,))
    if name == "googlenet":
        return ((n, nc),) * 3  # training mode: (logits, aux2, aux1)
    return (n, nc)


SHAPE_CASES = [(name, dict(num_classes=7, in_channels=2)) for name in ALL
               if name not in ("alexnet", "siamese_net")] + [
    ("alexnet", dict(num_classes=7, in_channels=2, small_input=True)),
    ("alexnet", dict(num_classes=7, in_channels=2, lrn=True, original=True, small_input=True)),
    ("siamese_net", dict(embedding_dim=16, in_channels=2)),
    ("fcn", dict(num_classes=7, in_channels=2, backbone="vgg16", variant="8s")),
    ("fcn", dict(num_classes=7, in_channels=2, variant="32s")),
    ("resnet50", dict(num_classes=7, in_channels=2, shortcut="A")),
    ("resnet34", dict(num_classes=7, in_channels=2, shortcut="C")),
]


@pytest.mark.parametrize("name,kw", SHAPE_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SHAPE_CASES)])
def test_traced_output_shapes_32_64_224(no_init, name, kw):
    model = M.get(name, **kw)
    for s in (32, 64, 224):
        assert traced_shapes(model, (2, 2, s, s)) == _expected(name, kw, 2, s), s


def test_alexnet_default_needs_63_pixels_and_runs_at_64(no_init):
    m = M.alexnet(7, 2)
    assert traced_shapes(m, (1, 2, 63, 63)) == (1, 7)
    for s in (64, 224):
        assert traced_shapes(m, (1, 2, s, s)) == (1, 7)
    with pytest.raises(ValueError, match=r"AlexNet: input 32x32 is too small \(at least 63x63.*small_input=True"):
        traced_shapes(m, (1, 2, 32, 32))
    lrn = M.alexnet(lrn=True, original=True)
    assert [type(m).__name__ for m in lrn.features][:4] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    assert lrn.features[0].out_channels == 96 and lrn.features[2].alpha == 5e-4 and lrn.features[2].k == 2.0


def test_torchvision_key_names(no_init):
    """Weight keys as torchvision names them (indices written out from torchvision's layer lists)."""
    def weights(m):
        return [k[:-len(".weight")] for k in m.state_dict() if k.endswith(".weight")]
    assert weights(M.alexnet()) == [f"features.{i}" for i in (0, 3, 6, 8, 10)] + \
        [f"classifier.{i}" for i in (1, 4, 6)]
    assert weights(M.vgg16()) == [f"features.{i}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)] + \
        [f"classifier.{i}" for i in (0, 3, 6)]
    bn = M.vgg11_bn().state_dict()
    assert {"features.1.running_mean", "features.1.num_batches_tracked", "features.4.weight",
            "features.26.bias"} <= set(bn)
    r50 = M.resnet50().state_dict()
    assert {"layer1.0.downsample.0.weight", "layer1.0.downsample.1.running_var", "layer4.2.conv3.weight",
            "layer4.2.bn3.bias", "fc.weight"} <= set(r50) and "layer1.1.downsample.0.weight" not in r50


def test_alexnet_lrn_is_the_papers_formula():
    """b_c = a_c / (k + alpha * sum_{j=c-2..c+2} a_j^2)^beta with the paper's k=2, n=5, alpha=1e-4, beta=0.75 (the
    course's inter-channel LRN), computed here in float64."""
    lrn = M.alexnet(lrn=True, original=True, small_input=True).features[2]
    a = np.random.default_rng(9).standard_normal((2, 11, 5, 4)).astype(np.float32) * 20
    a64 = a.astype(np.float64)
    ref = np.empty_like(a64)
    for c in range(11):
        window = (a64[:, max(0, c - 2):min(11, c + 3)] ** 2).sum(1)
        ref[:, c] = a64[:, c] / (2.0 + 1e-4 * window) ** 0.75
    assert rel_err(lrn(a), ref) < 1e-5


# Real forwards (eval mode, batch 2 at 32x32 and 64x64; batch 1 at 224 where cheap).
RUN_CASES = [
    ("lenet5", dict(num_classes=10, in_channels=1), (32, 64, 224)),
    ("lenet5_modern", dict(num_classes=10, in_channels=3), (32,)),
    ("alexnet", dict(num_classes=10, in_channels=3, small_input=True, lrn=True, original=True), (32,)),
    ("vgg11_bn", dict(num_classes=10, in_channels=3, hidden=64), (32, 64)),
    ("googlenet", dict(num_classes=10, in_channels=3), (32, 64, 224)),
    ("resnet18", dict(num_classes=10, in_channels=3), (32, 64, 224)),
    ("resnet50", dict(num_classes=10, in_channels=3, shortcut="A"), (32, 64)),
    ("fcn", dict(num_classes=5, in_channels=3), (32, 64, 224)),
    ("unet", dict(num_classes=3, in_channels=1), (32, 64, 224)),
    ("siamese_net", dict(embedding_dim=16, in_channels=1), (32, 64, 224)),
    ("localization_net", dict(num_classes=3, in_channels=3), (32, 64, 224)),
]


@pytest.mark.parametrize("name,kw,sizes", RUN_CASES, ids=[c[0] for c in RUN_CASES])
def test_forward_runs(name, kw, sizes):
    fc.manual_seed(0)
    model = M.get(name, **kw).eval()
    rng = np.random.default_rng(1)
    for s in sizes:
        n = 1 if s == 224 else 2
        x = rng.standard_normal((n, kw["in_channels"], s, s)).astype(np.float32)
        out = model(x)
        exp = _expected(name, kw, n, s)
        if name == "googlenet":
            exp = exp[0]  # eval mode: logits only
        got = tuple(o.shape for o in out) if isinstance(out, tuple) else out.shape
        assert got == exp
        assert all(np.isfinite(o).all() for o in (out if isinstance(out, tuple) else (out,)))


def test_fcn_and_unet_any_input_size():
    """Sides that are not multiples of the total stride still come back at the input resolution."""
    x = np.random.default_rng(0).standard_normal((1, 3, 45, 37)).astype(np.float32)
    for variant in ("32s", "16s", "8s"):
        assert M.fcn(4, 3, variant=variant).eval()(x).shape == (1, 4, 45, 37)
    assert M.unet(4, 3, base=4, depth=3).eval()(x).shape == (1, 4, 45, 37)
    with pytest.raises(ValueError, match=r"UNet: input \(8, 8\) is too small for depth=4 \(at least 16 per side\)"):
        M.unet(2, 3).eval()(np.zeros((1, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match="FCN: input 16x16 is too small"):
        traced_shapes(M.fcn(2, 3), (1, 3, 16, 16))


def test_fcn_upsampling_starts_bilinear():
    """The transposed convolutions start as bilinear interpolation: torch's F.interpolate(bilinear,
    align_corners=False) agrees away from the border (where the padding differs)."""
    m = M.fcn(3, 3, variant="32s")
    rng = np.random.default_rng(0)
    s = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    up = fc.functional.conv_transpose2d(s, m.upscore.weight, None, 32, 16)
    ref = TF.interpolate(t64(s), scale_factor=32, mode="bilinear", align_corners=False)
    assert up.shape == (1, 3, 128, 128)
    assert rel_err(up[..., 16:-16, 16:-16], ref[..., 16:-16, 16:-16]) < 1e-5


# ---- one compiled training step per family --------------------------------------------------------------------------
def _ce64(logits, y):
    return TF.cross_entropy(t64(logits), torch.tensor(y)).item()


TRAIN_CASES = [
    ("lenet5", dict(num_classes=10, in_channels=1), 32),
    ("lenet5_modern", dict(num_classes=10, in_channels=1), 28),
    ("alexnet", dict(num_classes=10, in_channels=3, small_input=True), 32),
    ("vgg11_bn", dict(num_classes=10, in_channels=3, hidden=64, avgpool_size=1), 32),
    ("resnet18", dict(num_classes=10, in_channels=3, shortcut="A"), 32),
    ("resnet50", dict(num_classes=10, in_channels=3, shortcut="B"), 32),
    ("fcn", dict(num_classes=4, in_channels=3, variant="8s"), 32),
    ("unet", dict(num_classes=3, in_channels=1, base=8, depth=3), 32),
]


@pytest.mark.parametrize("name,kw,s", TRAIN_CASES, ids=[c[0] for c in TRAIN_CASES])
def test_train_step(name, kw, s):
    fc.manual_seed(0)
    model = M.get(name, **kw)
    rng = np.random.default_rng(2)
    n = 4
    x = rng.standard_normal((n, kw["in_channels"], s, s)).astype(np.float32)
    seg = name in ("fcn", "unet")
    y = rng.integers(0, kw["num_classes"], (n, s, s) if seg else (n,))
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    net = fc.compile(model, x.shape, loss="cross_entropy", optimizer=fc.optim.SGD(model.parameters(), lr=0.01))
    loss = net.train_step(x, y)
    out = net.last_output
    assert out.shape == ((n, kw["num_classes"], s, s) if seg else (n, kw["num_classes"]))
    assert abs(loss - _ce64(out, y)) <= 1e-4 * abs(loss)
    after = model.state_dict()
    # The gradient reached every parameter, except conv biases right before a BatchNorm: BN subtracts the channel
    # mean, so their gradient is zero in exact arithmetic (torchvision's vgg*_bn keeps them anyway).
    feats = getattr(model, "features", [])
    dead = {f"features.{i}.bias" for i in range(len(feats) - 1)
            if isinstance(feats[i], nn.Conv2d) and isinstance(feats[i + 1], nn.BatchNorm2d)}
    for k, p in model.named_parameters():
        if k not in dead:
            assert not np.array_equal(before[k], after[k]), k


def test_googlenet_train_step_and_aux_loss():
    fc.manual_seed(0)
    model = M.googlenet(num_classes=5, in_channels=3)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
    y = rng.integers(0, 5, (2,))
    net = fc.compile(model, x.shape, loss=M.googlenet_loss, optimizer=fc.optim.SGD(model.parameters(), lr=0.01),
                     target_shape=(2,), target_dtype="int64")
    loss = net.train_step(x, y)
    logits, aux2, aux1 = net.last_output
    ref = _ce64(logits, y) + 0.3 * (_ce64(aux1, y) + _ce64(aux2, y))
    assert abs(loss - ref) <= 1e-4 * abs(ref)
    assert not np.array_equal(aux1, aux2)
    # eval mode and aux_logits=False give the logits alone; the loss then is plain cross entropy
    assert model.eval()(x).shape == (2, 5)
    noaux = M.googlenet(5, 3, aux_logits=False)
    assert noaux.aux1 is None and traced_shapes(noaux, (2, 3, 32, 32)) == (2, 5)
    assert not any(k.startswith("aux") for k in noaux.state_dict())
    lg = rng.standard_normal((2, 5)).astype(np.float32)
    assert abs(float(M.googlenet_loss(lg, y)) - _ce64(lg, y)) < 1e-5


def test_googlenet_loss_gradients_vs_torch():
    rng = np.random.default_rng(4)
    outs = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(3)]
    y = rng.integers(0, 4, (3,))
    val, grads = fc.value_and_grad(lambda a, b, c: M.googlenet_loss((a, b, c), y), argnums=(0, 1, 2))(*outs)
    ts = [t64(o, requires_grad=True) for o in outs]
    yt = torch.tensor(y)
    ref = TF.cross_entropy(ts[0], yt) + 0.3 * (TF.cross_entropy(ts[2], yt) + TF.cross_entropy(ts[1], yt))
    ref.backward()
    assert rel_err(val, ref) < 1e-5
    for g, t in zip(grads, ts):
        assert rel_err(g, t.grad) < 1e-5


# ---- localisation ---------------------------------------------------------------------------------------------------
def _loc_case(n=6, c=3, seed=5):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, c)).astype(np.float32)
    boxes = rng.uniform(0.05, 0.95, (n, 4)).astype(np.float32)
    obj = rng.standard_normal((n,)).astype(np.float32)
    labels = rng.integers(0, c, (n,))
    tboxes = rng.uniform(0, 1, (n, 4)).astype(np.float32)
    present = np.array([1, 0, 1, 1, 0, 1][:n], np.float32)
    return logits, boxes, obj, labels, tboxes, present


def _torch_loc_loss(logits, boxes, obj, labels, tboxes, present, gamma, w):
    """The formula of the localization module docstring, term by term, in float64."""
    o = t64(present)
    ce = TF.cross_entropy(logits, torch.tensor(labels), reduction="none")
    box = ((boxes - t64(tboxes)) ** 2).mean(dim=1)
    bce = TF.binary_cross_entropy_with_logits(obj, o, reduction="none")
    return (o * ce + gamma * o * box + w * bce).mean()


@pytest.mark.parametrize("gamma,w", [(1.0, 1.0), (2.5, 0.5)])
def test_localization_loss_value_and_gradients_vs_torch(gamma, w):
    logits, boxes, obj, labels, tboxes, present = _loc_case()
    packed = M.pack_targets(labels, boxes=tboxes, objectness=present, num_classes=3)
    f = lambda a, b, c: M.localization_loss((a, b, c), packed, gamma=gamma, obj_weight=w)  # noqa: E731
    val, grads = fc.value_and_grad(f, argnums=(0, 1, 2))(logits, boxes, obj)
    ts = [t64(a, requires_grad=True) for a in (logits, boxes, obj)]
    ref = _torch_loc_loss(*ts, labels, tboxes, present, gamma, w)
    ref.backward()
    assert rel_err(val, ref) < 1e-5
    for g, t in zip(grads, ts):
        assert rel_err(g, t.grad) < 1e-5
    # the tuple form gives the same value; labels of images without an object are ignored
    labels2 = labels.copy()
    labels2[present == 0] = 2
    tup = M.localization_loss((logits, boxes, obj), (labels2, tboxes, present), gamma=gamma, obj_weight=w)
    assert abs(float(tup) - float(val)) < 1e-6


def test_localization_errors():
    logits, boxes, obj, labels, tboxes, present = _loc_case()
    with pytest.raises(ValueError, match=r"packed targets must have shape \[6, 8\]"):
        M.localization_loss((logits, boxes, obj), np.zeros((6, 7), np.float32))
    with pytest.raises(ValueError, match="must have the same length"):
        M.pack_targets(labels[:5], tboxes, present, 3)
    with pytest.raises(IndexError, match=r"must be in \[0, 3\)"):
        M.pack_targets(labels + 3, tboxes, present, 3)
    with pytest.raises(ValueError, match="LocalizationNet: input"):
        traced_shapes(M.localization_net(2, 3), (1, 3, 8, 8))


def test_localization_net_trains():
    fc.manual_seed(0)
    model = M.localization_net(num_classes=3, in_channels=3, base=8)
    rng = np.random.default_rng(6)
    n = 8
    x = rng.standard_normal((n, 3, 32, 32)).astype(np.float32)
    labels, boxes = rng.integers(0, 3, (n,)), rng.uniform(0, 1, (n, 4)).astype(np.float32)
    present = (rng.uniform(size=n) > 0.3).astype(np.float32)
    y = M.pack_targets(labels, boxes, present, 3)
    net = fc.compile(model, x.shape, loss=M.localization_loss, optimizer=fc.optim.Adam(model.parameters(), lr=1e-2),
                     target_shape=y.shape, target_dtype="float32")
    losses = [net.train_step(x, y) for _ in range(15)]
    out = net.last_output
    assert [o.shape for o in out] == [(n, 3), (n, 4), (n,)]
    assert ((out[1] > 0) & (out[1] < 1)).all()
    ref = _torch_loc_loss(*(t64(o) for o in out), labels, boxes, present, 1.0, 1.0).item()
    assert abs(losses[-1] - ref) <= 1e-4 * abs(ref)
    assert losses[-1] < 0.5 * losses[0]


# ---- siamese / triplet ----------------------------------------------------------------------------------------------
def test_triplet_training_reduces_loss():
    fc.manual_seed(0)
    rng = np.random.default_rng(7)
    n = 8
    # Two "identities": images are noisy copies of one of two prototypes.
    protos = rng.standard_normal((2, 1, 16, 16)).astype(np.float32)
    ids = rng.integers(0, 2, n)
    noisy = lambda k: (protos[k] + 0.5 * rng.standard_normal((n, 1, 16, 16))).astype(np.float32)  # noqa: E731
    a, p, neg = noisy(ids), noisy(ids), noisy(1 - ids)
    net = M.TripletNet(M.siamese_net(embedding_dim=8, in_channels=1, base=8))
    x = np.concatenate([a, p, neg])
    step = fc.compile(net, x.shape, loss=M.triplet_loss, optimizer=fc.optim.Adam(net.parameters(), lr=1e-2),
                      target_shape=(3 * n,), target_dtype="float32")
    dummy = np.zeros(3 * n, np.float32)
    losses = [step.train_step(x, dummy) for _ in range(12)]
    ea, ep, en = step.last_output
    ref = TF.triplet_margin_loss(t64(ea), t64(ep), t64(en)).item()
    assert abs(losses[-1] - ref) <= 1e-4 * max(abs(ref), 1e-3)
    assert losses[-1] < 0.5 * losses[0]
    # three separate inputs give the three embeddings of the shared network
    net.eval()
    e3 = net(a, p, neg)
    np.testing.assert_allclose(e3[0], net.get_embedding(a), rtol=1e-6)
    assert [e.shape for e in e3] == [(n, 8)] * 3
    with pytest.raises(ValueError, match="cannot be split into 3 equal parts"):
        net(np.zeros((4, 1, 16, 16), np.float32))
    with pytest.raises(ValueError, match="pass anchor, positive and negative"):
        net(a, p)


# ---- narrow variants (widths / hidden / width_mult; the defaults are the published counts above) -----------------
@pytest.mark.parametrize("shortcut", ["A", "B", "C"])
def test_resnet_widths(no_init, shortcut):
    m = M.resnet50(10, 2, shortcut, widths=(8, 16, 32, 64))
    assert n_params(m) == resnet_formula("bottleneck", (3, 4, 6, 3), 10, shortcut, 2, (8, 16, 32, 64))
    assert m.state_dict().keys() == M.resnet50(10, 2, shortcut).state_dict().keys()
    assert m.layer4[2].conv3.out_channels == 256 and m.fc.in_features == 256
    r18 = M.resnet18(10, widths=[4, 8, 8, 16])
    assert n_params(r18) == resnet_formula("basic", (2, 2, 2, 2), 10, "B", 3, (4, 8, 8, 16))
    assert traced_shapes(m, (2, 2, 32, 32)) == (2, 10)


def test_alexnet_widths_and_hidden(no_init):
    c, h = (8, 16, 12, 10, 6), 32
    m = M.alexnet(10, 2, small_input=True, widths=c, hidden=h)
    expect = (conv_p(2, c[0], 11) + conv_p(c[0], c[1], 5) + conv_p(c[1], c[2], 3) + conv_p(c[2], c[3], 3)
              + conv_p(c[3], c[4], 3) + lin_p(c[4] * 36, h) + lin_p(h, h) + lin_p(h, 10))
    assert n_params(m) == expect
    assert m.state_dict().keys() == M.alexnet(10, 2).state_dict().keys()
    assert traced_shapes(m, (2, 2, 32, 32)) == (2, 10)
    assert n_params(M.alexnet(widths=(64, 192, 384, 256, 256), hidden=4096)) == 61_100_840  # the defaults


def test_googlenet_width_mult(no_init):
    g = M.googlenet(10, 3, width_mult=0.125)
    full = M.googlenet(10, 3)
    assert g.state_dict().keys() == full.state_dict().keys()
    # every convolution's map count scaled and rounded (half up), inputs chained from the previous outputs
    for (k, a), (_, b) in zip(g.state_dict().items(), full.state_dict().items()):
        if k.endswith("conv.weight"):
            assert a.shape[0] == max(1, int(b.shape[0] / 8 + 0.5)), k
    assert g.conv1.conv.weight.shape == (8, 3, 7, 7) and g.conv3.conv.weight.shape == (24, 8, 3, 3)
    assert g.inception3a.out_channels == 8 + 16 + 4 + 4 == g.inception3b.branch1.conv.in_channels
    assert g.aux1.conv.conv.in_channels == g.inception4a.out_channels
    assert g.aux1.fc1.weight.shape == (128, 16 * 16) and g.fc.in_features == g.inception5b.out_channels == 128
    assert traced_shapes(g, (2, 3, 32, 32)) == ((2, 10),) * 3
    assert n_params(M.googlenet(width_mult=1.0)) == 13_004_888


def test_narrow_variants_save_and_load(tmp_path):
    fc.manual_seed(0)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32)).astype(np.float32)
    for i, m in enumerate([M.alexnet(5, small_input=True, widths=[4, 6, 8, 6, 4], hidden=8),
                           M.googlenet(5, width_mult=0.0625), M.resnet50(5, widths=(2, 4, 4, 8))]):
        m.eval()
        fc.save(m, tmp_path / f"m{i}.safetensors")
        back = fc.load(tmp_path / f"m{i}.safetensors").eval()
        assert back.state_dict().keys() == m.state_dict().keys()
        np.testing.assert_array_equal(back(x), m(x))


def test_narrow_variant_arguments_are_checked():
    with pytest.raises(ValueError, match="AlexNet: give either widths or original=True"):
        M.alexnet(original=True, widths=(8, 8, 8, 8, 8))
    with pytest.raises(ValueError, match=r"AlexNet: argument 'widths' must be a list of 5 .*got \(8, 8\)"):
        M.alexnet(widths=(8, 8))
    with pytest.raises(TypeError, match="AlexNet: argument 'widths' must be a list of 5 positive ints"):
        M.alexnet(widths=8)
    with pytest.raises(ValueError, match="AlexNet: argument 'widths' must hold positive ints"):
        M.alexnet(widths=(8, 8, 0, 8, 8))
    with pytest.raises(ValueError, match="AlexNet: argument 'hidden' must be a positive int, got 0"):
        M.alexnet(hidden=0)
    with pytest.raises(ValueError, match=r"GoogLeNet: argument 'width_mult' must be > 0.0, got -0.5"):
        M.googlenet(width_mult=-0.5)
    with pytest.raises(TypeError, match="GoogLeNet: argument 'width_mult' must be a number"):
        M.googlenet(width_mult="half")
    with pytest.raises(TypeError, match="ResNet: argument 'widths' must be a list of 4 positive ints"):
        M.resnet50(widths=16)
    with pytest.raises(ValueError, match=r"ResNet: argument 'widths' must be a list of 4 .*got \(8, 16, 32\)"):
        M.resnet50(widths=(8, 16, 32))
    with pytest.raises(TypeError, match="ResNet: argument 'widths' must be an int or a 4-tuple"):
        M.resnet18(widths=(8, 16, 32, 6.5))


# ---- misc -----------------------------------------------------------------------------------------------------------
def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="LeNet5: variant must be 'classic'"):
        M.lenet5(variant="new")
    with pytest.raises(ValueError, match="grouped=True .* needs original=True"):
        M.alexnet(grouped=True)
    with pytest.raises(ValueError, match="FCN: backbone must be 'small' or 'vgg16', got 'resnet'"):
        M.fcn(backbone="resnet")
    with pytest.raises(ValueError, match="FCN: variant must be"):
        M.fcn(variant="4s")
    with pytest.raises(ValueError, match=r"VGG: input \(16, 16\) is too small: 5 2x2 max pools need at least 32x32"):
        traced_shapes(M.vgg11_bn(hidden=8), (1, 3, 16, 16))
    with pytest.raises(ValueError, match="ResNet: block must be"):
        M.ResNet("wide")
    g = M.googlenet(5)
    assert traced_shapes(g, (2, 3, 16, 16)) == ((2, 5),) * 3
    with pytest.raises(ValueError, match=r"GoogLeNet: input \(15, 15\) is too small \(at least 16x16\)"):
        traced_shapes(g, (2, 3, 15, 15))


def test_save_load_roundtrip_and_summary(tmp_path):
    fc.manual_seed(0)
    m = M.resnet18(num_classes=4, in_channels=1, shortcut="C").eval()
    x = np.random.default_rng(8).standard_normal((2, 1, 32, 32)).astype(np.float32)
    path = tmp_path / "r18.safetensors"
    fc.save(m, path)
    m2 = fc.load(path).eval()
    assert type(m2) is M.ResNet and m2.shortcut == "C"
    np.testing.assert_array_equal(m2(x), m(x))
    text = M.resnet18().summary((3, 224, 224), print_fn=lambda s: None)
    assert "Trainable params: 11,689,512" in text
