"""Losses vs PyTorch float64: values and gradients w.r.t. every float input, every option, every ISA path of
cross_entropy (scalar = the reference kernel), segmentation shapes, invalid targets, and bad-input errors."""
import contextlib

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
ORDER = ["scalar", "avx2", "avx512"]
BEST = fc.cpu_features()["best_isa"]
ISAS = ORDER[:ORDER.index(BEST) + 1]
REDUCTIONS = ["mean", "sum", "none"]


@contextlib.contextmanager
def isa(name):
    fc.set_isa(name)
    try:
        yield
    finally:
        fc.set_isa(BEST)


def assert_close(out, ref, tol=1e-4, floor=0.0, zero_atol=1e-5):
    """rel_err <= tol; `floor` bounds the denominator below where the reference is a sum that cancels (a gradient
    summed over broadcast axes), so float32 rounding of O(1) terms is judged against their scale. Where the
    reference is analytically zero, |out| <= zero_atol: float32 rounding of terms that cancel exactly."""
    ref = ref.detach().numpy() if hasattr(ref, "detach") else np.asarray(ref)
    out = np.asarray(out)
    assert out.shape == ref.shape, f"shape {out.shape} != reference {ref.shape}"
    nan = np.isnan(ref)
    assert np.array_equal(np.isnan(out), nan), "NaN pattern differs from torch"
    if np.linalg.norm(ref[~nan]) < 1e-6:  # analytically zero (e.g. d cos/dx for 1-element vectors): float64 noise
        assert np.abs(out[~nan]).max(initial=0) <= zero_atol
    elif (~nan).any():
        err = np.linalg.norm(out[~nan] - ref[~nan]) / max(np.linalg.norm(ref[~nan]), floor)
        assert err <= tol, f"relative error {err}"


def check(fc_fn, torch_fn, arrays, grad_idx, seed=0, tol=1e-4, floor=0.0, zero_atol=None):
    """Forward of fc_fn(*arrays) vs torch_fn(*float64 tensors), then gradients of sum(out * c) (a random
    cotangent, so every output element counts) w.r.t. arrays[grad_idx] vs torch.autograd. zero_atol(c) gives the
    bound for gradients that are analytically zero (default 1e-5)."""
    ts = [t64(a, i in grad_idx) if a.dtype.kind == "f" else torch.from_numpy(a) for i, a in enumerate(arrays)]
    ref = torch_fn(*ts)
    assert_close(fc_fn(*arrays), ref, tol)
    c = np.asarray(randn(*ref.shape, seed=seed + 77)) + 2.0
    (ref * t64(c)).sum().backward()
    if not grad_idx:
        return
    # 0-d arrays travel as [1] and are reshaped back inside: the tracer turns 0-d graph inputs into [1]
    # (np.ascontiguousarray in _trace.py; reported).
    zero_d = [a.ndim == 0 for a in arrays]

    def f(*a):
        return (fc_fn(*[F.reshape(v, ()) if z else v for v, z in zip(a, zero_d)]) * c).sum()

    _, grads = fc.value_and_grad(f, argnums=tuple(grad_idx))(*[a.reshape(1) if z else a
                                                                for a, z in zip(arrays, zero_d)])
    za = 1e-5 if zero_atol is None else zero_atol(c)
    for g, i in zip(grads, grad_idx):
        assert_close(g.reshape(arrays[i].shape), ts[i].grad, tol, floor, za)


# ---- cross_entropy / nll_loss ----------------------------------------------------------------------------------

@st.composite
def class_case(draw, spatial=True):
    kind = draw(st.sampled_from(["1d", "2d", "nd"] if spatial else ["1d", "2d"]))
    C = draw(st.integers(1, 40))
    if kind == "1d":
        shape = (C,)
    elif kind == "2d":
        shape = (draw(st.integers(0, 6)), C)
    else:
        shape = (draw(st.integers(1, 3)), C) + tuple(draw(st.integers(1, 7)) for _ in range(draw(st.integers(1, 2))))
    return shape


def index_target(shape, seed, ignore_index, p_ignore=0.2):
    rng = np.random.default_rng(seed)
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    C = shape[0] if len(shape) == 1 else shape[1]
    t = rng.integers(0, C, tshape).astype(np.int64)
    if p_ignore:
        t = np.where(rng.random(tshape) < p_ignore, ignore_index, t).astype(np.int64)
    return np.asarray(t)


