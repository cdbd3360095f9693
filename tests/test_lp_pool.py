"""fastconv.functional.pow (torch.pow with a scalar exponent) and the power-average pools lp_pool1d/2d/3d and
nn.LPPool1d/2d/3d, against PyTorch in float64: values, gradients, the compiled graph, reprs and bad arguments."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional


def _grad_vs_torch(fn, torch_fn, x, tol=1e-5):
    tx = t64(x, True)
    ref = torch_fn(tx)
    w = randn(*ref.shape, seed=7)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda v: (fn(v) * w).sum())(x)
    assert rel_err(g, tx.grad) <= tol


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -0.5, 1 / 3, 1.7, 0, -2])
def test_pow_forward_and_grad_positive_inputs(exponent):
    x = np.abs(randn(3, 4, 5, seed=1)) + 0.1
    y = F.pow(x, exponent)
    assert y.dtype == np.float32 and rel_err(y, torch.pow(t64(x), exponent)) <= 1e-6
    if exponent == 0:  # torch: the gradient of x ** 0 is 0 (also at 0)
        _, g = fc.value_and_grad(lambda v: F.pow(v, 0).sum())(np.zeros(4, np.float32))
        assert np.array_equal(g, np.zeros(4, np.float32))
    else:
        _grad_vs_torch(lambda v: F.pow(v, exponent), lambda v: torch.pow(v, exponent), x)


def test_pow_negative_inputs_follow_torch():
    x = randn(50, seed=2)
    for e in (2, 3, -1):
        assert rel_err(F.pow(x, e), torch.pow(t64(x), e)) <= 1e-6
        _grad_vs_torch(lambda v, e=e: F.pow(v, e), lambda v, e=e: torch.pow(v, e), x)
    y = F.pow(x, 0.5)
    assert np.array_equal(np.isnan(y), x < 0)  # torch: NaN for a negative base and a non-integer exponent


class _Pow(fc.nn.Module):
    def forward(self, v):
        return F.pow(F.relu(v), 2.0)


def test_pow_compiles_and_refuses_tensor_exponents():
    x = randn(2, 3, seed=3)
    assert rel_err(fc.compile(_Pow(), x.shape).predict(x), np.maximum(x, 0).astype(np.float64) ** 2) <= 1e-6
    with pytest.raises(TypeError, match="pow: argument 'exponent' must be a number"):
        F.pow(x, np.ones(3, np.float32))
    with pytest.raises(TypeError, match="exponent"):
        F.pow(x, "2")


LP_CASES = [  # (nd, shape, norm_type, kernel, stride, ceil_mode)
    (1, (2, 3, 11), 2, 3, None, False),
    (1, (2, 3, 11), 1.5, 4, 2, True),
    (2, (2, 3, 9, 8), 2, 2, None, False),
    (2, (2, 3, 9, 8), 3, (3, 2), (2, 1), False),
    (2, (1, 2, 7, 7), 2, 3, 2, True),
    (2, (1, 2, 7, 7), float("inf"), 2, None, False),
    (3, (1, 2, 5, 6, 4), 2, 2, None, False),
    (3, (1, 2, 5, 6, 4), 1.5, (2, 3, 2), 1, False),
]


@pytest.mark.parametrize("nd,shape,p,k,s,ceil", LP_CASES)
def test_lp_pool_matches_torch(nd, shape, p, k, s, ceil):
    # Positive inputs for the fractional and odd norms (torch raises x to p without |x|, so negatives give NaN)
    x = randn(*shape, seed=nd) if p in (2, float("inf")) else np.abs(randn(*shape, seed=nd)) + 0.05
    fn = lambda v: getattr(F, f"lp_pool{nd}d")(v, p, k, s, ceil)  # noqa: E731
    tfn = lambda v: getattr(TF, f"lp_pool{nd}d")(v, p, k, s, ceil)  # noqa: E731
    y = fn(x)
    ref = tfn(t64(x))
    assert y.shape == tuple(ref.shape) and rel_err(y, ref) <= 1e-5
    _grad_vs_torch(fn, tfn, x, 1e-4)
    mod = getattr(fc.nn, f"LPPool{nd}d")(p, k, s, ceil)
    tmod = getattr(torch.nn, f"LPPool{nd}d")(p, k, s, ceil)
    assert repr(mod) == repr(tmod)
    assert rel_err(fc.compile(mod, x.shape).predict(x), ref) <= 1e-5


def test_lp_pool_bad_arguments():
    x = randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="norm_type"):
        F.lp_pool2d(x, 0, 2)
    with pytest.raises(TypeError, match="norm_type"):
        F.lp_pool2d(x, "2", 2)
    with pytest.raises(ValueError, match="norm_type"):
        fc.nn.LPPool2d(0, 2)


@pytest.mark.parametrize("shape,k,s,p,out", [((2, 3, 4, 4, 6), 2, None, 0, None), ((2, 3, 4, 5, 6), 2, None, 0, (4, 5, 6)),
                                             ((3, 5, 4, 6), (2, 3, 2), (2, 2, 1), 1, (5, 4, 6)),
                                             ((1, 2, 5, 5, 5), 2, 2, 0, (5, 5, 5))])
def test_max_unpool3d_matches_torch(shape, k, s, p, out):
    """max_unpool3d inverts max_pool3d's indices as torch does (values and gradient); nn.MaxUnpool3d too."""
    x = randn(*shape, seed=4)
    ty, ti = TF.max_pool3d(t64(x), k, s, p, return_indices=True)
    y, i = ty.numpy().astype(np.float32), ti.numpy()
    want = TF.max_unpool3d(t64(y), ti, k, s, p, out)
    got = F.max_unpool3d(y, i, k, s, p, out)
    assert got.shape == tuple(want.shape) and rel_err(got, want) <= 1e-7
    assert rel_err(fc.nn.MaxUnpool3d(k, s, p)(y, i, out), want) <= 1e-7
    assert repr(fc.nn.MaxUnpool3d(k, s, p)) == repr(torch.nn.MaxUnpool3d(k, s, p))
    _grad_vs_torch(lambda v: F.max_unpool3d(v, i, k, s, p, out), lambda v: TF.max_unpool3d(v, ti, k, s, p, out), y)
    with pytest.raises(ValueError, match="output_size"):
        F.max_unpool3d(y, i, k, s, p, tuple(d + 5 for d in want.shape[-3:]))
