"""one_hot, embedding and nn.Embedding against torch (values, weight gradients through the eager loop, errors)."""
import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
import fastconv.nn.functional as F

torch = pytest.importorskip("torch")


def test_one_hot_matches_torch():
    idx = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(idx), torch.nn.functional.one_hot(torch.from_numpy(idx)).numpy())
    got = F.one_hot(fc.from_numpy(idx), num_classes=6)
    assert isinstance(got, fc.Tensor) and got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), torch.nn.functional.one_hot(torch.from_numpy(idx), 6).numpy())
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        F.one_hot(idx, 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(np.ones(2, np.float32))


@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_embedding_values_and_gradient_match_torch(padding_idx):
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 7, (3, 4))
    idx[0, 0] = 6
    idx[1, 2] = 1
    te = torch.nn.Embedding(7, 5, padding_idx=padding_idx)
    fe = nn.Embedding(7, 5, padding_idx=padding_idx)
    fe.load_state_dict({"weight": te.weight.detach().numpy().copy()})
    g = rng.standard_normal((3, 4, 5)).astype(np.float32)
    (te(torch.from_numpy(idx)) * torch.from_numpy(g)).sum().backward()
    out = fe(fc.from_numpy(idx))
    (out * fc.from_numpy(g)).sum().backward()
    np.testing.assert_allclose(out.numpy(), te(torch.from_numpy(idx)).detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(fe.weight.grad.numpy(), te.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.embedding(idx, np.asarray(fe.weight)), out.numpy(), rtol=1e-6)  # NumPy in, out


def test_embedding_defaults_and_errors_follow_torch():
    fc.manual_seed(0)
    e = nn.Embedding(1000, 8, padding_idx=3)
    w = np.asarray(e.weight)
    assert abs(w.mean()) < 0.05 and abs(w.std() - 1) < 0.05 and not w[3].any()  # N(0, 1), a zero padding row
    assert repr(e) == "Embedding(1000, 8, padding_idx=3)"
    assert list(e.state_dict()) == ["weight"]
    with pytest.raises(IndexError, match="index 9 out of range for 4 embeddings"):
        F.embedding(np.array([9]), np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(4, 2, padding_idx=4)
    frozen = nn.Embedding.from_pretrained(np.eye(3, dtype=np.float32))
    assert not frozen.weight.requires_grad
