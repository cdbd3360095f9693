"""Keras-style training loops over compiled models: fit / evaluate / predict, metrics, a History, and a minimal
progress bar on stderr (no tqdm):

    Epoch 1/5
    47/47 [==============================] - 1s 12ms/step - loss: 0.4211 - accuracy: 0.8810 - val_loss: ...
"""
from __future__ import annotations

import sys
import time
from typing import Any, Callable, Sequence

import numpy as np

from . import optim as _optim
from .compile import Compiled
from .nn.module import Module

__all__ = ["fit", "evaluate", "predict", "History", "Callback", "top_k_accuracy", "ProgressBar"]


# ---- metrics ----------------------------------------------------------------------------------------------------
def _labels(y: np.ndarray) -> np.ndarray:
    """Class indices from integer labels or one-hot / probability targets."""
    return y.argmax(axis=1) if (y.dtype.kind == "f" and y.ndim >= 2) else y


def accuracy(out: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """(number correct, count) of argmax predictions over the class axis (1)."""
    pred = out.argmax(axis=1)
    lbl = _labels(y)
    return float((pred == lbl).sum()), int(lbl.size)


def top_k_accuracy(k: int = 5) -> Callable:
    """A metric: the label is among the k largest outputs. Name 'top{k}_accuracy' in logs."""
    def metric(out: np.ndarray, y: np.ndarray) -> tuple[float, int]:
        lbl = _labels(y)
        kk = min(k, out.shape[1])
        top = np.argpartition(-out, kk - 1, axis=1)[:, :kk] if out.ndim == 2 else \
            np.moveaxis(np.argsort(-out, axis=1)[:, :kk], 1, -1)
        hit = (top == lbl.reshape(lbl.shape + (1,))).any(axis=-1)
        return float(hit.sum()), int(lbl.size)
    metric.__name__ = f"top{k}_accuracy"
    return metric


def _resolve_metrics(metrics) -> list[tuple[str, Callable]]:
    out = []
    for m in metrics or []:
        if isinstance(m, str):
            key = m.lower()
            if key in ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy"):
                out.append(("accuracy", accuracy))
            elif key in ("top_k_accuracy", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy"):
                out.append(("top5_accuracy", top_k_accuracy(5)))
            elif key.startswith("top") and key.endswith("_accuracy") and key[3:-9].isdigit():
                out.append((key, top_k_accuracy(int(key[3:-9]))))
            else:
                raise ValueError(f"fit: unknown metric {m!r}; expected 'accuracy', 'top_k_accuracy', "
                                 f"'top<k>_accuracy' or a callable(output, target) -> (total, count)")
        elif callable(m):
            out.append((getattr(m, "__name__", "metric"), m))
        else:
            raise TypeError(f"fit: a metric must be a string or a callable, got {type(m).__name__}")
    return out


class _Mean:
    def __init__(self) -> None:
        self.total, self.count = 0.0, 0

    def add(self, total: float, count: int) -> None:
        self.total += total
        self.count += count

    def value(self) -> float:
        return self.total / self.count if self.count else float("nan")


# ---- progress and callbacks -------------------------------------------------------------------------------------
class ProgressBar:
    """Keras's one-line epoch bar: 'n/N [=====>....] - ETA: 3s - loss: ...', finished as '- 2s 9ms/step - ...'."""

    def __init__(self, total: int, width: int = 30, stream=None, verbose: int = 1) -> None:
        self.total, self.width, self.stream, self.verbose = total, width, stream or sys.stderr, verbose
        self.start = time.perf_counter()
        self._last = 0.0

    @staticmethod
    def _logs(logs: dict) -> str:
        return "".join(f" - {k}: {v:.4f}" for k, v in logs.items())

    def update(self, n: int, logs: dict, final: bool = False) -> None:
        now = time.perf_counter()
        if self.verbose != 1 and not final:
            return
        if not final and now - self._last < 0.1 and n < self.total:
            return
        self._last = now
        elapsed = now - self.start
        digits = len(str(self.total))
        head = f"{n:>{digits}}/{self.total} "
        if final:
            per = elapsed / max(n, 1)
            unit = f"{per * 1e3:.0f}ms/step" if per >= 1e-3 else f"{per * 1e6:.0f}us/step"
            line = f"{head}[{'=' * self.width}] - {elapsed:.0f}s {unit}{self._logs(logs)}"
            self.stream.write(("\r" if self.verbose == 1 else "") + line + "\n")
        else:
            done = int(self.width * n / max(self.total, 1))
            bar = "=" * max(done - 1, 0) + (">" if done < self.width else "=") + "." * (self.width - done)
            eta = elapsed / max(n, 1) * (self.total - n)
            self.stream.write(f"\r{head}[{bar}] - ETA: {eta:.0f}s{self._logs(logs)}")
        self.stream.flush()


class Callback:
    """Hooks called by fit (Keras names). An lr_scheduler passed in callbacks is stepped after each epoch."""

    def on_train_begin(self, logs=None): ...
    def on_train_end(self, logs=None): ...
    def on_epoch_begin(self, epoch, logs=None): ...
    def on_epoch_end(self, epoch, logs=None): ...
    def on_train_batch_end(self, batch, logs=None): ...


class History(Callback):
    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.params: dict[str, Any] = {}

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def __repr__(self) -> str:
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _call(cb, name: str, *args) -> None:
    fn = getattr(cb, name, None)
    if callable(fn):
        fn(*args)


# ---- plumbing ---------------------------------------------------------------------------------------------------
def _array(a, what: str, fn: str = "fit") -> np.ndarray:
    if hasattr(a, "detach") and hasattr(a, "numpy"):
        a = a.detach().cpu().numpy()
    try:
        a = np.asarray(a)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise TypeError(f"{fn}: argument '{what}' must be a numeric array ({e})") from None
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise TypeError(f"{fn}: argument '{what}' must be a numeric array, got dtype {a.dtype}")
    if a.ndim == 0:
        raise ValueError(f"{fn}: argument '{what}' must have a sample axis, got a scalar")
    return a


def _count(fn: str, name: str, value, lo: int = 1) -> int:
    from .nn import _checks

    return _checks.int_arg(fn, name, value, lo)


def _make_optimizer(optimizer, model: Module):
    if optimizer is None or isinstance(optimizer, str):
        name = (optimizer or "adam").lower()
        table = {"adam": _optim.Adam, "adamw": _optim.AdamW, "sgd": _optim.SGD, "rmsprop": _optim.RMSprop,
                 "adadelta": _optim.Adadelta, "adagrad": _optim.Adagrad}
        if name not in table:
            raise ValueError(f"fit: unknown optimizer {optimizer!r}; expected one of {sorted(table)} or an "
                             f"optimizer object")
        kw = {"lr": 0.01} if name == "sgd" else {}
        return table[name](model.parameters(), **kw)
    return optimizer


def _compiled(model, x_shape, loss, optimizer) -> Compiled:
    if isinstance(model, Compiled):
        if model.optimizer is None:
            model.optimizer = _make_optimizer(optimizer, model.model)
        return model
    if not isinstance(model, Module):
        raise TypeError(f"fit: model must be a fastconv.nn.Module or a Compiled model, got {type(model).__name__}")
    # Repeated fit calls continue with the same compiled step and optimizer state (as Keras does after compile).
    okey = optimizer.lower() if isinstance(optimizer, str) else ("adam" if optimizer is None else id(optimizer))
    key = (okey, loss if isinstance(loss, str) else id(loss))
    cache = model.__dict__.setdefault("_fc_compiled", {})
    c = cache.get(key)
    if c is None:
        c = cache[key] = Compiled(model, x_shape, loss=loss, optimizer=_make_optimizer(optimizer, model))
    return c


def _data_parallel(model, seed):
    """(world size, rank, seed) for fit: a DistributedDataParallel model under several ranks trains on its shard,
    with one shuffling seed shared by all ranks (rank 0's when none is given); else (1, 0, seed)."""
    from .distributed import DistributedDataParallel, _C as _dc
    m = model.model if isinstance(model, Compiled) else model
    if not isinstance(m, DistributedDataParallel) or _dc.dist_world_size() == 1:
        return 1, 0, seed
    if seed is None:  # float32 holds every integer below 2**24 exactly
        s = np.array([np.random.default_rng().integers(0, 2 ** 24) if _dc.dist_rank() == 0 else 0], np.float32)
        _dc.dist_all_reduce_sum(s)
        seed = int(s[0])
    return _dc.dist_world_size(), _dc.dist_rank(), seed


def _eval_arrays(c: Compiled, x, y, batch_size: int, metrics) -> dict:
    loss_m, ms = _Mean(), [(_Mean(), n, f) for n, f in metrics]
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        loss, out = c.eval_step(xb, yb)
        loss_m.add(loss * len(xb), len(xb))
        first = out[0] if isinstance(out, (tuple, list)) else out
        for m, _, f in ms:
            m.add(*f(first, yb))
    logs = {"loss": loss_m.value()}
    logs.update({n: m.value() for m, n, _ in ms})
    return logs


def _span(idx: np.ndarray) -> str:
    return f"{idx[0]}..{idx[-1]}" if not len(idx) or np.array_equal(idx, np.arange(idx[0], idx[-1] + 1)) else \
        "[" + ", ".join(map(str, idx[:8])) + (", ..." if len(idx) > 8 else "") + "]"


def fit(model, x, y, batch_size: int = 32, epochs: int = 1, validation_split: float = 0.0,
        validation_data=None, loss="cross_entropy", optimizer=None, metrics: Sequence = ("accuracy",),
        callbacks=None, shuffle: bool = True, verbose: int = 1, seed: int | None = None,
        initial_epoch: int = 0) -> History:
    """Trains `model` (a Module, compiled on first use and cached, or a Compiled) Keras-style; returns History.
    validation_split takes the last fraction of (x, y) before shuffling, as Keras does."""
    x, y = _array(x, "x"), _array(y, "y")
    if len(x) != len(y):
        raise ValueError(f"fit: x has {len(x)} samples but y has {len(y)}")
    if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
        raise ValueError(f"fit: argument 'validation_split' must be in [0, 1), got {validation_split!r}")
    batch_size = _count("fit", "batch_size", batch_size)
    epochs = _count("fit", "epochs", epochs, 0)
    initial_epoch = _count("fit", "initial_epoch", initial_epoch, 0)
    if validation_data is None and validation_split > 0:
        n_val = int(len(x) * validation_split)
        if n_val == 0:
            raise ValueError(f"fit: validation_split={validation_split} leaves no validation samples out of "
                             f"{len(x)}")
        x, y, validation_data = x[:-n_val], y[:-n_val], (x[-n_val:], y[-n_val:])
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError(f"fit: argument 'validation_data' must be a pair (x, y), got "
                            f"{type(validation_data).__name__}")
        vx, vy = _array(validation_data[0], "validation x"), _array(validation_data[1], "validation y")
        if len(vx) != len(vy) or len(vx) == 0:
            raise ValueError(f"fit: argument 'validation_data' has {len(vx)} inputs and {len(vy)} targets "
                             f"(expected the same, non-zero number)")
    if len(x) == 0:
        raise ValueError("fit: no training samples")
    world, rank, seed = _data_parallel(model, seed)
    if world > 1:  # each rank its shard of one shared order; every rank takes the same number of steps
        verbose = verbose if rank == 0 else 0
        per_rank = len(x) // world
        if per_rank == 0:
            raise ValueError(f"fit: {len(x)} samples cannot be shared by {world} ranks")
    else:
        per_rank = len(x)
    c = _compiled(model, (min(batch_size, per_rank),) + x.shape[1:], loss, optimizer)
    mets = _resolve_metrics(metrics)
    history = History()
    cbs = [history] + list(callbacks or [])
    steps = (per_rank + batch_size - 1) // batch_size
    history.params = dict(batch_size=batch_size, epochs=epochs, steps=steps, verbose=verbose)
    rng = np.random.default_rng(seed)
    for cb in cbs:
        _call(cb, "on_train_begin", {})
    for epoch in range(initial_epoch, epochs):
        for cb in cbs:
            _call(cb, "on_epoch_begin", epoch, {})
        if verbose:
            sys.stderr.write(f"Epoch {epoch + 1}/{epochs}\n")
        bar = ProgressBar(steps, verbose=verbose) if verbose else None
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        if world > 1:
            order = order[rank::world][:per_rank]
        loss_m, ms = _Mean(), [(_Mean(), n, f) for n, f in mets]
        for s in range(steps):
            idx = order[s * batch_size:(s + 1) * batch_size]
            xb, yb = x[idx], y[idx]
            try:
                loss_v = c.train_step(xb, yb)
            except IndexError as e:  # a bad label: the step changed nothing; say where in the data it is
                raise IndexError(f"fit: epoch {epoch + 1}, step {s + 1} (batch positions are into the samples "
                                 f"{_span(idx)} of x): {e}") from None
            if not np.isfinite(loss_v):
                raise FloatingPointError(f"fit: the loss became {loss_v} at epoch {epoch + 1}, step {s + 1}; "
                                         f"lower the learning rate")
            loss_m.add(loss_v * len(idx), len(idx))
            out = c.last_output[0] if isinstance(c.last_output, (tuple, list)) else c.last_output
            for m, _, f in ms:
                m.add(*f(out, yb))
            logs = {"loss": loss_m.value(), **{n: m.value() for m, n, _ in ms}}
            for cb in cbs:
                _call(cb, "on_train_batch_end", s, logs)
            if bar is not None and s + 1 < steps:
                bar.update(s + 1, logs)
        if validation_data is not None:
            vlogs = _eval_arrays(c, vx, vy, batch_size, mets)
            logs.update({f"val_{k}": v for k, v in vlogs.items()})
        if bar is not None:
            bar.update(steps, logs, final=True)
        for cb in cbs:
            _call(cb, "on_epoch_end", epoch, dict(logs))
            if hasattr(cb, "optimizer") and hasattr(cb, "get_last_lr"):  # an lr scheduler
                cb.step()
    for cb in cbs:
        _call(cb, "on_train_end", {})
    return history


def evaluate(model, x, y, batch_size: int = 32, loss="cross_entropy", metrics: Sequence = ("accuracy",),
             verbose: int = 0, return_dict: bool = False):
    """Loss and metrics in eval mode: [loss, metric...] (a float when there are no metrics), or a dict."""
    x, y = _array(x, "x", "evaluate"), _array(y, "y", "evaluate")
    batch_size = _count("evaluate", "batch_size", batch_size)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"evaluate: x has {len(x)} samples and y has {len(y)} (expected the same, non-zero number)")
    if isinstance(model, Compiled):
        c = model
    else:
        cache = model.__dict__.setdefault("_fc_compiled", {})
        c = next((v for v in cache.values() if v.loss is loss or v.loss == loss), None)
        if c is None:
            c = cache[("eval", loss if isinstance(loss, str) else id(loss))] = \
                Compiled(model, (min(batch_size, len(x)),) + x.shape[1:], loss=loss)
    t0 = time.perf_counter()
    logs = _eval_arrays(c, x, y, batch_size, _resolve_metrics(metrics))
    if verbose:
        steps = (len(x) + batch_size - 1) // batch_size
        bar = ProgressBar(steps, verbose=verbose)
        bar.start = t0
        bar.update(steps, logs, final=True)
    if return_dict:
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals


def predict(model, x, batch_size: int = 32, verbose: int = 0):
    """Model outputs in eval mode, batch by batch (NumPy)."""
    x = _array(x, "x", "predict")
    batch_size = _count("predict", "batch_size", batch_size)
    if len(x) == 0:
        raise ValueError("predict: argument 'x' holds no samples")
    if isinstance(model, Compiled):
        return model.predict(x, batch_size=batch_size)
    c = model.__dict__.get("_fc_predict")
    if c is None:
        c = model.__dict__["_fc_predict"] = Compiled(model, (min(batch_size, len(x)),) + x.shape[1:])
    return c.predict(x, batch_size=batch_size)
