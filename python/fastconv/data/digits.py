"""scikit-learn's bundled handwritten digits (1,797 real 8x8 images, 10 classes): a data set that is always there."""
from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = ["load_digits", "stratified_split"]


def stratified_split(labels, test_size=0.2, seed=0):
    """Deterministic stratified split: (train_indices, test_indices), each sorted.

    test_size: a fraction in (0, 1) (the test set gets ceil(test_size * N) samples, as scikit-learn's
    train_test_split) or a count. Each class gets its proportional share of the test set, rounded by largest
    remainder, so class proportions agree between the two parts to within one sample per class."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratified_split: 'labels' must be 1-D, got shape {labels.shape}")
    n = len(labels)
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise ValueError(f"stratified_split: argument 'test_size' must be a fraction or a count, got {test_size!r}")
    if isinstance(test_size, numbers.Integral):
        if not 0 <= test_size <= n:
            raise ValueError(f"stratified_split: test_size={test_size} must be a count in [0, {n}]")
        n_test = int(test_size)
    else:
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"stratified_split: test_size={test_size!r} must be a fraction in (0, 1) or a count")
        n_test = min(math.ceil(test_size * n), n)
    classes, counts = np.unique(labels, return_counts=True)
    exact = n_test * counts / max(n, 1)
    share = np.floor(exact).astype(np.int64)
    extra = n_test - int(share.sum())
    share[np.argsort(-(exact - share), kind="stable")[:extra]] += 1
    rng = np.random.default_rng(seed)
    test = []
    for c, k in zip(classes, share):  # one short loop per class
        idx = np.flatnonzero(labels == c)
        test.append(rng.permutation(idx)[:k])
    test = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(n), test)
    return train, test


def load_digits(split=None, test_size=0.2, seed=0, image_size=8, as_float=True):
    """The digits as NCHW images (N, 1, S, S) and int64 labels 0..9.

    split: None (all 1,797), 'train' or 'test' (stratified_split(labels, test_size, seed)).
    image_size: 8 (the original) or any other side, resized bilinearly in NumPy (fastconv.data.transforms.resize).
    as_float: float32 in [0, 1] (original values 0..16 divided by 16); False gives uint8 in 0..255.
    Needs scikit-learn, which ships the data (no download)."""
    if split not in (None, "train", "test"):
        raise ValueError(f"load_digits: argument 'split' must be None, 'train' or 'test', got {split!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 1:
        raise ValueError(f"load_digits: argument 'image_size' must be a positive int, got {image_size!r}")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as e:
        raise ImportError("fastconv.data.load_digits needs scikit-learn, which bundles the digits images: "
                          "pip install scikit-learn") from e
    d = _sk_load_digits()
    x = (np.asarray(d.images, dtype=np.float32) / 16.0)[:, None]
    y = np.asarray(d.target, dtype=np.int64)
    if image_size != 8:
        from .transforms import resize

        x = np.clip(resize(x, int(image_size)), 0.0, 1.0)
    if not as_float:
        x = np.round(x * 255.0).astype(np.uint8)
    if split is None:
        return x, y
    train, test = stratified_split(y, test_size, seed)
    idx = train if split == "train" else test
    return x[idx], y[idx]