@settings(max_examples=60, deadline=None)
@given(shape=class_case(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       ignore_index=st.sampled_from([-100, 0, 3]), smoothing=st.sampled_from([0.0, 0.1, 0.5]),
       isa_name=st.sampled_from(ISAS), seed=st.integers(0, 10_000))
def test_cross_entropy_index_targets(shape, reduction, weighted, ignore_index, smoothing, isa_name, seed):
    C = shape[0] if len(shape) == 1 else shape[1]
    x = np.asarray(randn(*shape, seed=seed, scale=3.0))
    y = index_target(shape, seed, ignore_index)
    w = np.random.default_rng(seed).random(C).astype(np.float32) + 0.1
    kw = dict(ignore_index=ignore_index, reduction=reduction, label_smoothing=smoothing)
    arrays = [x, y, w] if weighted else [x, y]
    with isa(isa_name):
        check(lambda x, y, *w: F.cross_entropy(x, y, *w, **kw), lambda x, y, *w: TF.cross_entropy(x, y, *w, **kw),
              arrays, [0], seed)


@settings(max_examples=40, deadline=None)
@given(shape=class_case(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.2]), one_hot=st.booleans(), isa_name=st.sampled_from(ISAS),
       seed=st.integers(0, 10_000))
def test_cross_entropy_probability_targets(shape, reduction, weighted, smoothing, one_hot, isa_name, seed):
    C = shape[0] if len(shape) == 1 else shape[1]
    x = np.asarray(randn(*shape, seed=seed, scale=2.0))
    cdim = 0 if len(shape) == 1 else 1
    if one_hot:
        t = np.moveaxis(np.eye(C, dtype=np.float32)[index_target(shape, seed, -100, 0.0)], -1, cdim)
    else:
        z = np.asarray(randn(*shape, seed=seed + 1))
        t = (np.exp(z) / np.exp(z).sum(axis=cdim, keepdims=True)).astype(np.float32)
    w = np.random.default_rng(seed).random(C).astype(np.float32) + 0.1
    kw = dict(reduction=reduction, label_smoothing=smoothing)
    arrays = [x, np.ascontiguousarray(t), w] if weighted else [x, np.ascontiguousarray(t)]
    with isa(isa_name):
        check(lambda x, t, *w: F.cross_entropy(x, t, *w, **kw), lambda x, t, *w: TF.cross_entropy(x, t, *w, **kw),
              arrays, [0, 1], seed)


@pytest.mark.parametrize("isa_name", ISAS)
@pytest.mark.parametrize("shape", [(8, 1000), (3, 17), (2, 21, 17, 19), (1, 3, 600), (4, 2, 5, 5)])
def test_cross_entropy_large_and_segmentation_shapes(isa_name, shape):
    x = np.asarray(randn(*shape, seed=1, scale=4.0))
    y = index_target(shape, 2, 255, 0.1)
    kw = dict(ignore_index=255, label_smoothing=0.05)
    with isa(isa_name):
        check(lambda x, y: F.cross_entropy(x, y, **kw), lambda x, y: TF.cross_entropy(x, y, **kw), [x, y], [0])


@pytest.mark.parametrize("isa_name", ISAS)
def test_cross_entropy_is_stable_for_huge_logits(isa_name):
    x = np.asarray(randn(6, 9, seed=3, scale=3e3))
    y = np.arange(6) % 9
    with isa(isa_name):
        check(lambda x: F.cross_entropy(x, y), lambda x: TF.cross_entropy(x, torch.from_numpy(y)), [x], [0])


@pytest.mark.parametrize("isa_name", ISAS)
def test_cross_entropy_empty_and_all_ignored_give_torch_nan(isa_name):
    with isa(isa_name):
        assert np.isnan(F.cross_entropy(np.zeros((0, 4), np.float32), np.zeros(0, np.int64)))
        assert F.cross_entropy(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), reduction="sum") == 0
        assert np.isnan(F.cross_entropy(randn(3, 4), np.full(3, -100)))


