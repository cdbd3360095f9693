"""fit / evaluate / predict: Keras-style loops, History, progress bar, metrics; a small CNN learns sklearn's digits."""
from __future__ import annotations

import re

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from fastconv.training import ProgressBar, accuracy, top_k_accuracy

from conftest import torch  # noqa: F401 - the test extra must be installed


def needs(*ops):
    have = set(fc._C.op_names())
    missing = [o for o in ops if o not in have]
    assert not missing, f"ops missing from this build: {missing}"


class Affine(nn.Module):
    def __init__(self, d=4):
        super().__init__()
        self.w = nn.Parameter(np.full((1, d), 0.1))
        self.b = nn.Parameter(np.zeros(d))

    def forward(self, x):
        return x * self.w + self.b


def mse(o, y):
    d = o - y
    return (d * d).mean()


def regression_data(n=64, d=4, seed=0):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, d)).astype(np.float32)
    return x, (x * np.array([1.5, -2.0, 0.5, 1.0], np.float32) + 0.25).astype(np.float32)


def test_fit_history_validation_and_progress(capsys):
    x, y = regression_data()
    m = Affine()
    h = fc.fit(m, x, y, batch_size=16, epochs=3, loss=mse, optimizer=fc.optim.SGD(m.parameters(), lr=0.1),
               metrics=[], validation_split=0.25, seed=0, verbose=1)
    assert list(h.history) == ["loss", "val_loss"] and h.epoch == [0, 1, 2]
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert h.params["steps"] == 3  # 48 training samples / 16
    err = capsys.readouterr().err
    assert "Epoch 1/3\n" in err and "Epoch 3/3\n" in err
    final = [line.split("\r")[-1] for line in err.split("\n") if line.startswith(("3/3", "\r"))]
    assert any(re.fullmatch(r"3/3 \[={30}\] - \d+s \d+(ms|us)/step - loss: \d\.\d{4} - val_loss: \d\.\d{4}", f)
               for f in final), err
    # validation is the last 25% before shuffling, evaluated in eval mode
    vl = fc.evaluate(m, x[48:], y[48:], loss=mse, metrics=[])
    assert np.isclose(vl, float(((m(x[48:]) - y[48:]) ** 2).mean()), rtol=1e-5)


def test_fit_is_deterministic_with_seed_and_callbacks_run():
    x, y = regression_data()
    finals = []
    for _ in range(2):
        m = Affine()
        opt = fc.optim.Adam(m.parameters(), lr=0.05)
        events = []

        class Rec(fc.training.Callback):
            def on_epoch_end(self, epoch, logs=None):
                events.append((epoch, sorted(logs)))

        sched = fc.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        fc.fit(m, x, y, batch_size=10, epochs=2, loss=mse, optimizer=opt, metrics=[], seed=3, verbose=0,
               callbacks=[Rec(), sched])
        finals.append(m.w.copy())
        assert events == [(0, ["loss"]), (1, ["loss"])]
        assert opt.param_groups[0]["lr"] == pytest.approx(0.05 * 0.25)
    assert np.array_equal(finals[0], finals[1])


def test_metrics_and_progress_bar_format():
    out = np.array([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5]], np.float32)
    y = np.array([2, 0, 1])
    assert accuracy(out, y) == (1.0, 3)
    assert accuracy(out, np.eye(3, dtype=np.float32)[y]) == (1.0, 3)
    assert top_k_accuracy(2)(out, y) == (3.0, 3)
    assert top_k_accuracy(1)(out, y) == (1.0, 3)
    import io
    s = io.StringIO()
    bar = ProgressBar(10, stream=s)
    bar._last = -1e9
    bar.update(4, {"loss": 1.23456})
    assert s.getvalue().startswith("\r 4/10 [===========>..................] - ETA: ")
    assert s.getvalue().endswith(" - loss: 1.2346")


