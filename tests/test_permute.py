"""permute / transpose (ONNX Transpose) vs torch.permute: values for every dtype, gradients, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, torch

_SETTINGS = dict(max_examples=40, deadline=None, derandomize=True, database=None)


@settings(**_SETTINGS)
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=6), data=st.data())
def test_permute_matches_torch_with_gradient(shape, data):
    dims = data.draw(st.permutations(range(len(shape))))
    dims = [d - len(shape) if data.draw(st.booleans()) else d for d in dims]  # negative dims too
    x = np.asarray(randn(*shape, seed=len(shape)))
    ref = torch.from_numpy(x).permute(dims)
    out = F.permute(x, dims)
    assert out.shape == tuple(ref.shape) and np.array_equal(out, ref.numpy())
    if x.size:
        c = np.asarray(randn(*ref.shape, seed=3))
        _, g = fc.value_and_grad(lambda a: (F.permute(a, dims) * c).sum())(x)
        tx = torch.from_numpy(x.astype(np.float64)).requires_grad_()
        (tx.permute(dims) * torch.from_numpy(c.astype(np.float64))).sum().backward()
        np.testing.assert_array_equal(g, tx.grad.numpy().astype(np.float32))


def test_permute_int64_bool_and_transpose():
    a = np.arange(24).reshape(2, 3, 4)
    np.testing.assert_array_equal(F.permute(a, (2, 0, 1)), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(F.transpose(a, 0, -1), a.swapaxes(0, 2))
    x = randn(64, 33, 7)  # large enough for several threads, odd strides
    np.testing.assert_array_equal(F.permute(x, (1, 2, 0)), x.transpose(1, 2, 0))
    np.testing.assert_array_equal(F.permute(x, (0, 2, 1)), x.transpose(0, 2, 1))


def test_permute_errors():
    x = randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"permute: argument 'dims' \(0, 1\) must name every one of the 3"):
        F.permute(x, (0, 1))
    with pytest.raises(ValueError, match="repeats dimension 1"):
        F.permute(x, (0, 1, 1))
    with pytest.raises(IndexError, match="dimension 3 in 'dims'"):
        F.permute(x, (0, 1, 3))
