"""Fusion passes (compile(..., fuse=True)): every rewrite gives what the unfused graph gives (forward, gradients,
several SGD-momentum train steps, running statistics; rel err <= 1e-5), each fires where it should (schedule and
fuse_stats) and not where an intermediate is needed elsewhere, BN folding happens only in inference programs, and
the fused train step matches PyTorch in float64."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn

from conftest import rel_err, t64, torch

TOL = 1e-5


# ---- networks, written against either namespace (M = fastconv.nn / torch.nn, Fn = functional) --------------------
def stack(M, Fn):
    """conv-bn-relu twice (the second conv with a bias, strided), a 1x1 conv + bias + relu, a linear head."""
    return M.Sequential(M.Conv2d(3, 6, 3, padding=1, bias=False), M.BatchNorm2d(6), M.ReLU(),
                        M.Conv2d(6, 8, 3, stride=2, padding=1), M.BatchNorm2d(8), M.ReLU(),
                        M.Conv2d(8, 8, 1), M.ReLU(), M.Flatten(), M.Linear(8 * 4 * 4, 5))


def resblock(M, Fn):
    """A ResNet basic block with a downsampling shortcut (conv + bn) and a second plain block."""
    class Block(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn1 = M.BatchNorm2d(8)
            self.conv2 = M.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn2 = M.BatchNorm2d(8)
            self.down = M.Sequential(M.Conv2d(3, 8, 1, stride=2, bias=False), M.BatchNorm2d(8))
            self.conv3 = M.Conv2d(8, 8, 3, padding=1)
            self.head = M.Linear(8 * 4 * 4, 5)

        def forward(self, x):
            h = Fn.relu(self.bn1(self.conv1(x)))
            h = Fn.relu(self.bn2(self.conv2(h)) + self.down(x))
            h = Fn.relu(self.conv3(h) + h)  # plain residual: conv + bias + add + relu in training too
            return self.head(Fn.flatten(h, 1))
    return Block()


def depthwise(M, Fn):
    """Depthwise conv + relu, conv1d-free but grouped paths and a residual onto a 1x1 conv."""
    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.dw = M.Conv2d(4, 8, 3, padding=1, groups=4)
            self.pw = M.Conv2d(8, 8, 1, bias=False)
            self.bn = M.BatchNorm2d(8, affine=False)
            self.head = M.Linear(8 * 8 * 8, 3)

        def forward(self, x):
            h = Fn.relu(self.dw(x))
            h = Fn.relu(self.bn(self.pw(h)) + h)
            return self.head(Fn.flatten(h, 1))
    return Net()


def seq1d(M, Fn):
    """conv1d + bn + relu, conv1d + bias + residual + relu: the 1-D fused ops and the fold on [N, C, L]."""
    class Net(M.Module):
        def __init__(self):
            super().__init__()
            self.c1 = M.Conv1d(3, 6, 3, padding=1, bias=False)
            self.bn = M.BatchNorm1d(6)
            self.c2 = M.Conv1d(6, 6, 3, padding=2, dilation=2)
            self.head = M.Linear(6 * 10, 5)

        def forward(self, x):
            h = Fn.relu(self.bn(self.c1(x)))
            h = Fn.relu(self.c2(h) + h)
            return self.head(Fn.flatten(h, 1))
    return Net()


NETS = {"stack": (stack, (4, 3, 8, 8)), "resblock": (resblock, (3, 3, 8, 8)), "depthwise": (depthwise, (2, 4, 8, 8)),
        "seq1d": (seq1d, (3, 3, 10))}


def pair(name, seed=0):
    """Two fastconv copies of net `name` with identical weights and non-trivial running statistics."""
    build, shape = NETS[name]
    np.random.seed(seed)
    a, b = build(nn, F), build(nn, F)
    rng = np.random.default_rng(seed)
    state = {}
    for k, v in a.state_dict().items():
        v = np.array(v, copy=True)
        if k.endswith("running_mean"):
            v = rng.standard_normal(v.shape).astype(np.float32) * 0.1
        elif k.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, v.shape).astype(np.float32)
        state[k] = v
    a.load_state_dict(state)
    b.load_state_dict(state)
    return a, b, shape


def data(shape, seed=1, classes=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0]).astype(np.int64)
    return x, y


def compile_pair(a, b, shape, classes=5, **kw):
    nets = []
    for m, fuse in ((a, True), (b, False)):
        opt = fc.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        nets.append(fc.compile(m, shape, loss="cross_entropy", optimizer=opt, fuse=fuse, **kw))
    return nets


def assert_states_equal(a, b, tol=TOL):
    sa, sb = a.state_dict(), b.state_dict()
    for k in sa:
        assert rel_err(np.asarray(sa[k], np.float64), np.asarray(sb[k], np.float64)) <= tol, k


# ---- equality: train steps, gradients, forward -------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(NETS))
def test_train_steps_equal_fused_and_unfused(name):
    a, b, shape = pair(name)
    fa, fb = compile_pair(a, b, shape)
    x, y = data(shape, classes=3 if name == "depthwise" else 5)
    for step in range(3):
        la, lb = fa.train_step(x, y), fb.train_step(x, y)
        assert abs(la - lb) <= TOL * max(1.0, abs(lb)), (step, la, lb)
        assert rel_err(fa.last_output, fb.last_output) <= TOL
    assert_states_equal(a, b)  # weights, biases and running statistics after three momentum steps
    st = fa.fuse_stats()
    assert st["bn_relu"] + st["conv_epilogue"] >= 1 and st["early_updates"] >= 1
    assert fb.fuse_stats() == dict.fromkeys(st, 0)


@pytest.mark.parametrize("name", sorted(NETS))
def test_gradients_equal_fused_and_unfused(name):
    a, b, shape = pair(name, seed=3)
    fa, fb = compile_pair(a, b, shape)
    x, y = data(shape, seed=4, classes=3 if name == "depthwise" else 5)
    la, ga = fa.loss_and_grads(x, y)
    lb, gb = fb.loss_and_grads(x, y)
    assert abs(la - lb) <= TOL * abs(lb)
    assert ga.keys() == gb.keys() and ga
    for k in ga:
        assert rel_err(ga[k], gb[k]) <= TOL, k


@pytest.mark.parametrize("name", sorted(NETS))
def test_eval_forward_with_bn_fold_equal(name):
    a, b, shape = pair(name, seed=5)
    a.eval(), b.eval()
    fa, fb = fc.compile(a, shape, fuse=True), fc.compile(b, shape, fuse=False)
    x, _ = data(shape, seed=6)
    assert rel_err(fa.predict(x), fb.predict(x)) <= TOL
    st = fa.fuse_stats("eval")
    assert st["bn_fold"] == sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in a.modules())
    sched = fa.schedule()
    assert "conv_bn_fold" in sched and "batch_norm " not in sched and "batch_norm <" not in sched


@pytest.mark.parametrize("name", sorted(NETS))
def test_training_mode_forward_equal_and_updates_running_stats(name):
    a, b, shape = pair(name, seed=7)
    fa, fb = fc.compile(a, shape, fuse=True), fc.compile(b, shape, fuse=False)
    x, _ = data(shape, seed=8)
    for _ in range(2):
        assert rel_err(fa.forward(x), fb.forward(x)) <= TOL
    assert_states_equal(a, b)
    sched = fa._program("forward", shape).exe.schedule()  # the training-mode forward program
    assert "conv_bn_fold" not in sched
    assert ("batch_norm_relu <" in sched) == (name != "depthwise")  # depthwise's bn feeds an add, not a relu
    assert "_fused <" in sched


def test_fold_follows_parameters_changed_by_training():
    # The folded weights are recomputed each run: an inference program compiled before training stays right.
    a, b, shape = pair("resblock", seed=9)
    fa, fb = compile_pair(a, b, shape)
    x, y = data(shape, seed=10)
    before = fa.predict(x)
    assert rel_err(before, fb.predict(x)) <= TOL
    for _ in range(2):
        fa.train_step(x, y), fb.train_step(x, y)
    after = fa.predict(x)
    assert rel_err(after, fb.predict(x)) <= TOL and rel_err(after, before) > 1e-3


# ---- where fusion must not happen ------------------------------------------------------------------------------
class ConvOut(nn.Module):
    """Returns the conv output itself next to its relu: the conv's result must stay a separate value."""
    def __init__(self, bn):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4) if bn else None

    def forward(self, x):
        z = self.conv(x)
        if self.bn is not None:
            z = self.bn(z)
        return z, F.relu(z)


