"""fastconv.compile: whole-network gradients vs torch.autograd (float64) on identical weights, the compiled train
step, caching per shape, peak_bytes, schedule dumps and errors."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn

from conftest import rel_err, torch

tnn, TF = torch.nn, torch.nn.functional


def needs(*ops):
    have = set(fc._C.op_names())
    missing = [o for o in ops if o not in have]
    assert not missing, f"ops missing from this build: {missing}"


# Each builder makes the same network from either framework's namespace (M = fastconv.nn or torch.nn).
def vgg(M, Fn, cat):
    return M.Sequential(
        M.Conv2d(3, 8, 3, padding=1, bias=False), M.BatchNorm2d(8), M.ReLU(),
        M.Conv2d(8, 8, 3, padding=1), M.ReLU(), M.MaxPool2d(2),
        M.Conv2d(8, 16, 3, padding=1), M.ReLU(), M.MaxPool2d(2),
        M.Flatten(), M.Linear(16 * 2 * 2, 12), M.ReLU(), M.Linear(12, 5))


def residual(M, Fn, cat):
    class Res(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(4, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = M.BatchNorm2d(8)
            self.conv2 = M.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn2 = M.BatchNorm2d(8)
            self.shortcut = M.Sequential(M.Conv2d(4, 8, 1, stride=2, bias=False), M.BatchNorm2d(8))

        def forward(self, x):
            h = Fn.relu(self.bn1(self.conv1(x)))
            h = self.bn2(self.conv2(h))
            return Fn.relu(h + self.shortcut(x))
    return Res()


def inception(M, Fn, cat):
    class Inception(M.Module):
        def __init__(self):
            super().__init__()
            self.b1 = M.Conv2d(4, 3, 1)
            self.b2 = M.Sequential(M.Conv2d(4, 2, 1), M.ReLU(), M.Conv2d(2, 4, 3, padding=1))
            self.b3 = M.Sequential(M.Conv2d(4, 2, 1), M.ReLU(), M.Conv2d(2, 3, 5, padding=2))
            self.b4 = M.Sequential(M.MaxPool2d(3, stride=1, padding=1), M.Conv2d(4, 2, 1))

        def forward(self, x):
            return Fn.relu(cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1))
    return Inception()


def autoencoder(M, Fn, cat):
    class AE(M.Module):
        def __init__(self):
            super().__init__()
            self.enc = M.Conv2d(3, 6, 3, padding=1)
            self.pool = M.MaxPool2d(2, return_indices=True)
            self.mid = M.Conv2d(6, 6, 3, padding=1)
            self.unpool = M.MaxUnpool2d(2)
            self.up = M.ConvTranspose2d(6, 2, 3, stride=2, padding=1, output_padding=1)

        def forward(self, x):
            h, idx = self.pool(Fn.relu(self.enc(x)))
            h = self.unpool(Fn.relu(self.mid(h)), idx)
            return self.up(h)
    return AE()


NETS = [
    ("vgg", vgg, (2, 3, 8, 8), ["conv2d", "batch_norm", "max_pool2d", "linear"]),
    ("residual", residual, (2, 4, 7, 7), ["conv2d", "batch_norm"]),
    ("inception", inception, (2, 4, 6, 5), ["conv2d", "max_pool2d", "cat"]),
    ("autoencoder", autoencoder, (2, 3, 6, 8), ["conv2d", "max_pool2d", "max_unpool2d", "conv_transpose2d"]),
]


def twins(build):
    fc.manual_seed(1)
    ours = build(nn, F, fc.cat)
    theirs = build(tnn, TF, torch.cat).double()
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)).to(torch.float64 if v.dtype.kind == "f" else torch.int64)
                            for k, v in ours.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("name,build,shape,ops", NETS, ids=[n[0] for n in NETS])
def test_network_gradients_match_torch(name, build, shape, ops):
    needs(*ops)
    ours, theirs = twins(build)
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    xt = torch.tensor(x, dtype=torch.float64)
    out_t = theirs(xt)
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape)).astype(np.float32)
    net = fc.compile(ours, shape, loss=lambda o, y: (o * y).sum(), optimizer=fc.optim.SGD(ours.parameters(), lr=0.0),
                     target_shape=w.shape)
    loss, grads = net.loss_and_grads(x, w)
    tl = (out_t * torch.tensor(w, dtype=torch.float64)).sum()
    tl.backward()
    assert abs(loss - tl.item()) <= 1e-4 * max(1.0, abs(tl.item()))
    assert set(grads) == {k for k, p in theirs.named_parameters()}
    for k, p in theirs.named_parameters():
        assert rel_err(grads[k], p.grad) <= 1e-4, k
    for k, b in theirs.named_buffers():
        if b.dtype.is_floating_point:
            assert rel_err(ours.state_dict()[k], b) <= 1e-4, k
    ours.eval()
    theirs.eval()
    assert rel_err(net.predict(x), theirs(xt)) <= 1e-4


@pytest.mark.parametrize("name,build,shape,ops", NETS[:2], ids=[n[0] for n in NETS[:2]])
def test_train_steps_match_torch(name, build, shape, ops):
    needs(*ops, "cross_entropy")
    ours, theirs = twins(build)
    theirs = theirs.float()
    opt = fc.optim.SGD(ours.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0.9)
    net = fc.compile(ours, shape, loss="cross_entropy", optimizer=opt)
    r = np.random.default_rng(2)
    for _ in range(3):
        x = r.standard_normal(shape).astype(np.float32)
        out_shape = theirs.eval()(torch.tensor(x)).shape  # eval: running stats untouched
        theirs.train()
        y = r.integers(0, out_shape[1], size=(shape[0],) + tuple(out_shape[2:]))
        loss = net.train_step(x, y)
        topt.zero_grad()
        tl = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tl.backward()
        topt.step()
        assert abs(loss - tl.item()) <= 1e-4 * max(1.0, abs(tl.item()))
    for k, p in theirs.state_dict().items():
        if p.dtype.is_floating_point:
            assert rel_err(ours.state_dict()[k], p) <= 1e-4, k
        else:
            assert int(ours.state_dict()[k]) == int(p), k


# ---- engine behaviour with element-wise models (no family ops needed) ------------------------------------------
class Affine(nn.Module):
    def __init__(self, d=8):
        super().__init__()
        self.w = nn.Parameter(np.linspace(-1, 1, d).reshape(1, d))
        self.b = nn.Parameter(np.zeros(d))

    def forward(self, x):
        h = F.relu(x * self.w + self.b)
        return h * self.w, h.sum()


def mse(out, y):
    d = out[0] - y
    return (d * d).mean()


def test_peak_bytes_known_before_running_and_equals_arena():
    m = Affine()
    net = fc.compile(m, (4, 8), loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.1), target_shape=(4, 8))
    peak = net.peak_bytes
    assert peak > 0 and f"arena {peak} bytes" in net.schedule()
    prog = net._main()
    plan = prog.exe.plan()
    assert peak == max(b["offset"] + (b["size"] + 63) // 64 * 64 for b in plan)
    for i, a in enumerate(plan):  # no two buffers live at the same time overlap
        for b in plan[i + 1:]:
            if a["first"] <= b["last"] and b["first"] <= a["last"]:
                assert a["offset"] + a["size"] <= b["offset"] or b["offset"] + b["size"] <= a["offset"]
    assert "adam" not in net.schedule() and "sgd_update" in net.schedule()
    rep = net.memory_report()
    assert rep["peak_bytes"] == peak and rep["naive_bytes"] > peak and rep["inplace"] > 0
    assert "[in-place on %" in net.schedule()


def test_cache_per_input_shape_and_modes():
    m = Affine()
    net = fc.compile(m, (4, 8), loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.1), target_shape=(4, 8))
    n0 = len(net._cache)
    x = np.ones((4, 8), np.float32)
    net.train_step(x, x)
    net.train_step(x, x)
    assert len(net._cache) == n0
    net.train_step(np.ones((3, 8), np.float32), np.ones((3, 8), np.float32))
    assert len(net._cache) == n0 + 1
    net.predict(x)
    net.predict(x)
    k = len(net._cache)
    net.predict(np.ones((2, 8), np.float32))
    assert len(net._cache) == k + 1


def test_train_step_descends_and_predict_matches_eager():
    m = Affine()
    net = fc.compile(m, (16, 8), loss=mse, optimizer=fc.optim.Adam(m.parameters(), lr=0.05))
    r = np.random.default_rng(0)
    x = r.standard_normal((16, 8)).astype(np.float32)
    y = np.abs(x) * 0.5
    losses = [net.train_step(x, y) for _ in range(30)]
    assert losses[-1] < 0.6 * losses[0]
    out, s = net.predict(x)
    eo, es = m(x)
    assert np.allclose(out, eo, atol=1e-6) and np.isclose(s, es, rtol=1e-5)
    assert isinstance(net.last_output, tuple) and net.last_output[0].shape == (16, 8)


def test_plan_memory_switch_gives_same_results():
    r = np.random.default_rng(0)
    x = r.standard_normal((4, 8)).astype(np.float32)
    outs = []
    for plan in (True, False):
        m = Affine()
        net = fc.compile(m, (4, 8), loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
                         plan_memory=plan)
        for _ in range(3):
            net.train_step(x, x * 0.3)
        outs.append((m.w.copy(), net.peak_bytes))
    assert np.array_equal(outs[0][0], outs[1][0])
    assert outs[0][1] < outs[1][1]


def test_compile_errors():
    m = Affine()
    with pytest.raises(ValueError, match="argument 'precision' is 'fp16'; expected 'fp32', 'tf32' or 'bf16'"):
        fc.compile(m, (2, 8), precision="fp16")
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        fc.compile(m, (2, 8), loss="hinge")
    with pytest.raises(TypeError, match="fastconv.nn.Module"):
        fc.compile(lambda x: x, (2, 8))
    net = fc.compile(m, (2, 8))
    with pytest.raises(ValueError, match="compile the model with loss"):
        net.train_step(np.ones((2, 8)), np.ones((2, 8)))
    with pytest.raises(ValueError, match=r"mul: shapes \[2, 5\] and \[1, 8\] cannot be broadcast"):
        net.predict(np.ones((2, 5), np.float32))
    net2 = fc.compile(m, (2, 8), loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        net2.train_step(np.ones((2, 8)), np.ones((3, 8)))


def test_loss_strings():
    needs("cross_entropy", "mse_loss")
    m = Affine()
    single = nn.Sequential(nn.ReLU())
    net = fc.compile(single, (4, 3), loss="mse", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    y = np.zeros((4, 3), np.float32)
    assert np.isclose(net.train_step(x, y), float((np.maximum(x, 0) ** 2).mean()), rtol=1e-5)
    net = fc.compile(single, (4, 3), loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    t = torch.tensor(np.maximum(x, 0), dtype=torch.float64)
    lbl = np.array([0, 2, 1, 1])
    assert np.isclose(net.train_step(x, lbl), TF.cross_entropy(t, torch.tensor(lbl)).item(), rtol=1e-5)


def test_replacing_or_freezing_parameters_recompiles():
    m = Affine()
    net = fc.compile(m, (2, 8), loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.5), target_shape=(2, 8))
    x = np.ones((2, 8), np.float32)
    m.b = nn.Parameter(np.full(8, 5.0))  # a new object: the old graph's binding is stale
    assert np.allclose(net.predict(x)[0], (x * m.w + 5.0) * m.w)
    m.w.requires_grad = False
    w0 = m.w.copy()
    net.train_step(x, x)
    assert np.array_equal(m.w, w0)


def test_in_place_and_views_are_bit_identical_to_unplanned_on_every_op_family():
    """Planned execution (in-place outputs over dying inputs, flatten/reshape as views) must give exactly the
    results of one-buffer-per-value execution, for every op that declares inplace_input."""
    class Mix(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.bn = nn.BatchNorm2d(6)
            self.drop = nn.Dropout(0.2)
            self.fc1 = nn.Linear(6 * 4 * 4, 12)
            self.fc2 = nn.Linear(12, 5)

        def forward(self, x):
            h = F.leaky_relu(self.bn(self.conv(x)), 0.1)
            h = F.elu(F.max_pool2d(h, 2)) * F.sigmoid(F.avg_pool2d(h, 2))
            h = self.drop(F.tanh(h) + h)
            h = F.relu(self.fc1(F.flatten(h, 1)))
            return F.log_softmax(self.fc2(h), 1) + F.softmax(self.fc2(h), 1)

    needs("conv2d", "batch_norm", "leaky_relu", "elu", "sigmoid", "tanh", "dropout", "linear", "log_softmax",
          "softmax", "cross_entropy", "avg_pool2d", "flatten")
    r = np.random.default_rng(0)
    x = r.standard_normal((4, 3, 8, 8)).astype(np.float32)
    y = r.integers(0, 5, 4)
    results = []
    for plan in (True, False):
        fc.manual_seed(3)
        m = Mix()
        net = fc.compile(m, x.shape, loss="cross_entropy", optimizer=fc.optim.Adam(m.parameters(), lr=0.01),
                         plan_memory=plan)
        losses = [net.train_step(x, y) for _ in range(3)]
        results.append((losses, [p.copy() for p in m.parameters()], net.memory_report()))
    (l1, p1, r1), (l2, p2, r2) = results
    assert l1 == l2 and all(np.array_equal(a, b) for a, b in zip(p1, p2))
    assert r1["inplace"] > 5 and r1["views"] >= 1 and r1["peak_bytes"] < r2["peak_bytes"]
