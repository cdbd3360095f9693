"""Convolutions vs PyTorch float64 (forward and every gradient), with each algorithm forced; conv_transpose;
scipy-style correlate2d/convolve2d; the course examples (Sobel feature map, conv as a matrix product, output sizes,
multiplication counts); bad-input errors."""
import contextlib

import numpy as np
import pytest
from hypothesis import assume, example, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import forced_algo, assert_grad_close, randn, rel_err, t64, torch
from fastconv._shapes import conv_flops, conv_output_size

TF = torch.nn.functional
ALGOS = ["ref", "im2col_gemm", "gemm_1x1", "depthwise_direct"]


def forced_algo_conv(name):
    return forced_algo(f"conv={name}" if name else "")  # "": the rules decide


def check_conv(nd, x, w, b, kw, algo=None, tol=1e-4):
    """Forward and grads (input, weight, bias) of conv{nd}d vs torch float64; returns the schedule text."""
    fn, tfn = getattr(F, f"conv{nd}d"), getattr(TF, f"conv{nd}d")
    tx, tw = t64(x, True), t64(w, True)
    tb = None if b is None else t64(b, True)
    tkw = dict(kw)
    if kw.get("padding") == "full":  # fastconv's extension: dilation*(k-1) zeros on each side
        tkw["padding"] = tuple(d * (k - 1) for d, k in zip(kw["dilation"], w.shape[2:]))
    ref = tfn(tx, tw, tb, **tkw)
    g = randn(*ref.shape, seed=7)
    (ref * t64(g)).sum().backward()
    # The same gradients on absolute values: the magnitude of the terms each gradient element sums.
    ax, aw = t64(np.abs(x), True), t64(np.abs(w), True)
    ab = None if b is None else t64(np.abs(b), True)
    (tfn(ax, aw, ab, **tkw) * t64(np.abs(g))).sum().backward()
    with forced_algo_conv(algo) if algo is not None else contextlib.nullcontext():
        y = fn(x, w, b, **kw)
        assert rel_err(y, ref) <= tol
        if b is None:
            f = lambda x, w: (fn(x, w, None, **kw) * g).sum()  # noqa: E731
            _, grads = fc.value_and_grad(f, argnums=(0, 1))(x, w)
            refs = (tx.grad, tw.grad)
        else:
            f = lambda x, w, b: (fn(x, w, b, **kw) * g).sum()  # noqa: E731
            _, grads = fc.value_and_grad(f, argnums=(0, 1, 2))(x, w, b)
            refs = (tx.grad, tw.grad, tb.grad)
        mags = (ax.grad, aw.grad, None if ab is None else ab.grad)
        for got, want, mag in zip(grads, refs, mags):
            assert_grad_close(got, want, mag, tol)
        return fc.trace(f, *([x, w] if b is None else [x, w, b])).exe.schedule()


@st.composite
def conv_case(draw, kind="general"):
    nd = draw(st.sampled_from([1, 2, 2, 2, 3])) if kind != "depthwise" else draw(st.sampled_from([1, 2, 2]))
    n = draw(st.sampled_from([0, 1, 1, 2, 3]))
    if kind == "depthwise":
        groups = draw(st.integers(2, 4))
        cg, kg = 1, draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kmax = 2 if nd == 3 else 4
    if kind == "1x1":
        k, stride, dil, pad = [1] * nd, [1] * nd, [1] * nd, 0
    else:
        k = [draw(st.integers(1, kmax)) for _ in range(nd)]
        stride = [draw(st.integers(1, 3)) for _ in range(nd)]
        dil = [draw(st.integers(1, 2)) for _ in range(nd)]
        pad = draw(st.sampled_from(["int", "tuple", "valid", "same", "full"]))
        if pad == "same":
            stride = [1] * nd
        pad = {"int": draw(st.integers(0, 2)), "tuple": tuple(draw(st.integers(0, 2)) for _ in range(nd))}.get(pad, pad)
    pads = [0] * nd if isinstance(pad, str) else ([pad] * nd if isinstance(pad, int) else list(pad))
    size = [max(1, d * (kk - 1) + 1 - 2 * p) + draw(st.integers(0, 5 if nd < 3 else 2))
            for kk, d, p in zip(k, dil, pads)]
    if kind == "1x1":
        size = [draw(st.integers(1, 7)) for _ in range(nd)]
    x = randn(n, cg * groups, *size, seed=draw(st.integers(0, 99)))
    w = randn(kg * groups, cg, *k, seed=draw(st.integers(100, 199)))
    b = randn(kg * groups, seed=3) if draw(st.booleans()) else None
    kw = dict(stride=tuple(stride) if nd > 1 or draw(st.booleans()) else stride[0], padding=pad,
              dilation=tuple(dil), groups=groups)
    return nd, x, w, b, kw


