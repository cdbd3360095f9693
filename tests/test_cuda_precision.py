"""compile(..., precision='fp32'|'tf32'|'bf16') (docs/cuda.md, "Precision"). The argument's checks run on every
build; the training tests need a device (a GPU or the CUDA emulator build, as tests/test_cuda.py).

Reference: the same zoo model trained for two steps on the CPU in FP32 from the same weights (the CPU path is
itself checked against PyTorch by the op tests). fp32 on the device must match it at tests/test_cuda.py's bound;
tf32 and bf16 within bounds derived from the mantissa width (see _bound), and measurably not bit-equal to fp32 on
the device, so that the tensor-core kernels are known to have run."""
import functools

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")


# ---- the argument (every build) -------------------------------------------------------------------------------------

def test_precision_argument_is_checked():
    m = nn.Sequential(nn.Linear(3, 2))
    for bad in ("fp16", "TF32", "", 16, None):
        with pytest.raises(ValueError, match=r"argument 'precision' is .*; expected 'fp32', 'tf32' or 'bf16'"):
            fc.compile(m, (2, 3), precision=bad)


def test_reduced_precision_on_the_cpu_says_what_is_supported():
    m = nn.Sequential(nn.Linear(3, 2))
    for p in ("tf32", "bf16", "bfloat16"):
        with pytest.raises(NotImplementedError, match=f"precision='{p}' needs device='cuda'.*only precision='fp32'"):
            fc.compile(m, (2, 3), precision=p)


def test_fp32_is_the_default_and_exact_on_the_cpu():
    m = nn.Sequential(nn.Linear(3, 2))
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    a, b = fc.compile(m, x.shape), fc.compile(m, x.shape, precision="float32")
    assert a.precision == b.precision == "fp32" and a._main().exe.precision == "fp32"
    w, bias = (np.asarray(t, np.float64) for t in (m[0].weight, m[0].bias))
    np.testing.assert_allclose(np.asarray(a.forward(x)), x.astype(np.float64) @ w.T + bias, rtol=1e-5, atol=1e-6)
    assert np.array_equal(np.asarray(a.forward(x)), np.asarray(b.forward(x)))
    assert "precision" not in a.schedule()


def test_the_executable_checks_precision_too():
    # C++ clients (CompileOptions::precision) get the same checks as Python's compile
    net = fc.compile(nn.Sequential(nn.Linear(3, 2)), (2, 3))
    exe = net._main().exe
    graph, outputs = net._main().ctx.graph, net._main().outs
    with pytest.raises(ValueError, match="argument 'precision' is 'fp8'"):
        fc._C.Executable(graph, outputs, "cpu", precision="fp8")
    with pytest.raises(NotImplementedError, match="precision='bf16' needs device='cuda'"):
        fc._C.Executable(graph, outputs, "cpu", precision="bf16")
    assert exe.precision == "fp32"


# ---- training on the device -----------------------------------------------------------------------------------------

# A subset of tests/test_cuda.py's ZOO_TRAIN that keeps the emulator time near a minute (the emulated mma.sync is
# far slower than the SIMT kernels: vgg11_bn took minutes per precision, unet at depth 3 and 32x32 a minute) and
# still reaches every GEMM path the option touches: linear and im2col convolutions (forward, backward data,
# backward weight) after tanh / average pooling and ReLU / max pooling (lenet5, lenet5_modern), and padded 3x3,
# 1x1 and transposed convolutions with concatenation (unet).
ZOO = [
    ("lenet5", dict(num_classes=10, in_channels=1), 2, 32),
    ("lenet5_modern", dict(num_classes=10, in_channels=1), 2, 28),
    ("unet", dict(num_classes=3, in_channels=1, base=8, depth=2), 2, 16),  # test_cuda.py's: depth 3 at 32x32
]
STEPS = 2
U = {"fp32": 2.0 ** -24, "tf32": 2.0 ** -11, "bf16": 2.0 ** -8}  # unit roundoff of the GEMM operands