class SharedUse(nn.Module):
    """The conv output feeds relu and another op."""
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x):
        z = self.conv(x)
        return F.relu(z) + z * 2.0


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_no_fusion_when_intermediate_is_an_output(mode):
    x, _ = data((2, 3, 6, 6))
    for bn in (False, True):
        np.random.seed(0)
        a = ConvOut(bn)
        b = ConvOut(bn)
        b.load_state_dict(a.state_dict())
        getattr(a, mode)(), getattr(b, mode)()
        fa, fb = fc.compile(a, x.shape, fuse=True), fc.compile(b, x.shape, fuse=False)
        oa, ob = fa.forward(x), fb.forward(x)
        for u, v in zip(oa, ob):
            assert rel_err(u, v) <= TOL
        st = fa.fuse_stats("forward")
        assert st["conv_epilogue"] == 0 and st["bn_relu"] == 0, st
        assert st["bn_fold"] == int(bn and mode == "eval"), st  # the conv's own output is not returned: it folds


def test_no_fusion_when_intermediate_has_another_reader():
    x, _ = data((2, 3, 6, 6))
    np.random.seed(0)
    a, b = SharedUse(), SharedUse()
    b.load_state_dict(a.state_dict())
    fa, fb = fc.compile(a, x.shape, fuse=True), fc.compile(b, x.shape, fuse=False)
    assert rel_err(fa.forward(x), fb.forward(x)) <= TOL
    assert fa.fuse_stats("forward")["conv_epilogue"] == 0


