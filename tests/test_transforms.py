"""fastconv.data.transforms: each transform's effect against an independent reference (NumPy slicing, np.rot90,
torch's pad / grid_sample / interpolate, colorsys, torchvision's colour formulas written out here)."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest

from fastconv.data import make_shapes
from fastconv.data import transforms as T

torch = pytest.importorskip("torch")
F = torch.nn.functional


def rand(*shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def unique_images(n, c, h, w):
    """Every pixel value distinct, so a moved window can be located exactly."""
    return (np.arange(n * c * h * w, dtype=np.float32).reshape(n, c, h, w) + 1) / (n * c * h * w + 1)


def mask_box(m):
    rows, cols = np.nonzero(m)
    return np.array([cols.min() / m.shape[1], rows.min() / m.shape[0], (cols.max() + 1) / m.shape[1],
                     (rows.max() + 1) / m.shape[0]])


def check_boxes_follow_masks(boxes, masks, tol_px=1, tight="all"):
    """The invariant make_shapes starts with: the mask's bounding box lies within a pixel of the box. Once a
    shape is cut by the border (or rotated), the box only bounds the mask, except for squares (mask value 2)
    under whole-pixel moves; tight='all' | 'squares' | 'none' says where equality is expected."""
    h, w = masks.shape[1:]
    tol = tol_px / min(h, w) + 1e-6
    for b, m in zip(boxes, masks):
        if (m > 0).any():
            mb = mask_box(m > 0)
            assert np.all(mb[:2] >= b[:2] - tol) and np.all(mb[2:] <= b[2:] + tol), (mb, b)
            if tight == "all" or tight == "squares" and m.max() == 2:
                np.testing.assert_allclose(mb, b, atol=tol)


# ------------------------------------------------------------------------------------------------------------ flips
@pytest.mark.parametrize("cls,axis", [(T.RandomHorizontalFlip, 3), (T.RandomVerticalFlip, 2)])
def test_flip(cls, axis):
    x = rand(16, 3, 5, 7)
    np.testing.assert_array_equal(cls(1.0)(x), np.flip(x, axis))
    np.testing.assert_array_equal(cls(0.0)(x), x)
    out = cls(0.5, seed=1)(x)
    flipped = [np.array_equal(o, np.flip(s, axis - 1)) for o, s in zip(out, x)]
    same = [np.array_equal(o, s) for o, s in zip(out, x)]
    assert all(f or s for f, s in zip(flipped, same)) and any(flipped) and any(same)  # per-sample decisions
    np.testing.assert_array_equal(x, rand(16, 3, 5, 7))  # input untouched


@pytest.mark.parametrize("cls,axis", [(T.RandomHorizontalFlip, 3), (T.RandomVerticalFlip, 2)])
def test_flip_targets(cls, axis):
    s = make_shapes(12, image_size=16, seed=2, p_empty=0.2)
    x, b, m = cls(1.0)(s.images, boxes=s.boxes, masks=s.masks)
    np.testing.assert_array_equal(m, np.flip(s.masks, axis - 1))
    lo, hi = (0, 2) if axis == 3 else (1, 3)
    keep = [k for k in range(4) if k not in (lo, hi)]
    present = s.objectness == 1
    np.testing.assert_allclose(b[present, lo], 1 - s.boxes[present, hi], atol=1e-7)
    np.testing.assert_allclose(b[present, hi], 1 - s.boxes[present, lo], atol=1e-7)
    np.testing.assert_array_equal(b[present][:, keep], s.boxes[present][:, keep])
    assert np.all(b[~present] == 0)
    check_boxes_follow_masks(b, m)
    x2, m2 = cls(1.0)(s.images, masks=s.masks)  # only the targets given come back
    np.testing.assert_array_equal(m2, m)


# ----------------------------------------------------------------------------------------------------- crop, translate
def locate(out, padded):
    """All (i, j) where out equals the window of padded at (i, j)."""
    h, w = out.shape[-2:]
    return [(i, j) for i in range(padded.shape[-2] - h + 1) for j in range(padded.shape[-1] - w + 1)
            if np.array_equal(padded[..., i:i + h, j:j + w], out)]


@pytest.mark.parametrize("mode,tmode", [("constant", "constant"), ("reflect", "reflect"), ("edge", "replicate")])
def test_random_crop(mode, tmode):
    x = unique_images(24, 2, 6, 7)
    t = T.RandomCrop((5, 6), padding=(1, 2, 3, 1), padding_mode=mode, fill=0.25, seed=3)
    out = t(x)
    assert out.shape == (24, 2, 5, 6)
    kw = {"value": 0.25} if mode == "constant" else {}
    ref = F.pad(torch.tensor(x), (1, 3, 2, 1), mode=tmode, **kw).numpy()  # torch: (left, right, top, bottom)
    offsets = []
    for o, p in zip(out, ref):
        hits = locate(o, p)
        assert len(hits) == 1
        offsets.append(hits[0])
    assert len(set(offsets)) > 5  # per-sample offsets
    assert {i for i, _ in offsets} <= set(range(5)) and {j for _, j in offsets} <= set(range(6))
    np.testing.assert_array_equal(T.RandomCrop((6, 7))(x), x)


def test_random_crop_targets():
    s = make_shapes(40, image_size=16, seed=4)
    t = T.RandomCrop(12, padding=2, seed=0)
    x, b, m = t(s.images, boxes=s.boxes, masks=s.masks)
    padded_m = np.pad(s.masks, ((0, 0), (2, 2), (2, 2)))
    padded_x = np.pad(s.images, ((0, 0), (0, 0), (2, 2), (2, 2)))
    for k in range(40):
        hits = [(i, j) for i, j in locate(x[k], padded_x[k]) if np.array_equal(padded_m[k, i:i + 12, j:j + 12], m[k])]
        assert hits
        i, j = hits[0]
        expect = (s.boxes[k].astype(np.float64) * 16 + 2 - np.array([j, i, j, i])) / 12
        expect = np.clip(expect, 0, 1)
        if expect[2] > expect[0] and expect[3] > expect[1]:
            np.testing.assert_allclose(b[k], expect, atol=1e-6)
    check_boxes_follow_masks(b, m, tight="squares")


def test_random_translate():
    x = unique_images(30, 1, 8, 10)
    out = T.RandomTranslate((0.2, 0.25), fill=-1.0, seed=5)(x)  # at most 2 columns, 2 rows
    shifts = set()
    for o, s in zip(out, x):
        found = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                ref = np.full_like(s, -1.0)
                ref[:, max(dy, 0):8 + min(dy, 0), max(dx, 0):10 + min(dx, 0)] = \
                    s[:, max(-dy, 0):8 + min(-dy, 0), max(-dx, 0):10 + min(-dx, 0)]
                if np.array_equal(o, ref):
                    found.append((dy, dx))
        assert len(found) == 1
        shifts |= set(found)
    assert len(shifts) > 5
    np.testing.assert_array_equal(T.RandomTranslate(0.0)(x), x)
    sh = make_shapes(20, image_size=16, seed=1)
    _, b, m = T.RandomTranslate(0.3, seed=2)(sh.images, boxes=sh.boxes, masks=sh.masks)
    check_boxes_follow_masks(b, m, tight="squares")


# --------------------------------------------------------------------------------------------------------- affine
@pytest.mark.parametrize("deg,k", [(90, 1), (-90, -1), (180, 2), (270, 3)])
def test_rotation_right_angles(deg, k):
    x = rand(4, 3, 9, 9)
    out = T.RandomRotation((deg, deg))(x)
    np.testing.assert_array_equal(out, np.rot90(x, k, axes=(2, 3)))
    s = make_shapes(10, image_size=12, seed=3)
    _, b, m = T.RandomRotation((deg, deg))(s.images, boxes=s.boxes, masks=s.masks)
    np.testing.assert_array_equal(m, np.rot90(s.masks, k, axes=(1, 2)))
    check_boxes_follow_masks(b, m)


def test_rotation_90_nonsquare_interior():
    x = rand(2, 1, 7, 11)
    out = T.RandomRotation((90, 90))(x)
    r = np.rot90(x, 1, axes=(2, 3))  # (7, 11) -> (11, 7); about the centre, the middle 7x7 agrees
    np.testing.assert_array_equal(out[:, :, :, 2:9], r[:, :, 2:9, :])
    assert np.all(out[:, :, :, :2] == 0) and np.all(out[:, :, :, 9:] == 0)


def test_zero_affine_is_identity():
    x = rand(3, 2, 6, 5)
    np.testing.assert_array_equal(T.RandomRotation(0)(x), x)
    np.testing.assert_array_equal(T.RandomAffine(0, scale=(1, 1))(x), x)


def torch_affine_reference(x, angle, tx, ty, s):
    """grid_sample with align_corners=True puts -1/+1 on the outer pixel centres, so the centre is (S-1)/2 and a
    square image's normalised coordinates are (p - c) / c: input = R(-angle) (output - t / c) / s."""
    n, c, h, w = x.shape
    cc = (w - 1) / 2
    a = np.deg2rad(angle)
    theta = np.zeros((n, 2, 3))
    rinv = np.stack([np.stack([np.cos(a), -np.sin(a)], -1), np.stack([np.sin(a), np.cos(a)], -1)], 1) / s[:, None, None]
    theta[:, :, :2] = rinv
    theta[:, :, 2] = -np.einsum("nij,nj->ni", rinv, np.stack([tx, ty], 1) / cc)
    grid = F.affine_grid(torch.tensor(theta), (n, c, h, w), align_corners=True)
    return F.grid_sample(torch.tensor(x, dtype=torch.float64), grid, mode="bilinear", padding_mode="zeros",
                         align_corners=True).numpy()