@pytest.mark.parametrize("isa_name", ISAS)
def test_out_of_range_targets_eager_error_and_nan_in_graphs(isa_name):
    x = randn(3, 4)
    with pytest.raises(IndexError, match=r"cross_entropy: target 7 is out of bounds: expected class indices in "
                                         r"\[0, 4\) or ignore_index=-100"):
        F.cross_entropy(x, np.array([0, 7, 1]))
    with pytest.raises(IndexError, match="nll_loss: target -1 is out of bounds"):
        F.nll_loss(x, np.array([0, -1, 1]))
    # A compiled graph checks labels that come from its inputs before running (tests/test_step_validation.py).
    f = fc.value_and_grad(lambda x, y: F.cross_entropy(x, y, reduction="none").sum())
    with pytest.raises(IndexError, match=r"holds 7 at \[1\]"):
        f(x, np.array([0, 7, 1]))
    # A label that reaches a kernel anyway (computed in a graph; here the op run directly) makes that row's loss and
    # gradient NaN and leaves the others exact: never an out-of-bounds read.
    y = np.array([0, 7, 1])
    with isa(isa_name):
        loss, lse = fc._C.run_op("cross_entropy", [x, y], dict(reduction="none"))
        g = fc._C.run_op("cross_entropy_backward", [np.ones(3, np.float32), x, y, lse], dict(reduction="none"))[0]
    assert np.isnan(loss[1]) and np.isnan(g[1]).all() and not np.isnan(g[[0, 2]]).any()
    tx = t64(x, True)
    TF.cross_entropy(tx[[0, 2]], torch.tensor([0, 1]), reduction="sum").backward()
    assert rel_err(g[[0, 2]], tx.grad[[0, 2]]) <= 1e-5
    assert rel_err(loss[[0, 2]], TF.cross_entropy(t64(x)[[0, 2]], torch.tensor([0, 1]), reduction="none")) <= 1e-5
    v = fc._C.run_op("nll_loss", [x, np.array([0, -5, 1])], {})[0]
    assert np.isnan(v)


@settings(max_examples=40, deadline=None)
@given(shape=class_case(), reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       ignore_index=st.sampled_from([-100, 1]), seed=st.integers(0, 10_000))
def test_nll_loss(shape, reduction, weighted, ignore_index, seed):
    C = shape[0] if len(shape) == 1 else shape[1]
    x = np.asarray(randn(*shape, seed=seed))
    y = index_target(shape, seed, ignore_index)
    w = np.random.default_rng(seed).random(C).astype(np.float32) + 0.1
    kw = dict(ignore_index=ignore_index, reduction=reduction)
    arrays = [x, y, w] if weighted else [x, y]
    check(lambda x, y, *w: F.nll_loss(x, y, *w, **kw), lambda x, y, *w: TF.nll_loss(x, y, *w, **kw), arrays, [0],
          seed)


def test_nll_of_log_softmax_equals_cross_entropy_and_legacy_args():
    x = randn(5, 6)
    y = np.arange(5)
    lsm = torch.log_softmax(t64(x), 1).numpy().astype(np.float32)
    assert abs(F.nll_loss(lsm, y) - F.cross_entropy(x, y)) <= 1e-6
    assert F.cross_entropy(x, y, reduce=False).shape == (5,)
    assert abs(F.cross_entropy(x, y, size_average=False) - F.cross_entropy(x, y, reduction="sum")) <= 1e-5


# ---- element-wise losses -----------------------------------------------------------------------------------------

POINTWISE = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
             "binary_cross_entropy_with_logits"]


@settings(max_examples=80, deadline=None)
@given(name=st.sampled_from(POINTWISE), shape=st.lists(st.integers(0, 6), min_size=0, max_size=4),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), pos_weighted=st.booleans(),
       beta=st.sampled_from([0.0, 0.5, 1.0, 2.0]), seed=st.integers(0, 10_000))
def test_pointwise_losses(name, shape, reduction, weighted, pos_weighted, beta, seed):
    shape = tuple(shape)
    x, t = np.asarray(randn(*shape, seed=seed)), np.asarray(randn(*shape, seed=seed + 1))
    rng = np.random.default_rng(seed)
    kw, tkw, arrays = dict(reduction=reduction), {}, [x, t]
    if name == "binary_cross_entropy":
        x = (1 / (1 + np.exp(-2 * x))).astype(np.float32)
        t = rng.random(shape).astype(np.float32)
        arrays = [x, t]
    if name == "binary_cross_entropy_with_logits":
        t = rng.random(shape).astype(np.float32)
        arrays = [x, t]
    if name == "smooth_l1_loss":
        kw["beta"] = beta
    if name == "huber_loss":
        kw["delta"] = beta or 1.0
    can_weight = name not in ("smooth_l1_loss",)
    bshape = shape[-1:] if name.startswith("binary") else shape  # BCE weights broadcast; the others must match
    w = np.asarray(rng.random(bshape).astype(np.float32) + 0.5)
    pw = np.asarray(rng.random(shape[-1:]).astype(np.float32) * 3)
    extra = []
    if can_weight and weighted:
        extra.append(("weight", w))
    if name == "binary_cross_entropy_with_logits" and pos_weighted:
        extra.append(("pos_weight", pw))
    keys = [k for k, _ in extra]
    arrays = [np.array(a, order="C") for a in arrays] + [a for _, a in extra]

    def fc_fn(x, t, *ws):
        return getattr(F, name)(x, t, **dict(zip(keys, ws)), **kw)

    def torch_fn(x, t, *ws):
        return getattr(TF, name)(x, t, **dict(zip(keys, ws)), **kw)

    check(fc_fn, torch_fn, arrays, [0, 1], seed)  # random inputs never sit exactly on a kink of l1/huber


