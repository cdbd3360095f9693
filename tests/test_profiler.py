"""Compiled.profile: per-kernel times measured in the executor, one row per scheduled kernel."""
import re

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn


def small_net():
    fc.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 5))


def test_profile_has_one_row_per_scheduled_kernel_and_counts_every_run():
    m = small_net()
    c = fc.compile(m, (4, 3, 8, 8), loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8)).astype(np.float32)
    y = np.array([0, 1, 2, 3])
    w0 = np.array(m.state_dict()["0.weight"], copy=True)
    prof = c.profile(x, y, steps=3, warmup=1)
    sched = [ln for ln in c.schedule().splitlines() if re.match(r"\s+\[\d+\]", ln)]
    assert len(prof.kernels) == len(sched)
    for k, line in zip(prof.kernels, sched):
        assert f"[{k.step}] {k.op}" in line
        assert k.ms >= 0
    assert prof.runs == 3 and prof.total_ms > 0
    assert any(k.op == "sgd_update" for k in prof.kernels)
    assert not np.array_equal(w0, m.state_dict()["0.weight"])  # the profiled steps trained, as documented
    by_op = prof.by_op()
    assert sum(n for _, _, n in by_op) == len(sched)
    assert [ms for _, ms, _ in by_op] == sorted((ms for _, ms, _ in by_op), reverse=True)
    assert "conv2d" in prof.table() and "% " not in prof.table("step").splitlines()[0]


def test_profile_inference_and_bad_arguments():
    m = small_net()
    c = fc.compile(m, (2, 3, 8, 8))
    x = np.zeros((2, 3, 8, 8), np.float32)
    prof = c.profile(x, steps=2)
    assert prof.kind == "inference" and not any(k.op.endswith("_backward") for k in prof.kernels)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        c.profile(x, steps=0)
    with pytest.raises(ValueError, match="loss=... and optimizer"):
        c.profile(x, np.zeros(2, np.int64))
    with pytest.raises(ValueError, match="by must be 'op' or 'step'"):
        prof.table(by="layer")