@pytest.mark.parametrize("kw", [dict(degrees=40), dict(degrees=(10, 80), scale=(0.7, 1.4)),
                                dict(degrees=15, translate=(0.2, 0.1), scale=(0.9, 1.1)),
                                dict(degrees=0, scale=(2, 3))])
def test_affine_vs_grid_sample(kw):
    x = rand(8, 2, 11, 11, seed=1)
    t = T.RandomAffine(**kw, seed=7)
    params = t.get_params(np.random.default_rng(7), 8, 11, 11)
    out = t(x)
    ref = torch_affine_reference(x, *params)
    np.testing.assert_allclose(out, ref, atol=2e-6)
    assert len(set(np.round(params[0], 6))) > 1 or kw["degrees"] == 0


def test_scale_and_rotation_targets():
    s = make_shapes(30, image_size=24, seed=6, size_range=(0.2, 0.35))
    _, b, m = T.RandomScale((1.3, 1.3))(s.images, boxes=s.boxes, masks=s.masks)
    c = 12.0 / 24
    expect = np.clip((s.boxes - c) * 1.3 + c, 0, 1)
    np.testing.assert_allclose(b, expect, atol=1e-6)
    check_boxes_follow_masks(b, m, tol_px=1.5, tight="squares")
    _, b, m = T.RandomRotation(30, seed=1)(s.images, boxes=s.boxes, masks=s.masks)
    check_boxes_follow_masks(b, m, tight="none")  # the rotated box encloses the rotated mask


