"""Pooling ops against PyTorch float64: forward, exact indices, gradients (fc.value_and_grad vs torch.autograd),
every kernel path (reference, AVX2, AVX-512) and bad-input errors."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
ISAS = ["scalar", "avx2", "avx512"]


def isa_or_skip(isa):
    best = fc.cpu_features()["best_isa"]
    if ISAS.index(isa) > ISAS.index(best):
        pytest.skip(f"CPU lacks {isa}")
    return best


def data(shape, seed, ties):
    """Random floats, or small integers (many ties) to check that the first maximum in scan order wins."""
    rng = np.random.default_rng(seed)
    if ties:
        return rng.integers(-2, 3, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def check_grad(fn, tfn, x, seed=0, tol=1e-5):
    """d sum(fn(x) * w)/dx from fastconv vs torch float64, w random."""
    tx = t64(x, True)
    ref = tfn(tx)
    w = randn(*ref.shape, seed=seed + 99)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda a: (fn(a) * w).sum())(x)
    assert rel_err(g, tx.grad) <= tol


def torch_or_error(f):
    try:
        return f(), None
    except (RuntimeError, ValueError) as e:
        return None, e


# ------------------------------------------------------------------------------------------------ course examples

def test_course_max_pool_example_2x2_stride_2():
    # Bischl, Deep Learning ch. 5 (seed 001): "The final pooled feature map has entries 8, 6, 9 and 3."
    x = np.array([[1, 3, 6, 2], [3, 8, 1, 1], [2, 9, 2, 1], [5, 1, 3, 1]], np.float32)[None, None]
    y, idx = F.max_pool2d(x, kernel_size=2, stride=2, return_indices=True)
    assert y.tolist() == [[[[8, 6], [9, 3]]]]
    assert idx.tolist() == [[[[5, 2], [9, 14]]]]  # 8 at (1,1), 6 at (0,2), 9 at (2,1), 3 at (3,2)
    # the same with the stride left to its default (= kernel_size), as in Keras MaxPooling2D(pool_size=(2, 2))
    assert F.max_pool2d(x, 2).tolist() == [[[[8, 6], [9, 3]]]]
    # max-unpooling (seed 004) puts each maximum back where it came from, zeros elsewhere
    up = F.max_unpool2d(y, idx, 2)
    assert up[0, 0].tolist() == [[0, 0, 6, 0], [0, 8, 0, 0], [0, 9, 0, 0], [0, 0, 3, 0]]
    # min pooling and average pooling (seed 004: "Min Pooling", "Average Pooling") of the same map
    assert F.min_pool2d(x, 2).tolist() == [[[[1, 1], [1, 1]]]]
    assert F.avg_pool2d(x, 2).tolist() == [[[[15 / 4, 10 / 4], [17 / 4, 7 / 4]]]]


def test_course_feature_map_sizes():
    # seed 004: Keras Conv2D(32, 3) on 32x32x3 -> (30, 30, 32), MaxPooling2D((2, 2)) -> (15, 15, 32)
    assert F.max_pool2d(np.zeros((1, 32, 30, 30), np.float32), 2).shape == (1, 32, 15, 15)
    # seed 003: 4 maps of 64x64 -> max-pool -> 32x32; 8 maps of 32x32 -> 16x16; flatten 8*16*16 = 2048
    y = F.max_pool2d(np.zeros((1, 4, 64, 64), np.float32), 2, 2)
    assert y.shape == (1, 4, 32, 32)
    y = F.max_pool2d(np.zeros((1, 8, 32, 32), np.float32), 2, 2)
    assert y.shape == (1, 8, 16, 16) and y[0].size == 2048


def test_course_receptive_field_of_2x2_max_pool():
    # seed 003: two adjacent receptive fields of a 2x2/2 max pool output cover disjoint 2x2 input blocks: the
    # gradient of one pooled value reaches exactly one input (its argmax), inside its own 2x2 block.
    x = randn(1, 1, 6, 6, seed=5)
    row1 = np.zeros((1, 1, 3, 3), np.float32)
    row1[0, 0, 1, :] = 1  # the three pooled values of output row 1
    _, g = fc.value_and_grad(lambda a: (F.max_pool2d(a, 2) * row1).sum())(x)
    nz = np.argwhere(g[0, 0] != 0)
    assert len(nz) == 3 and all(r // 2 == 1 and c // 2 == i for i, (r, c) in enumerate(nz))


# ------------------------------------------------------------------------------------------------ max pooling

@st.composite
def max_cfg(draw, nd):
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    d = [draw(st.integers(1, 2)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    p = [draw(st.integers(0, ki // 2 + (1 if draw(st.integers(0, 9)) == 0 else 0))) for ki in k]
    hi = {1: 40, 2: 40, 3: 7}[nd]
    size = [draw(st.integers(1, hi)) for _ in range(nd)]
    lead = draw(st.sampled_from([(1, 1), (2, 3), (1,), (0, 2)]))
    return dict(k=tuple(k), s=tuple(s) if draw(st.booleans()) else None, p=tuple(p), d=tuple(d),
                ceil=draw(st.booleans()), shape=tuple(lead) + tuple(size), ties=draw(st.booleans()),
                seed=draw(st.integers(0, 10_000)))


def run_max_pool(nd, c, name="max_pool"):
    fn = getattr(F, f"{name}{nd}d")
    kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"], dilation=c["d"], ceil_mode=c["ceil"])
    x = data(c["shape"], c["seed"], c["ties"])
    tfn = getattr(TF, f"max_pool{nd}d")
    if name == "min_pool":
        def tfn(t, **a):
            y = TF.max_pool2d(-t, **a)
            return (-y[0], y[1]) if a.get("return_indices") else -y
    ref, err = torch_or_error(lambda: tfn(t64(x), return_indices=True, **kw))
    if err is not None:
        with pytest.raises(ValueError, match=f"{name}{nd}d: "):
            fn(x, **kw)
        return
    y, idx = fn(x, return_indices=True, **kw)
    assert y.dtype == np.float32 and idx.dtype == np.int64
    np.testing.assert_array_equal(y, ref[0].numpy())  # exact, including -inf for windows entirely in padding
    np.testing.assert_array_equal(idx, ref[1].numpy())
    # A dilated window can fall entirely into the padding (its index then points past the plane, as torch's);
    # torch's backward writes out of bounds there, so gradients are compared only without such windows.
    if x.size and int(idx.max()) < int(np.prod(c["shape"][-nd:])):
        check_grad(lambda a: fn(a, **kw), lambda t: tfn(t, **kw), x, c["seed"])


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_max_pool_matches_torch(nd):
    @settings(max_examples={1: 40, 2: 60, 3: 25}[nd], deadline=None)
    @given(max_cfg(nd))
    def inner(c):
        run_max_pool(nd, c)
    inner()


@settings(max_examples=30, deadline=None)
@given(max_cfg(2))
def test_min_pool2d_is_minus_max_pool_of_minus_x(c):
    run_max_pool(2, c, "min_pool")


@pytest.mark.parametrize("name", ["max_pool2d", "min_pool2d"])
def test_max_pool_nan_wins_and_last_nan_index(name):
    x = randn(1, 2, 6, 40, seed=1)
    x[0, 0, 1, 3] = x[0, 0, 0, 2] = np.nan
    x[0, 1, 4, 37] = np.nan
    sign = -1 if name == "min_pool2d" else 1
    ref = TF.max_pool2d(sign * t64(x), 3, 2, 1, return_indices=True)
    y, idx = getattr(F, name)(x, 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(np.isnan(y), torch.isnan(ref[0]).numpy())
    np.testing.assert_array_equal(idx, ref[1].numpy())


def test_max_pool_all_minus_inf_keeps_the_first_index():
    x = np.full((1, 1, 4, 36), -np.inf, np.float32)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    ref = TF.max_pool2d(t64(x), 2, return_indices=True)
    assert np.all(y == -np.inf)
    np.testing.assert_array_equal(idx, ref[1].numpy())


# Typical VGG/ResNet layers (2x2/2, 3x3/2 pad 1, 3x3/1 pad 1) on widths that exercise vector body, border and tail.
PATHS = [("ref", "scalar"), ("vec", "scalar"), ("vec", "avx2"), ("vec", "avx512")]
SHAPES = [((2, 3, 32, 37), dict(kernel_size=2, stride=2)), ((1, 4, 35, 71), dict(kernel_size=3, stride=2, padding=1)),
          ((1, 2, 17, 40), dict(kernel_size=3, stride=1, padding=1)),
          ((1, 2, 9, 50), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1), ceil_mode=True)),
          # ResNet's stem pool on 32- and 9-wide maps: fewer than 16 interior columns, all in one masked vector.
          ((2, 3, 32, 32), dict(kernel_size=3, stride=2, padding=1)), ((1, 2, 6, 9), dict(kernel_size=2, stride=1))]


@pytest.mark.parametrize("algo,isa", PATHS)
@pytest.mark.parametrize("shape,kw", SHAPES)
def test_pool2d_every_kernel_path(algo, isa, shape, kw, monkeypatch):
    best = isa_or_skip(isa)
    monkeypatch.setenv("FASTCONV_ALGO", f"pool={algo}")
    x = data(shape, 7, ties=True)
    x[0, 0, 3, 5] = np.nan
    xg = data(shape, 8, ties=False)
    try:
        fc.set_isa(isa)
        y, idx = F.max_pool2d(x, return_indices=True, **kw)
        ym, idm = F.min_pool2d(x, return_indices=True, **kw)
        ya = F.avg_pool2d(xg, **kw)
        yb = F.avg_pool2d(xg, count_include_pad=False, **kw)
        _, g = fc.value_and_grad(lambda a: (F.max_pool2d(a, **kw) + F.avg_pool2d(a, **kw)).sum())(xg)
    finally:
        fc.set_isa(best)
    ref = TF.max_pool2d(t64(x), return_indices=True, **kw)
    np.testing.assert_array_equal(np.nan_to_num(y, nan=7.5), np.nan_to_num(ref[0].numpy(), nan=7.5))
    np.testing.assert_array_equal(idx, ref[1].numpy())
    refm = TF.max_pool2d(-t64(x), return_indices=True, **kw)
    np.testing.assert_array_equal(np.nan_to_num(ym, nan=7.5), np.nan_to_num(-refm[0].numpy(), nan=7.5))
    np.testing.assert_array_equal(idm, refm[1].numpy())
    assert rel_err(ya, TF.avg_pool2d(t64(xg), **kw)) <= 1e-6
    assert rel_err(yb, TF.avg_pool2d(t64(xg), count_include_pad=False, **kw)) <= 1e-6
    tx = t64(xg, True)
    (TF.max_pool2d(tx, **kw) + TF.avg_pool2d(tx, **kw)).sum().backward()
    assert rel_err(g, tx.grad) <= 1e-6


# ------------------------------------------------------------------------------------------------ average pooling

@st.composite
def avg_cfg(draw, nd):
    k = [draw(st.integers(1, 4)) for _ in range(nd)]
    s = [draw(st.integers(1, 3)) for _ in range(nd)]
    p = [draw(st.integers(0, ki // 2 + (1 if draw(st.integers(0, 9)) == 0 else 0))) for ki in k]
    hi = {1: 40, 2: 40, 3: 7}[nd]
    size = [draw(st.integers(1, hi)) for _ in range(nd)]
    lead = draw(st.sampled_from([(1, 1), (2, 3), (1,), (0, 2)]))
    div = draw(st.sampled_from([None, None, 3, -2])) if nd > 1 else None
    return dict(k=tuple(k), s=tuple(s) if draw(st.booleans()) else None, p=tuple(p), ceil=draw(st.booleans()),
                cip=draw(st.booleans()), div=div, shape=tuple(lead) + tuple(size), seed=draw(st.integers(0, 10_000)))


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_avg_pool_matches_torch(nd):
    @settings(max_examples={1: 40, 2: 60, 3: 25}[nd], deadline=None)
    @given(avg_cfg(nd))
    def inner(c):
        fn, tfn = getattr(F, f"avg_pool{nd}d"), getattr(TF, f"avg_pool{nd}d")
        kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"], ceil_mode=c["ceil"],
                  count_include_pad=c["cip"])
        if nd > 1:
            kw["divisor_override"] = c["div"]
        x = data(c["shape"], c["seed"], False)
        if c["div"] is not None and c["div"] < 0:  # torch rejects it only at run time, we in the shape rule
            kw["divisor_override"] = 0
        ref, err = torch_or_error(lambda: tfn(t64(x), **kw))
        if err is not None:
            with pytest.raises(ValueError, match=f"avg_pool{nd}d: "):
                fn(x, **kw)
            return
        assert rel_err(fn(x, **kw), ref) <= 1e-6
        if x.size:
            check_grad(lambda a: fn(a, **kw), lambda t: tfn(t, **kw), x, c["seed"])
    inner()


# ------------------------------------------------------------------------------------------------ adaptive, global

@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 20), w=st.integers(1, 20), oh=st.one_of(st.none(), st.integers(1, 25)),
       ow=st.integers(1, 25), lead=st.sampled_from([(1, 1), (2, 3), (3,), (0, 1)]), seed=st.integers(0, 999),
       as_int=st.booleans())
def test_adaptive_pools_match_torch(h, w, oh, ow, lead, seed, as_int):
    x = data(lead + (h, w), seed, ties=seed % 2 == 0)
    size = ow if as_int else (oh, ow)
    ya = F.adaptive_avg_pool2d(x, size)
    assert rel_err(ya, TF.adaptive_avg_pool2d(t64(x), size)) <= 1e-6
    ym, idx = F.adaptive_max_pool2d(x, size, return_indices=True)
    ref = TF.adaptive_max_pool2d(t64(x), size, return_indices=True)
    assert rel_err(ym, ref[0]) == 0.0
    np.testing.assert_array_equal(idx, ref[1].numpy())
    if x.size:
        check_grad(lambda a: F.adaptive_avg_pool2d(a, size), lambda t: TF.adaptive_avg_pool2d(t, size), x, seed)
        check_grad(lambda a: F.adaptive_max_pool2d(a, size), lambda t: TF.adaptive_max_pool2d(t, size), x, seed)


def test_global_avg_pool2d_is_keras_shaped():
    x = randn(2, 5, 7, 3, seed=2)
    y = F.global_avg_pool2d(x)
    assert y.shape == (2, 5)
    assert rel_err(y, t64(x).mean(dim=(2, 3))) <= 1e-6
    assert F.adaptive_avg_pool2d(x, 1).shape == (2, 5, 1, 1)
    check_grad(F.global_avg_pool2d, lambda t: t.mean(dim=(2, 3)), x)
    with pytest.raises(ValueError, match=r"global_avg_pool2d: expected a 4-D input \[N, C, H, W\], got 3-D"):
        F.global_avg_pool2d(randn(5, 7, 3))


# ------------------------------------------------------------------------------------------------ max_unpool2d

@settings(max_examples=30, deadline=None)
@given(k=st.integers(1, 3), s=st.one_of(st.none(), st.integers(1, 3)), p=st.integers(0, 1), h=st.integers(3, 12),
       w=st.integers(3, 12), seed=st.integers(0, 999))
def test_max_unpool2d_matches_torch(k, s, p, h, w, seed):
    p = min(p, k // 2)
    x = data((2, 3, h, w), seed, ties=True)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    st_ = s or k
    default = [(n - 1) * st_ + k - 2 * p for n in y.shape[2:]]
    # the usual call: unpool back to the pooled input's size (when that size is one max_unpool2d can produce)
    size = [(h, w)[i] if default[i] - st_ < (h, w)[i] < default[i] + st_ else default[i] for i in range(2)]
    assume(int(idx.max(initial=0)) < size[0] * size[1])
    v = randn(*y.shape, seed=seed)
    out = F.max_unpool2d(v, idx, k, s, p, output_size=size)
    ref = TF.max_unpool2d(t64(v), torch.from_numpy(idx), k, s, p, output_size=size)
    assert rel_err(out, ref) == 0.0
    tv = t64(v, True)
    w8 = randn(*ref.shape, seed=seed + 1)
    (TF.max_unpool2d(tv, torch.from_numpy(idx), k, s, p, output_size=size) * t64(w8)).sum().backward()
    _, g = fc.value_and_grad(lambda a: (F.max_unpool2d(a, idx, k, s, p, output_size=size) * w8).sum())(v)
    assert rel_err(g, tv.grad) == 0.0


def test_max_unpool2d_errors():
    v, idx = np.zeros((1, 1, 2, 2), np.float32), np.zeros((1, 1, 2, 2), np.int64)
    with pytest.raises(ValueError, match=r"max_unpool2d: invalid output_size \(9, 9\) \(dim 0 must be between 2 and 6"):
        F.max_unpool2d(v, idx, 2, output_size=(9, 9))
    with pytest.raises(IndexError, match=r"max_unpool2d: index 16 in 'indices' is out of range .* 16 elements"):
        F.max_unpool2d(v, idx + 16, 2)
    with pytest.raises(TypeError, match="max_unpool2d: argument 'indices' must be an integer array"):
        F.max_unpool2d(v, v, 2)
    with pytest.raises(ValueError, match=r"max_unpool2d: input has shape \[1, 1, 2, 2\] but indices have shape"):
        F.max_unpool2d(v, np.zeros((1, 1, 2, 3), np.int64), 2)


# ------------------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("call,kind,msg", [
    (lambda: F.max_pool2d(np.zeros((1, 1, 2, 2), np.float32), 3), ValueError,
     r"max_pool2d: output size would be 0x0 for input 2x2 with kernel \(3, 3\)"),
    (lambda: F.avg_pool1d(np.zeros((1, 1, 2), np.float32), 3), ValueError,
     r"avg_pool1d: output size would be 0 for input 2 with kernel \(3,?\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), 3, padding=2), ValueError,
     r"max_pool2d: pad should be at most half of kernel size, but got padding=\(2, 2\) and kernel_size=\(3, 3\)"),
    (lambda: F.avg_pool2d(np.zeros((1, 1, 5, 5), np.float32), 2, padding=2), ValueError,
     r"avg_pool2d: pad should be at most half"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), 3, padding=-1), ValueError,
     r"max_pool2d: argument 'padding' must be non-negative, got \(-1, -1\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), 3, stride=0), ValueError,
     r"max_pool2d: argument 'stride' must be positive, got \(0, 0\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), 0), ValueError,
     r"max_pool2d: argument 'kernel_size' must be positive, got \(0, 0\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), 2, dilation=0), ValueError,
     r"max_pool2d: argument 'dilation' must be positive"),
    (lambda: F.max_pool2d(np.zeros((5, 5), np.float32), 2), ValueError,
     r"max_pool2d: expected 3-D or 4-D input \(unbatched or batched\), got 2-D input of shape \[5, 5\]"),
    (lambda: F.max_pool1d(np.zeros((1, 1, 1, 5), np.float32), 2), ValueError,
     r"max_pool1d: expected 2-D or 3-D input .* got 4-D"),
    (lambda: F.max_pool3d(np.zeros((1, 0, 3, 3, 3), np.float32), 2), ValueError,
     r"max_pool3d: input of shape \[1, 0, 3, 3, 3\] has an empty non-batch dimension"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.float32), (2, 2, 2)), TypeError,
     r"max_pool2d: argument 'kernel_size' must be an int or a tuple of 2 ints, got \(2, 2, 2\)"),
    (lambda: F.max_pool2d(np.zeros((1, 1, 5, 5), np.int32), 2), TypeError,
     r"max_pool2d: argument 'input' must be a floating-point array"),
    (lambda: F.avg_pool2d(np.zeros((1, 1, 5, 5), np.float32), 2, divisor_override=0), ValueError,
     r"avg_pool2d: argument 'divisor_override' must be non-zero"),
    (lambda: F.adaptive_avg_pool2d(np.zeros((1, 1, 5, 5), np.float32), (0, 2)), ValueError,
     r"adaptive_avg_pool2d: argument 'output_size' must contain positive sizes \(or None\), got \(0, 2\)"),
    (lambda: F.adaptive_max_pool2d(np.zeros((1, 5), np.float32), 2), ValueError,
     r"adaptive_max_pool2d: expected 3-D or 4-D input"),
])
def test_bad_input_errors(call, kind, msg):
    with pytest.raises(kind, match=msg):
        call()


@pytest.mark.parametrize("algo,isa", PATHS)
def test_schedule_names_the_chosen_kernel(algo, isa, monkeypatch):
    best = isa_or_skip(isa)
    monkeypatch.setenv("FASTCONV_ALGO", f"pool={algo}")
    kw = dict(kernel_size=3, stride=2, padding=1)
    g = fc._C.Graph()
    x = g.input("x", [1, 2, 8, 40], "float32")
    y = g.add("max_pool2d", [x], kw, "")
    a = g.add("avg_pool2d", [x], kw, "")
    b = g.add("avg_pool2d_backward", [a[0]], dict(kw, input_shape=[1, 2, 8, 40]), "")
    try:
        fc.set_isa(isa)
        sched = fc._C.Executable(g, [y[0], b[0]]).schedule()
    finally:
        fc.set_isa(best)
    fast = algo == "vec" and isa != "scalar"
    for name in ("max_pool2d", "avg_pool2d", "avg_pool2d_backward"):
        assert (f"<{name}__{isa}>" if fast else f"{name} <ref>") in sched


def test_unknown_pool_algo_is_rejected(monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", "pool=fastest")
    with pytest.raises(ValueError, match=r"FASTCONV_ALGO: 'pool=fastest': no pool kernel is called 'fastest' "
                                         r"\(pool algorithms: ref, vec\)"):
        F.max_pool2d(randn(1, 1, 4, 4), 2)


def test_pool_traced_graph_and_unbatched_input():
    x = randn(3, 9, 9, seed=4)  # unbatched (C, H, W), as torch allows
    y, idx = F.max_pool2d(x, 3, 2, 1, return_indices=True)
    ref = TF.max_pool2d(t64(x), 3, 2, 1, return_indices=True)
    assert rel_err(y, ref[0]) == 0.0 and np.array_equal(idx, ref[1].numpy())
    check_grad(lambda a: F.avg_pool2d(F.max_pool2d(a, 2, 1), 2, 1, 1),
               lambda t: TF.avg_pool2d(TF.max_pool2d(t, 2, 1), 2, 1, 1), x)