@functools.lru_cache(maxsize=None)
def _trained(name, precision):
    """(losses, updates {key: w_after - w_before} in float64, final state, schedule) after STEPS SGD steps from
    the same weights and data; precision None is the CPU in FP32."""
    import fastconv.models as M
    kw, n, s = next((kw, n, s) for nm, kw, n, s in ZOO if nm == name)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, kw["in_channels"], s, s)).astype(np.float32) * 2
    y = rng.integers(0, kw["num_classes"], (n, s, s) if name == "unet" else n)
    fc.manual_seed(0)
    model = M.get(name, **kw)
    fc.manual_seed(0)
    ref = M.get(name, **kw)  # the weights every run starts from
    model.load_state_dict(ref.state_dict())
    before = {k: np.asarray(v, np.float64).copy() for k, v in ref.state_dict().items()}
    device = dict(device="cuda", precision=precision) if precision else {}
    net = fc.compile(model, x.shape, loss="cross_entropy",
                     optimizer=fc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9), **device)
    losses = [net.train_step(x, y) for _ in range(STEPS)]
    state = {k: np.asarray(v, np.float64).copy() for k, v in model.state_dict().items()}
    params = {k for k, _ in model.named_parameters()}
    updates = {k: state[k] - before[k] for k in params}
    return np.array(losses, np.float64), updates, state, (net.schedule() if precision else "")


def _gemm_layers(name):
    """GEMM layers (conv, conv_transpose, linear) in the model: an upper bound on the longest chain of them from
    input to loss, along which relative errors add."""
    import fastconv.models as M
    kw = next(kw for nm, kw, n, s in ZOO if nm == name)
    return sum(isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)) for m in M.get(name, **kw).modules())


KAPPA = 2  # allowance for cancellation and for layers that amplify errors (see _bound)


def _bound(name, precision, gemms_per_layer):
    # One GEMM element with operands rounded to unit roundoff u: each product a_k b_k is off by at most (2u + u^2)
    # of itself, so the element by (2u + u^2) sum_k |a_k b_k| plus FP32 accumulation's K 2^-24 sum_k |a_k b_k|
    # (gemm.cuh; checked per kernel, worst case, in tests/cpp/cuda/test_gemm.cu). The rounding errors of different
    # operands are independent, so they add like a random walk: relative to the element (whose own terms of mixed
    # sign also add like one), the error is about 2u, not 2u times the cancellation ratio sum|ab| / |sum ab| of the
    # worst case (Higham & Mary's probabilistic bound; the worst case, sqrt(K) ~ 20-70 here, would make the bf16
    # bound larger than 1). Along a chain of L layers the relative errors add: L 2u for the forward pass (the
    # losses), 3 L 2u for a training step (forward, backward data and backward weight per layer: the updates).
    # KAPPA covers cancellation left over and layers that amplify (batch norm divides by a standard deviation).
    # FP32 accumulation (K <= 4608: K 2^-24 < 3e-4) is below bf16's 2u = 8e-3 and tf32's 1e-3 by 3 and 4 digits.
    return gemms_per_layer * _gemm_layers(name) * KAPPA * 2 * U[precision]


SMOOTH = {"lenet5"}  # tanh and average pooling: the step is a smooth function of the GEMMs' results


def _update_bound(name, precision):
    # ReLU and max pooling are continuous, so the losses keep _bound's forward bound, but their derivatives jump:
    # where a rounding moves a pre-activation across 0 or changes a pooling window's maximum, that gradient entry
    # changes by O(1), not O(u). About a fraction u of the entries are that close to a kink, so the relative L2
    # error of the updates grows like sqrt(u) (measured: 0.03-0.05 for tf32, up to 0.13 for bf16 on unet, while
    # the smooth lenet5 shows 3e-4 and 2.4e-3, 8x apart as the mantissas are). Bound: 4 sqrt(2u).
    step = _bound(name, precision, 3)
    return step if name in SMOOTH else max(step, 4 * np.sqrt(2 * U[precision]))


def _rel_l2(a, b, keys):
    num = np.sqrt(sum(np.sum((a[k] - b[k]) ** 2) for k in keys))
    den = np.sqrt(sum(np.sum(b[k] ** 2) for k in keys))
    return num / den


