"""unfold / fold (im2col / col2im) vs torch float64: forward and gradients over hypothesis-drawn geometries, both
kernels, unbatched inputs, convolution as matrix multiplication, and bad-input errors."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import forced_algo, randn, rel_err, t64, torch

TF = torch.nn.functional


@st.composite
def geometry(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    hw = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
    blocks = [(hw[i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(2)]
    assume(min(blocks) >= 1 and hw[0] + 2 * p[0] >= d[0] * (k[0] - 1) + 1 and hw[1] + 2 * p[1] >= d[1] * (k[1] - 1) + 1)
    return dict(kernel_size=k, dilation=d, padding=p, stride=s), hw, blocks


@pytest.fixture(params=["im2col", "ref"])
def algo(request, monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", f"fold={request.param}")
    return request.param


@settings(max_examples=80)
@given(g=geometry(), n=st.integers(0, 3), c=st.integers(1, 3), seed=st.integers(0, 999),
       algo_name=st.sampled_from(["im2col", "ref"]))
def test_unfold_and_fold_match_torch(g, n, c, seed, algo_name):
    with forced_algo(f"fold={algo_name}"):
        check(g, n, c, seed)


def check(g, n, c, seed):
    kw, hw, blocks = g
    x = randn(n, c, *hw, seed=seed)
    tx = t64(x, True)
    ref = TF.unfold(tx, **kw)
    assert rel_err(F.unfold(x, **kw), ref) <= 1e-7
    cols = randn(*ref.shape, seed=seed + 1)
    tc = t64(cols, True)
    fref = TF.fold(tc, hw, **kw)
    assert rel_err(F.fold(cols, hw, **kw), fref) <= 1e-6
    if n:
        (ref * t64(cols)).sum().backward()
        _, g1 = fc.value_and_grad(lambda a: (F.unfold(a, **kw) * cols).sum())(x)
        assert rel_err(g1, tx.grad) <= 1e-6
        (fref * t64(x)).sum().backward()
        _, g2 = fc.value_and_grad(lambda a: (F.fold(a, hw, **kw) * x).sum())(cols)
        assert rel_err(g2, tc.grad) <= 1e-6


def test_unbatched_and_int_arguments(algo):
    x = randn(3, 5, 6, seed=2)
    ref = TF.unfold(t64(x), 2, padding=1, stride=(1, 2))
    y = F.unfold(x, 2, padding=1, stride=(1, 2))
    assert y.shape == tuple(ref.shape) and rel_err(y, ref) <= 1e-7
    assert rel_err(F.fold(y, (5, 6), 2, padding=1, stride=(1, 2)), TF.fold(ref, (5, 6), 2, padding=1, stride=(1, 2))) <= 1e-6


def test_convolution_as_matrix_multiplication(algo):
    """The course's identity: conv2d(x, w) = W_flat @ unfold(x), reshaped."""
    x, w = randn(2, 3, 7, 6, seed=3), randn(4, 3, 3, 3, seed=4)
    cols = F.unfold(x, 3, padding=1)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 7, 6)
    assert rel_err(y, TF.conv2d(t64(x), t64(w), padding=1)) <= 1e-6
    # fold(unfold(x)) = x times the number of blocks covering each pixel
    ones = np.ones_like(x)
    assert rel_err(F.fold(cols, (7, 6), 3, padding=1), x * F.fold(F.unfold(ones, 3, padding=1), (7, 6), 3, padding=1)) <= 1e-6


def test_compiled_schedule_names_the_kernel():
    x = randn(2, 3, 8, 8)
    assert "im2col" in fc.trace(lambda a: F.unfold(a, 3), x).exe.schedule()


def test_errors():
    x = randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match=r"unfold: an image of spatial size \(4, 4\) with kernel_size=\(5, 5\), "
                                         r"dilation=\(1, 1\), padding=\(0, 0\), stride=\(1, 1\) has \(0, 0\) sliding "
                                         r"blocks; both must be at least one"):
        F.unfold(x, 5)
    with pytest.raises(ValueError, match=r"unfold: argument 'stride' must be positive, got \(0, 1\)"):
        F.unfold(x, 2, stride=(0, 1))
    with pytest.raises(ValueError, match=r"unfold: argument 'input' must be 4-D \[N, C, H, W\] \(or 3-D unbatched\), "
                                         r"got shape \[4, 4\]"):
        F.unfold(randn(4, 4), 2)
    with pytest.raises(ValueError, match=r"fold: dimension 1 of the input \(5\) must be divisible by the product of "
                                         r"kernel_size \(2, 2\) \(4\)"):
        F.fold(randn(1, 5, 9), (4, 4), 2)
    with pytest.raises(ValueError, match=r"fold: output_size=\(4, 4\) with kernel_size=\(2, 2\) has 3 \* 3 = 9 sliding "
                                         r"blocks, but dimension 2 of the input is 8"):
        F.fold(randn(1, 8, 8), (4, 4), 2)
    with pytest.raises(ValueError, match=r"fold: argument 'output_size' must be positive, got \(0, 4\)"):
        F.fold(randn(1, 8, 9), (0, 4), 2)
