"""The engine owns the model: parameters and buffers are C++ memory (Python holds views), the training program
(backward, clipping, updates, step and batch counters) is built in C++ from the traced forward graph and a spec,
per-step scalars are device tensors the step itself updates, and a compiled model keeps a bounded set of programs."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
from conftest import torch


def test_parameters_and_buffers_live_in_engine_memory():
    before = fc.memory_allocated()
    lin = nn.Linear(300, 200)
    bn = nn.BatchNorm2d(64)
    grew = fc.memory_allocated() - before
    want = (300 * 200 + 200) * 4 + 64 * 4 * 4 + 8  # weight, bias; gamma, beta, running mean/var; the batch counter
    assert grew == want
    for a in (lin.weight, lin.bias, bn.running_mean, bn.num_batches_tracked):
        base = a
        while isinstance(base, np.ndarray):
            assert not base.flags.owndata
            base = base.base
        assert type(base).__name__ == "PyCapsule"  # a view of a C++ tensor, not NumPy-owned memory
    lin.weight[...] = 1.0  # and a writeable, ordinary array for the user
    assert float(lin.weight.sum()) == 300 * 200


def test_training_program_is_built_in_cpp_and_counts_its_own_steps():
    fc.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Dropout(0.2), nn.Flatten(),
                      nn.Linear(3 * 6 * 6, 2))
    opt = fc.optim.Adam(m.parameters(), lr=1e-2)
    net = fc.compile(m, (4, 1, 6, 6), loss="cross_entropy", optimizer=opt, clip_grad_norm=1.0)
    sched = net.schedule()
    assert "counter_increment" in sched and "clip_grad_coef" in sched and sched.count("adam_update") == 6
    x = np.random.default_rng(1).standard_normal((4, 1, 6, 6)).astype(np.float32)
    y = np.array([0, 1, 1, 0])
    for k in range(1, 4):
        net.train_step(x, y)
        assert opt._cstate.steps == k  # the step's own counter node, not Python bookkeeping
        assert int(m[1].num_batches_tracked) == k
    net.predict(x)  # eval: no batch statistics, no count
    assert int(m[1].num_batches_tracked) == 3
    assert set(opt.state[id(m[0].weight)]) == {"exp_avg", "exp_avg_sq"}


def test_learning_rate_is_a_device_tensor_set_without_recompiling():
    m = nn.Linear(3, 1)
    opt = fc.optim.SGD(m.parameters(), lr=0.1)
    net = fc.compile(m, (2, 3), loss="mse", optimizer=opt)
    x, y = np.ones((2, 3), np.float32), np.zeros((2, 1), np.float32)
    net.train_step(x, y)
    programs = dict(net._cache)
    opt.param_groups[0]["lr"] = 0.0
    w = m.weight.copy()
    net.train_step(x, y)
    assert np.array_equal(m.weight, w) and opt._cstate.lr(0) == 0.0  # lr 0: nothing moves
    assert dict(net._cache) == programs  # same programs: lr is data, not part of the compiled step


def test_optimizer_state_is_shared_by_programs_of_every_batch_size():
    # Adam's bias correction depends on the step count: a second batch size must continue it, not restart it.
    def run(sizes):
        fc.manual_seed(3)
        m = nn.Linear(4, 2)
        opt = fc.optim.Adam(m.parameters(), lr=0.05)
        net = fc.compile(m, (sizes[0], 4), loss="mse", optimizer=opt)
        r = np.random.default_rng(0)
        for n in sizes:
            net.train_step(r.standard_normal((n, 4)).astype(np.float32), r.standard_normal((n, 2)).astype(np.float32))
        return m, opt
    m, opt = run([5, 3, 5, 3])
    tm = torch.nn.Linear(4, 2)
    fc.manual_seed(3)
    ref = nn.Linear(4, 2)
    with torch.no_grad():
        tm.weight.copy_(torch.tensor(ref.weight)), tm.bias.copy_(torch.tensor(ref.bias))
    topt = torch.optim.Adam(tm.parameters(), lr=0.05)
    r = np.random.default_rng(0)
    for n in [5, 3, 5, 3]:
        xb, yb = torch.tensor(r.standard_normal((n, 4)).astype(np.float32)), torch.tensor(
            r.standard_normal((n, 2)).astype(np.float32))
        topt.zero_grad()
        torch.nn.functional.mse_loss(tm(xb), yb).backward()
        topt.step()
    assert opt._cstate.steps == 4
    np.testing.assert_allclose(m.weight, tm.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


_RSS_SCRIPT = r"""
import numpy as np, fastconv as fc, fastconv.nn as nn
def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 16 * 16, 10)).eval()
net = fc.compile(m, (1, 3, 16, 16))
x = np.random.default_rng(0).standard_normal((300, 3, 16, 16)).astype(np.float32)
for n in range(1, 21):  # warm up the allocator's pools
    net.predict(x[:n])