def test_nearest_interpolation():
    x = rand(2, 3, 8, 8)
    np.testing.assert_array_equal(T.RandomRotation((90, 90), interpolation="nearest")(x), np.rot90(x, 1, (2, 3)))
    out = T.RandomScale((2, 2), interpolation="nearest")(x)
    assert np.isin(out, x).all()  # only existing values


# --------------------------------------------------------------------------------------------------------- colour
def grey(x):  # torchvision's rgb_to_grayscale
    return 0.2989 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]


def test_brightness_exact():
    x = rand(4, 3, 5, 5) * 0.6
    np.testing.assert_array_equal(T.ColorJitter(brightness=(1.5, 1.5))(x), x * np.float32(1.5))
    x = rand(4, 3, 5, 5)
    np.testing.assert_array_equal(T.ColorJitter(brightness=(2, 2))(x), np.clip(x * np.float32(2), 0, 1))
    out = T.ColorJitter(brightness=0.5, seed=0)(x * 0.5)
    ratio = out / (x * 0.5)
    f = ratio.reshape(4, -1)
    np.testing.assert_allclose(f, f[:, :1].repeat(f.shape[1], 1), rtol=1e-5)  # one factor per sample
    assert np.all((f >= 0.5) & (f <= 1.5)) and len(np.unique(np.round(f[:, 0], 5))) == 4