def test_eval_bn_with_gradient_is_not_folded():
    # Batch norm in eval mode inside a differentiated graph (frozen statistics, trained conv): the conv output feeds
    # batch_norm_backward too, so it must not be folded away; relu + bn fusions still apply.
    rng = np.random.default_rng(11)
    g = fc._C.Graph()
    x = g.input("x", [2, 3, 5, 5])
    w = g.param("w", rng.standard_normal((4, 3, 3, 3)).astype(np.float32))
    rm = g.param("rm", rng.standard_normal(4).astype(np.float32), False)
    rv = g.param("rv", rng.uniform(0.5, 2, 4).astype(np.float32), False)
    z = g.add("conv2d", [x, w], {"padding": 1})[0]
    h = g.add("batch_norm", [z, rm, rv], {"has_running": True, "training": False})[0]
    loss = g.add("sum", [g.add("relu", [h])[0]])[0]
    (gw,) = g.append_backward(loss, [w])
    fused = fc._C.Executable(g, [loss, gw], "cpu", True, True)
    plain = fc._C.Executable(g, [loss, gw])
    xv = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    for e in (fused, plain):
        e.set_input(x, xv)
        e.run()
    assert rel_err(fused.output(gw), plain.output(gw)) <= TOL
    assert rel_err(fused.output(loss), plain.output(loss)) <= TOL
    st = fused.fuse_stats
    assert st["bn_fold"] == 0 and st["bn_relu"] == 1 and st["bn_relu_backward"] == 1, st
    assert "conv_bn_fold" not in fused.schedule()