@settings(max_examples=100, deadline=None)
@given(case=conv_case(), algo=st.sampled_from(["ref", "im2col_gemm"]))
def test_conv_general_vs_torch(case, algo):
    nd, x, w, b, kw = case
    sched = check_conv(nd, x, w, b, kw, algo)
    assert f"<{algo}>" in sched


@settings(max_examples=40, deadline=None)
@given(case=conv_case("1x1"))
def test_conv_gemm_1x1_vs_torch(case):
    nd, x, w, b, kw = case
    assert "<gemm_1x1>" in check_conv(nd, x, w, b, kw, "gemm_1x1")


@settings(max_examples=80, deadline=None)
@given(case=conv_case("depthwise"), isa=st.sampled_from(["scalar", "avx2", "avx512"]))
def test_conv_depthwise_direct_vs_torch_every_isa(case, isa):
    order = ["scalar", "avx2", "avx512"]
    best = fc.cpu_features()["best_isa"]
    assume(order.index(isa) <= order.index(best))
    nd, x, w, b, kw = case
    try:
        fc.set_isa(isa)
        sched = check_conv(nd, x, w, b, kw, "depthwise_direct")
    finally:
        fc.set_isa(best)
    assert f"<depthwise_direct__{isa}>" in sched


@pytest.mark.parametrize("algo", ALGOS)
def test_default_rules_and_wide_rows(algo):
    # Rows longer than one vector (W = 37) with tails, batch larger than the thread count: slot-parallel paths.
    x = randn(5, 6, 11, 37, seed=1)
    cases = {"gemm_1x1": (randn(8, 6, 1, 1, seed=2), dict()),
             "depthwise_direct": (randn(12, 1, 3, 3, seed=2), dict(padding=1, groups=6)),
             "im2col_gemm": (randn(8, 3, 3, 5, seed=2), dict(padding=(1, 2), groups=2)),
             "ref": (randn(4, 6, 2, 2, seed=2), dict(stride=2))}
    w, kw = cases[algo]
    sched = check_conv(2, x, w, randn(w.shape[0], seed=4), kw, algo if algo == "ref" else "")  # "": the rules
    assert f"<{algo}" in sched  # the rules pick the specialised algorithms without being forced


@pytest.mark.parametrize("hw,kw", [((40, 41), dict(stride=2, dilation=2, padding=3)),   # > 256 outputs: row copies
                                   ((9, 10), dict(stride=2, dilation=2, padding=3)),    # small map: offset table
                                   ((6, 5), dict(stride=(1, 3), padding=(2, 0)))])
def test_im2col_row_and_table_paths_with_stride_and_dilation(hw, kw):
    x = randn(3, 4, *hw, seed=5)
    check_conv(2, x, randn(6, 4, 3, 3, seed=6), randn(6, seed=7), kw, "im2col_gemm")


def test_im2col_3d_with_one_input_plane_and_depth_padding():
    # A 1-deep input padded in depth has several output planes: not a 2-D problem (regression: the 2-D offset
    # table was used and read past its end).
    x = randn(2, 2, 1, 3, 4, seed=8)
    check_conv(3, x, randn(3, 2, 1, 2, 2, seed=9), None, dict(padding=(2, 1, 1), stride=(1, 2, 1)), "im2col_gemm")


