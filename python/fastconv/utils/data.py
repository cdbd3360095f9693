"""torch.utils.data's map-style pieces: Dataset, TensorDataset, Subset, DataLoader and default_collate, for scripts
written for PyTorch. Batches are NumPy arrays (what fastconv's eager ops and modules take), collated as torch does:
arrays stacked, Python ints to int64, floats to float64, tuples and dicts collated per position / key.

The order of a shuffled epoch comes from fastconv's global seed stream (fc.manual_seed makes it reproducible) or
from `generator` (a NumPy Generator or an int seed). num_workers, pin_memory and the like are accepted and ignored:
batches are made in the calling thread.
"""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from .._trace import next_seed

__all__ = ["Dataset", "TensorDataset", "Subset", "DataLoader", "default_collate"]


class Dataset:
    """A map-style dataset: __getitem__(i) and __len__."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__}: a Dataset subclass must define __getitem__")


def _np(t):
    if hasattr(t, "detach") and hasattr(t, "numpy") and not isinstance(t, np.ndarray):
        return t.detach().cpu().numpy()  # a torch tensor
    return np.asarray(t)


class TensorDataset(Dataset):
    """Samples are tuples of the i-th rows of the given arrays (all with the same first dimension)."""

    def __init__(self, *tensors) -> None:
        self.tensors = tuple(_np(t) for t in tensors)
        if not self.tensors:
            raise ValueError("TensorDataset: expected at least one array")
        n = len(self.tensors[0])
        for i, t in enumerate(self.tensors):
            if t.ndim == 0 or len(t) != n:
                raise ValueError(f"TensorDataset: every array needs the same first dimension; array 0 has {n} rows, "
                                 f"array {i} has shape {list(t.shape)}")

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return len(self.tensors[0])


class Subset(Dataset):
    def __init__(self, dataset, indices) -> None:
        self.dataset, self.indices = dataset, list(indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)


def default_collate(batch):
    """torch's default collation: arrays, tensors and numbers become fastconv Tensors (float numbers float64, as
    torch's)."""
    from .._tensor import Tensor
    first = batch[0]
    if isinstance(first, np.ndarray) or (hasattr(first, "detach") and hasattr(first, "numpy")):
        return Tensor(np.stack([_np(b) for b in batch]))
    if isinstance(first, (bool, np.bool_)):
        return Tensor(np.asarray(batch, np.bool_))
    if isinstance(first, numbers.Integral):
        return Tensor(np.asarray(batch, np.int64))
    if isinstance(first, numbers.Real):
        return Tensor(np.asarray(batch, np.float64))
    if isinstance(first, np.generic):
        return Tensor(np.asarray(batch))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, collections.abc.Mapping):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, collections.abc.Sequence):
        if any(len(b) != len(first) for b in batch):
            raise RuntimeError("default_collate: each element in the batch must have the same length, got "
                               f"{[len(b) for b in batch]}")
        out = [default_collate(list(items)) for items in zip(*batch)]
        return tuple(out) if isinstance(first, tuple) else out
    raise TypeError(f"default_collate: batch elements must be arrays, numbers, strings, dicts or sequences, got "
                    f"{type(first).__name__}")


class DataLoader:
    """Mini-batches of a map-style dataset, torch's arguments (batch_size=1, shuffle=False, drop_last=False,
    collate_fn=default_collate; batch_size=None yields single samples uncollated)."""

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 generator=None, **_ignored) -> None:
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral)
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: argument 'batch_size' must be a positive int or None, got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError(f"DataLoader: argument 'num_workers' must be a non-negative int, got {num_workers!r}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: argument 'collate_fn' must be callable, got {collate_fn!r}")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, bool(shuffle), bool(drop_last)
        self.sampler, self.num_workers, self.generator = sampler, num_workers, generator
        self.collate_fn = collate_fn or default_collate

    def _order(self):
        if self.sampler is not None:
            return list(self.sampler)
        n = len(self.dataset)
        if not self.shuffle:
            return range(n)
        g = self.generator
        rng = g if isinstance(g, np.random.Generator) else np.random.default_rng(next_seed() if g is None else g)
        return rng.permutation(n).tolist()

    def __iter__(self):
        order = self._order()
        if self.batch_size is None:
            for i in order:
                yield self.dataset[i]
            return
        order = list(order)
        for s in range(0, len(order), self.batch_size):
            idx = order[s:s + self.batch_size]
            if self.drop_last and len(idx) < self.batch_size:
                return
            yield self.collate_fn([self.dataset[i] for i in idx])

    def __len__(self) -> int:
        n = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return n
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
