"""Writes scikit-learn's digits (1,797 images of 8 x 8, classes 0..9, through fastconv.data.load_digits) to the
binary file train_digits reads:

    offset  size        content
    0       8           magic b"FCDIGIT1"
    8       4 x uint32  n (images), height, width, classes   (little-endian)
    24      n bytes     labels, uint8, each < classes
    24 + n  n*h*w x 4   pixels, float32 little-endian in [0, 1] (sample / 16), image after image, row-major

    python examples/cpp/train_digits/export_digits.py digits.bin [--split train|test]
"""
import argparse
import struct

import numpy as np


def write_digits(path, split=None) -> int:
    from fastconv.data import load_digits

    x, y = load_digits(split)
    n, _, h, w = x.shape
    with open(path, "wb") as f:
        f.write(b"FCDIGIT1")
        f.write(struct.pack("<4I", n, h, w, 10))
        f.write(y.astype(np.uint8).tobytes())
        f.write(np.ascontiguousarray(x, dtype="<f4").tobytes())
    return n


def read_digits(path):
    """(images [n, 1, h, w] float32, labels [n] int64): the reader the tests use, the format's definition in code."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"FCDIGIT1":
        raise ValueError(f"{path}: not a digits file (magic {data[:8]!r})")
    n, h, w, _ = struct.unpack("<4I", data[8:24])
    y = np.frombuffer(data, np.uint8, n, 24).astype(np.int64)
    x = np.frombuffer(data, "<f4", n * h * w, 24 + n).astype(np.float32).reshape(n, 1, h, w)
    return x, y


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--split", choices=["train", "test"], default=None)
    a = ap.parse_args()
    print(f"wrote {write_digits(a.out, a.split)} digits to {a.out}")