def test_unbatched_input_and_conv1d_int_stride():
    x, w = randn(3, 10, seed=1), randn(4, 3, 3, seed=2)
    y = F.conv1d(x, w, stride=2, padding=1)
    assert rel_err(y, TF.conv1d(t64(x), t64(w), stride=2, padding=1)) <= 1e-5
    x2 = randn(3, 6, 7, seed=3)
    y2 = F.conv2d(x2, randn(5, 3, 2, 2, seed=4), padding="same")
    assert y2.shape == (5, 6, 7)


@st.composite
def winograd_case(draw):
    n = draw(st.sampled_from([0, 1, 2, 3]))
    c, k = draw(st.integers(1, 20)), draw(st.integers(1, 20))
    h, w = draw(st.integers(1, 13)), draw(st.integers(1, 13))
    pad = draw(st.sampled_from([0, 1, 2, (1, 0), (0, 2), "same"]))
    ph, pw = (1, 1) if pad == "same" else (pad, pad) if isinstance(pad, int) else pad
    assume(h + 2 * ph >= 3 and w + 2 * pw >= 3)
    seed = draw(st.integers(0, 100))
    b = randn(k, seed=seed + 2) if draw(st.booleans()) else None
    return 2, randn(n, c, h, w, seed=seed), randn(k, c, 3, 3, seed=seed + 1), b, dict(padding=pad)


@settings(max_examples=60, deadline=None)
@given(case=winograd_case(), isa=st.sampled_from(["scalar", "avx2", "avx512"]))
def test_conv_winograd_f4x3_forward_and_grads_every_isa(case, isa):
    order = ["scalar", "avx2", "avx512"]
    best = fc.cpu_features()["best_isa"]
    assume(order.index(isa) <= order.index(best))
    nd, x, w, b, kw = case
    try:
        fc.set_isa(isa)
        sched = check_conv(nd, x, w, b, kw, "winograd_f4x3")
    finally:
        fc.set_isa(best)
    assert "<winograd_f4x3>" in sched  # forward, backward-data and the weight gradient


def test_winograd_chosen_by_default_for_vgg_layers_and_conv_transpose():
    x, w = randn(2, 16, 20, 20, seed=1), randn(24, 16, 3, 3, seed=2)
    assert "conv2d <winograd_f4x3>" in check_conv(2, x, w, randn(24, seed=3), dict(padding=1), "")
    xt, wt = randn(2, 8, 9, 11, seed=4), randn(8, 5, 3, 3, seed=5)
    with forced_algo_conv("winograd_f4x3"):
        y = F.conv_transpose2d(xt, wt, padding=1)
    assert rel_err(y, TF.conv_transpose2d(t64(xt), t64(wt), padding=1)) <= 1e-4


