"""The executor's contracts: a compiled program is safe to call from many threads (inference in parallel, training
steps one at a time in call order), a step allocates nothing beyond the planned arena (peak_bytes is the truth),
and with fixed I/O every run replays with the same addresses (what CUDA Graph capture needs)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn


def cnn(seed=0, dropout=0.0):
    fc.manual_seed(seed)
    layers = [nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(6, 8, 3, padding=1), nn.ReLU(), nn.Flatten()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(8 * 4 * 4, 3))


def data(n, seed):
    r = np.random.default_rng(seed)
    return r.standard_normal((n, 1, 8, 8)).astype(np.float32), r.integers(0, 3, n)


def run_threads(n, fn):
    errors = []

    def body(t):
        try:
            fn(t)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)
    threads = [threading.Thread(target=body, args=(t,)) for t in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]


def test_predict_from_8_threads_matches_a_single_thread():
    net = fc.compile(cnn(1).eval(), (4, 1, 8, 8))
    inputs = [data(4, 100 + i)[0] for i in range(16)]
    expect = [net.predict(x) for x in inputs]
    got = [[None] * 200 for _ in range(8)]

    def work(t):
        for k in range(200):
            got[t][k] = net.predict(inputs[(t * 7 + k) % 16])
    run_threads(8, work)
    for t in range(8):
        for k in range(200):
            assert np.array_equal(got[t][k], expect[(t * 7 + k) % 16]), (t, k)


def test_train_steps_from_8_threads_equal_a_serial_replay():
    # Every thread trains on the same batch, so the steps commute: whatever order the calls are serialized in, the
    # losses returned are the serial run's losses (as a multiset) and the final weights are the serial run's.
    x, y = data(6, 7)
    models = [cnn(2, dropout=0.3), cnn(2, dropout=0.3)]
    nets = [fc.compile(m, (6, 1, 8, 8), loss="cross_entropy",
                       optimizer=fc.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)) for m in models]
    serial = [nets[0].train_step(x, y) for _ in range(8 * 200)]
    got = [[] for _ in range(8)]
    run_threads(8, lambda t: got[t].extend(nets[1].train_step(x, y) for _ in range(200)))
    assert sorted(serial) == sorted(v for g in got for v in g)
    for (k, a), (_, b) in zip(models[0].state_dict().items(), models[1].state_dict().items()):
        assert np.array_equal(a, b), k


def test_value_and_grad_from_threads():
    import fastconv.functional as F
    f = fc.value_and_grad(lambda a, w: F.relu(F.conv2d(a, w, padding=1)).sum(), argnums=(0, 1))
    w = np.random.default_rng(0).standard_normal((4, 1, 3, 3)).astype(np.float32)
    xs = [data(2, 30 + i)[0] for i in range(8)]
    expect = [f(x, w) for x in xs]
    out = [None] * 8

    def work(t):
        for _ in range(50):
            out[t] = f(xs[t], w)
    run_threads(8, work)
    for t in range(8):
        assert out[t][0] == expect[t][0] and all(np.array_equal(a, b) for a, b in zip(out[t][1], expect[t][1]))


def train_executable(fixed_io=-1):
    """A training step compiled again with fixed I/O on or off; returns (executable, program, optimizer, bytes the
    construction allocated)."""
    m = cnn(3, dropout=0.25)
    opt = fc.optim.Adam(m.parameters(), lr=1e-3)
    net = fc.compile(m, (6, 1, 8, 8), loss="cross_entropy", optimizer=opt)
    prog = net._main()
    exe = fc._C.Executable(prog.ctx.graph, [prog.loss_id] + prog.outs, "cpu", True, True, "", {}, fixed_io)
    fc.reset_peak_memory_stats()
    before = fc.memory_allocated()
    exe.step_addresses()  # makes the default execution context: its arena and I/O buffers
    return exe, prog, opt, fc.memory_allocated() - before


@pytest.mark.parametrize("fixed_io", [0, 1])
def test_a_step_allocates_nothing_beyond_the_planned_arena(fixed_io):
    exe, prog, opt, built = train_executable(fixed_io)
    assert exe.peak_bytes > 0
    assert built == exe.peak_bytes + exe.io_bytes  # the arena, the output buffers (and input slots): nothing else
    x, y = data(6, 1)
    exe.set_input(prog.x_id, x)
    exe.set_input(prog.y_id, y)
    for _ in range(3):
        opt._sync()
        fc.reset_peak_memory_stats()
        held = fc.memory_allocated()
        exe.run()
        assert fc.max_memory_allocated() == held  # not one byte allocated during the step
        assert fc.memory_allocated() == held


def test_fixed_io_replays_with_the_same_addresses_and_the_same_results():
    fixed, prog, opt_f, _ = train_executable(1)
    loose, prog_l, opt_l, _ = train_executable(0)
    assert fixed.fixed_io and not loose.fixed_io
    addresses = None
    for seed in range(3):
        x, y = data(6, seed)  # new arrays every step: a borrowing executable would see new addresses
        for exe, p, opt in ((fixed, prog, opt_f), (loose, prog_l, opt_l)):
            exe.set_input(p.x_id, x)
            exe.set_input(p.y_id, y)
            opt._sync()
            exe.run()
        assert np.isfinite(fixed.output(prog.loss_id)) and fixed.output(prog.loss_id) == loose.output(prog_l.loss_id)
        if addresses is None:
            addresses = fixed.step_addresses()
        assert fixed.step_addresses() == addresses


def test_inference_programs_run_concurrently_and_training_programs_serialize():
    m = cnn(4)
    net = fc.compile(m, (6, 1, 8, 8), loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    assert net._main().exe.stateful and net._main().exe.max_contexts == 1
    infer = net._program("eval", (6, 1, 8, 8)).exe
    assert not infer.stateful and infer.max_contexts >= 2
