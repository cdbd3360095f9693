"""batch_norm, group_norm, layer_norm, local_response_norm: forward, running statistics and gradients against
PyTorch float64, with both the reference and the parallel kernels (FASTCONV_ALGO=norm=ref forces the reference)."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import forced_algo, randn, rel_err, t64, torch

TF = torch.nn.functional
ALGOS = ["parallel", "ref"]


def algo(name):
    return forced_algo("" if name == "parallel" else f"norm={name}")  # parallel: what the rules pick


def grads_vs_torch(fn, torch_fn, arrays, tol=1e-4, atol_scale=0.0):
    """value_and_grad of sum(fn(*arrays) * w) against torch.autograd in float64, for every array argument.
    atol_scale: the natural size of d/dx (e.g. |weight| / std for batch_norm); when x has very few values per
    channel the true dx is a small difference of O(atol_scale) terms, so float32 earns an absolute floor of
    1e-5 * atol_scale * ||w||."""
    targs = [t64(a, True) for a in arrays]
    ref = torch_fn(*targs)
    w = randn(*ref.shape, seed=11)
    (ref * t64(w)).sum().backward()
    _, gs = fc.value_and_grad(lambda *a: (fn(*a) * w).sum(), argnums=tuple(range(len(arrays))))(*arrays)
    for g, t in zip(gs, targs):
        err = np.linalg.norm(np.asarray(g, np.float64) - t.grad.numpy())
        assert err <= tol * np.linalg.norm(t.grad.numpy()) + 1e-5 * atol_scale * np.linalg.norm(w), err


def close(y, ref, tol=1e-5):
    """rel_err <= tol, with an absolute floor of 1e-6 per element: a group or row with a single value normalises
    to exactly 0 here and to ~1e-15 round-off in torch's float64."""
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    assert y.shape == ref.shape
    return np.linalg.norm(np.asarray(y, np.float64) - ref) <= tol * np.linalg.norm(ref) + 1e-6 * np.sqrt(ref.size)


def inv_std(x, axes, eps):
    """max over groups of 1/sqrt(var + eps): the natural scale of d(normalised)/dx."""
    return float(1.0 / np.sqrt(x.astype(np.float64).var(axis=axes) + eps).min())


# ---- batch_norm ------------------------------------------------------------------------------------------------------

@st.composite
def bn_case(draw):
    rank = draw(st.integers(2, 5))
    n = draw(st.integers(0, 4))
    c = draw(st.integers(1, 5))
    spatial = [draw(st.integers(1, 4)) for _ in range(rank - 2)]
    shape = (n, c, *spatial)
    training = draw(st.booleans())
    if training and n * int(np.prod(spatial, dtype=np.int64)) == 1:
        shape = (2, c, *spatial)
    return dict(shape=shape, training=training, affine=draw(st.sampled_from(["none", "weight", "both"])),
                running=draw(st.booleans()) or not training, momentum=draw(st.sampled_from([0.1, 0.5, 0.0, 1.0])),
                eps=draw(st.sampled_from([1e-5, 1e-3])), algo=draw(st.sampled_from(ALGOS)),
                seed=draw(st.integers(0, 999)))


