"""fastconv.Tensor's torch methods against torch's own results, and fastconv.save/load of state dicts and trees."""
import json

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn

torch = pytest.importorskip("torch")

A = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
CASES = [
    ("size", lambda t: t.size()), ("size1", lambda t: t.size(1)), ("size-1", lambda t: t.size(-1)),
    ("dim", lambda t: t.dim()), ("numel", lambda t: t.numel()),
    ("view", lambda t: t.view(2, -1)), ("view_tuple", lambda t: t.view((6, 4))), ("flatten1", lambda t: t.flatten(1)),
    ("flatten", lambda t: t.flatten()), ("reshape", lambda t: t.reshape(4, 6)),
    ("permute", lambda t: t.permute(2, 0, 1)), ("transpose", lambda t: t.transpose(0, 2)),
    ("unsqueeze", lambda t: t.unsqueeze(1)), ("unsqueeze-1", lambda t: t.unsqueeze(-1)),
    ("squeeze", lambda t: t.unsqueeze(0).squeeze(0)), ("squeeze_all", lambda t: t[:1].squeeze()),
    ("sum", lambda t: t.sum()), ("sum1", lambda t: t.sum(1)), ("sum_keep", lambda t: t.sum(dim=2, keepdim=True)),
    ("mean", lambda t: t.mean(0)), ("max", lambda t: t.max()), ("max_dim", lambda t: t.max(1)[0]),
    ("max_idx", lambda t: t.max(dim=1)[1]), ("min_dim", lambda t: t.min(2).values),
    ("argmax", lambda t: t.argmax(dim=1, keepdim=True)), ("argmax_all", lambda t: t.argmax()),
    ("eq", lambda t: t.argmax(1).eq(t.argmin(1))), ("gt", lambda t: t > 0), ("le", lambda t: t <= 0.1),
    ("add", lambda t: t + 1), ("radd", lambda t: 2 + t), ("sub", lambda t: 1 - t), ("mul", lambda t: t * t),
    ("div", lambda t: t / 2), ("neg", lambda t: -t), ("pow", lambda t: t ** 2), ("abs", lambda t: t.abs()),
    ("index", lambda t: t[1, :2]), ("index_neg", lambda t: t[-1]), ("slice_step", lambda t: t[:, ::2]),
    ("item", lambda t: t[0, 1, 2].item()), ("tolist", lambda t: t[0].tolist()),
    ("view_as", lambda t: t.sum(2).view_as(t.sum(2).flatten())), ("T2", lambda t: t[0].t()),
    ("expand", lambda t: t[:, :1].expand(2, 5, 4)), ("long", lambda t: (t * 10).long()),
]


def _np(v):
    if isinstance(v, (fc.Tensor, torch.Tensor)):
        return np.asarray(v.detach().numpy() if isinstance(v, torch.Tensor) else v.numpy())
    return v


@pytest.mark.parametrize("name,f", CASES, ids=[c[0] for c in CASES])
def test_methods_match_torch(name, f):
    got, want = f(fc.from_numpy(A.copy())), f(torch.from_numpy(A.copy()))
    if isinstance(want, torch.Size):
        assert tuple(got) == tuple(want)
        return
    g, w = _np(got), _np(want)
    if isinstance(w, np.ndarray):
        assert isinstance(got, fc.Tensor)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=1e-6)
    elif isinstance(w, list):
        np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-6)
    else:
        assert g == pytest.approx(w, rel=1e-6)


def test_from_numpy_shares_memory_and_factories_follow_torch():
    a = np.arange(6, dtype=np.float32)
    t = fc.from_numpy(a)
    a[0] = 9
    assert t[0].item() == 9 and np.asarray(t).ctypes.data == a.ctypes.data
    assert fc.tensor([1.0, 2.0]).dtype == fc.float32 and fc.tensor([1, 2]).dtype == fc.int64
    assert fc.zeros(2, 3).shape == (2, 3) and fc.ones((4,), dtype=fc.int64).dtype == np.int64
    assert fc.arange(5).tolist() == list(range(5)) and fc.arange(0, 1, 0.5).dtype == fc.float32
    fc.manual_seed(3)
    r1 = fc.randn(3, 2)
    fc.manual_seed(3)
    assert np.array_equal(r1.numpy(), fc.randn(3, 2).numpy())  # manual_seed makes the factories reproducible
    assert fc.stack([fc.ones(2), fc.zeros(2)]).shape == (2, 2)
    with pytest.raises(TypeError, match="from_numpy"):
        fc.from_numpy([1, 2])
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        fc.ones(2).item()
    with pytest.raises(IndexError, match="Dimension out of range"):
        fc.ones(2, 3).size(2)


def test_ops_on_tensors_return_tensors_and_numpy_stays_numpy():
    import fastconv.nn.functional as F
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    assert type(F.relu(x)) is np.ndarray
    with fc.no_grad():
        y = F.relu(fc.from_numpy(x))
    assert isinstance(y, fc.Tensor)
    np.testing.assert_array_equal(y.numpy(), np.maximum(x, 0))


def test_state_dict_trees_round_trip_without_pickle(tmp_path):
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    opt = fc.optim.Adam(m.parameters(), lr=0.01, betas=(0.8, 0.9))
    path = tmp_path / "sd.pt"
    fc.save(m.state_dict(), path)
    sd = fc.load(path)
    assert list(sd) == list(m.state_dict())
    for k, v in m.state_dict().items():
        assert isinstance(sd[k], fc.Tensor) and np.array_equal(sd[k].numpy(), np.asarray(v))
    m2 = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    m2.load_state_dict(fc.load(path))
    np.testing.assert_array_equal(np.asarray(m2[0].weight), np.asarray(m[0].weight))
    tree = {"epoch": 3, "best": 0.25, "nested": [1, (2.5, None), {"name": "x", 7: fc.ones(2)}],
            "optimizer": opt.state_dict(), "flag": True}
    fc.save(tree, tmp_path / "tree.pt")
    back = fc.load(tmp_path / "tree.pt")
    assert back["epoch"] == 3 and back["best"] == 0.25 and back["flag"] is True
    assert back["nested"][1] == (2.5, None) and back["nested"][2]["name"] == "x"
    assert back["nested"][2][7].tolist() == [1.0, 1.0]
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    assert (tmp_path / "tree.pt").read_bytes().find(b"\x80\x04") < 0  # no pickle protocol header anywhere
    with pytest.raises(TypeError, match="cannot store a object"):
        fc.save({"f": object()}, tmp_path / "bad.pt")


def test_a_malformed_tree_is_a_clear_error(tmp_path):
    from fastconv.io import save_safetensors
    p = tmp_path / "evil.pt"
    save_safetensors({}, p, {"format": "fastconv.tree", "fastconv.tree": json.dumps({"t": "missing"})})
    with pytest.raises(ValueError, match="does not hold"):
        fc.load(p)
    save_safetensors({}, p, {"format": "fastconv.tree", "fastconv.tree": json.dumps({"p": "os.system"})})
    with pytest.raises(ValueError, match="unknown node"):
        fc.load(p)