fc.empty_cache()  # freed arenas the allocator keeps for reuse (up to FASTCONV_CACHE_MB) are not a leak
base_rss, base_alloc = rss(), fc.memory_allocated()
for n in range(21, 301):
    assert net.predict(x[:n]).shape == (n, 10)
held = sum((p.exe.peak_bytes + p.exe.io_bytes) * p.exe.max_contexts for p in net._cache.values())
fc.empty_cache()
print(len(net._cache), net.max_programs, fc.memory_allocated() - base_alloc, held, rss() - base_rss)
"""


def test_300_batch_sizes_keep_memory_bounded():
    # In a fresh process: RSS in the test process depends on everything the suite allocated before.
    import os
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", _RSS_SCRIPT], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    programs, cap, alloc, held, rss = (int(v) for v in out.stdout.split())
    assert programs <= cap
    assert alloc <= held  # what is alive is what the cached programs hold, not 300 programs' arenas
    assert rss < 300 << 20  # 730 MB with an unbounded cache (measured on main before the cache was bounded)


def test_train_spec_errors():
    g = fc._C.Graph()
    x = g.input("x", [2, 3], "float32")
    w = g.param("w", np.ones((3, 3), np.float32))
    (y,) = g.add("linear", [x, w])
    (loss,) = g.add("sum", [y])
    with pytest.raises(ValueError,
                       match="unknown optimizer 'sgdd' \\(known: sgd, adam, adamw, rmsprop, adadelta, adagrad\\)"):
        fc._C.build_training(g, dict(loss=loss, optimizer="sgdd", groups=[dict(params=[(w, "0")], hyper={})]),
                             fc._C.OptimizerState())
    with pytest.raises(ValueError, match="is not a parameter of the graph"):
        fc._C.build_training(g, dict(loss=loss, optimizer="sgd", groups=[dict(params=[(x, "0")], hyper={})]),
                             fc._C.OptimizerState())
    with pytest.raises(ValueError, match="needs an OptimizerState"):
        fc._C.build_training(g, dict(loss=loss, optimizer="sgd", groups=[dict(params=[(w, "0")], hyper={})]))


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_updates_run_next_to_their_gradients(opt):
    """Each update is scheduled as soon as its gradient exists (the step counter it reads comes first), so gradient
    buffers are reused across layers: the fused ResNet-18 arena is about half the unfused one, where every gradient
    lives to the end of the step."""
    peaks = {}
    for fuse in (True, False):
        fc.manual_seed(0)
        m = fc.models.resnet18(num_classes=10)
        o = fc.optim.SGD(m.parameters(), lr=0.1, momentum=0.9) if opt == "sgd" else fc.optim.Adam(m.parameters())
        c = fc.compile(m, (2, 3, 32, 32), loss="cross_entropy", optimizer=o, fuse=fuse)
        peaks[fuse] = c.peak_bytes
        if fuse:
            steps = c.schedule().splitlines()
            first_update = next(i for i, s in enumerate(steps) if "_update" in s or "optimizer:" in s)
            last_backward = max(i for i, s in enumerate(steps) if "backward" in s)
            assert first_update < last_backward
    assert peaks[True] < 0.75 * peaks[False]