@settings(max_examples=60, deadline=None)
@given(case=bn_case())
def test_batch_norm_forward_running_stats_and_grads(case):
    shape, training, c = case["shape"], case["training"], case["shape"][1]
    x = randn(*shape, seed=case["seed"], scale=2.0) + 0.5
    rm, rv = randn(c, seed=1), (np.random.default_rng(2).random(c) + 0.5).astype(np.float32)
    w = randn(c, seed=3) if case["affine"] != "none" else None
    b = randn(c, seed=4) if case["affine"] == "both" else None
    kw = dict(training=training, momentum=case["momentum"], eps=case["eps"])
    trm, trv = (t64(rm), t64(rv)) if case["running"] else (None, None)
    ours_rm, ours_rv = (rm.copy(), rv.copy()) if case["running"] else (None, None)
    with algo(case["algo"]):
        y = F.batch_norm(x, ours_rm, ours_rv, w, b, **kw)
        ref = TF.batch_norm(t64(x), trm, trv, None if w is None else t64(w), None if b is None else t64(b), **kw)
        assert close(y, ref)
        if case["running"]:  # updated in place with the unbiased variance (torch), unchanged in eval
            assert rel_err(ours_rm, trm) <= 1e-6 and rel_err(ours_rv, trv) <= 1e-6
        if x.size == 0:
            return
        params = [a for a in (w, b) if a is not None]

        def fn(x, *p):
            return F.batch_norm(x, None if rm is None else rm.copy(), None if rv is None else rv.copy(), *p, **kw)

        def tfn(x, *p):
            return TF.batch_norm(x, None if trm is None else t64(rm), None if trv is None else t64(rv), *p, **kw)
        axes = tuple(i for i in range(x.ndim) if i != 1)
        std = np.sqrt((x.var(axis=axes) if training else rv) + case["eps"])
        grads_vs_torch(fn, tfn, [x, *params], atol_scale=(1.0 if w is None else np.abs(w).max()) / std.min())


def test_batch_norm_updates_running_stats_on_every_compiled_step():
    """side_effects: the update node survives dead-code removal and runs on each executable run, writing through
    the caller's arrays (they are bound into the graph without a copy)."""
    x = randn(8, 3, 4, seed=5)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    t = fc.trace(lambda v: F.batch_norm(v, rm, rv, training=True, momentum=0.3).sum(), x)
    trm, trv = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        t.run([x])
        TF.batch_norm(t64(x), trm, trv, training=True, momentum=0.3)
    assert rel_err(rm, trm) <= 1e-6 and rel_err(rv, trv) <= 1e-6


def test_batch_norm_errors():
    x = randn(2, 3, 4)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    with pytest.raises(ValueError, match=r"batch_norm: running_mean should contain 3 elements not 4 "
                                         r"\(running_mean shape \[4\], expected \[3\] for input shape \[2, 3, 4\]"):
        F.batch_norm(x, np.zeros(4, np.float32), rv)
    with pytest.raises(ValueError, match=r"batch_norm: weight should contain 3 elements not 2"):
        F.batch_norm(x, rm, rv, weight=np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"expected more than 1 value per channel when training, got input size "
                                         r"\[1, 3\]"):
        F.batch_norm(randn(1, 3), rm, rv, training=True)
    with pytest.raises(ValueError, match="running_mean and running_var must be given in evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(TypeError, match=r"batch_norm: argument 'running_mean' is updated in place when training.*"
                                        r"got dtype float64"):
        F.batch_norm(x, np.zeros(3), rv, training=True)
    with pytest.raises(TypeError, match=r"'running_var' .* not C-contiguous"):
        F.batch_norm(x, rm, np.ones(6, np.float32)[::2], training=True)
    with pytest.raises(ValueError, match=r"batch_norm: argument 'input' must be 2-D to 5-D"):
        F.batch_norm(randn(3), rm, rv)
    with pytest.raises(ValueError, match=r"'norm=fast': no norm kernel is called 'fast' \(norm algorithms: "
                                         r"channels, fold, ref, rows\)"), algo("fast"):
        F.batch_norm(x, rm, rv)


def test_batch_norm_eval_accepts_any_float_running_stats_without_touching_them():
    x = randn(4, 3, seed=8)
    rm, rv = np.arange(3.0), np.ones(3) * 2  # float64: converted, and never written in eval
    y = F.batch_norm(x, rm, rv)
    assert rel_err(y, TF.batch_norm(t64(x), t64(rm), t64(rv))) <= 1e-6
    assert list(rm) == [0.0, 1.0, 2.0]


