"""fastconv.nn: Module semantics, PyTorch state_dict keys/shapes/repr, default initialisation, state_dict round trips
with torch, tracing scopes, and each layer's forward/gradients vs the torch.nn layer with the same weights."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn

from conftest import rel_err, torch

tnn = torch.nn


def needs(*ops):
    """Skips until the named ops are registered (other families land in main independently)."""
    have = set(fc._C.op_names())
    missing = [o for o in ops if o not in have]
    assert not missing, f"ops missing from this build: {missing}"


# (fastconv layer, torch layer) pairs built with the same arguments.
LAYERS = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1)),
    ("Conv2d", (3, 8, 3), dict()),
    ("Conv2d", (4, 8, (3, 5)), dict(stride=(2, 1), padding=(1, 2), dilation=2, groups=2, bias=False)),
    ("Conv2d", (3, 6, 3), dict(padding="same")),
    ("Conv3d", (2, 4, 3), dict(padding=1)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1)),
    ("Linear", (20, 7), dict()),
    ("Linear", (5, 3), dict(bias=False)),
    ("BatchNorm1d", (5,), dict()),
    ("BatchNorm2d", (6,), dict(eps=1e-3, momentum=0.2)),
    ("BatchNorm2d", (6,), dict(affine=False, track_running_stats=False)),
    ("BatchNorm2d", (6,), dict(bias=False, momentum=None)),
    ("GroupNorm", (2, 6), dict()),
    ("LocalResponseNorm", (3,), dict()),
    ("MaxPool2d", (2,), dict()),
    ("AvgPool2d", (3,), dict(stride=2, padding=1)),
    ("AdaptiveAvgPool2d", ((2, 3),), dict()),
    ("MaxUnpool2d", (2,), dict()),
    ("Upsample", (), dict(scale_factor=2, mode="nearest")),
    ("Dropout", (0.3,), dict()),
    ("Dropout2d", (0.3,), dict()),
    ("ReLU", (), dict()),
    ("LeakyReLU", (0.2,), dict()),
    ("ELU", (), dict(alpha=0.5)),
    ("Sigmoid", (), dict()),
    ("Tanh", (), dict()),
    ("Softmax", (), dict(dim=1)),
    ("LogSoftmax", (), dict(dim=-1)),
    ("Flatten", (), dict()),
    ("Identity", (), dict()),
]


@pytest.mark.parametrize("name,args,kw", LAYERS, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(LAYERS)])
def test_layer_state_dict_and_repr_match_torch(name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(tnn, name)(*args, **kw)
    sd, tsd = ours.state_dict(), theirs.state_dict()
    assert list(sd) == list(tsd)
    for k in sd:
        assert tuple(sd[k].shape) == tuple(tsd[k].shape), k
    assert repr(ours) == repr(theirs)
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    assert [k for k, _ in ours.named_buffers()] == [k for k, _ in theirs.named_buffers()]


@pytest.mark.parametrize("name,args,kw", [c for c in LAYERS if c[0] in ("Conv2d", "Conv1d", "Conv3d",
                                                                         "ConvTranspose2d", "Linear")])
def test_default_init_matches_torch_distribution(name, args, kw):
    fc.manual_seed(0)
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(tnn, name)(*args, **kw)
    for k, p in ours.named_parameters():
        t = dict(theirs.named_parameters())[k].detach().numpy()
        # Both draw uniform(-b, b) with the same b = 1/sqrt(fan_in): compare the bound (max |x|) within sampling slack
        # and that nothing exceeds torch's bound.
        fan_in = nn.init._calculate_fan_in_and_fan_out(p if p.ndim > 1 else ours.weight)[0]
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(p).max() <= bound * (1 + 1e-6)
        assert np.abs(t).max() <= bound * (1 + 1e-6)
        if p.size >= 50:
            assert np.abs(p).max() > 0.8 * bound and abs(float(p.std()) - bound / math.sqrt(3)) < 0.3 * bound


def test_batchnorm_defaults():
    bn = nn.BatchNorm2d(4)
    assert np.all(bn.weight == 1) and np.all(bn.bias == 0) and np.all(bn.running_var == 1)
    assert bn.num_batches_tracked.shape == () and bn.num_batches_tracked.dtype == np.int64


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.BatchNorm2d(4))
        self.heads = nn.ModuleList([nn.Linear(4, 2), nn.Linear(4, 3)])
        self.scale = nn.Parameter(np.ones(1))
        self.register_buffer("offset", np.zeros(2, np.float32))


class TBlock(tnn.Module):
    def __init__(self):
        super().__init__()
        self.features = tnn.Sequential(tnn.Conv2d(3, 4, 3), tnn.ReLU(), tnn.BatchNorm2d(4))
        self.heads = tnn.ModuleList([tnn.Linear(4, 2), tnn.Linear(4, 3)])
        self.scale = tnn.Parameter(torch.ones(1))
        self.register_buffer("offset", torch.zeros(2))


def test_module_tree_keys_match_torch_and_round_trip():
    m, t = Block(), TBlock()
    assert list(m.state_dict()) == list(t.state_dict())
    assert [k for k, _ in m.named_modules()] == [k for k, _ in t.named_modules()]
    assert [k for k, _ in m.named_children()] == [k for k, _ in t.named_children()]
    assert len(list(m.parameters())) == len(list(t.parameters()))
    # torch -> fastconv: torch tensors accepted, copied in place (the same arrays keep their identity)
    w = m.features[0].weight
    m.load_state_dict(t.state_dict())
    assert m.features[0].weight is w
    for k, v in m.state_dict().items():
        assert np.array_equal(v, t.state_dict()[k].numpy()), k
    # fastconv -> torch
    for p in m.parameters():
        p[...] = np.random.default_rng(3).standard_normal(p.shape)
    t.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
    for k, v in t.state_dict().items():
        assert np.array_equal(v.numpy(), m.state_dict()[k]), k


def test_load_state_dict_errors():
    m = Block()
    sd = dict(m.state_dict())
    sd.pop("features.0.bias")
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "features.0.bias"'):
        m.load_state_dict(sd)
    sd = dict(m.state_dict(), extra=np.zeros(1))
    with pytest.raises(RuntimeError, match='Unexpected key\\(s\\) in state_dict: "extra"'):
        m.load_state_dict(sd)
    missing, unexpected = m.load_state_dict(sd, strict=False)
    assert unexpected == ["extra"] and missing == []
    sd = dict(m.state_dict())
    sd["heads.1.weight"] = np.zeros((3, 5), np.float32)
    with pytest.raises(RuntimeError, match=r"size mismatch for heads.1.weight.*\(3, 5\).*\(3, 4\)"):
        m.load_state_dict(sd)


def test_module_semantics():
    m = Block()
    assert m.train() is m and m.training and m.features[2].training
    assert m.eval() is m and not m.training and not m.features[2].training
    s = m.features
    assert len(s) == 3 and isinstance(s[0], nn.Conv2d) and isinstance(s[-1], nn.BatchNorm2d)
    assert len(s[1:]) == 2 and list(s[1:].state_dict()) == ["2.weight", "2.bias", "2.running_mean",
                                                             "2.running_var", "2.num_batches_tracked"]
    with pytest.raises(IndexError):
        s[5]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        m.nope
    with pytest.raises(TypeError, match="cannot assign 'ndarray' as parameter 'scale'"):
        m.scale = np.zeros(1)
    assert isinstance(m.scale, nn.Parameter) and m.scale.dtype == np.float32 and m.scale.requires_grad
    assert type(m.scale * 2) is np.ndarray
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


class Residual(nn.Module):
    """Plain-Python forward: a branch, a residual add and two outputs."""

    def __init__(self, d=4):
        super().__init__()
        self.a = nn.Parameter(np.full((1, d), 0.5))
        self.b = nn.Parameter(np.full((d,), -0.1))
        self.inner = nn.Sequential(nn.ReLU(), nn.Identity())

    def forward(self, x, twice=False):
        h = self.inner(x * self.a + self.b)
        if twice:
            h = h * self.a
        return h + x, h.sum() if hasattr(h, "ctx") else h.sum()


def test_eager_call_and_traced_call_agree():
    m = Residual()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    y, s = m(x, twice=True)
    ref = np.maximum(x * m.a + m.b, 0) * m.a + x
    assert np.allclose(y, ref, atol=1e-6) and np.isclose(s, (ref - x).sum(), atol=1e-5)
    net = fc.compile(m, (3, 4))
    y2, _ = net.predict(x)
    assert np.allclose(y2, np.maximum(x * m.a + m.b, 0) + x, atol=1e-6)


def test_parameters_are_bound_without_copy():
    m = Residual()
    x = np.ones((2, 4), np.float32)
    net = fc.compile(m, (2, 4))
    before = net.predict(x)[0]
    m.a[...] = 2.0  # in-place change is visible to the compiled graph
    after = net.predict(x)[0]
    assert not np.allclose(before, after) and np.allclose(after, np.maximum(2 * x - 0.1, 0) + x)
    m.load_state_dict({"a": np.full((1, 4), 3.0), "b": np.zeros(4)})
    assert np.allclose(net.predict(x)[0], 3 * x + x)


def test_trace_scopes_name_the_layer():
    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Identity(), Mismatch())

        def forward(self, x):
            return self.body(x)

    class Mismatch(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones((3,)))

        def forward(self, x):
            return x * self.w

    with pytest.raises(ValueError, match=r"in layer 'body\.1'.*cannot be broadcast"):
        fc.compile(Bad(), (2, 4))
    net = fc.compile(Residual(), (2, 4))
    assert "# inner.0" in net.schedule()


def test_flatten_and_sequential_eager():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert np.array_equal(nn.Sequential(nn.ReLU(), nn.Flatten())(x - 5), np.maximum(x - 5, 0).reshape(2, 12))
    with pytest.raises(IndexError, match="start_dim=3"):
        nn.Flatten(3)(x)


# ---- forward and gradients of every layer vs torch.nn (needs each family's ops) --------------------------------
FWD = [
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 9), ["conv1d"]),
    ("Conv2d", (3, 8, 3), dict(), (2, 3, 7, 6), ["conv2d"]),
    ("Conv2d", (4, 8, (3, 2)), dict(stride=(2, 1), padding=(1, 2), dilation=2, groups=2, bias=False),
     (1, 4, 9, 8), ["conv2d"]),
    ("Conv3d", (2, 4, 3), dict(padding=1), (1, 2, 4, 5, 4), ["conv3d"]),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 5, 5),
     ["conv_transpose2d"]),
    ("Linear", (20, 7), dict(), (3, 20), ["linear"]),
    ("BatchNorm2d", (6,), dict(eps=1e-3, momentum=0.2), (4, 6, 3, 3), ["batch_norm"]),
    ("BatchNorm1d", (5,), dict(), (8, 5), ["batch_norm"]),
    ("GroupNorm", (2, 6), dict(), (2, 6, 3, 4), ["group_norm"]),
    ("LocalResponseNorm", (3,), dict(), (2, 6, 3, 4), ["local_response_norm"]),
    ("MaxPool2d", (2,), dict(), (2, 3, 6, 7), ["max_pool2d"]),
    ("AvgPool2d", (3,), dict(stride=2, padding=1), (2, 3, 7, 6), ["avg_pool2d"]),
    ("AdaptiveAvgPool2d", ((2, 3),), dict(), (2, 3, 7, 8), ["adaptive_avg_pool2d"]),
    ("Upsample", (), dict(scale_factor=2, mode="nearest"), (2, 3, 3, 4), ["interpolate"]),
    ("LeakyReLU", (0.2,), dict(), (3, 7), ["leaky_relu"]),
    ("ELU", (), dict(alpha=0.5), (3, 7), ["elu"]),
    ("Sigmoid", (), dict(), (3, 7), ["sigmoid"]),
    ("Tanh", (), dict(), (3, 7), ["tanh"]),
    ("Softmax", (), dict(dim=1), (3, 7), ["softmax"]),
    ("LogSoftmax", (), dict(dim=-1), (3, 7), ["log_softmax"]),
    ("ReLU", (), dict(), (3, 7), []),
]


@pytest.mark.parametrize("name,args,kw,shape,ops", FWD, ids=[f"{f[0]}-{i}" for i, f in enumerate(FWD)])
def test_layer_forward_and_grads_match_torch(name, args, kw, shape, ops):
    needs(*ops)
    ours = getattr(nn, name)(*args, **kw)
    theirs = getattr(tnn, name)(*args, **kw).double()
    theirs.load_state_dict({k: torch.tensor(np.asarray(v, np.float64)) if v.dtype.kind == "f" else torch.tensor(v)
                            for k, v in ours.state_dict().items()})
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    out_shape = tuple(theirs.eval()(torch.tensor(x, dtype=torch.float64)).shape)  # eval: stats untouched
    theirs.train()
    w = np.random.default_rng(6).standard_normal(out_shape).astype(np.float32)
    for p in theirs.parameters():
        p.grad = None
    loss_fn = lambda out, y: (out * y).sum()  # noqa: E731 - a fixed random projection makes every output count
    net = fc.compile(ours, shape, loss=loss_fn, optimizer=fc.optim.SGD(list(ours.parameters()) or
                                                                       [nn.Parameter(np.zeros(1))], lr=0.0),
                     target_shape=w.shape)
    loss, grads = net.loss_and_grads(x, w)
    xt = torch.tensor(x, dtype=torch.float64)
    tl = (theirs(xt) * torch.tensor(w, dtype=torch.float64)).sum()
    if tl.requires_grad:
        tl.backward()
    assert abs(loss - tl.item()) <= 1e-4 * max(1, abs(tl.item()))
    for k, p in theirs.named_parameters():
        assert rel_err(grads[k], p.grad) <= 1e-4, k
    for k, b in theirs.named_buffers():  # running stats updated as torch updates them (one training step)
        assert rel_err(ours.state_dict()[k], b) <= 1e-4 if b.dtype.is_floating_point else True, k
    ours.eval()
    theirs.eval()
    assert rel_err(ours(x), theirs(xt)) <= 1e-4


def test_dropout_layers_in_compiled_steps():
    needs("dropout", "dropout2d")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones((1, 4, 1, 1)))
            self.drop = nn.Dropout(0.5)
            self.drop2 = nn.Dropout2d(0.25)

        def forward(self, x):
            return self.drop2(self.drop(x * self.w))

    m = Net()
    x = np.ones((64, 4, 6, 6), np.float32)
    net = fc.compile(m, x.shape, loss=lambda o, y: (o * y).mean(), optimizer=fc.optim.SGD(m.parameters(), lr=0.0),
                     target_shape=x.shape)
    outs = []
    for _ in range(2):
        net.train_step(x, x)
        outs.append(net.last_output)
    a, b = outs
    assert not np.array_equal(a, b)  # a new mask each step
    assert set(np.unique(a)) <= {0.0, np.float32(1 / (0.5 * 0.75))}
    assert abs((a != 0).mean() - 0.5 * 0.75) < 0.03
    chan = a.reshape(64, 4, -1)
    assert np.all((chan == 0).all(-1) | (chan != 0).any(-1))
    m.eval()
    assert np.array_equal(net.predict(x), x) and np.array_equal(m(x), x)
