"""MNIST and Fashion-MNIST from their IDX files on disk (never downloaded by fastconv)."""
from __future__ import annotations

import gzip
import os
import struct
import zlib

import numpy as np

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "MNIST_CLASSES", "FASHION_MNIST_CLASSES"]

MNIST_CLASSES = tuple(str(i) for i in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot")

# IDX type byte -> big-endian element type
_IDX_TYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
              0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise ValueError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return data


def read_idx(path, expected_magic=None):
    """An IDX file (plain or gzip-compressed, detected by content) as a NumPy array in native byte order.

    The header is a big-endian magic number 0x0000TTDD (TT: element type, 0x08 = uint8; DD: number of
    dimensions; MNIST images are 0x00000803, labels 0x00000801), then DD big-endian uint32 sizes, then the data.
    A bad magic number, a short header, missing or extra data bytes raise ValueError naming the file."""
    path = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: not an IDX file: {len(data)} bytes, shorter than the 4-byte magic number")
    magic = struct.unpack(">I", data[:4])[0]
    ttype, ndim = data[2], data[3]
    if data[:2] != b"\0\0" or ttype not in _IDX_TYPES or ndim == 0:
        raise ValueError(f"{path}: bad IDX magic number 0x{magic:08X}: expected 0x0000TTDD with type TT in "
                         f"{{08, 09, 0B, 0C, 0D, 0E}} and DD >= 1 dimensions (MNIST images 0x00000803, "
                         f"labels 0x00000801)")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: IDX magic number 0x{magic:08X}, expected 0x{expected_magic:08X}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header: {ndim} dimensions need {header} bytes, the file has "
                         f"{len(data)}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    dtype = _IDX_TYPES[ttype]
    count = int(np.prod(dims, dtype=np.int64))
    need, have = count * dtype.itemsize, len(data) - header
    if have != need:
        what = "truncated" if have < need else "has trailing bytes"
        raise ValueError(f"{path}: {what}: the header says shape {dims} of {dtype.name} ({need} data bytes), "
                         f"but {have} bytes follow the header")
    arr = np.frombuffer(data, dtype=dtype, count=count, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))  # a writable native-order copy


_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find(root, name, subdirs):
    """root/<subdir>/<name>[.gz], also accepting the 'train-images.idx3-ubyte' spelling of some mirrors."""
    names = (name, name + ".gz", name.replace("-idx", ".idx"), name.replace("-idx", ".idx") + ".gz")
    tried = []
    for sub in subdirs:
        for nm in names:
            p = os.path.join(root, sub, nm) if sub else os.path.join(root, nm)
            if os.path.isfile(p):
                return p, tried
            tried.append(p)
    return None, tried


def _load(fname, root, split, as_float, title, subdir, url):
    if split not in _FILES:
        raise ValueError(f"{fname}: argument 'split' must be 'train' or 'test', got {split!r}")
    root = os.fspath(root)
    subdirs = ("", "raw", os.path.join(subdir, "raw"), subdir)
    paths = []
    for name in _FILES[split]:
        p, tried = _find(root, name, subdirs)
        if p is None:
            raise FileNotFoundError(
                f"{title} {split} file '{name}' (or '{name}.gz') not found under '{root}' (looked in {subdirs}). "
                f"fastconv never downloads data: fetch {name}.gz from {url} and put it (gzipped or not) in "
                f"'{root}'. Paths tried: {tried[:4]}...")
        paths.append(p)
    images = read_idx(paths[0], expected_magic=0x00000803)
    labels = read_idx(paths[1], expected_magic=0x00000801)
    if len(images) != len(labels):
        raise ValueError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels")
    x = images[:, None]
    if as_float:
        x = x.astype(np.float32) / np.float32(255.0)
    return x, labels.astype(np.int64)


def load_mnist(root, split="train", as_float=True):
    """MNIST from the standard IDX files in ``root`` (also root/raw and root/MNIST/raw, torchvision's layout):
    train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, each
    optionally gzipped. Returns images (N, 1, 28, 28) float32 in [0, 1] (uint8 with as_float=False) and int64
    labels."""
    return _load("load_mnist", root, split, as_float, "MNIST", "MNIST",
                 "https://ossci-datasets.s3.amazonaws.com/mnist/ (mirror of http://yann.lecun.com/exdb/mnist/)")


def load_fashion_mnist(root, split="train", as_float=True):
    """Fashion-MNIST: same files, names and layout as MNIST (also root/FashionMNIST/raw); class names in
    FASHION_MNIST_CLASSES."""
    return _load("load_fashion_mnist", root, split, as_float, "Fashion-MNIST", "FashionMNIST",
                 "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ (see "
                 "https://github.com/zalandoresearch/fashion-mnist)")
