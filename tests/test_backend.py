"""The kernel table and backends: one override mechanism (FASTCONV_ALGO / compile(algo=...)) with clear errors,
schedule labels that name what runs, and a toy backend ("cpu-ref", only the reference kernels) registered at run
time that compiles and trains a CNN with no change to the graph layer: its losses and weights match the default
CPU backend's, and an op the backend lacks is a compile-time error naming op and backend."""
from __future__ import annotations

import copy

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from conftest import randn, rel_err, t64, torch


def small_cnn():
    fc.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1), nn.ReLU(), nn.Dropout(0.25), nn.Flatten(), nn.Linear(6 * 4 * 4, 3))


def batch(seed):
    r = np.random.default_rng(seed)
    return r.standard_normal((6, 1, 8, 8)).astype(np.float32), r.integers(0, 3, 6)


def train(model, backend, steps=4, **kw):
    opt = fc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    net = fc.compile(model, (6, 1, 8, 8), loss="cross_entropy", optimizer=opt, backend=backend, **kw)
    x, y = batch(0)  # one batch, so the loss must fall
    losses = [net.train_step(x, y) for _ in range(steps)]
    return net, losses


def test_reference_backend_trains_like_cpu():
    fc.backends.derive("cpu-ref")
    assert "cpu-ref" in fc.backends.names()
    a, b = small_cnn(), small_cnn()
    net_ref, loss_ref = train(a, "cpu-ref")
    net_cpu, loss_cpu = train(b, None)
    sched = net_ref.schedule()
    assert "(backend cpu-ref)" in sched.splitlines()[0]
    # The toy backend runs exactly what the CPU runs with every reference kernel forced.
    forced, _ = train(small_cnn(), None, steps=0, algo={"*": "ref"})
    assert sched.splitlines()[1:] == forced.schedule().splitlines()[1:]
    assert "conv2d <ref>" in sched and "conv2d <ref>" not in net_cpu.schedule()
    np.testing.assert_allclose(loss_ref, loss_cpu, rtol=1e-5)
    assert loss_ref[-1] < loss_ref[0]
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_allclose(pa, pb, rtol=2e-4, atol=2e-5, err_msg=name)


def test_backend_without_a_kernel_is_a_compile_time_error_naming_op_and_backend():
    fc.backends.derive("cpu-copies-only", "cpu", ["copy"])
    with pytest.raises(NotImplementedError, match=r"in layer '0': conv2d: backend 'cpu-copies-only' has no kernel "
                                                  r"for this op with float32 input \(kernels exist on: cpu"):
        fc.compile(nn.Sequential(nn.Conv2d(1, 2, 3)), (1, 1, 5, 5), backend="cpu-copies-only")


def test_unknown_backend_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"unknown backend 'tpu' \(registered backends: cpu, cuda"):
        fc.compile(nn.Sequential(nn.ReLU()), (2, 3), backend="tpu")


def test_star_forces_every_reference_kernel_and_labels_say_so():
    net = fc.compile(small_cnn(), (6, 1, 8, 8), loss="cross_entropy",
                     optimizer=fc.optim.SGD(small_cnn().parameters(), lr=0.1), algo={"*": "ref"}, fuse=False)
    sched = net.schedule()
    for op in ("conv2d", "max_pool2d", "batch_norm", "relu", "linear", "cross_entropy"):
        assert f"] {op} <ref>" in sched, op
    default = fc.compile(small_cnn(), (6, 1, 8, 8), fuse=False).schedule()
    assert "] relu <relu__" in default and "] conv2d <ref>" not in default


def test_compile_algo_overrides_the_environment(monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", "conv=ref")
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    assert "conv2d <ref>" in fc.compile(m, (2, 3, 16, 16)).schedule()
    assert "conv2d <im2col_gemm>" in fc.compile(m, (2, 3, 16, 16), algo={"conv": "im2col_gemm"}).schedule()
    # A forced algorithm that does not apply to a call leaves the choice to the rules.
    assert "conv2d <im2col_gemm>" in fc.compile(nn.Sequential(nn.Conv2d(3, 8, 5)), (2, 3, 16, 16),
                                                algo={"conv": "gemm_1x1"}).schedule()
    # An op name is more specific than its family.
    sched = fc.compile(m, (2, 3, 16, 16), algo={"conv": "ref", "conv2d": "winograd_f4x3"}).schedule()
    assert "conv2d <winograd_f4x3>" in sched


@pytest.mark.parametrize("spec,msg", [
    ("conv", r"FASTCONV_ALGO: 'conv' is not key=value"),
    ("convv=ref", r"'convv=ref': 'convv' is neither an op nor an op family \(families: .*conv.*norm.*pool"),
    ("pool=winograd_f4x3", r"no pool kernel is called 'winograd_f4x3' \(pool algorithms: ref, vec\)"),
    ("*=fastest", r"'\*=fastest': no kernel is called 'fastest'"),
])
def test_bad_override_specs_are_errors(monkeypatch, spec, msg):
    monkeypatch.setenv("FASTCONV_ALGO", spec)
    with pytest.raises(ValueError, match=msg):
        F.max_pool2d(randn(1, 1, 4, 4), 2)


@pytest.mark.parametrize("old", ["FASTCONV_CONV_ALGO", "FASTCONV_NORM_ALGO", "FC_WINO_TILES"])
def test_retired_variables_are_refused_not_ignored(monkeypatch, old):
    monkeypatch.setenv(old, "ref")
    with pytest.raises(ValueError, match=rf"{old} \(set to 'ref'\) was replaced by FASTCONV_ALGO"):
        F.relu(randn(3))


def test_compile_rejects_a_malformed_algo_argument():
    with pytest.raises(TypeError, match="compile: algo must be a dict"):
        fc.compile(nn.Sequential(nn.ReLU()), (2, 3), algo=["ref"])


def test_algorithms_lists_what_overrides_may_name():
    assert {"ref", "im2col_gemm", "gemm_1x1", "depthwise_direct", "winograd_f4x3"} <= set(fc.backends.algorithms("conv"))
    assert fc.backends.algorithms("pool") == ["ref", "vec"]


def test_winograd_block_size_is_an_option_read_in_prepare():
    # conv.winograd_fused_tiles (what FC_WINO_TILES was) forces Winograd's tiles per block: the blocking changes,
    # the result does not (against torch in float64), and a value that is not an int is an error naming the key.
    fc.manual_seed(1)
    m = nn.Sequential(nn.Conv2d(8, 16, 3, padding=1))
    x = randn(2, 8, 20, 20, seed=3)
    ref = torch.nn.functional.conv2d(t64(x), t64(np.asarray(m[0].weight)), t64(np.asarray(m[0].bias)), padding=1)
    for tiles in ("12", "24", "480"):
        net = fc.compile(m, (2, 8, 20, 20), algo={"conv": "winograd_f4x3", "conv.winograd_fused_tiles": tiles})
        assert "conv2d <winograd_f4x3>" in net.schedule()
        assert rel_err(net.predict(x), ref) <= 1e-5
    with pytest.raises(ValueError, match="conv.winograd_fused_tiles"):
        fc.compile(m, (2, 8, 20, 20), algo={"conv": "winograd_f4x3", "conv.winograd_fused_tiles": "many"})
