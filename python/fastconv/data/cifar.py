"""CIFAR-10 and CIFAR-100 from their "python version" batches on disk (never downloaded by fastconv).

The batches are Python pickles. fastconv unpickles only the files under the ``root`` you pass, and with a
restricted unpickler that builds nothing but dicts, lists, strings, numbers and NumPy arrays (any other object
in the file is refused with a ValueError), so a tampered file cannot run code. Still: point it at data you
obtained from the official source.
"""
from __future__ import annotations

import importlib
import importlib.util
import io
import os
import pickle

import numpy as np

__all__ = ["load_cifar10", "load_cifar100", "read_cifar_batch", "CIFAR10_CLASSES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

_NP_CORE = "numpy._core" if importlib.util.find_spec("numpy._core") is not None else "numpy.core"


def _np_global(module, name):
    return getattr(importlib.import_module(module), name)


# what a CIFAR batch needs: NumPy arrays pickled by NumPy 1.x (numpy.core) or 2.x (numpy._core)
_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("_codecs", "encode"),  # how protocol 2 stores bytes when written by Python 3
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name} (a CIFAR batch holds only "
                                         f"dicts, lists and NumPy arrays)")
        if module.startswith("numpy.core") or module.startswith("numpy._core"):
            module = _NP_CORE + module.split("core", 1)[1]
        return _np_global(module, name)


def read_cifar_batch(path, label_key=b"labels"):
    """One CIFAR python batch file -> (images (N, 3, 32, 32) uint8, labels (N,) int64)."""
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()
    try:
        d = _RestrictedUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # pickle raises many types on garbage; all mean "not a batch"
        raise ValueError(f"{path}: not a readable CIFAR python batch ({type(e).__name__}: {e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(d).__name__}")
    d = {k.encode() if isinstance(k, str) else k: v for k, v in d.items()}  # files re-pickled by Python 3
    for key in (b"data", label_key):
        if key not in d:
            raise ValueError(f"{path}: the batch has no {key!r} entry (keys: {sorted(d)})")
    data = np.asarray(d[b"data"])
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise ValueError(f"{path}: b'data' must be an (N, 3072) uint8 array, got shape {data.shape} {data.dtype}")
    labels = np.asarray(d[label_key], dtype=np.int64)
    if labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: {label_key!r} has shape {labels.shape}, expected ({data.shape[0]},)")
    # each row is 1024 red, then 1024 green, then 1024 blue values, row-major: already CHW
    return data.reshape(-1, 3, 32, 32), labels


def _resolve(fname, root, folder, names, url, archive):
    root = os.fspath(root)
    for base in (os.path.join(root, folder), root):
        if all(os.path.isfile(os.path.join(base, n)) for n in names):
            return [os.path.join(base, n) for n in names]
    base = os.path.join(root, folder)
    missing = [os.path.join(base, n) for n in names if not os.path.isfile(os.path.join(base, n))]
    raise FileNotFoundError(f"{fname}: missing {missing}. fastconv never downloads data: get {url} and extract "
                            f"it into '{root}' (tar xzf {archive} -C '{root}'), which creates '{base}'")


def _finish(x, y, as_float):
    return (x.astype(np.float32) / np.float32(255.0) if as_float else x), y


def load_cifar10(root, split="train", as_float=True):
    """CIFAR-10 from ``root``/cifar-10-batches-py (or ``root`` itself): data_batch_1..5 for 'train' (50,000),
    test_batch for 'test' (10,000). Returns images (N, 3, 32, 32) float32 in [0, 1] (uint8 with
    as_float=False) and int64 labels 0..9 (names in CIFAR10_CLASSES). See the module note on unpickling."""
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar10: argument 'split' must be 'train' or 'test', got {split!r}")
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    paths = _resolve("load_cifar10", root, "cifar-10-batches-py", names,
                     "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "cifar-10-python.tar.gz")
    parts = [read_cifar_batch(p, b"labels") for p in paths]
    return _finish(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), as_float)


def load_cifar100(root, split="train", label_mode="fine", as_float=True):
    """CIFAR-100 from ``root``/cifar-100-python (or ``root`` itself): files 'train' and 'test'. label_mode
    'fine' (100 classes) or 'coarse' (20 superclasses). Same return types as load_cifar10."""
    if split not in ("train", "test"):
        raise ValueError(f"load_cifar100: argument 'split' must be 'train' or 'test', got {split!r}")
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"load_cifar100: argument 'label_mode' must be 'fine' or 'coarse', got {label_mode!r}")
    (path,) = _resolve("load_cifar100", root, "cifar-100-python", [split],
                       "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz", "cifar-100-python.tar.gz")
    x, y = read_cifar_batch(path, f"{label_mode}_labels".encode())
    return _finish(x, y, as_float)
