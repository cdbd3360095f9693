"""fastconv.utils.data vs torch.utils.data: the same batches (torch's default collation, as NumPy), lengths,
drop_last, custom collate_fn, reproducible shuffling, errors."""
import numpy as np
import pytest

import fastconv as fc
from fastconv.utils import data as D
from conftest import torch

TD = torch.utils.data


class Pairs(D.Dataset):
    """A course-style dataset: (image, int label), plus a dict sample variant."""

    def __init__(self, n, as_dict=False):
        self.x = np.arange(n * 6, dtype=np.float32).reshape(n, 1, 2, 3)
        self.as_dict = as_dict

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if self.as_dict:
            return {"image": self.x[i], "label": int(i % 3), "w": float(i) / 2}
        return self.x[i], int(i % 3)


class TorchPairs(TD.Dataset):
    def __init__(self, ours):
        self.ours = ours

    def __len__(self):
        return len(self.ours)

    def __getitem__(self, i):
        s = self.ours[i]
        if isinstance(s, dict):
            return {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in s.items()}
        return torch.from_numpy(s[0]), s[1]


def same(a, b):
    if isinstance(b, dict):
        assert a.keys() == b.keys()
        for k in b:
            same(a[k], b[k])
    elif isinstance(b, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    else:
        y = b.numpy()
        assert isinstance(a, fc.Tensor) and a.dtype == y.dtype and np.array_equal(a.numpy(), y)


@pytest.mark.parametrize("n,bs,drop,as_dict", [(10, 4, False, False), (10, 4, True, False), (7, 1, False, True),
                                               (6, 3, False, True), (5, 8, False, False)])
def test_batches_match_torch(n, bs, drop, as_dict):
    ds = Pairs(n, as_dict)
    ours, ref = D.DataLoader(ds, batch_size=bs, drop_last=drop), TD.DataLoader(TorchPairs(ds), batch_size=bs,
                                                                               drop_last=drop)
    assert len(ours) == len(ref)
    got, want = list(ours), list(ref)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        same(a, b)


def test_tensor_dataset_and_collate_fn():
    x, y = np.random.default_rng(0).standard_normal((9, 4)).astype(np.float32), np.arange(9)
    ds = D.TensorDataset(x, y)
    ref = TD.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
    assert len(ds) == 9
    for a, b in zip(D.DataLoader(ds, batch_size=4), TD.DataLoader(ref, batch_size=4)):
        same(a, b)
    sums = list(D.DataLoader(ds, batch_size=5, collate_fn=lambda b: sum(float(s[1]) for s in b)))
    assert sums == [10.0, 26.0]
    assert [int(s[1]) for s in D.DataLoader(ds, batch_size=None)] == list(range(9))
    assert [s[1] for s in D.Subset(ds, [3, 1])] == [3, 1]


def test_shuffle_is_a_permutation_and_reproducible():
    ds = D.TensorDataset(np.arange(20))
    fc.manual_seed(3)
    a = np.concatenate([b[0] for b in D.DataLoader(ds, batch_size=6, shuffle=True, num_workers=2)])
    fc.manual_seed(3)
    b = np.concatenate([b[0] for b in D.DataLoader(ds, batch_size=6, shuffle=True)])
    assert sorted(a.tolist()) == list(range(20)) and np.array_equal(a, b) and not np.array_equal(a, np.arange(20))
    c = np.concatenate([b[0] for b in D.DataLoader(ds, batch_size=6, shuffle=True, generator=7)])
    d = np.concatenate([b[0] for b in D.DataLoader(ds, batch_size=6, shuffle=True, generator=7)])
    assert np.array_equal(c, d)


def test_errors():
    with pytest.raises(ValueError, match=r"DataLoader: argument 'batch_size' must be a positive int or None, got 0"):
        D.DataLoader(D.TensorDataset(np.arange(3)), batch_size=0)
    with pytest.raises(ValueError, match=r"TensorDataset: every array needs the same first dimension; array 0 has 3 "
                                         r"rows, array 1 has shape \[2\]"):
        D.TensorDataset(np.arange(3), np.arange(2))
    with pytest.raises(RuntimeError, match=r"each element in the batch must have the same length"):
        D.default_collate([(1, 2), (1,)])
    with pytest.raises(NotImplementedError, match=r"must define __getitem__"):
        D.Dataset()[0]
