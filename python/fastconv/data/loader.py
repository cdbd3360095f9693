"""Mini-batches over aligned NumPy arrays."""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["DataLoader"]


def _arrays(arg):
    if isinstance(arg, (tuple, list)):
        return tuple(np.asarray(a) for a in arg)
    return (np.asarray(arg),)


class DataLoader:
    """Iterates mini-batches of aligned arrays (indexed along their first axis).

        for xb, yb in DataLoader(x, y, batch_size=64, shuffle=True, seed=0): ...
        for xb, yb, boxes, masks in DataLoader(x, (y, boxes, masks), batch_size=16): ...
        for xb in DataLoader(x): ...          # a single array yields the array itself, not a 1-tuple

    ``x`` and ``y`` are arrays or tuples/lists of arrays; batches are tuples in the order given (x's arrays, then
    y's). Each pass over the loader is one epoch; with ``shuffle`` the order of epoch e is a permutation drawn
    from ``(seed, e)``, so a loader built with the same seed replays the same sequence of epochs, and every epoch
    differs. ``set_epoch(e)`` jumps to epoch e. With ``seed=None`` the order comes from fresh OS entropy.

    ``transform`` is applied to the first array of each batch (the images). Pass ``targets={'boxes': i,
    'masks': j}`` (positions in the batch tuple) to hand those arrays to the transform as keyword arguments and
    replace them with what it returns (fastconv.data.transforms' geometric transforms move boxes and masks).
    A fastconv Transform also receives ``rng=`` derived from (seed, epoch) when a seed is given, so augmentation
    is reproducible per epoch too.
    """

    def __init__(self, x, y=None, batch_size=32, shuffle=False, drop_last=False, seed=None, transform=None,
                 targets=None):
        self.arrays = _arrays(x) + (_arrays(y) if y is not None else ())
        for i, a in enumerate(self.arrays):
            if a.ndim == 0:
                raise ValueError(f"DataLoader: array {i} is a scalar; every array needs a leading sample axis (x and y "
                                 f"are arrays or tuples/lists of arrays: wrap a list of values in np.asarray)")
        n = len(self.arrays[0])
        for i, a in enumerate(self.arrays):
            if len(a) != n:
                lens = [len(b) for b in self.arrays]
                raise ValueError(f"DataLoader: arrays must have the same number of samples (first axis); "
                                 f"got lengths {lens} (array {i} has {len(a)}, array 0 has {n})")
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"DataLoader: argument 'batch_size' must be a positive int, got {batch_size!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
            raise ValueError(f"DataLoader: argument 'seed' must be None or a non-negative int, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: argument 'transform' must be callable, got {transform!r}")
        targets = dict(targets or {})
        for k, i in targets.items():
            if k not in ("boxes", "masks"):
                raise ValueError(f"DataLoader: argument 'targets' takes the keys 'boxes' and 'masks', got {k!r}")
            if isinstance(i, bool) or not isinstance(i, numbers.Integral) or not 0 < i < len(self.arrays):
                raise ValueError(f"DataLoader: targets[{k!r}] = {i!r} must index one of the arrays 1.."
                                 f"{len(self.arrays) - 1} of the batch")
        if targets and transform is None:
            raise ValueError("DataLoader: argument 'targets' needs a transform")
        self.n = n
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.transform = transform
        # transforms return (x, boxes, masks) in this order, whatever order the dict was written in
        self.targets = {k: targets[k] for k in ("boxes", "masks") if k in targets}
        self.epoch = 0
        self._entropy = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)

    def __len__(self):
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"DataLoader: set_epoch expects a non-negative int, got {epoch!r}")
        self.epoch = int(epoch)

    def order(self, epoch=None) -> np.ndarray:
        """The sample indices of an epoch (default: the next one), in visiting order."""
        e = self.epoch if epoch is None else epoch
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self._entropy, e, 0]).permutation(self.n)

    def __iter__(self):
        epoch = self.epoch
        self.epoch += 1
        perm = self.order(epoch)
        from .transforms import Transform  # the loader itself needs no transforms

        rng = None
        if self.transform is not None and self.seed is not None and isinstance(self.transform, Transform):
            rng = np.random.default_rng([self._entropy, epoch, 1])
        stop = len(self) * self.batch_size if self.drop_last else self.n
        for start in range(0, stop, self.batch_size):
            idx = perm[start:start + self.batch_size]
            batch = [a[idx] for a in self.arrays]
            if self.transform is not None:
                kw = {k: batch[i] for k, i in self.targets.items()}
                if rng is not None:
                    kw["rng"] = rng
                out = self.transform(batch[0], **kw)
                if self.targets:
                    batch[0] = out[0]
                    for pos, i in enumerate(self.targets.values()):
                        batch[i] = out[1 + pos]
                else:
                    batch[0] = out
            yield batch[0] if len(batch) == 1 else tuple(batch)