def test_bce_clamps_log_like_torch_and_rejects_out_of_range_input():
    x = np.array([0.0, 1.0, 0.5, 1e-30], np.float32)
    t = np.array([1.0, 0.0, 0.5, 1.0], np.float32)
    assert_close(F.binary_cross_entropy(x, t, reduction="none"),
                 TF.binary_cross_entropy(t64(x), t64(t), reduction="none"))
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of argument 'input' must be between 0 "
                                         "and 1"):
        F.binary_cross_entropy(np.array([1.5], np.float32), np.array([1.0], np.float32))


def test_bce_with_logits_is_stable_for_huge_logits():
    x = np.array([-1e4, -50.0, 0.0, 50.0, 1e4], np.float32)
    t = np.array([1.0, 0.3, 0.5, 0.0, 0.0], np.float32)
    check(lambda x, t: F.binary_cross_entropy_with_logits(x, t, reduction="none"),
          lambda x, t: TF.binary_cross_entropy_with_logits(x, t, reduction="none"), [x, t], [0, 1])


def test_localisation_loss_from_the_course():
    """Classification CE + gamma * 1{object} * MSE on the four box coordinates (seed 002, section 6.6)."""
    rng = np.random.default_rng(5)
    logits, boxes = randn(8, 4, seed=1), randn(8, 4, seed=2)
    labels, true_boxes = rng.integers(0, 4, 8), rng.random((8, 4)).astype(np.float32)
    has_obj = (labels > 0).astype(np.float32)[:, None]

    def loss(lg, bx):
        per = F.mse_loss(bx, true_boxes, reduction="none") * has_obj
        return F.cross_entropy(lg, labels) + per.sum() * (1.0 / 8)

    v, (gl, gb) = fc.value_and_grad(loss, argnums=(0, 1))(logits, boxes)
    tl, tb = t64(logits, True), t64(boxes, True)
    ref = TF.cross_entropy(tl, torch.from_numpy(labels)) + (
        TF.mse_loss(tb, t64(true_boxes), reduction="none") * t64(has_obj)).sum() / 8
    ref.backward()
    assert rel_err(v, ref) <= 1e-5 and rel_err(gl, tl.grad) <= 1e-5 and rel_err(gb, tb.grad) <= 1e-5


# ---- triplet margin loss, cosine similarity ------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 6), d=st.integers(1, 20), one_d=st.booleans(), margin=st.sampled_from([0.5, 1.0, 3.0]),
       p=st.sampled_from([1.0, 1.5, 2.0, 3.0]), swap=st.booleans(), reduction=st.sampled_from(REDUCTIONS),
       seed=st.integers(0, 10_000))
def test_triplet_margin_loss(n, d, one_d, margin, p, swap, reduction, seed):
    shape = (d,) if one_d else (n, d)
    a, pos, neg = (np.asarray(randn(*shape, seed=seed + k)) for k in range(3))
    kw = dict(margin=margin, p=p, swap=swap, reduction=reduction)
    check(lambda a, b, c: F.triplet_margin_loss(a, b, c, **kw), lambda a, b, c: TF.triplet_margin_loss(a, b, c, **kw),
          [a, pos, neg], [0, 1, 2], seed)


@st.composite
def cosine_case(draw):
    rank = draw(st.integers(1, 4))
    shape = [draw(st.integers(1, 5)) for _ in range(rank)]
    dim = draw(st.integers(-rank, rank - 1))
    other = [s if draw(st.booleans()) else 1 for s in shape]
    return tuple(shape), tuple(other), dim


