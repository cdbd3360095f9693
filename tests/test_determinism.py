"""Same seed, same result: compiled CPU training is bit-identical run to run and across thread counts.

Convolution weight gradients used to keep one partial sum per thread, so the rounding of the batch sum changed
with fc.set_num_threads (a small CNN's weights differed by ~1e-5 after six steps on 1 vs 2 threads). They now sum
into accumulation groups fixed by the problem (cpu/conv_gemm.cpp, kWeightGroups), and SGEMM's K split (a tiny
output, a long reduction: a Linear weight gradient over a huge batch) slices K by the shape alone
(cpu/gemm/gemm.cpp, run_k_split), not by the thread count.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn


@pytest.fixture(autouse=True)
def restore_threads():
    n = fc.get_num_threads()
    yield
    fc.set_num_threads(n)


def train(threads: int, optimizer: str, steps: int = 5) -> dict:
    fc.set_num_threads(threads)
    fc.manual_seed(1234)
    net = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.Dropout2d(0.2),
                        nn.Conv2d(32, 32, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                        nn.Linear(32, 10))
    opt = fc.optim.Adam(net.parameters(), lr=1e-2) if optimizer == "adam" else \
        fc.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    step = fc.compile(net, (16, 3, 24, 24), loss="cross_entropy", optimizer=opt)
    r = np.random.default_rng(7)
    losses = []
    for _ in range(steps):
        x = r.standard_normal((16, 3, 24, 24)).astype(np.float32)
        losses.append(step.train_step(x, r.integers(0, 10, 16)))
    state = {k: np.array(v) for k, v in net.state_dict().items()}
    for i, p in enumerate(net.parameters()):
        for name, a in opt.state.get(id(p), {}).items():
            state[f"opt.{i}.{name}"] = np.array(a)
    state["losses"] = np.array(losses)
    return state


def identical(a: dict, b: dict) -> list:
    assert a.keys() == b.keys()
    return [k for k in a if not np.array_equal(a[k], b[k])]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_training_is_bit_identical_across_runs_and_thread_counts(optimizer):
    one, one_again = train(1, optimizer), train(1, optimizer)
    two, two_again = train(2, optimizer), train(2, optimizer)
    assert any(k.startswith("opt.") for k in one) and np.isfinite(one["losses"]).all()
    assert identical(one, one_again) == []
    assert identical(two, two_again) == []
    assert identical(one, two) == []
    assert identical(one, train(3, optimizer)) == []  # more threads than cores, and than some groups


def grads_on(threads: int, f, args, algo: str | None = None):
    fc.set_num_threads(threads)
    old = os.environ.get("FASTCONV_ALGO")
    if algo:
        os.environ["FASTCONV_ALGO"] = f"conv={algo}"
    try:
        _, g = fc.value_and_grad(f, argnums=tuple(range(len(args))))(*args)
    finally:
        if algo:
            if old is None:
                del os.environ["FASTCONV_ALGO"]
            else:
                os.environ["FASTCONV_ALGO"] = old
    return [np.array(a) for a in (g if isinstance(g, tuple) else (g,))]


def _conv_case(name):
    r = np.random.default_rng(3)
    rn = lambda *s: r.standard_normal(s).astype(np.float32)  # noqa: E731
    if name == "im2col":        # per-image columns, accumulation groups
        x, w, g, kw, algo = rn(12, 8, 20, 20), rn(16, 8, 3, 3), rn(12, 16, 20, 20), dict(padding=1), "im2col_gemm"
    elif name == "im2col_chunk":  # small maps: batched columns, one GEMM per chunk
        x, w, g, kw, algo = rn(40, 16, 4, 4), rn(16, 16, 3, 3), rn(40, 16, 4, 4), dict(padding=1), "im2col_gemm"
    elif name == "gemm_1x1":
        x, w, g, kw, algo = rn(12, 16, 12, 12), rn(8, 16, 1, 1), rn(12, 8, 12, 12), {}, "gemm_1x1"
    elif name == "gemm_1x1_transposed":  # more input than output channels: dW^T partials
        x, w, g, kw, algo = rn(12, 8, 12, 12), rn(24, 8, 1, 1), rn(12, 24, 12, 12), {}, "gemm_1x1"
    elif name == "winograd":
        x, w, g, kw, algo = rn(6, 32, 16, 16), rn(32, 32, 3, 3), rn(6, 32, 16, 16), dict(padding=1), "winograd_f4x3"
    else:  # depthwise
        x, w, g, kw, algo = rn(6, 16, 16, 16), rn(16, 1, 3, 3), rn(6, 16, 16, 16), dict(padding=1, groups=16), None
    return (lambda x, w: F.sum(F.mul(F.conv2d(x, w, None, **kw), g))), (x, w), algo


@pytest.mark.parametrize("name", ["im2col", "im2col_chunk", "gemm_1x1", "gemm_1x1_transposed", "winograd",
                                  "depthwise"])
def test_conv_gradients_do_not_depend_on_the_thread_count(name):
    f, args, algo = _conv_case(name)
    ref = grads_on(1, f, args, algo)
    for t in (2, 3, 5):
        got = grads_on(t, f, args, algo)
        assert all(np.array_equal(a, b) for a, b in zip(ref, got)), (name, t)


def test_linear_weight_gradient_over_a_huge_batch_does_not_depend_on_the_thread_count():
    r = np.random.default_rng(5)
    x, w, g = (r.standard_normal(s).astype(np.float32) for s in ((32768, 64), (10, 64), (32768, 10)))
    f = lambda w: F.sum(F.mul(F.linear(x, w), g))  # noqa: E731
    assert np.array_equal(grads_on(1, f, (w,))[0], grads_on(2, f, (w,))[0])