# ---- group_norm / layer_norm -------------------------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 3), groups=st.integers(1, 4), per=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 5), min_size=0, max_size=3), affine=st.sampled_from(["none", "weight", "both"]),
       eps=st.sampled_from([1e-5, 1e-2]), which=st.sampled_from(ALGOS), seed=st.integers(0, 999))
def test_group_norm(n, groups, per, spatial, affine, eps, which, seed):
    c = groups * per
    if n * int(np.prod(spatial)) == 1:  # torch refuses that shape (tested in test_group_and_layer_norm_errors)
        n = 2
    x = randn(n, c, *spatial, seed=seed, scale=3.0) - 1.0
    params = [randn(c, seed=seed + 1), randn(c, seed=seed + 2)][: {"none": 0, "weight": 1, "both": 2}[affine]]
    with algo(which):
        y = F.group_norm(x, groups, *params, eps=eps)
        assert close(y, TF.group_norm(t64(x), groups, *[t64(p) for p in params], eps=eps))
        if x.size:
            scale = inv_std(x.reshape(n, groups, -1), 2, eps) * (np.abs(params[0]).max() if params else 1.0)
            grads_vs_torch(lambda x, *p: F.group_norm(x, groups, *p, eps=eps),
                           lambda x, *p: TF.group_norm(x, groups, *p, eps=eps), [x, *params], atol_scale=scale)


@settings(max_examples=50, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=4), k=st.integers(1, 4), zero_batch=st.booleans(),
       affine=st.sampled_from(["none", "weight", "both"]), as_int=st.booleans(), which=st.sampled_from(ALGOS),
       seed=st.integers(0, 999))
def test_layer_norm(shape, k, zero_batch, affine, as_int, which, seed):
    k = min(k, len(shape))
    if zero_batch and len(shape) > k:
        shape[0] = 0
    ns = tuple(shape[-k:])
    x = randn(*shape, seed=seed, scale=2.0) + 3.0
    params = [randn(*ns, seed=seed + 1), randn(*ns, seed=seed + 2)][: {"none": 0, "weight": 1, "both": 2}[affine]]
    arg = ns[0] if as_int and k == 1 else ns
    with algo(which):
        y = F.layer_norm(x, arg, *params)
        assert close(y, TF.layer_norm(t64(x), ns, *[t64(p) for p in params]))
        if x.size:
            scale = inv_std(x.reshape(-1, int(np.prod(ns))), 1, 1e-5) * (np.abs(params[0]).max() if params else 1.0)
            grads_vs_torch(lambda x, *p: F.layer_norm(x, arg, *p), lambda x, *p: TF.layer_norm(x, ns, *p),
                           [x, *params], atol_scale=scale)


def test_group_and_layer_norm_errors():
    x = randn(2, 6, 3)
    with pytest.raises(ValueError, match=r"group_norm: expected number of channels in input to be divisible by "
                                         r"num_groups, but got input of shape \[2, 6, 3\] and num_groups=4"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="group_norm: argument 'num_groups' must be positive, got 0"):
        F.group_norm(x, 0)
    with pytest.raises(ValueError, match=r"group_norm: weight should contain 6 elements not 3"):
        F.group_norm(x, 3, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"layer_norm: given normalized_shape=\[6\], expected input with shape "
                                         r"\[\*, 6\], but got input of size \[2, 6, 3\]"):
        F.layer_norm(x, (6,))
    with pytest.raises(ValueError, match=r"layer_norm: weight should contain 3 elements not 4"):
        F.layer_norm(x, (3,), np.ones(4, np.float32))
    with pytest.raises(ValueError, match=r"group_norm: expected more than 1 value per channel when training, got "
                                         r"input size \[1, 6\]"):
        F.group_norm(randn(1, 6), 3)
    with pytest.raises(ValueError, match=r"group_norm: expected at least 2 dimensions"):
        F.group_norm(randn(6), 3)