@st.composite
def transpose_case(draw):
    nd = draw(st.sampled_from([1, 2, 2, 3]))
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 2))
    k = [draw(st.integers(1, 3 if nd < 3 else 2)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    dil = [draw(st.integers(1, 2)) for _ in range(nd)]
    opad = [draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dil)]
    pad = [draw(st.integers(0, 1)) for _ in range(nd)]
    size = [draw(st.integers(1, 5 if nd < 3 else 3)) for _ in range(nd)]
    out = [(i - 1) * s - 2 * p + d * (kk - 1) + o + 1 for i, s, p, d, kk, o in zip(size, stride, pad, dil, k, opad)]
    assume(min(out) > 0)
    x = randn(draw(st.sampled_from([0, 1, 2])), cin, *size, seed=draw(st.integers(0, 50)))
    w = randn(cin, cout // groups, *k, seed=9)
    b = randn(cout, seed=5) if draw(st.booleans()) else None
    return nd, x, w, b, dict(stride=tuple(stride), padding=tuple(pad), output_padding=tuple(opad), groups=groups,
                             dilation=tuple(dil))


# Found by this test's random draws: a 1-deep map whose one output plane sits in the depth padding took the 2-D
# table path of im2col, which ignores depth, and returned x*w instead of 0.
_DEPTH_PAD = (3, np.array([[[[[0.12573022]]]]], np.float32), np.array([[[[[-0.80283695]]]]], np.float32), None,
              dict(stride=(3, 1, 1), padding=(1, 0, 0), output_padding=(2, 0, 0), groups=1, dilation=(1, 1, 1)))


@settings(max_examples=80, deadline=None)
@given(case=transpose_case(), algo=st.sampled_from(["ref", "im2col_gemm", None]))
@example(case=_DEPTH_PAD, algo="im2col_gemm")
@example(case=_DEPTH_PAD, algo=None)
def test_conv_transpose_vs_torch(case, algo):
    nd, x, w, b, kw = case
    fn, tfn = getattr(F, f"conv_transpose{nd}d"), getattr(TF, f"conv_transpose{nd}d")
    tx, tw = t64(x, True), t64(w, True)
    tb = None if b is None else t64(b, True)
    ref = tfn(tx, tw, tb, **kw)
    g = randn(*ref.shape, seed=8)
    (ref * t64(g)).sum().backward()
    with forced_algo_conv(algo) if algo else contextlib.nullcontext():
        assert rel_err(fn(x, w, b, **kw), ref) <= 1e-4
        args = (x, w) if b is None else (x, w, b)
        _, grads = fc.value_and_grad(lambda *a: (fn(*a[:2], a[2] if len(a) > 2 else None, **kw) * g).sum(),
                                     argnums=tuple(range(len(args))))(*args)
    for got, want in zip(grads, (tx.grad, tw.grad, None if tb is None else tb.grad)):
        assert rel_err(got, want) <= 1e-4


# ---- correlate2d / convolve2d (scipy.signal semantics) --------------------------------------------------------
def np_correlate2d(x, k, mode, flip=False):
    """float64 loop definition; convolve = correlate with the kernel reversed, 'same' centred as scipy does."""
    x, k = np.asarray(x, np.float64), np.asarray(k, np.float64)
    if flip:
        k = k[::-1, ::-1]
    (H, W), (kh, kw) = x.shape, k.shape
    full = np.zeros((H + kh - 1, W + kw - 1))
    xp = np.zeros((H + 2 * (kh - 1), W + 2 * (kw - 1)))
    xp[kh - 1:kh - 1 + H, kw - 1:kw - 1 + W] = x
    for i in range(full.shape[0]):
        for j in range(full.shape[1]):
            full[i, j] = (xp[i:i + kh, j:j + kw] * k).sum()
    if mode == "full":
        return full
    if mode == "valid":
        return full[kh - 1:H, kw - 1:W]
    sh, sw = ((kh - 1) // 2, (kw - 1) // 2) if not flip else (kh // 2, kw // 2)
    return full[kh - 1 - sh:kh - 1 - sh + H, kw - 1 - sw:kw - 1 - sw + W]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("kshape", [(3, 3), (4, 2), (1, 5), (2, 2)])
def test_correlate_convolve2d_vs_scipy(mode, kshape):
    x, k = randn(7, 9, seed=1), randn(*kshape, seed=2)
    try:
        import scipy.signal as ss
        refs = {"c": ss.correlate2d(x.astype(np.float64), k.astype(np.float64), mode),
                "v": ss.convolve2d(x.astype(np.float64), k.astype(np.float64), mode)}
    except ImportError:  # the float64 loop definition instead
        refs = {"c": np_correlate2d(x, k, mode), "v": np_correlate2d(x, k, mode, flip=True)}
    assert rel_err(np_correlate2d(x, k, mode), refs["c"]) <= 1e-12  # the loop agrees with scipy
    assert rel_err(np_correlate2d(x, k, mode, flip=True), refs["v"]) <= 1e-12
    assert rel_err(F.correlate2d(x, k, mode), refs["c"]) <= 1e-5
    assert rel_err(F.convolve2d(x, k, mode), refs["v"]) <= 1e-5
    # gradients: torch float64 on an explicitly padded conv2d with the (flipped) kernel
    for name, flip in (("correlate2d", False), ("convolve2d", True)):
        tx, tk = t64(x, True), t64(k, True)
        kk = torch.flip(tk, (0, 1)) if flip else tk
        full = TF.conv2d(TF.pad(tx[None, None], (k.shape[1] - 1,) * 2 + (k.shape[0] - 1,) * 2), kk[None, None])[0, 0]
        ref = full.detach().numpy()
        want = np_correlate2d(x, k, mode, flip)
        # locate `want` inside `full` (its offset is the mode's crop) and back-propagate through that crop
        offs = [(i, j) for i in range(ref.shape[0] - want.shape[0] + 1) for j in range(ref.shape[1] - want.shape[1] + 1)
                if np.allclose(ref[i:i + want.shape[0], j:j + want.shape[1]], want)]
        i, j = offs[0]
        g = randn(*want.shape, seed=3)
        (full[i:i + want.shape[0], j:j + want.shape[1]] * t64(g)).sum().backward()
        _, (gx, gk) = fc.value_and_grad(lambda a, b: (getattr(F, name)(a, b, mode) * g).sum(), argnums=(0, 1))(x, k)
        assert rel_err(gx, tx.grad) <= 1e-5 and rel_err(gk, tk.grad) <= 1e-5


# ---- the course examples ---------------------------------------------------------------------------------------
SOBEL_IMAGE = np.array([
    [0, 0, 0, 0, 255, 255, 0, 0, 0, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 0, 255, 255, 0, 0, 0, 0],
    [255, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 255, 255, 255, 255, 255, 255, 0, 0],
    [0, 255, 0, 255, 255, 255, 255, 0, 255, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 255, 0, 0, 255, 0, 0, 255],
    [0, 0, 255, 255, 0, 0, 255, 255, 0, 0]], np.float32)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
SOBEL_FEATURE_MAP = np.array([  # from the course slides
    [0, 510, 1020, 510, -510, -1020, -510, 0],
    [-255, 510, 1020, 510, -510, -1020, -510, 0],
    [-255, 765, 765, 255, -255, -765, -765, -255],
    [255, 765, 510, 0, 0, -510, -765, -510],
    [255, 510, 765, 0, 0, -765, -510, -255],
    [0, 765, 1020, 0, 0, -1020, -765, 0],
    [0, 1020, 765, -255, 255, -765, -1020, 255],
    [255, 1020, 0, -765, 765, 0, -1020, 255]])
SOBEL_NORMALISED = np.array([  # from the course slides: (v - min) / (max - min) * 255, rounded
    [128, 191, 255, 191, 64, 0, 64, 128],
    [96, 191, 255, 191, 64, 0, 64, 128],
    [96, 223, 223, 159, 96, 32, 32, 96],
    [159, 223, 191, 128, 128, 64, 32, 64],
    [159, 191, 223, 128, 128, 32, 64, 96],
    [128, 223, 255, 128, 128, 0, 32, 128],
    [128, 255, 223, 96, 159, 32, 0, 159],
    [159, 255, 128, 32, 223, 128, 0, 159]])


@pytest.mark.parametrize("algo", ["ref", "im2col_gemm"])
def test_sobel_worked_example_exact(algo):
    with forced_algo_conv(algo):
        fmap = F.conv2d(SOBEL_IMAGE[None, None], SOBEL_X[None, None])[0, 0]
        assert np.array_equal(F.correlate2d(SOBEL_IMAGE, SOBEL_X, "valid"), fmap)
    assert np.array_equal(fmap, SOBEL_FEATURE_MAP)  # small integers: exact in float32
    norm = np.floor((fmap - fmap.min()) / (fmap.max() - fmap.min()) * 255 + 0.5)
    assert np.array_equal(norm, SOBEL_NORMALISED)
    # the slide's S_x * A written as a true convolution is the correlation with the flipped kernel: opposite sign
    assert np.array_equal(F.convolve2d(SOBEL_IMAGE, SOBEL_X, "valid"), -SOBEL_FEATURE_MAP)


def conv_matrix(k, H, W, stride=1, pad=0):
    """The sparse (Ho*Wo) x (H*W) matrix of a single-channel convolution, in float64."""
    kh, kw = k.shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    M = np.zeros((Ho * Wo, H * W))
    for oh in range(Ho):
        for ow in range(Wo):
            for i in range(kh):
                for j in range(kw):
                    ih, iw = oh * stride - pad + i, ow * stride - pad + j
                    if 0 <= ih < H and 0 <= iw < W:
                        M[oh * Wo + ow, ih * W + iw] = k[i, j]
    return M, (Ho, Wo)


@pytest.mark.parametrize("stride,pad", [(1, 0), (2, 1), (3, 0)])
def test_convolution_is_a_sparse_matrix_product(stride, pad):
    x, k = randn(7, 6, seed=1), randn(3, 2, seed=2)
    M, (Ho, Wo) = conv_matrix(k.astype(np.float64), 7, 6, stride, pad)
    y = F.conv2d(x[None, None], k[None, None], stride=stride, padding=pad)[0, 0]
    assert rel_err(y.ravel(), M @ x.ravel().astype(np.float64)) <= 1e-6
    # the transposed convolution multiplies by M^T (its name), padded back to the input size
    g = randn(Ho, Wo, seed=3)
    op = [(7 + 2 * pad - 3) % stride, (6 + 2 * pad - 2) % stride]
    xt = F.conv_transpose2d(g[None, None], k[None, None], stride=stride, padding=pad, output_padding=tuple(op))[0, 0]
    assert rel_err(xt.ravel(), M.T @ g.ravel().astype(np.float64)) <= 1e-6
    assert (M != 0).sum() <= Ho * Wo * k.size  # sparse: at most one kernel's worth of entries per row


def test_output_sizes_from_the_course():
    assert [conv_output_size(7, 3, s).size for s in (1, 2, 3)] == [5, 3, 2]
    r = conv_output_size(7, 3, stride=3)
    assert r.exact == pytest.approx(7 / 3) and r.uncovered == 1 and r.effective_kernel == 3
    assert conv_output_size(7, 3, 2).uncovered == 0 and conv_output_size(7, 3, 2).exact == 3.0
    assert conv_output_size(6, 3, stride=2, padding=1).uncovered == 1  # bottom row/right col of the padded input
    assert [conv_output_size(7, k, padding=(k - 1) // 2).size for k in (3, 5, 7)] == [7, 7, 7]
    assert conv_output_size(5, 3, padding="full").size == 7 and conv_output_size(5, 4, padding=2).size == 6
    r = conv_output_size((7, 9), (3, 3), dilation=(2, 3))
    assert r.effective_kernel == (5, 7) and r.size == (3, 3)
    assert conv_output_size(6, 2, stride=4, ceil_mode=True).size == 2
    # agrees with torch over a grid
    for i, k, s, p, d in [(9, 3, 2, 1, 2), (10, 4, 3, 2, 1), (5, 5, 1, 0, 1), (8, 2, 5, 1, 3)]:
        want = TF.conv1d(torch.zeros(1, 1, i), torch.zeros(1, 1, k), stride=s, padding=p, dilation=d).shape[-1]
        assert conv_output_size(i, k, s, p, d).size == want == F.conv1d(
            np.zeros((1, 1, i), np.float32), np.zeros((1, 1, k), np.float32), stride=s, padding=p, dilation=d).shape[-1]
    with pytest.raises(ValueError, match="larger than the padded input"):
        conv_output_size(2, 5)


def test_multiplication_counts_from_the_course():
    assert conv_flops((3, 6, 6), (1, 3, 3, 3)) == 432  # (4*4) * (3*3*3)
    assert conv_flops((3, 6, 6), (2, 3, 3, 3)) == 864  # two filters
    assert conv_flops((4, 3, 6, 6), (2, 3, 3, 3)) == 4 * 864
    assert conv_flops((1, 4, 8, 8), (4, 1, 3, 3), padding=1, groups=4) == 4 * 64 * 9  # depthwise
    with pytest.raises(ValueError, match="channels"):
        conv_flops((3, 6, 6), (1, 2, 3, 3))


# ---- bad input -------------------------------------------------------------------------------------------------
def test_errors_name_the_argument_and_value():
    x, w = randn(2, 3, 8, 8), randn(8, 4, 3, 3)
    with pytest.raises(ValueError, match=r"conv2d: input has 3 channels but weight expects 4 \(weight shape "
                                         r"\[8, 4, 3, 3\]\)"):
        F.conv2d(x, w)
    with pytest.raises(ValueError, match=r"conv2d: kernel size \(5, 5\) .*larger than the padded input \(4, 4\)"):
        F.conv2d(randn(1, 1, 2, 2), randn(1, 1, 5, 5), padding=1)
    with pytest.raises(ValueError, match=r"conv2d: argument 'padding' must be non-negative, got \(-1, 0\)"):
        F.conv2d(x, randn(4, 3, 3, 3), padding=(-1, 0))
    with pytest.raises(ValueError, match=r"conv2d: argument 'groups'=2 must divide the input channels 3"):
        F.conv2d(x, randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"argument 'groups'=3 must divide the output channels \(weight.shape\[0\]\) 4"):
        F.conv2d(randn(1, 6, 5, 5), randn(4, 2, 3, 3), groups=3)
    with pytest.raises(TypeError, match=r"conv2d: argument 'input' must be a floating-point array"):
        F.conv2d(np.zeros((1, 3, 5, 5), np.int32), randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: argument 'input' must be 4-D \(N, C, H, W\) or 3-D unbatched, "
                                         r"got 2-D shape \[5, 5\]"):
        F.conv2d(randn(5, 5), randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"conv2d: argument 'weight' must be 4-D"):
        F.conv2d(x, randn(4, 3, 3))
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided convolutions \(stride=\(2, 1\)\)"):
        F.conv2d(x, randn(4, 3, 3, 3), padding="same", stride=(2, 1))
    with pytest.raises(ValueError, match=r"argument 'padding' must be an int, a tuple of 2 ints, 'valid', 'same', "
                                         r"'same_upper', 'same_lower' or 'full', got 'half'"):
        F.conv2d(x, randn(4, 3, 3, 3), padding="half")
    with pytest.raises(ValueError, match=r"argument 'stride' must be positive, got \(0, 1\)"):
        F.conv2d(x, randn(4, 3, 3, 3), stride=(0, 1))
    with pytest.raises(ValueError, match=r"argument 'bias' must have shape \[4\]"):
        F.conv2d(x, randn(4, 3, 3, 3), randn(3))
    with pytest.raises(ValueError, match=r"conv_transpose2d: argument 'output_padding' \(2, 2\) must be non-negative "
                                         r"and smaller than either stride \(2, 2\) or dilation \(1, 1\)"):
        F.conv_transpose2d(x, randn(3, 2, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"conv_transpose2d: input has 3 channels but weight expects 2"):
        F.conv_transpose2d(x, randn(2, 2, 3, 3))
    with pytest.raises(ValueError, match=r"correlate2d: mode='valid' needs in2 \[4, 4\] to fit inside in1 \[3, 3\]"):
        F.correlate2d(randn(3, 3), randn(4, 4), "valid")
    with pytest.raises(ValueError, match=r"correlate2d: argument 'in1' must be 2-D"):
        F.correlate2d(randn(1, 3, 3), randn(2, 2))
    with forced_algo_conv("winograd_f5x5"), pytest.raises(
            ValueError, match=r"FASTCONV_ALGO: 'conv=winograd_f5x5': no conv kernel is called 'winograd_f5x5' "
                              r"\(conv algorithms: .*im2col_gemm.*winograd_f4x3"):
        F.conv2d(x, randn(4, 3, 3, 3))
