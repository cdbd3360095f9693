"""softmax, log_softmax and cross_entropy at logits of +-1e4 on every ISA level, against PyTorch float64.

The vector kernels computed log_softmax as x - (max + log(sum)): in float32 the sum max + log(sum) near 1e4 keeps
only ~3 decimals of log(sum), so log_softmax([10000, 10001, 10002, 10003]) returned -3.4404297 instead of
-3.4401897, and cross_entropy's saved log-sum-exp made its gradient wrong by up to ~5e-4. Computing
(x - max) - log(sum) keeps every digit float32 has: the bounds below are a few float32 ulps of the outputs
(|log_softmax| <= ~30 here, probabilities <= 1), far under the old errors.
"""
from __future__ import annotations

import contextlib

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
from conftest import t64, torch

TF = torch.nn.functional
ORDER = ["scalar", "avx2", "avx512"]
BEST = fc.cpu_features()["best_isa"]
ISAS = ORDER[: ORDER.index(BEST) + 1]


@contextlib.contextmanager
def isa(level):
    fc.set_isa(level)
    try:
        yield
    finally:
        fc.set_isa(BEST)


def big_logits(shape, seed, dim=1, offset=1e4, spread=8.0):
    """Logits offset by +-1e4 (one offset per softmax slice along `dim`) with O(1) differences: what a diverging
    or badly scaled model feeds a loss."""
    r = np.random.default_rng(seed)
    sign_shape = tuple(1 if i == dim else s for i, s in enumerate(shape))
    sign = np.where(r.random(sign_shape) < 0.5, -1.0, 1.0)
    return (sign * offset + r.uniform(-spread, spread, shape)).astype(np.float32)


def test_the_reported_case_exactly():
    x = np.array([[10000, 10001, 10002, 10003]], np.float32)
    want = torch.log_softmax(t64(x), 1).numpy()
    for level in ISAS:
        with isa(level):
            got = np.asarray(F.log_softmax(x, 1))
        assert np.abs(got - want).max() <= 1e-6, (level, got, want)


@pytest.mark.parametrize("level", ISAS)
@pytest.mark.parametrize("shape,dim", [((6, 37), 1), ((3, 16), 1), ((2, 5, 3, 7), 1), ((4, 3, 20), 1), ((9, 3), 0)])
def test_softmax_and_log_softmax_at_1e4(level, shape, dim):
    x = big_logits(shape, seed=sum(shape), dim=dim)
    g = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    for fn, tfn, tol in ((F.log_softmax, torch.log_softmax, 1e-5), (F.softmax, torch.softmax, 1e-6)):
        tx = t64(x, True)
        ref = tfn(tx, dim)
        (ref * t64(g)).sum().backward()
        with isa(level):
            y = np.asarray(fn(x, dim))
            _, dx = fc.value_and_grad(lambda a: (fn(a, dim) * g).sum())(x)
        assert np.abs(y - ref.detach().numpy()).max() <= tol, (fn.__name__, np.abs(y - ref.detach().numpy()).max())
        # log_softmax's gradient g - softmax * sum(g) is O(|g| * D): a few ulps of that
        gtol = 1e-5 * max(1.0, float(np.abs(tx.grad.numpy()).max()))
        assert np.abs(dx - tx.grad.numpy()).max() <= gtol, (fn.__name__, np.abs(dx - tx.grad.numpy()).max())


CE_CASES = [
    dict(shape=(8, 10)),
    dict(shape=(8, 10), weight=True),
    dict(shape=(8, 10), label_smoothing=0.1),
    dict(shape=(5, 17), weight=True, label_smoothing=0.2, reduction="sum"),
    dict(shape=(6, 4), prob=True),
    dict(shape=(6, 4), prob=True, label_smoothing=0.3, weight=True),
    dict(shape=(2, 5, 3, 6)),
    dict(shape=(2, 5, 3, 6), weight=True, label_smoothing=0.1, reduction="none"),
    dict(shape=(3, 4, 40), prob=True),
]


@pytest.mark.parametrize("level", ISAS)
@pytest.mark.parametrize("case", CE_CASES, ids=[str(i) for i in range(len(CE_CASES))])
def test_cross_entropy_at_1e4(level, case):
    shape = case["shape"]
    r = np.random.default_rng(len(shape) * 31 + shape[-1])
    x = big_logits(shape, seed=shape[0] + shape[-1])
    C = shape[1]
    pos = (shape[0],) + shape[2:]
    if case.get("prob"):
        t = r.dirichlet(np.ones(C), size=int(np.prod(pos))).astype(np.float32)
        t = np.ascontiguousarray(np.moveaxis(t.reshape(pos + (C,)), -1, 1))
        tt = t64(t)
    else:
        t = r.integers(0, C, pos).astype(np.int64)
        tt = torch.tensor(t)
    w = r.uniform(0.5, 2.0, C).astype(np.float32) if case.get("weight") else None
    kw = dict(label_smoothing=case.get("label_smoothing", 0.0), reduction=case.get("reduction", "mean"))
    tx = t64(x, True)
    ref = TF.cross_entropy(tx, tt, weight=None if w is None else t64(w), **kw)
    gout = np.random.default_rng(3).standard_normal(ref.shape).astype(np.float32)
    (ref * t64(gout)).sum().backward()
    with isa(level):
        loss = np.asarray(F.cross_entropy(x, t, weight=w, **kw))
        _, dx = fc.value_and_grad(lambda a: (F.cross_entropy(a, t, weight=w, **kw) * gout).sum())(x)
    want = ref.detach().numpy()
    # Per-position losses are O(10) here; their float32 ulps are ~1e-6.
    assert np.abs(loss - want).max() <= 2e-5 * max(1.0, float(np.abs(want).max())), np.abs(loss - want).max()
    gref = tx.grad.numpy()
    assert np.abs(dx - gref).max() <= 1e-5 * max(1.0, float(np.abs(gref).max())), np.abs(dx - gref).max()