@pytest.mark.parametrize("c", [3, 1])
def test_contrast(c):
    x = rand(5, c, 6, 4, seed=2)
    for f in (0.3, 1.7):
        out = T.ColorJitter(contrast=(f, f))(x).astype(np.float64)
        x64 = x.astype(np.float64)
        mean = (grey(x64) if c == 3 else x64).mean(axis=(1, 2, 3), keepdims=True)
        np.testing.assert_allclose(out, np.clip(f * x64 + (1 - f) * mean, 0, 1), atol=1e-6)


def test_saturation():
    x = rand(5, 3, 6, 4, seed=3)
    for f in (0.0, 0.4, 2.0):
        out = T.ColorJitter(saturation=(f, f))(x)
        x64 = x.astype(np.float64)
        np.testing.assert_allclose(out, np.clip(f * x64 + (1 - f) * grey(x64), 0, 1), atol=1e-6)
    g = rand(2, 1, 4, 4)
    np.testing.assert_array_equal(T.ColorJitter(saturation=(0.2, 0.2), hue=0.3)(g), g)  # greyscale untouched


@pytest.mark.parametrize("shift", [0.0, 0.1, -0.25, 0.5])
def test_hue_vs_colorsys(shift):
    x = rand(2, 3, 4, 5, seed=4)
    x[0, :, 0, 0] = 0.5  # a grey pixel (no hue)
    x[0, :, 0, 1] = (1.0, 0.0, 0.0)
    out = T.ColorJitter(hue=(shift, shift))(x)
    ref = np.empty_like(x, dtype=np.float64)
    for n in range(2):
        for i in range(4):
            for j in range(5):
                h, s, v = colorsys.rgb_to_hsv(*x[n, :, i, j].astype(np.float64))
                ref[n, :, i, j] = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    np.testing.assert_allclose(T.hsv_to_rgb(T.rgb_to_hsv(x)), x, atol=1e-6)


def test_jitter_order_is_per_sample():
    x = rand(32, 3, 4, 4, seed=5) * 0.5
    out = T.ColorJitter(brightness=(1.5, 1.5), contrast=(0.5, 0.5), seed=0)(x).astype(np.float64)
    x64 = x.astype(np.float64)
    b = lambda v: np.clip(1.5 * v, 0, 1)  # noqa: E731
    c = lambda v: np.clip(0.5 * v + 0.5 * grey(v).mean(axis=(1, 2, 3), keepdims=True), 0, 1)  # noqa: E731
    bc, cb = c(b(x64)), b(c(x64))
    first = np.all(np.isclose(out, bc, atol=1e-6), axis=(1, 2, 3))
    second = np.all(np.isclose(out, cb, atol=1e-6), axis=(1, 2, 3))
    assert np.all(first | second) and first.any() and second.any()


# ------------------------------------------------------------------------------------------- scaling, normalising
def test_normalize_and_stats():
    x = rand(6, 3, 4, 5, seed=6)
    mean, std = T.compute_mean_std(x)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(mean, [x64[:, c].mean() for c in range(3)], rtol=1e-12)
    np.testing.assert_allclose(std, [x64[:, c].std() for c in range(3)], rtol=1e-12)
    out = T.Normalize(mean, std)(x)
    assert out.dtype == np.float32
    m32, s32 = mean.astype(np.float32), std.astype(np.float32)
    np.testing.assert_array_equal(out, (x - m32[None, :, None, None]) / s32[None, :, None, None])
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-6)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 1, atol=1e-5)
    np.testing.assert_array_equal(T.Normalize(0.5, 0.25)(x), (x - np.float32(0.5)) / np.float32(0.25))


def test_to_float():
    u = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    out = T.ToFloat()(u)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, u.astype(np.float32) / np.float32(255))
    assert out.max() == 1.0
    np.testing.assert_array_equal(T.ToFloat()(np.full((1, 1, 1, 1), 65535, np.uint16)), [[[[1.0]]]])