@needs_device
@pytest.mark.parametrize("name", [z[0] for z in ZOO])
def test_fp32_on_the_device_matches_the_cpu(name):
    lc, uc, sc, _ = _trained(name, None)
    ld, ud, sd, sched = _trained(name, "fp32")
    np.testing.assert_allclose(ld, lc, rtol=1e-3)  # tests/test_cuda.py's zoo bounds
    for k in sc:
        d = np.abs(sd[k] - sc[k]).max() if sc[k].size else 0.0
        assert d <= 1e-3 * max(1.0, np.abs(sc[k]).max()), (k, d)
    assert "tf32" not in sched and "bf16" not in sched and "precision" not in sched.splitlines()[0]


@needs_device
@pytest.mark.parametrize("precision", ["tf32", "bf16"])
@pytest.mark.parametrize("name", [z[0] for z in ZOO])
def test_reduced_precision_trains_within_its_bound(name, precision):
    lc, uc, sc, _ = _trained(name, None)
    l32, u32, s32, _ = _trained(name, "fp32")
    lr, ur, sr, sched = _trained(name, precision)
    fwd, step = _bound(name, precision, 1), _update_bound(name, precision)
    keys = sorted(uc)
    # the tensor-core path ran: the schedule says so for every linear layer and GEMM convolution, and the result
    # is not fp32's (fp32 on the device is within ~1e-6 of the CPU; the rounded operands move it by ~u)
    lines = sched.splitlines()
    assert f"precision {precision}" in lines[0]
    gemm_steps = [ln for ln in lines if "<sgemm__cuda" in ln or "<im2col_gemm__cuda" in ln]
    assert gemm_steps and all(ln.split(">")[0].endswith(" " + precision) for ln in gemm_steps), gemm_steps
    assert not any("<implicit_gemm__cuda" in ln or "<winograd" in ln for ln in lines)
    assert not np.array_equal(lr, l32)
    moved = _rel_l2(ur, u32, keys)
    assert moved > 0.1 * U[precision], moved  # far above fp32's own distance to the CPU
    # ... and within the bound of the CPU's FP32 result
    print(f"{name} {precision}: loss rel {np.abs(lr / lc - 1).max():.3g} (bound {fwd:.3g}), update rel "
          f"{_rel_l2(ur, uc, keys):.3g} (bound {step:.3g}), vs fp32 {moved:.3g}")
    np.testing.assert_allclose(lr, lc, rtol=fwd)
    assert _rel_l2(ur, uc, keys) <= step, (_rel_l2(ur, uc, keys), step)
    for k in sc:  # running statistics and weights, elementwise, as tests/test_cuda.py's state check
        d = np.abs(sr[k] - sc[k]).max() if sc[k].size else 0.0
        assert d <= step * max(1.0, np.abs(sc[k]).max()), (k, d, step)


@needs_device
def test_bf16_is_coarser_than_tf32():
    # 3 mantissa bits fewer: on the smooth model the update's distance to the CPU's grows by ~8x (measured 8.2x;
    # we ask for 4x)
    name = "lenet5"
    _, uc, _, _ = _trained(name, None)
    _, ut, _, _ = _trained(name, "tf32")
    _, ub, _, _ = _trained(name, "bf16")
    keys = sorted(uc)
    assert _rel_l2(ub, uc, keys) > 4 * _rel_l2(ut, uc, keys)


@needs_device
def test_forced_fp32_kernels_stay_fp32():
    # implicit GEMM has no tensor-core version: forced under bf16 it runs, unlabelled, with fp32's exact bits;
    # unforced, bf16 picks im2col_gemm__cuda on the tensor cores and the result moves by about u
    fc.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1))
    x = np.random.default_rng(1).standard_normal((2, 3, 8, 8)).astype(np.float32)
    forced = dict(device="cuda", algo={"conv": "implicit_gemm"})
    y32 = np.asarray(fc.compile(m, x.shape, precision="fp32", **forced).forward(x))
    net = fc.compile(m, x.shape, precision="bf16", **forced)
    assert "<implicit_gemm__cuda>" in net.schedule() and "bf16>" not in net.schedule()
    assert np.array_equal(np.asarray(net.forward(x)), y32)
    free = fc.compile(m, x.shape, device="cuda", precision="bf16")
    assert "<im2col_gemm__cuda bf16>" in free.schedule()
    yb = np.asarray(free.forward(x))
    rel = np.abs(yb - y32).max() / np.abs(y32).max()
    assert 0 < rel <= 2 * 2 * 2.0 ** -8, rel  # one GEMM: within 2 * 2u of fp32