# ---- local_response_norm ---------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 2), c=st.integers(1, 7), spatial=st.lists(st.integers(1, 4), min_size=1, max_size=3),
       size=st.integers(1, 6), alpha=st.sampled_from([1e-4, 0.1, 1.0]), beta=st.sampled_from([0.75, 0.5, 1.3]),
       k=st.sampled_from([1.0, 2.0, 0.5]), seed=st.integers(0, 999))
def test_local_response_norm(n, c, spatial, size, alpha, beta, k, seed):
    x = randn(n, c, *spatial, seed=seed, scale=2.0)
    y = F.local_response_norm(x, size, alpha, beta, k)
    assert rel_err(y, TF.local_response_norm(t64(x), size, alpha, beta, k)) <= 1e-5
    if x.size:
        grads_vs_torch(lambda v: F.local_response_norm(v, size, alpha, beta, k),
                       lambda v: TF.local_response_norm(v, size, alpha, beta, k), [x])


def test_local_response_norm_vs_course_formula():
    """The course notes (seeds/000, inter-channel LRN) define b_c = a_c / (k + alpha * sum_{j=c-n/2}^{c+n/2} a_j^2)^beta:
    no 1/n factor and a symmetric window. torch (and fastconv) divide alpha by `size` and, for even sizes, use the
    asymmetric window [c - size//2, c + (size-1)//2]. With an odd size n+1 and alpha*(n+1) they agree."""
    x = randn(2, 6, 3, 3, seed=4)
    n, alpha, beta, k = 2, 0.3, 0.75, 2.0
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (n // 2, n // 2), (0, 0), (0, 0)))
    course = x / (k + alpha * sum(sq[:, j:j + 6] for j in range(n + 1))) ** beta
    assert rel_err(F.local_response_norm(x, n + 1, alpha * (n + 1), beta, k), course) <= 1e-6
    assert rel_err(F.local_response_norm(x, n + 1, alpha, beta, k), course) > 1e-3


def test_local_response_norm_errors():
    with pytest.raises(ValueError, match=r"local_response_norm: expected 3D or higher dimensionality input"):
        F.local_response_norm(randn(2, 6), 3)
    with pytest.raises(ValueError, match="local_response_norm: argument 'size' must be >= 1, got 0"):
        F.local_response_norm(randn(2, 6, 2), 0)


def test_schedule_shows_the_forced_algorithm():
    x = randn(4, 3, 5, seed=2)
    w = randn(3, seed=3)
    for which, fwd, bwd in [("parallel", "batch_norm__channels", "batch_norm_backward__channels"),
                            ("ref", "batch_norm <ref>", "batch_norm_backward <ref>")]:
        with algo(which):
            f = fc.value_and_grad(lambda x, w: F.batch_norm(x, None, None, w, training=True).sum(), argnums=(0, 1))
            f(x, w)
            sched = next(iter(f.cache.values())).exe.schedule()
        assert fwd in sched and bwd in sched, sched


@pytest.mark.parametrize("isa", ["ref", "fast"])
def test_batch_norm_biased_running_variance_option(isa):
    # ONNX's BatchNormalization updates running_var with the biased batch variance; torch (the default) unbiased
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 5, 2)).astype(np.float32)
    xs = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(4, -1)
    for unbiased in (True, False):
        rm, rv = np.zeros(4, np.float32), np.ones(4, np.float32)
        with forced_algo("norm=ref" if isa == "ref" else ""):
            F.batch_norm(x, rm, rv, training=True, momentum=0.3, running_var_unbiased=unbiased)
        want = 0.7 * 1.0 + 0.3 * xs.var(1, ddof=1 if unbiased else 0)
        np.testing.assert_allclose(rv, want, rtol=1e-6)
        np.testing.assert_allclose(rm, 0.3 * xs.mean(1), rtol=1e-5, atol=1e-7)
    with pytest.raises(TypeError, match="running_var_unbiased"):
        F.batch_norm(x, rm, rv, training=True, running_var_unbiased=0)