# ---- schedule, memory, planner invariants ---------------------------------------------------------------------
def test_schedule_shows_fused_ops_and_unfused_does_not():
    a, b, shape = pair("resblock")
    fa, fb = compile_pair(a, b, shape)
    s = fa.schedule()
    for op in ("batch_norm_relu <", "batch_norm_relu_backward <", "conv2d_fused <"):
        assert op in s, op
    assert "+ bias add relu" in s  # conv3's epilogue: bias, residual add, relu
    a2, b2, shape2 = pair("stack")
    assert "gemm_1x1 + bias relu (in-loop)" in compile_pair(a2, b2, shape2)[0].schedule()
    u = fb.schedule()
    assert "_fused" not in u and "batch_norm_relu" not in u
    st = fa.fuse_stats()
    assert st["bn_relu"] == 2 and st["bn_add_relu"] == 1 and st["bn_relu_backward"] == 1, st
    assert st["conv_residual"] == 1 and "batch_norm_add_relu <batch_norm__channels + add + relu>" in s
    assert fa.memory_report()["fused"] == st


def test_fused_plan_has_no_overlapping_live_buffers_and_is_smaller():
    a, b, shape = pair("resblock")
    fa, fb = compile_pair(a, b, shape)
    plan = fa._main().exe.plan()
    for i, p in enumerate(plan):
        for q in plan[i + 1:]:
            if p["first"] <= q["last"] and q["first"] <= p["last"]:
                assert p["offset"] + p["size"] <= q["offset"] or q["offset"] + q["size"] <= p["offset"], (p, q)
    assert fa.peak_bytes <= fb.peak_bytes


# ---- every conv algorithm and both norm kernels under the fused ops ------------------------------------------
@pytest.mark.parametrize("algo", ["ref", "im2col_gemm", "winograd_f4x3", "gemm_1x1", "depthwise_direct"])
def test_each_conv_algorithm_fused_equals_unfused(monkeypatch, algo):
    monkeypatch.setenv("FASTCONV_ALGO", f"conv={algo}")
    for name in ("resblock", "depthwise"):
        a, b, shape = pair(name, seed=13)
        fa, fb = compile_pair(a, b, shape)
        x, y = data(shape, seed=14, classes=3)
        for _ in range(2):
            la, lb = fa.train_step(x, y), fb.train_step(x, y)
            assert abs(la - lb) <= TOL * max(1.0, abs(lb))
        assert_states_equal(a, b)
        if name == "resblock" and algo in ("im2col_gemm", "ref", "winograd_f4x3"):
            # conv3 + bias + add + relu: inside the im2col kernel's image loop, else after the kernel
            in_loop = "im2col_gemm + bias add relu (in-loop)" in fa.schedule()
            assert in_loop == (algo == "im2col_gemm") and " + bias add relu" in fa.schedule()
        a.eval(), b.eval()
        assert rel_err(fc.compile(a, shape, fuse=True).predict(x), fc.compile(b, shape, fuse=False).predict(x)) <= TOL


@pytest.mark.parametrize("name", ["stack", "resblock"])
def test_reference_norm_kernels_fused_equal_unfused(monkeypatch, name):
    monkeypatch.setenv("FASTCONV_ALGO", "norm=ref")
    a, b, shape = pair(name, seed=15)
    fa, fb = compile_pair(a, b, shape)
    x, y = data(shape, seed=16)
    for _ in range(2):
        la, lb = fa.train_step(x, y), fb.train_step(x, y)
        assert abs(la - lb) <= TOL * max(1.0, abs(lb))
    assert_states_equal(a, b)
    assert "relu mask + ref" in fa.schedule() and "batch_norm_relu <ref + relu>" in fa.schedule()
    assert (name == "resblock") == ("<ref + add + relu>" in fa.schedule())


# ---- conv epilogue over drawn geometries (the graph API directly) ------------------------------------------------
@settings(deadline=None, max_examples=30)
@given(n=st.integers(0, 3), c=st.integers(1, 6), k=st.integers(1, 6), hw=st.integers(1, 9), ks=st.sampled_from([1, 3, 5]),
       stride=st.integers(1, 2), pad=st.integers(0, 2), groups=st.sampled_from([1, 2]), bias=st.booleans(),
       residual=st.booleans(), relu=st.booleans(), seed=st.integers(0, 2**16))
