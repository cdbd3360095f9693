"""A compiled step refuses bad batches before it runs: out-of-range class labels are an IndexError naming the value
and its position, integer images a TypeError; the refused step changes no weight, buffer or optimizer state, so the
next good step gives exactly what it gives on a model that never saw the bad batch."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn


def _net():
    fc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Dropout(0.2),
                         nn.Linear(16, 3))


def _snapshot(model, opt):
    st = {k: np.array(v, copy=True) for k, v in model.state_dict().items()}
    ost = opt.state_dict()
    return st, {i: {k: np.array(v, copy=True) for k, v in s.items()} for i, s in ost["state"].items()}


def _same(a, b):
    assert a[0].keys() == b[0].keys() and a[1].keys() == b[1].keys()
    for k in a[0]:
        assert np.array_equal(a[0][k], b[0][k]), k
    for i in a[1]:
        for k in a[1][i]:
            assert np.array_equal(a[1][i][k], b[1][i][k]), (i, k)


X = np.random.default_rng(1).standard_normal((4, 1, 4, 4)).astype(np.float32)
Y = np.array([0, 1, 2, 1])


@pytest.mark.parametrize("bad, value, at", [(np.array([0, 1, 7, 1]), 7, "[2]"), (np.array([0, -1, 2, 1]), -1, "[1]"),
                                            (np.array([0, 1, 255, 1], np.uint8), 255, "[2]")])
def test_bad_labels_are_refused_and_change_nothing(bad, value, at):
    net, ref = _net(), _net()
    opt, ropt = fc.optim.Adam(net.parameters(), lr=0.05), fc.optim.Adam(ref.parameters(), lr=0.05)
    c = fc.compile(net, X.shape, loss="cross_entropy", optimizer=opt)
    r = fc.compile(ref, X.shape, loss="cross_entropy", optimizer=ropt)
    c.train_step(X, Y), r.train_step(X, Y)
    before = _snapshot(net, opt)
    with pytest.raises(IndexError) as e:
        c.train_step(X, bad)
    msg = str(e.value)
    assert f"holds {value} at {at}" in msg and "[0, 3)" in msg and "target" in msg
    _same(before, _snapshot(net, opt))
    # The step counter did not move either: the next good step matches the reference's second step bit for bit
    # (Adam's bias correction and the dropout mask both read it).
    assert c.train_step(X, Y) == r.train_step(X, Y)
    _same(_snapshot(net, opt), _snapshot(ref, ropt))


def test_ignore_index_is_accepted_and_spatial_labels_name_their_position():
    class Seg(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 3, 3, padding=1)

        def forward(self, x):
            return self.conv(x)

    fc.manual_seed(0)
    m = Seg()
    loss = lambda out, t: F.cross_entropy(out, t, ignore_index=255)  # noqa: E731
    c = fc.compile(m, (2, 1, 4, 4), loss=loss, optimizer=fc.optim.SGD(m.parameters(), lr=0.1),
                   target_shape=(2, 4, 4), target_dtype="int64")
    y = np.zeros((2, 4, 4), np.int64)
    y[0, 0, 0] = 255  # ignored, like torch
    assert np.isfinite(c.train_step(X[:2], y))
    y[1, 2, 3] = 3
    with pytest.raises(IndexError, match=r"holds 3 at \[1, 2, 3\].*ignore_index=255"):
        c.train_step(X[:2], y)


def test_nll_loss_targets_are_checked_too():
    fc.manual_seed(0)
    m = nn.Sequential(nn.Flatten(), nn.Linear(16, 3), nn.LogSoftmax(dim=1))
    c = fc.compile(m, X.shape, loss=F.nll_loss, optimizer=fc.optim.SGD(m.parameters(), lr=0.1),
                   target_shape=(4,), target_dtype="int64")
    with pytest.raises(IndexError, match="holds 3 at"):
        c.train_step(X, np.array([0, 1, 2, 3]))
    with pytest.raises(IndexError, match="holds 5 at"):
        c.eval_step(X, np.array([5, 1, 2, 0]))


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.bool_])
def test_integer_images_are_refused(dtype):
    m = _net()
    c = fc.compile(m, X.shape, loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        c.train_step(np.ones(X.shape, dtype), Y)
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        fc.predict(m, np.ones(X.shape, dtype))
    assert c.predict(X.astype(np.float64)).shape == (4, 3)  # other float types are converted, as before


@pytest.mark.parametrize("shape, exc", [("big", TypeError), ((4, 1.5, 4, 4), TypeError), (4, TypeError)])
def test_compile_input_shape_must_be_ints(shape, exc):
    with pytest.raises(exc, match="input_shape"):
        fc.compile(_net(), shape)


@pytest.mark.parametrize("seed, exc", [("abc", TypeError), (1.5, TypeError), (2**64, ValueError)])
def test_manual_seed_validates(seed, exc):
    with pytest.raises(exc, match="seed"):
        fc.manual_seed(seed)


def test_detect_anomaly_names_the_first_node_that_produces_nan_and_stops_the_step():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            h = self.conv(x)
            z = h - h
            return self.fc(F.div(z, z).reshape(h.shape[0], -1))  # 0 / 0: NaN

    fc.manual_seed(0)
    m = Net()
    opt = fc.optim.SGD(m.parameters(), lr=0.1)
    c = fc.compile(m, X.shape, loss="cross_entropy", optimizer=opt)
    before = _snapshot(m, opt)
    assert not fc.is_anomaly_enabled()
    with fc.detect_anomaly():
        assert fc.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match=r"node \[\d+\] div .*produced NaN in output 0 at \[0, 0, 0, 0\]") as e:
            c.train_step(X, Y)
        with pytest.raises(RuntimeError, match="input 'x' holds inf at \\[0, 0, 1, 2\\]"):
            bad = X.copy()
            bad[0, 0, 1, 2] = np.inf
            c.predict(bad)
        m2 = _net()
        m2[0].weight.data[1, 0, 2, 2] = np.nan  # weights destroyed earlier are named before anything runs
        with pytest.raises(RuntimeError, match=r"parameter '\S*weight' holds NaN at \[1, 0, 2, 2\]"):
            fc.predict(m2, X)
    assert not fc.is_anomaly_enabled()
    assert "later nodes of this step did not run" in str(e.value)
    _same(before, _snapshot(m, opt))  # the updates come after the NaN: none ran
    assert np.isnan(c.train_step(X, Y))  # off again: the step runs (and does the damage anomaly mode prevented)


def test_fit_stops_at_a_bad_label_with_its_position_and_keeps_the_last_good_weights():
    m = _net()
    c = fc.compile(m, (2, 1, 4, 4), loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    x = np.random.default_rng(2).standard_normal((6, 1, 4, 4)).astype(np.float32)
    y = np.array([0, 1, 2, 1, 9, 0])
    seen = []

    class Keep(fc.training.Callback):
        def on_train_batch_end(self, step, logs):
            seen.append({k: np.array(v, copy=True) for k, v in m.state_dict().items()})

    with pytest.raises(IndexError, match=r"fit: epoch 1, step 3 \(batch positions are into the samples 4..5 of x\)"
                                         r".*holds 9 at \[0\]"):
        fc.fit(c, x, y, batch_size=2, shuffle=False, verbose=0, callbacks=[Keep()])
    assert len(seen) == 2
    for k, v in m.state_dict().items():
        assert np.array_equal(np.asarray(v), seen[-1][k]), k
