"""fastconv.data: data sets, file readers (on files written here in the real formats) and the DataLoader."""
from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest

from fastconv.data import (DataLoader, ImageFolder, load_cifar10, load_cifar100, load_digits, load_fashion_mnist,
                           load_mnist, make_shapes, read_cifar_batch, read_idx, stratified_split)


# ------------------------------------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits():
    pytest.importorskip("sklearn")
    return load_digits()


def test_digits_all(digits):
    x, y = digits
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int64
    assert set(np.unique(y)) == set(range(10))
    assert x.min() == 0.0 and x.max() == 1.0
    from sklearn.datasets import load_digits as sk

    d = sk()
    np.testing.assert_array_equal(x[:, 0] * 16, d.images)  # /16 is exact in float32
    np.testing.assert_array_equal(y, d.target)


def test_digits_split(digits):
    x, y = digits
    xtr, ytr = load_digits("train")
    xte, yte = load_digits("test")
    assert len(xte) == 360 and len(xtr) == 1437  # ceil(0.2 * 1797) = 360, as sklearn's train_test_split
    counts = np.bincount(y)
    np.testing.assert_allclose(np.bincount(yte, minlength=10), counts * 360 / 1797, atol=1)
    # disjoint and covering: every original image appears exactly once across the two parts
    both = np.concatenate([xtr, xte]).reshape(1797, -1)
    orig = x.reshape(1797, -1)
    key = lambda a: np.lexsort(a.T[::-1])  # noqa: E731
    np.testing.assert_array_equal(both[key(both)], orig[key(orig)])
    x2, y2 = load_digits("test")
    np.testing.assert_array_equal(x2, xte)
    x3, y3 = load_digits("test", seed=1)
    assert len(x3) == 360 and not np.array_equal(x3, xte)  # another seed, another (equally stratified) draw
    np.testing.assert_array_equal(np.bincount(y3, minlength=10), np.bincount(yte, minlength=10))


def test_digits_resize_and_uint8(digits):
    torch = pytest.importorskip("torch")
    x, _ = digits
    x16, _ = load_digits(image_size=16)
    ref = torch.nn.functional.interpolate(torch.tensor(x[:50], dtype=torch.float64), size=(16, 16),
                                          mode="bilinear", align_corners=False).numpy()
    np.testing.assert_allclose(x16[:50], ref, atol=1e-6)
    xu, _ = load_digits(as_float=False)
    assert xu.dtype == np.uint8
    np.testing.assert_array_equal(xu, np.round(x * 255).astype(np.uint8))


def test_digits_errors():
    with pytest.raises(ValueError, match="split"):
        load_digits("val")
    with pytest.raises(ValueError, match="image_size"):
        load_digits(image_size=0)


def test_stratified_split():
    y = np.repeat(np.arange(3), [10, 20, 7])
    tr, te = stratified_split(y, 0.3, seed=5)
    assert len(te) == 12 and len(tr) == 25  # ceil(0.3 * 37)
    assert np.intersect1d(tr, te).size == 0 and np.union1d(tr, te).size == 37
    assert np.all(np.abs(np.bincount(y[te]) - np.array([10, 20, 7]) * 12 / 37) < 1)
    tr2, te2 = stratified_split(y, 5, seed=5)
    assert len(te2) == 5
    for bad in (0.0, 1.0, 40, -1, "x", True):
        with pytest.raises(ValueError, match="test_size"):
            stratified_split(y, bad)


# ------------------------------------------------------------------------------------------------------------ shapes
def test_shapes_masks_labels_boxes():
    s = make_shapes(300, image_size=24, seed=3, channels=3)
    n = 300
    assert s.images.shape == (n, 3, 24, 24) and s.images.dtype == np.float32
    assert s.labels.dtype == np.int64 and s.boxes.dtype == np.float32 and s.masks.dtype == np.int64
    assert 0 <= s.images.min() and s.images.max() <= 1
    assert set(np.unique(s.labels)) == {0, 1, 2}
    assert np.all(s.objectness == 1)
    for i in range(n):
        m = s.masks[i]
        vals = np.unique(m)
        np.testing.assert_array_equal(vals, [0, s.labels[i] + 1])  # the mask's class is the label
        rows, cols = np.nonzero(m)
        mbox = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]) / 24  # pixel edges
        assert np.all(np.abs(mbox - s.boxes[i]) <= 1 / 24 + 1e-6), (i, mbox, s.boxes[i])
        # the image is two flat colours, split exactly by the mask
        img = s.images[i]
        fg, bg = img[:, m > 0], img[:, m == 0]
        assert np.ptp(fg, axis=1).max() == 0 and np.ptp(bg, axis=1).max() == 0
        assert np.all(np.abs(fg[:, 0] - bg[:, 0]) >= 0.35 - 1e-6)
    assert np.all((s.boxes >= 0) & (s.boxes <= 1))
    # kind-specific geometry: a square fills its mask's bounding box, a circle about pi/4 of it, a triangle half
    fill = []
    for m in s.masks:
        rows, cols = np.nonzero(m)
        fill.append(len(rows) / ((np.ptp(rows) + 1) * (np.ptp(cols) + 1)))
    fill = np.array(fill)
    assert np.all(fill[s.labels == 1] == 1.0)
    for k, (lo, hi) in ((0, (0.55, 0.95)), (2, (0.4, 0.55))):
        assert np.all((fill[s.labels == k] > lo) & (fill[s.labels == k] < hi)), (k, fill[s.labels == k])


