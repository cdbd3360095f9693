"""Folded constants (docs/inference.md): conv_bn_fold runs once per weight version, and predict after every kind of
weight write equals a NumPy float64 reference of the new weights."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn


def _conv(x, w, b):  # float64 NCHW, stride 1, padding 1
    n, c, h, wd = x.shape
    k = w.shape[0]
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, k, h, wd))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,kc->nkhw", xp[:, :, i:i + h, j:j + wd], w[:, :, i, j])
    return out + b[None, :, None, None]


def _reference(model, x):
    """conv -> bn(eval) -> relu -> flatten -> linear, in float64 from the model's current arrays."""
    c, bn, fcl = model[0], model[1], model[4]
    f = lambda a: np.asarray(a, np.float64)  # noqa: E731
    z = _conv(f(x), f(c.weight), f(c.bias))
    rm, rv = f(bn.running_mean), f(bn.running_var)
    z = (z - rm[None, :, None, None]) / np.sqrt(rv[None, :, None, None] + bn.eps)
    z = z * f(bn.weight)[None, :, None, None] + f(bn.bias)[None, :, None, None]
    z = np.maximum(z, 0).reshape(len(x), -1)
    return z @ f(fcl.weight).T + f(fcl.bias)


def _model(seed=0):
    rng = np.random.default_rng(seed)
    m = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                      nn.Linear(4 * 6 * 6, 5))
    bn = m[1]
    bn.running_mean[...] = rng.standard_normal(4).astype(np.float32) * 0.1
    bn.running_var[...] = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    bn.weight[...] = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    bn.bias[...] = rng.standard_normal(4).astype(np.float32) * 0.1
    return m.eval()


@pytest.fixture
def setup():
    m = _model()
    net = fc.compile(m, (2, 3, 6, 6))
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    exe = net._program("eval", x.shape).exe
    assert exe.folded_steps >= 1 and "conv_bn_fold" in net.schedule()
    return m, net, x, exe


def _check(net, m, x):
    ref = _reference(m, x)
    got = net.predict(x)
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_prologue_runs_once_for_unchanged_weights(setup):
    m, net, x, exe = setup
    for _ in range(5):
        _check(net, m, x)
    assert exe.fold_runs == 1
    prof = net.profile(x, steps=4, warmup=0)
    rows = [r for r in exe.profile() if r["op"] == "conv_bn_fold"]
    assert rows and all(r["folded"] and r["calls"] == 0 for r in rows)  # weights unchanged: not run while profiled
    assert prof is not None


@pytest.mark.parametrize("write", ["setitem", "imul", "copyto", "ufunc_out", "fill", "bn_buffer_load",
                                   "load_state_dict", "raw_view", "reset_running_stats"])
def test_predict_sees_each_kind_of_write(setup, write):
    m, net, x, exe = setup
    _check(net, m, x)
    runs = exe.fold_runs
    w = m[0].weight
    if write == "setitem":
        w[0] = 0.25
    elif write == "imul":
        w *= 2
        assert isinstance(m[0].weight, nn.Parameter)
    elif write == "copyto":
        np.copyto(w, np.full(w.shape, 0.1, np.float32))
    elif write == "ufunc_out":
        np.multiply(w, -1.0, out=w)
    elif write == "fill":
        m[1].bias.fill(0.5)
    elif write == "bn_buffer_load":
        sd = m.state_dict()
        sd["1.running_var"] = np.full(4, 3.0, np.float32)
        m.load_state_dict(sd)
    elif write == "load_state_dict":
        m.load_state_dict(_model(seed=7).state_dict())
    elif write == "raw_view":
        m[1].running_mean[...] = 0.5  # a plain buffer array: not seen until told
        w.view(np.ndarray)[...] *= 3
        net.weights_changed()
    elif write == "reset_running_stats":
        m[1].reset_running_stats()
    _check(net, m, x)
    assert exe.fold_runs == runs + 1


def test_fc_load_into_model(setup, tmp_path):
    m, net, x, exe = setup
    other = _model(seed=3)
    fc.compile(other, (2, 3, 6, 6))  # save traces at the compiled shape
    path = tmp_path / "m.fcm"
    fc.save(other, str(path))
    _check(net, m, x)
    fc.load(str(path), model=m)
    _check(net, m, x)
    np.testing.assert_array_equal(np.asarray(m[0].weight), np.asarray(other[0].weight))


def test_compiled_train_step_updates_eval_fold():
    m = _model()
    x = np.random.default_rng(1).standard_normal((4, 3, 6, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    opt = fc.optim.SGD(m.parameters(), lr=0.1)
    net = fc.compile(m, (4, 3, 6, 6), loss="cross_entropy", optimizer=opt)
    m.eval()
    _check(net, m, x)
    m.train()
    before = np.asarray(m[0].weight).copy()
    net.train_step(x, y)  # updates weights and the batch-norm running statistics in C++
    assert not np.array_equal(before, np.asarray(m[0].weight))
    m.eval()
    _check(net, m, x)


def test_eager_batch_norm_updates_running_stats_seen():
    m = _model()
    net = fc.compile(m, (2, 3, 6, 6))
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    _check(net, m, x)
    m.train()
    rm = np.asarray(m[1].running_mean).copy()
    m(x)  # eager forward in train mode: running stats written by the engine
    assert not np.array_equal(rm, np.asarray(m[1].running_mean))
    m.eval()
    _check(net, m, x)


def test_concurrent_predicts_agree_while_weights_change(setup):
    m, net, x, exe = setup
    ref = _reference(m, x)
    errors = []

    def work():
        try:
            for _ in range(20):
                np.testing.assert_allclose(net.predict(x), ref, rtol=1e-4, atol=1e-4)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    ts = [threading.Thread(target=work) for _ in range(4)]
    for t in ts:
        t.start()
    for _ in range(10):  # rewrite the same values: each bump triggers a recomputation during the predicts
        m[0].weight[...] = np.asarray(m[0].weight).copy()
    for t in ts:
        t.join()
    assert not errors
    assert exe.fold_runs >= 1


def test_fold_constants_off_runs_inline():
    m = _model()
    g = fc.compile(m, (2, 3, 6, 6))._program("eval", (2, 3, 6, 6))
    exe = fc._C.Executable(g.ctx.graph, g.outs, "cpu", True, True, "", {}, -1, False)
    assert exe.folded_steps == 0 and exe.fold_runs == 0
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    out = exe.call({g.x_id: x}, g.outs)[0]
    np.testing.assert_allclose(out, _reference(m, x), rtol=1e-4, atol=1e-4)


def test_storage_version_moves_on_parameter_writes(tmp_path):
    m = _model()
    fc.compile(m, (2, 3, 6, 6))
    path = tmp_path / "m.fcm"
    fc.save(m, str(path))
    x = np.random.default_rng(1).standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert fc._C.storage_version(np.asarray(m[0].weight).view(np.ndarray)) is not None
    v = fc._C.storage_version(m[0].weight)
    m[0].weight[...] = 1.0
    assert fc._C.storage_version(m[0].weight) > v