@settings(max_examples=40, deadline=None)
@given(case=cosine_case(), eps=st.sampled_from([1e-8, 0.5]), seed=st.integers(0, 10_000))
@example(case=((5, 4), (5, 1), -1), eps=1e-8, seed=6615)  # the noisiest zero gradient of a 4000-case scan
def test_cosine_similarity(case, eps, seed):
    s1, s2, dim = case
    a, b = np.asarray(randn(*s1, seed=seed)), np.asarray(randn(*s2, seed=seed + 1))
    # Along a dim of size 1 the cosine is sign(a*b) and its gradient is analytically zero: a difference of two
    # terms of size |c|/|x| each, which float32 cancels only to ~ulp(1) of that (summed over broadcast copies).
    # A seeded run once met |x| = 8e-4, noise 6e-5, far above a fixed 1e-5; a wrong gradient is of order |c|/|x|.
    zero_atol = lambda c: max(1e-5, 1e-6 * np.abs(c).max() * max(a.size, b.size)  # noqa: E731
                              / min(np.abs(a).min(), np.abs(b).min()))
    check(lambda a, b: F.cosine_similarity(a, b, dim=dim, eps=eps),
          lambda a, b: TF.cosine_similarity(a, b, dim=dim, eps=eps), [a, b], [0, 1], seed, floor=1e-2,
          zero_atol=zero_atol)


def test_cosine_similarity_of_a_zero_vector():
    a = np.zeros((2, 3), np.float32)
    a[1] = [1, 2, 3]
    b = randn(2, 3, seed=4)
    check(lambda a, b: F.cosine_similarity(a, b), lambda a, b: TF.cosine_similarity(a, b), [a, b], [0, 1])


# ---- bad input ------------------------------------------------------------------------------------------------------

def test_errors():
    x, y = randn(3, 4), np.array([0, 1, 2])
    with pytest.raises(ValueError, match="cross_entropy: argument 'reduction' must be 'none', 'mean' or 'sum', got "
                                         "'avg'"):
        F.cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match="mse_loss: argument 'reduction' must be .* got 'elementwise'"):
        F.mse_loss(x, x, reduction="elementwise")
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \[4\] does not match input shape \[3, 4\]; "
                                         r"class-index targets must have shape \[3\]"):
        F.cross_entropy(x, np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"cross_entropy: target shape \[2, 5\] does not match input shape "
                                         r"\[2, 3, 5, 5\]; class-index targets must have shape \[2, 5, 5\]"):
        F.cross_entropy(randn(2, 3, 5, 5), np.zeros((2, 5), np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy: a probability target \(float32\) must have the input's "
                                         r"shape \[3, 4\], got \[3\]"):
        F.cross_entropy(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="cross_entropy: argument 'target' must be int64 class indices or float class "
                                        "probabilities, got dtype bool"):
        F.cross_entropy(x, np.array([True, False, True]))
    with pytest.raises(TypeError, match="mse_loss: argument 'target' must be a floating-point array"):
        F.mse_loss(x, np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match=r"mse_loss: argument 'target' has shape \[3\] but input has shape \[3, 4\]"):
        F.mse_loss(x, randn(3))
    with pytest.raises(ValueError, match=r"cross_entropy: argument 'weight' must have shape \[4\].*got \[3\]"):
        F.cross_entropy(x, y, weight=randn(3))
    with pytest.raises(ValueError, match=r"cross_entropy: argument 'label_smoothing' must be in \[0, 1\], got 1.5"):
        F.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(ValueError, match="cross_entropy: argument 'ignore_index' is not supported with probability "
                                         "targets, got 1"):
        F.cross_entropy(x, np.full((3, 4), 0.25, np.float32), ignore_index=1)
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: argument 'pos_weight' of shape \[3\] "
                                         r"cannot be broadcast to the input shape \[3, 4\]"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=randn(3))
    with pytest.raises(ValueError, match=r"triplet_margin_loss: argument 'negative' has shape \[3, 5\] but anchor "
                                         r"has shape \[3, 4\]"):
        F.triplet_margin_loss(x, x, randn(3, 5))
    with pytest.raises(ValueError, match="triplet_margin_loss: argument 'margin' must be greater than 0, got 0"):
        F.triplet_margin_loss(x, x, x, margin=0.0)
    with pytest.raises(ValueError, match="huber_loss: argument 'delta' must be positive, got 0"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match=r"cosine_similarity: x1 of shape \[3, 4\] and x2 of shape \[3, 5\] cannot "
                                         r"be broadcast"):
        F.cosine_similarity(x, randn(3, 5))
    with pytest.raises(IndexError, match="cosine_similarity: dim 2 is out of range"):
        F.cosine_similarity(x, x, dim=2)
    with pytest.raises(NotImplementedError, match="cross_entropy: the gradient with respect to 'weight'"):
        fc.value_and_grad(lambda w: F.cross_entropy(x, y, weight=w))(randn(4))