def test_shapes_determinism_and_options():
    a = make_shapes(20, image_size=16, seed=7, noise=0.05, p_empty=0.3)
    b = make_shapes(20, image_size=16, seed=7, noise=0.05, p_empty=0.3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    c = make_shapes(20, image_size=16, seed=8, noise=0.05, p_empty=0.3)
    assert not np.array_equal(a.images, c.images)
    empty = a.objectness == 0
    assert empty.any() and (~empty).any()
    assert np.all(a.labels[empty] == -1) and np.all(a.boxes[empty] == 0) and np.all(a.masks[empty] == 0)
    g = make_shapes(10, image_size=8, seed=0, channels=1, kinds=("square",))
    assert g.images.shape == (10, 1, 8, 8) and np.all(g.labels == 0)
    assert make_shapes(0).images.shape == (0, 3, 32, 32)
    clean = make_shapes(20, image_size=16, seed=7, p_empty=0.3)  # noise is drawn last: same scenes
    np.testing.assert_array_equal(clean.masks, a.masks)
    assert 0 <= a.images.min() and a.images.max() <= 1 and 0.03 < np.std(a.images - clean.images) < 0.06
    tiny = make_shapes(50, image_size=4, seed=0, size_range=(0.9, 0.9))  # the largest shapes still fit
    assert np.all((tiny.boxes >= 0) & (tiny.boxes <= 1)) and np.all((tiny.masks > 0).any(axis=(1, 2)))


def test_shapes_errors():
    with pytest.raises(ValueError, match="kinds"):
        make_shapes(3, kinds=("hexagon",))
    with pytest.raises(ValueError, match="image_size"):
        make_shapes(3, image_size=2)
    with pytest.raises(ValueError, match="p_empty"):
        make_shapes(3, p_empty=1.5)
    with pytest.raises(ValueError, match="'n'"):
        make_shapes(-1)
    with pytest.raises(ValueError, match="size_range"):
        make_shapes(3, size_range=(0.5, 0.2))


# --------------------------------------------------------------------------------------------------- MNIST (IDX)
def _idx_bytes(arr, type_code=0x08):
    arr = np.asarray(arr)
    head = struct.pack(">I", (type_code << 8) | arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return head + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_mnist(root, n_train=7, n_test=3, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    data = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = rng.integers(0, 10, n, dtype=np.uint8)
        for name, a in ((f"{prefix}-images-idx3-ubyte", x), (f"{prefix}-labels-idx1-ubyte", y)):
            raw = _idx_bytes(a)
            if gz:
                (root / (name + ".gz")).write_bytes(gzip.compress(raw))
            else:
                (root / name).write_bytes(raw)
        data[split] = (x, y)
    return data


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist(tmp_path, gz):
    data = _write_mnist(tmp_path, gz=gz)
    for split in ("train", "test"):
        x, y = load_mnist(tmp_path, split)
        assert x.shape == (len(data[split][0]), 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], data[split][0] / np.float32(255))
        np.testing.assert_array_equal(y, data[split][1])
    xu, _ = load_fashion_mnist(tmp_path, "test", as_float=False)
    np.testing.assert_array_equal(xu[:, 0], data["test"][0])


def test_load_mnist_torchvision_layout(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    data = _write_mnist(raw, gz=True)
    np.testing.assert_array_equal(load_mnist(tmp_path, "train")[1], data["train"][1])


def test_read_idx_types(tmp_path):
    for code, dt in ((0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16), (0x0C, np.int32), (0x0D, np.float32),
                     (0x0E, np.float64)):
        a = (np.arange(24).reshape(2, 3, 4) - 5).astype(dt)
        if dt == np.uint8:
            a = a + 10
        p = tmp_path / f"t{code}"
        p.write_bytes(_idx_bytes(a, code))
        out = read_idx(p)
        assert out.dtype == np.dtype(dt) and out.dtype.isnative
        np.testing.assert_array_equal(out, a)


def test_read_idx_errors(tmp_path):
    good = _idx_bytes(np.zeros((2, 3, 3), np.uint8))
    cases = {"bad_magic": (b"\x01\x02" + good[2:], "bad IDX magic number 0x01020803"),
             "bad_type": (good[:2] + b"\x07" + good[3:], "bad IDX magic number 0x00000703"),
             "tiny": (good[:3], "shorter than the 4-byte magic"),
             "short_header": (good[:10], "truncated IDX header"),
             "truncated": (good[:-1], r"truncated: the header says shape \(2, 3, 3\) of uint8 \(18 data bytes\), "
                                      r"but 17"),
             "trailing": (good + b"\0", "trailing bytes")}
    for name, (raw, msg) in cases.items():
        p = tmp_path / name
        p.write_bytes(raw)
        with pytest.raises(ValueError, match=msg) as e:
            read_idx(p)
        assert name in str(e.value)  # the message names the file
    p = tmp_path / "broken.gz"
    p.write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="broken.gz: corrupt or truncated gzip"):
        read_idx(p)
    p = tmp_path / "labels"
    p.write_bytes(_idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="expected 0x00000803"):
        read_idx(p, expected_magic=0x803)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*never downloads"):
        load_mnist(tmp_path)
    _write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(ValueError, match="3 images but .* 4 labels"):
        load_mnist(tmp_path, "test")
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, "val")


# ------------------------------------------------------------------------------------------------------------- CIFAR
def _cifar_batch(path, n, label_keys, rng):
    imgs = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
    d = {b"batch_label": b"test", b"data": imgs.reshape(n, 3072), b"filenames": [b"x.png"] * n}
    labels = {}
    for k, hi in label_keys:
        labels[k] = rng.integers(0, hi, n)
        d[k] = [int(v) for v in labels[k]]  # lists of ints, as in the real files
    with open(path, "wb") as f:
        pickle.dump(d, f, protocol=2)
    return imgs, labels


def test_load_cifar10(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    parts = [_cifar_batch(folder / f"data_batch_{i}", 3 + i, [(b"labels", 10)], rng) for i in range(1, 6)]
    test = _cifar_batch(folder / "test_batch", 4, [(b"labels", 10)], rng)
    x, y = load_cifar10(tmp_path, "train")
    assert x.shape == (sum(3 + i for i in range(1, 6)), 3, 32, 32) and x.dtype == np.float32
    np.testing.assert_array_equal(x, np.concatenate([p[0] for p in parts]) / np.float32(255))
    np.testing.assert_array_equal(y, np.concatenate([p[1][b"labels"] for p in parts]))
    xt, yt = load_cifar10(folder, "test", as_float=False)  # the folder itself works too
    np.testing.assert_array_equal(xt, test[0])
    # channel layout: the first 1024 values of a row are the red plane
    row = test[0].reshape(4, 3072)[1]
    np.testing.assert_array_equal(xt[1, 0].ravel(), row[:1024])
    np.testing.assert_array_equal(xt[1, 2].ravel(), row[2048:])


def test_load_cifar100(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    keys = [(b"fine_labels", 100), (b"coarse_labels", 20)]
    imgs, labels = _cifar_batch(folder / "test", 6, keys, rng)
    x, y = load_cifar100(tmp_path, "test")
    np.testing.assert_array_equal(y, labels[b"fine_labels"])
    np.testing.assert_array_equal(x, imgs / np.float32(255))
    np.testing.assert_array_equal(load_cifar100(tmp_path, "test", label_mode="coarse")[1], labels[b"coarse_labels"])
    with pytest.raises(ValueError, match="label_mode"):
        load_cifar100(tmp_path, "test", label_mode="medium")


def test_cifar_numpy1_pickle(tmp_path):
    """The real files were pickled by NumPy 1.x, whose arrays name numpy.core.multiarray._reconstruct."""
    imgs = np.random.default_rng(2).integers(0, 256, (2, 3072), dtype=np.uint8)
    raw = pickle.dumps({b"data": imgs, b"labels": [3, 9]}, protocol=2)
    raw = raw.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n_reconstruct" in raw
    (tmp_path / "b").write_bytes(raw)
    x, y = read_cifar_batch(tmp_path / "b")
    np.testing.assert_array_equal(x.reshape(2, 3072), imgs)
    np.testing.assert_array_equal(y, [3, 9])


def test_cifar_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_batch_1.*cifar-10-python\.tar\.gz"):
        load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"cifar-100-python.*test"):
        load_cifar100(tmp_path, "test")
    p = tmp_path / "bad"
    with open(p, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
    with pytest.raises(ValueError, match=r"bad: b'data' must be an \(N, 3072\) uint8 array, got shape \(2, 100\)"):
        read_cifar_batch(p)
    with open(p, "wb") as f:
        pickle.dump({b"data": np.zeros((2, 3072), np.uint8)}, f)
    with pytest.raises(ValueError, match="no b'labels' entry"):
        read_cifar_batch(p)
    p.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a readable CIFAR python batch"):
        read_cifar_batch(p)


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_cifar_unpickling_is_restricted(tmp_path):
    p = tmp_path / "evil"
    with open(p, "wb") as f:
        pickle.dump({b"data": _Evil(), b"labels": []}, f)
    with pytest.raises(ValueError, match="refusing to load global builtins.print"):
        read_cifar_batch(p)


# -------------------------------------------------------------------------------------------------------- ImageFolder
def test_image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    expect = {}
    for cls, n in (("zebra", 2), ("ant", 3), ("cat", 1)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            a = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
            Image.fromarray(a).save(tmp_path / cls / f"{i}.png")
            expect[(cls, i)] = a
    (tmp_path / "ant" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["ant", "cat", "zebra"] and ds.class_to_idx == {"ant": 0, "cat": 1, "zebra": 2}
    x, y = ds.arrays()
    assert x.shape == (6, 3, 5, 7) and x.dtype == np.float32 and len(ds) == 6
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 2, 2])
    order = [("ant", 0), ("ant", 1), ("ant", 2), ("cat", 0), ("zebra", 0), ("zebra", 1)]
    ref = np.stack([expect[k].transpose(2, 0, 1) for k in order]) / np.float32(255)
    np.testing.assert_array_equal(x, ref)
    # greyscale: Pillow's own L conversion is the reference
    g = ImageFolder(tmp_path, channels=1).images
    lum = np.asarray(Image.fromarray(expect[("ant", 0)]).convert("L"))
    np.testing.assert_array_equal(g[0, 0], lum / np.float32(255))
    # resizing: same sampling as torch's bilinear interpolate
    torch = pytest.importorskip("torch")
    r = ImageFolder(tmp_path, image_size=(10, 4)).images
    tr = torch.nn.functional.interpolate(torch.tensor(ref, dtype=torch.float64), size=(10, 4), mode="bilinear",
                                         align_corners=False).numpy()
    np.testing.assert_allclose(r, tr, atol=1e-6)


def test_optional_dependencies_missing(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)  # makes the import fail
    with pytest.raises(ImportError, match="pip install scikit-learn"):
        load_digits()
    monkeypatch.setitem(sys.modules, "PIL", None)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "a.png").write_bytes(b"")
    with pytest.raises(ImportError, match="pip install pillow"):
        ImageFolder(tmp_path).images


def test_image_folder_jpeg_and_rgba(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    (tmp_path / "b").mkdir()
    a = np.random.default_rng(1).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "b" / "p.JPG", quality=90)
    Image.fromarray(np.dstack([a, np.full((6, 6), 7, np.uint8)])).save(tmp_path / "b" / "q.png")
    x = ImageFolder(tmp_path, channels=4).images
    with Image.open(tmp_path / "b" / "p.JPG") as im:
        decoded = np.asarray(im.convert("RGBA"))  # Pillow's own decoding is the reference for lossy JPEG
    np.testing.assert_array_equal(x[0], decoded.transpose(2, 0, 1) / np.float32(255))
    np.testing.assert_array_equal(x[1, 3], np.full((6, 6), 7 / np.float32(255)))


def test_image_folder_errors(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        ImageFolder(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no class sub-folders"):
        ImageFolder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no image"):
        ImageFolder(tmp_path)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a" / "x.png")
    Image.fromarray(np.zeros((5, 4, 3), np.uint8)).save(tmp_path / "a" / "y.png")
    with pytest.raises(ValueError, match="differ in size.*image_size"):
        ImageFolder(tmp_path).images
    assert ImageFolder(tmp_path, image_size=4).images.shape == (2, 3, 4, 4)
    (tmp_path / "a" / "z.png").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot read image .*z.png"):
        ImageFolder(tmp_path).images
    with pytest.raises(ValueError, match="channels"):
        ImageFolder(tmp_path, channels=2)


# -------------------------------------------------------------------------------------------------------- DataLoader
def test_loader_covers_each_sample_once():
    x = np.arange(103 * 2).reshape(103, 2)
    y = np.arange(103) * 10
    for shuffle in (False, True):
        dl = DataLoader(x, y, batch_size=10, shuffle=shuffle, seed=0)
        assert len(dl) == 11
        seen = []
        for xb, yb in dl:
            np.testing.assert_array_equal(xb[:, 0] // 2 * 10, yb)  # rows stay aligned
            seen.append(yb // 10)
        assert [len(s) for s in seen] == [10] * 10 + [3]
        np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(103))
        assert np.array_equal(np.concatenate(seen), np.arange(103)) != shuffle


def test_loader_drop_last_and_single_array():
    dl = DataLoader(np.arange(25), batch_size=8, drop_last=True)
    batches = list(dl)
    assert len(dl) == 3 and [len(b) for b in batches] == [8, 8, 8]
    assert isinstance(batches[0], np.ndarray)  # a single array yields arrays, not 1-tuples
    assert len(DataLoader(np.arange(24), batch_size=8, drop_last=True)) == 3
    assert len(DataLoader(np.arange(7), batch_size=8, drop_last=True)) == 0
    assert list(DataLoader(np.zeros((0, 3)), batch_size=4)) == []


def test_loader_seeded_epochs():
    x = np.arange(50)
    a = DataLoader(x, batch_size=50, shuffle=True, seed=3)
    b = DataLoader(x, batch_size=50, shuffle=True, seed=3)
    ea = [next(iter(a)).copy() for _ in range(3)]
    eb = [next(iter(b)).copy() for _ in range(3)]
    for u, v in zip(ea, eb):
        np.testing.assert_array_equal(u, v)  # same seed: same sequence of epochs
    assert not np.array_equal(ea[0], ea[1]) and not np.array_equal(ea[1], ea[2])  # a new order each epoch
    c = DataLoader(x, batch_size=50, shuffle=True, seed=4)
    assert not np.array_equal(next(iter(c)), ea[0])
    b.set_epoch(1)
    np.testing.assert_array_equal(next(iter(b)), ea[1])
    np.testing.assert_array_equal(a.order(0), ea[0])


def test_loader_many_arrays_and_transform():
    from fastconv.data.transforms import RandomHorizontalFlip

    s = make_shapes(20, image_size=8, seed=0)
    dl = DataLoader(s.images, (s.labels, s.boxes, s.masks), batch_size=6, shuffle=True, seed=1,
                    transform=RandomHorizontalFlip(1.0), targets={"masks": 3, "boxes": 2})
    n = 0
    for xb, yb, bb, mb in dl:
        idx = [int(np.flatnonzero((s.labels == l) & np.all(s.boxes[:, [1, 3]] == b[[1, 3]], 1)
                                  & np.all(np.isclose(1 - s.boxes[:, [2, 0]], b[[0, 2]]), 1))[0])
               for l, b in zip(yb, bb)]
        np.testing.assert_array_equal(xb, s.images[idx][..., ::-1])
        np.testing.assert_array_equal(mb, s.masks[idx][..., ::-1])
        n += len(xb)
    assert n == 20
    # a plain callable transform gets the images only
    out = next(iter(DataLoader(s.images, s.labels, batch_size=4, transform=lambda v: v * 2)))
    np.testing.assert_array_equal(out[0], s.images[:4] * 2)


def test_loader_reproducible_augmentation():
    from fastconv.data.transforms import RandomCrop

    x = np.random.default_rng(0).random((16, 1, 6, 6)).astype(np.float32)
    runs = [[xb for xb in DataLoader(x, batch_size=4, seed=9, transform=RandomCrop(6, padding=2))] for _ in range(2)]
    for u, v in zip(*runs):
        np.testing.assert_array_equal(u, v)


def test_loader_errors():
    with pytest.raises(ValueError, match=r"same number of samples.*\[3, 4\]"):
        DataLoader(np.zeros(3), np.zeros(4))
    for bs in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(np.zeros(3), batch_size=bs)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(np.zeros(3), seed=-1)
    with pytest.raises(TypeError, match="transform"):
        DataLoader(np.zeros(3), transform=3)
    with pytest.raises(ValueError, match="targets"):
        DataLoader(np.zeros(3), np.zeros(3), transform=lambda v: v, targets={"boxes": 5})
    with pytest.raises(ValueError, match="scalar"):
        DataLoader(np.float32(1))