def test_fit_errors():
    x, y = regression_data()
    with pytest.raises(ValueError, match="x has 64 samples but y has 3"):
        fc.fit(Affine(), x, y[:3], loss=mse)
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        fc.fit(Affine(), x, y, loss=mse, metrics=["f1"], verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'; expected one of \\['adadelta', 'adagrad', 'adam', "
                                         "'adamw', 'rmsprop', 'sgd'\\]"):
        fc.fit(Affine(), x, y, loss=mse, optimizer="lbfgs", verbose=0)
    with pytest.raises(ValueError, match="argument 'validation_split' must be in"):
        fc.fit(Affine(), x, y, loss=mse, validation_split=1.5)


def test_loop_arguments_are_checked_before_compiling():
    x, y = regression_data()
    for fn, kw, exc, words in [
        (fc.fit, dict(batch_size=0), ValueError, "fit: argument 'batch_size' must be a positive int, got 0"),
        (fc.fit, dict(batch_size=2.5), TypeError, "fit: argument 'batch_size' must be an int"),
        (fc.fit, dict(epochs=-1), ValueError, "fit: argument 'epochs' must be a non-negative int, got -1"),
        (fc.fit, dict(validation_data=x), TypeError, "argument 'validation_data' must be a pair"),
        (fc.fit, dict(validation_data=(x[:0], y[:0])), ValueError, "argument 'validation_data' has 0 inputs"),
        (fc.evaluate, dict(batch_size=-4), ValueError, "evaluate: argument 'batch_size' must be a positive int"),
    ]:
        with pytest.raises(exc, match=words):
            fn(Affine(), x, y, loss=mse, **kw)
    with pytest.raises(ValueError, match="predict: argument 'batch_size' must be a positive int, got 0"):
        fc.predict(Affine(), x, batch_size=0)
    with pytest.raises(ValueError, match="predict: argument 'x' holds no samples"):
        fc.predict(Affine(), x[:0])
    with pytest.raises(TypeError, match="predict: argument 'x' must be a numeric array, got dtype <U1"):
        fc.predict(Affine(), np.array(["a", "b"]))
    c = fc.compile(Affine(), (8, x.shape[1]))
    with pytest.raises(ValueError, match="predict: argument 'batch_size' must be a positive int or None, got 0"):
        c.predict(x, batch_size=0)


def test_predict_matches_eager():
    x, _ = regression_data()
    m = Affine()
    assert np.allclose(fc.predict(m, x, batch_size=20), m(x), atol=1e-6)


def test_small_cnn_learns_digits():
    needs("conv2d", "max_pool2d", "linear", "cross_entropy")
    datasets = pytest.importorskip("sklearn.datasets")
    d = datasets.load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    y = d.target.astype(np.int64)
    r = np.random.default_rng(0)
    idx = r.permutation(len(x))
    x, y = x[idx], y[idx]
    n_test = 360
    xtr, ytr, xte, yte = x[n_test:], y[n_test:], x[:n_test], y[:n_test]
    fc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(64 * 2 * 2, 64), nn.ReLU(), nn.Linear(64, 10))
    h = fc.fit(model, xtr, ytr, batch_size=32, epochs=15, optimizer=fc.optim.Adam(model.parameters(), lr=2e-3),
               metrics=["accuracy", "top3_accuracy"], validation_data=(xte, yte), seed=0, verbose=0)
    assert set(h.history) == {"loss", "accuracy", "top3_accuracy", "val_loss", "val_accuracy",
                              "val_top3_accuracy"}
    loss, acc, top3 = fc.evaluate(model, xte, yte, metrics=["accuracy", "top3_accuracy"])
    assert acc >= 0.97, (loss, acc, h.history)
    assert np.isclose(h.history["val_accuracy"][-1], acc) and np.isclose(h.history["val_loss"][-1], loss)
    assert top3 >= acc
    pred = fc.predict(model, xte).argmax(1)
    assert np.isclose((pred == yte).mean(), acc)


def test_repeated_fit_continues_with_the_same_optimizer_state():
    x, y = regression_data()
    m = Affine()
    fc.fit(m, x, y, loss=mse, metrics=[], verbose=0, seed=0)
    (c,) = m._fc_compiled.values()
    step = c.optimizer._cstate.steps
    fc.fit(m, x, y, loss=mse, metrics=[], verbose=0, seed=0)
    assert list(m._fc_compiled.values()) == [c] and c.optimizer._cstate.steps == 2 * step