def test_conv_epilogue_drawn_configs_equal_unfused(n, c, k, hw, ks, stride, pad, groups, bias, residual, relu, seed):
    if not (residual or relu):
        relu = True
    c, k = c * groups, k * groups
    if hw + 2 * pad < ks:
        pad = (ks - hw + 1) // 2
    rng = np.random.default_rng(seed)
    g = fc._C.Graph()
    x = g.input("x", [n, c, hw, hw])
    w = g.param("w", rng.standard_normal((k, c // groups, ks, ks)).astype(np.float32))
    ins = [x, w] + ([g.param("b", rng.standard_normal(k).astype(np.float32))] if bias else [])
    z = g.add("conv2d", ins, {"stride": stride, "padding": pad, "groups": groups})[0]
    shape = list(g.shape(z))
    r = g.input("r", shape) if residual else None
    out = g.add("add", [z, r])[0] if residual else z
    out = g.add("relu", [out])[0] if relu else out
    loss = g.add("sum", [out])[0]
    wrt = [x, w] + ins[2:] + ([r] if residual else [])
    grads = g.append_backward(loss, wrt)
    xv = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    rv = rng.standard_normal(shape).astype(np.float32)
    res = []
    for fuse in (True, False):
        e = fc._C.Executable(g, [out] + list(grads), "cpu", True, fuse)
        e.set_input(x, xv)
        if residual:
            e.set_input(r, rv)
        e.run()
        res.append([e.output(v) for v in [out] + list(grads)])
        if fuse:
            assert e.fuse_stats["conv_epilogue"] == 1 and e.fuse_stats["conv_residual"] == int(residual)
    for u, v in zip(*res):
        assert rel_err(u, v) <= TOL


# ---- the fused step against PyTorch (float64) -------------------------------------------------------------------
def test_fused_residual_gradients_match_torch_float64():
    a, _, shape = pair("resblock", seed=17)
    opt = fc.optim.SGD(a.parameters(), lr=0.05, momentum=0.9)
    net = fc.compile(a, shape, loss="cross_entropy", optimizer=opt, fuse=True)
    x, y = data(shape, seed=18)
    loss, grads = net.loss_and_grads(x, y)
    tm = resblock(torch.nn, torch).double()
    tm.load_state_dict({k: t64(v) for k, v in a.state_dict().items()})
    tm.train()
    tl = torch.nn.functional.cross_entropy(tm(t64(x)), torch.from_numpy(y))
    tl.backward()
    assert abs(loss - tl.item()) <= 1e-4 * abs(tl.item())
    tg = dict(tm.named_parameters())
    for k, g in grads.items():
        assert rel_err(g, tg[k].grad) <= 1e-4, k


def test_executable_fuse_flag_and_errors():
    g = fc._C.Graph()
    x = g.input("x", [2, 3, 5, 5])
    w = g.param("w", np.ones((4, 3, 3, 3), np.float32))
    z = g.add("conv2d", [x, w], {"padding": 1})[0]
    r = g.add("relu", [z])[0]
    fused = fc._C.Executable(g, [r], "cpu", True, True)
    plain = fc._C.Executable(g, [r])
    assert fused.fuse_stats["conv_epilogue"] == 1 and plain.fuse_stats["conv_epilogue"] == 0
    xv = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype(np.float32)
    for e in (fused, plain):
        e.set_input(x, xv)
        e.run()
    assert rel_err(fused.output(r), plain.output(r)) <= TOL
    # Fused ops check their own inputs (a wrong residual shape names the argument and both shapes).
    res = g.input("res", [2, 4, 4, 4])
    with pytest.raises(ValueError, match=r"conv2d_fused: argument 'residual' must be float32\[2, 4, 5, 5\]"):
        g.add("conv2d_fused", [x, w, res], {"padding": 1, "has_residual": True, "relu": True})