def test_compose_threads_targets_and_rng():
    s = make_shapes(10, image_size=12, seed=0)
    t = T.Compose([T.RandomHorizontalFlip(1.0), T.RandomCrop(12, padding=0), T.Normalize(0.5, 0.5)])
    x, b, m = t(s.images, boxes=s.boxes, masks=s.masks)
    np.testing.assert_array_equal(x, (s.images[..., ::-1] - np.float32(0.5)) / np.float32(0.5))
    np.testing.assert_array_equal(m, s.masks[..., ::-1])
    check_boxes_follow_masks(b, m)
    aug = T.Compose([T.RandomCrop(10, padding=1), T.RandomHorizontalFlip()])
    a1 = aug(s.images, rng=np.random.default_rng(3))
    a2 = aug(s.images, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a1, a2)


@pytest.mark.parametrize("size", [(16, 16), (5, 13), (3, 2)])
def test_resize_vs_torch(size):
    x = rand(2, 3, 7, 9)
    ref = F.interpolate(torch.tensor(x, dtype=torch.float64), size=size, mode="bilinear", align_corners=False)
    np.testing.assert_allclose(T.resize(x, size), ref.numpy(), atol=1e-6)
    s = make_shapes(3, image_size=8, seed=0)
    _, mm = T.Resize(16)(s.images, masks=s.masks)
    np.testing.assert_array_equal(mm, s.masks.repeat(2, 1).repeat(2, 2))


# ---------------------------------------------------------------------------------------------------------- errors
def test_errors():
    x = rand(2, 3, 6, 6)
    with pytest.raises(ValueError, match=r"RandomHorizontalFlip: expected an NCHW batch .* got shape \(3, 6, 6\)"):
        T.RandomHorizontalFlip()(x[0])
    with pytest.raises(ValueError, match=r"argument 'p' must be a probability in \[0, 1\], got 1.5"):
        T.RandomVerticalFlip(1.5)
    with pytest.raises(ValueError, match=r"'boxes' must have shape \(N, 4\) = \(2, 4\), got \(2, 3\)"):
        T.RandomHorizontalFlip()(x, boxes=np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"'masks' must have shape \(N, H, W\) = \(2, 6, 6\)"):
        T.RandomHorizontalFlip()(x, masks=np.zeros((2, 5, 6)))
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(4, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding"):
        T.RandomCrop(4, padding=-1)
    with pytest.raises(ValueError, match=r"crop size \(9, 9\) is larger than the padded image \(8, 8\)"):
        T.RandomCrop(9, padding=1)(x)
    with pytest.raises(ValueError, match="reflect padding"):
        T.RandomCrop(6, padding=6, padding_mode="reflect")(x)
    with pytest.raises(ValueError, match="'size'"):
        T.RandomCrop(0)
    with pytest.raises(TypeError, match="RandomRotation: expected floating-point images.*ToFloat"):
        T.RandomRotation(10)(np.zeros((1, 1, 4, 4), np.uint8))
    with pytest.raises(ValueError, match=r"'hue' range \(-0.7, 0.7\) must lie within \[-0.5, 0.5\]"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="'brightness' must be non-negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="ColorJitter: expected 1 or 3 channels, got 2"):
        T.ColorJitter(brightness=0.1)(rand(1, 2, 3, 3))
    with pytest.raises(ValueError, match="'std' must be finite and non-zero"):
        T.Normalize(0, 0)
    with pytest.raises(ValueError, match="'mean' has 2 values but the batch has 3 channels"):
        T.Normalize([0, 0], [1, 1, 1])(x)
    with pytest.raises(ValueError, match="'scale' must be positive"):
        T.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="'translate'"):
        T.RandomAffine(0, translate=(2, 0))
    with pytest.raises(ValueError, match="interpolation"):
        T.RandomRotation(5, interpolation="cubic")
    with pytest.raises(ValueError, match="max_fraction"):
        T.RandomTranslate(1.5)
    with pytest.raises(TypeError, match="Compose: element 1 is not callable"):
        T.Compose([T.ToFloat(), 3])
