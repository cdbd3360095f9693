"""Data augmentation on whole NCHW NumPy batches, with per-sample random parameters.

Every random transform owns a seeded ``numpy.random.Generator`` (``seed=``) and draws one set of parameters per
sample, then applies them to the whole batch at once with NumPy gathers (no Python loop over pixels or samples).
A call can also take an explicit ``rng=`` (the DataLoader passes a per-epoch one so epochs are reproducible).

    t = Compose([RandomCrop(32, padding=4), RandomHorizontalFlip(), Normalize(mean, std)])
    xb = t(xb)                                   # images only
    xb, boxes, masks = t(xb, boxes=boxes, masks=masks)

Geometric transforms also move boxes (``(N, 4)`` ``[x0, y0, x1, y1]`` normalised to [0, 1], pixel edges: pixel
column j spans [j/W, (j+1)/W]) and masks (``(N, H, W)`` integer labels, resampled by nearest neighbour, new
pixels are 0 = background). A box left with no area (moved out of the image) comes back as [0, 0, 0, 0].
Colour and normalisation transforms pass boxes and masks through unchanged.
"""
from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Transform", "Compose", "ToFloat", "Normalize", "compute_mean_std", "resize", "Resize",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomCrop", "RandomTranslate", "RandomAffine",
           "RandomRotation", "RandomScale", "ColorJitter", "rgb_to_grayscale", "rgb_to_hsv", "hsv_to_rgb"]


# ----------------------------------------------------------------------------------------------------------- checks
def _batch(name, x, floating=False):
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an NCHW batch (a 4-D array), got shape {x.shape}; "
                         f"for one image pass x[None]")
    if floating and not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name}: expected floating-point images in [0, 1], got dtype {x.dtype}; apply ToFloat() first")
    return x


def _prob(name, p):
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: argument 'p' must be a probability in [0, 1], got {p!r}")
    return float(p)


def _pair(name, arg, value, positive=False):
    """An int or (h, w) pair of ints."""
    v = (value, value) if isinstance(value, numbers.Integral) and not isinstance(value, bool) else tuple(value) \
        if isinstance(value, (tuple, list)) else None
    if v is None or len(v) != 2 or not all(isinstance(e, numbers.Integral) and not isinstance(e, bool) for e in v) \
            or any(e < (1 if positive else 0) for e in v):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{name}: argument '{arg}' must be a {kind} int or a pair (h, w) of them, got {value!r}")
    return int(v[0]), int(v[1])


def _range(name, arg, value, center, lo_bound=None, hi_bound=None, clamp=False):
    """torchvision's convention: a number v means [center - v, center + v] (its low end raised to lo_bound when
    clamp, as brightness 1.5 means factors [0, 2.5]); a pair means itself."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"{name}: argument '{arg}' must be non-negative, got {value!r}")
        r = (center - float(value), center + float(value))
        if clamp:
            r = (max(r[0], lo_bound), r[1])
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(e, numbers.Real) for e in value):
        r = (float(value[0]), float(value[1]))
        if r[0] > r[1]:
            raise ValueError(f"{name}: argument '{arg}' range {value!r} has min > max")
    else:
        raise ValueError(f"{name}: argument '{arg}' must be a number or a (min, max) pair, got {value!r}")
    if (lo_bound is not None and r[0] < lo_bound) or (hi_bound is not None and r[1] > hi_bound):
        raise ValueError(f"{name}: argument '{arg}' range {r} must lie within [{lo_bound}, {hi_bound}]")
    return r


def _targets(name, x, boxes, masks):
    n, _, h, w = x.shape
    if boxes is not None:
        boxes = np.asarray(boxes)
        if boxes.shape != (n, 4):
            raise ValueError(f"{name}: argument 'boxes' must have shape (N, 4) = ({n}, 4), got {boxes.shape}")
    if masks is not None:
        masks = np.asarray(masks)
        if masks.shape != (n, h, w):
            raise ValueError(f"{name}: argument 'masks' must have shape (N, H, W) = ({n}, {h}, {w}), got {masks.shape}")
    return boxes, masks


def _clean_boxes(b):
    b = np.clip(b, 0.0, 1.0)
    empty = (b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])
    b[empty] = 0.0
    return b


# -------------------------------------------------------------------------------------------------------- the base
class Transform:
    """Base class: ``t(x, boxes=None, masks=None, rng=None)`` returns x alone, or (x, boxes?, masks?) for the
    targets that were given. Subclasses implement ``_apply(x, boxes, masks, rng) -> (x, boxes, masks)``."""

    floating = False  # whether x must already be floating point
    rng = None  # deterministic transforms have none

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed)

    def __call__(self, x, *, boxes=None, masks=None, rng=None):
        name = type(self).__name__
        x = _batch(name, x, self.floating)
        b, m = _targets(name, x, boxes, masks)
        x, b, m = self._apply(x, b, m, self.rng if rng is None else rng)
        if boxes is None and masks is None:
            return x
        return (x,) + ((b,) if boxes is not None else ()) + ((m,) if masks is not None else ())

    def _apply(self, x, boxes, masks, rng):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if k != "rng" and not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Transform):
    """Applies transforms in order, threading boxes/masks and ``rng`` through all of them."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for i, t in enumerate(transforms):
            if not callable(t):
                raise TypeError(f"Compose: element {i} is not callable: {t!r}")
        self.transforms = transforms

    def __call__(self, x, *, boxes=None, masks=None, rng=None):
        b, m = boxes, masks
        for t in self.transforms:
            kw = {}
            if b is not None:
                kw["boxes"] = b
            if m is not None:
                kw["masks"] = m
            if isinstance(t, Transform):
                kw["rng"] = rng
            out = t(x, **kw)
            if b is None and m is None:
                x = out
            else:
                x, rest = out[0], list(out[1:])
                b = rest.pop(0) if b is not None else None
                m = rest.pop(0) if m is not None else None
        if boxes is None and masks is None:
            return x
        return (x,) + ((b,) if boxes is not None else ()) + ((m,) if masks is not None else ())


# ------------------------------------------------------------------------------------------- scaling, normalising
class ToFloat(Transform):
    """Integer images to float32 in [0, 1] (uint8 / 255, uint16 / 65535, bool -> 0/1); floats are cast only."""

    def __init__(self, dtype=np.float32):
        self.dtype = np.dtype(dtype)
        if not np.issubdtype(self.dtype, np.floating):
            raise ValueError(f"ToFloat: argument 'dtype' must be a floating type, got {self.dtype}")

    def _apply(self, x, boxes, masks, rng):
        if np.issubdtype(x.dtype, np.integer):
            return x.astype(self.dtype) / self.dtype.type(np.iinfo(x.dtype).max), boxes, masks
        return x.astype(self.dtype, copy=False), boxes, masks


def compute_mean_std(x):
    """Per-channel mean and (population) standard deviation of an NCHW array over N, H and W, in float64."""
    x = _batch("compute_mean_std", x)
    if x.shape[0] * x.shape[2] * x.shape[3] == 0:
        raise ValueError(f"compute_mean_std: the batch has no pixels (shape {x.shape})")
    mean = x.mean(axis=(0, 2, 3), dtype=np.float64)
    var = np.square(x - mean[None, :, None, None], dtype=np.float64).mean(axis=(0, 2, 3))
    return mean, np.sqrt(var)


class Normalize(Transform):
    """(x - mean[c]) / std[c] per channel; mean/std are scalars or one value per channel."""

    floating = True

    def __init__(self, mean, std):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: 'mean' and 'std' must be scalars or 1-D, got {mean!r}, {std!r}")
        if np.any(self.std == 0) or not np.all(np.isfinite(self.std)):
            raise ValueError(f"Normalize: argument 'std' must be finite and non-zero, got {std!r}")

    def _apply(self, x, boxes, masks, rng):
        c = x.shape[1]
        for arg, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: argument '{arg}' has {v.size} values but the batch has {c} channels")
        mean = self.mean.astype(x.dtype)[None, :, None, None] if self.mean.size == c else x.dtype.type(self.mean[0])
        std = self.std.astype(x.dtype)[None, :, None, None] if self.std.size == c else x.dtype.type(self.std[0])
        return (x - mean) / std, boxes, masks


# ------------------------------------------------------------------------------------------------------- resizing
def _interp_matrix(n_in, n_out, dtype):
    """Row o holds the weights of torch's bilinear (align_corners=False) source pixels for output o."""
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    m = np.zeros((n_out, n_in), dtype=np.float64)
    np.add.at(m, (np.arange(n_out), i0), 1.0 - lam)
    np.add.at(m, (np.arange(n_out), i1), lam)
    return m.astype(dtype)


def resize(x, size):
    """Bilinear resize of an NCHW float batch to ``size`` (int or (h, w)), with the same sampling as
    torch.nn.functional.interpolate(mode='bilinear', align_corners=False) (no antialiasing)."""
    x = _batch("resize", x, floating=True)
    h, w = _pair("resize", "size", size, positive=True)
    return (_interp_matrix(x.shape[2], h, x.dtype) @ x) @ _interp_matrix(x.shape[3], w, x.dtype).T


class Resize(Transform):
    """Deterministic bilinear resize (see resize()); masks by nearest neighbour; normalised boxes are unchanged."""

    floating = True

    def __init__(self, size):
        self.size = _pair("Resize", "size", size, positive=True)

    def _apply(self, x, boxes, masks, rng):
        if masks is not None:
            h, w = self.size
            rows = np.minimum(((np.arange(h) + 0.5) * masks.shape[1] / h).astype(np.int64), masks.shape[1] - 1)
            cols = np.minimum(((np.arange(w) + 0.5) * masks.shape[2] / w).astype(np.int64), masks.shape[2] - 1)
            masks = masks[:, rows[:, None], cols[None, :]]
        return resize(x, self.size), boxes, masks


# ---------------------------------------------------------------------------------------------------------- flips
class RandomHorizontalFlip(Transform):
    """Mirrors each sample left-right with probability p."""

    def __init__(self, p=0.5, seed=None):
        super().__init__(seed)
        self.p = _prob(type(self).__name__, p)

    axis = 3

    def _apply(self, x, boxes, masks, rng):
        flip = rng.random(x.shape[0]) < self.p
        x = x.copy()
        x[flip] = np.flip(x[flip], axis=self.axis)
        if masks is not None:
            masks = masks.copy()
            masks[flip] = np.flip(masks[flip], axis=self.axis - 1)
        if boxes is not None:
            b = np.array(boxes, dtype=np.float32 if boxes.dtype != np.float64 else np.float64)
            lo, hi = (0, 2) if self.axis == 3 else (1, 3)
            b[flip, lo], b[flip, hi] = 1.0 - boxes[flip, hi], 1.0 - boxes[flip, lo]
            boxes = _clean_boxes(b)
        return x, boxes, masks


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirrors each sample top-bottom with probability p."""

    axis = 2


# ----------------------------------------------------------------------------------------------- crops and shifts
def _padding(name, padding):
    """torchvision's forms: int, (left/right, top/bottom) or (left, top, right, bottom) -> (l, t, r, b)."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        p = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) in (2, 4):
        p = tuple(padding) * 2 if len(padding) == 2 else tuple(padding)
    else:
        p = None
    if p is None or not all(isinstance(e, numbers.Integral) and not isinstance(e, bool) and e >= 0 for e in p):
        raise ValueError(f"{name}: argument 'padding' must be a non-negative int, (lr, tb) or (l, t, r, b), "
                         f"got {padding!r}")
    return tuple(int(e) for e in p)


def _crop_at(x, boxes, masks, pad, rows0, cols0, size, mode, fill):
    """Pads by pad = (l, t, r, b) then takes the size-window at per-sample offsets (rows0, cols0) of the padded
    array, as one gather of whole windows for the batch."""
    n, c, h, w = x.shape
    l, t, r, b = pad
    oh, ow = size
    widths = ((0, 0), (0, 0), (t, b), (l, r))
    xp = np.pad(x, widths, mode=mode, **({"constant_values": fill} if mode == "constant" else {}))
    # a strided view of every window, (N, C, rows, cols, oh, ow); picking one window per sample copies blocks
    # instead of gathering element by element
    win = np.lib.stride_tricks.sliding_window_view(xp, (oh, ow), axis=(2, 3))
    out = win[np.arange(n), :, rows0, cols0]  # advanced indices around a slice: (N, C, oh, ow)
    if masks is not None:
        mp = np.pad(masks, widths[1:], mode=mode, **({"constant_values": 0} if mode == "constant" else {}))
        masks = np.lib.stride_tricks.sliding_window_view(mp, (oh, ow), axis=(1, 2))[np.arange(n), rows0, cols0]
    if boxes is not None:
        bx = np.array(boxes, dtype=np.float64)
        bx[:, [0, 2]] = (bx[:, [0, 2]] * w + (l - cols0)[:, None]) / ow
        bx[:, [1, 3]] = (bx[:, [1, 3]] * h + (t - rows0)[:, None]) / oh
        boxes = _clean_boxes(bx).astype(boxes.dtype if np.issubdtype(boxes.dtype, np.floating) else np.float32)
    return out, boxes, masks


_PAD_MODES = ("constant", "reflect", "edge", "symmetric")


class RandomCrop(Transform):
    """Pads each side by ``padding`` (mode 'constant' with ``fill``, 'reflect', 'edge' or 'symmetric', as
    torchvision) and crops a ``size`` window at a uniformly random position per sample."""

    def __init__(self, size, padding=0, padding_mode="constant", fill=0.0, seed=None):
        super().__init__(seed)
        self.size = _pair("RandomCrop", "size", size, positive=True)
        self.padding = _padding("RandomCrop", padding)
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: argument 'padding_mode' must be one of {_PAD_MODES}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        self.fill = fill

    def _apply(self, x, boxes, masks, rng):
        n, _, h, w = x.shape
        l, t, r, b = self.padding
        hp, wp = h + t + b, w + l + r
        if self.size[0] > hp or self.size[1] > wp:
            raise ValueError(f"RandomCrop: crop size {self.size} is larger than the padded image ({hp}, {wp})")
        if self.padding_mode == "reflect" and (max(t, b) >= h or max(l, r) >= w):
            raise ValueError(f"RandomCrop: reflect padding {self.padding} must be smaller than the image ({h}, {w})")
        rows0 = rng.integers(0, hp - self.size[0] + 1, n)
        cols0 = rng.integers(0, wp - self.size[1] + 1, n)
        return _crop_at(x, boxes, masks, self.padding, rows0, cols0, self.size, self.padding_mode, self.fill)


class RandomTranslate(Transform):
    """Shifts each sample by a whole number of pixels, uniform in [-m, m] with m = floor(max_fraction * side)
    (max_fraction: a number or (fx, fy)); uncovered pixels get ``fill``."""

    def __init__(self, max_fraction, fill=0.0, seed=None):
        super().__init__(seed)
        f = (max_fraction, max_fraction) if isinstance(max_fraction, numbers.Real) else max_fraction
        if not (isinstance(f, (tuple, list)) and len(f) == 2
                and all(isinstance(e, numbers.Real) and not isinstance(e, bool) and 0 <= e <= 1 for e in f)):
            raise ValueError(f"RandomTranslate: argument 'max_fraction' must be in [0, 1] or a pair (fx, fy) of "
                             f"such, got {max_fraction!r}")
        self.max_fraction = (float(f[0]), float(f[1]))
        self.fill = fill

    def _apply(self, x, boxes, masks, rng):
        n, _, h, w = x.shape
        mx, my = int(self.max_fraction[0] * w), int(self.max_fraction[1] * h)
        dx = rng.integers(-mx, mx + 1, n)
        dy = rng.integers(-my, my + 1, n)
        # out[y, x] = in[y - dy, x - dx]: a window of the padded image starting at (my - dy, mx - dx)
        return _crop_at(x, boxes, masks, (mx, my, mx, my), my - dy, mx - dx, (h, w), "constant", self.fill)


# --------------------------------------------------------------------------------------------------------- affine
def _bordered(a, fill):
    """a (N,C,H,W) with a one-pixel border of ``fill``, as (C, N*(H+2)*(W+2)): with the border, neighbours of
    any clamped coordinate are read without bounds tests, and each channel is one flat array for np.take."""
    n, c, h, w = a.shape
    ap = np.pad(a, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=fill)
    return np.ascontiguousarray(ap.transpose(1, 0, 2, 3)).reshape(c, -1)


def _to_nchw(v, n, shape):
    return np.ascontiguousarray(v.reshape(-1, n, *shape).transpose(1, 0, 2, 3))


def _sample_bilinear(x, sx, sy, fill):
    """x (N,C,H,W) sampled at per-sample float pixel-centre coordinates sx, sy (N,Ho,Wo); neighbours outside the
    image count as ``fill`` (torch grid_sample's zero padding when fill=0)."""
    n, c, h, w = x.shape
    flat = _bordered(x, fill)
    # beyond [-1, W] every neighbour is border anyway; x0 <= W-1 keeps x0+1 inside the bordered image
    sx, sy = np.clip(sx, -1, w), np.clip(sy, -1, h)
    x0 = np.minimum(np.floor(sx), w - 1)
    y0 = np.minimum(np.floor(sy), h - 1)
    fx = (sx - x0).astype(x.dtype).ravel()
    fy = (sy - y0).astype(x.dtype).ravel()
    wp = w + 2
    base = ((np.arange(n)[:, None, None] * (h + 2) + y0.astype(np.int64) + 1) * wp + x0.astype(np.int64) + 1).ravel()
    g = lambda i: np.take(flat, i, axis=1)  # noqa: E731  (np.take: a few times faster than fancy indexing)
    top = g(base) * (1 - fx) + g(base + 1) * fx
    bottom = g(base + wp) * (1 - fx) + g(base + wp + 1) * fx
    return _to_nchw(top * (1 - fy) + bottom * fy, n, sx.shape[1:])


def _sample_nearest(a, sx, sy, fill):
    """a (N,H,W) or (N,C,H,W) sampled at the nearest pixel to sx, sy; outside -> fill."""
    squeeze = a.ndim == 3
    a = a[:, None] if squeeze else a
    n, c, h, w = a.shape
    xi = np.clip(np.floor(sx + 0.5), -1, w).astype(np.int64)
    yi = np.clip(np.floor(sy + 0.5), -1, h).astype(np.int64)
    idx = ((np.arange(n)[:, None, None] * (h + 2) + yi + 1) * (w + 2) + xi + 1).ravel()
    out = _to_nchw(np.take(_bordered(a, fill), idx, axis=1), n, sx.shape[1:])
    return out[:, 0] if squeeze else out


class RandomAffine(Transform):
    """Rotation about the image centre (counter-clockwise for positive angles, as torchvision), scaling and
    translation, per sample, by inverse-mapped sampling: output pixel p reads input c + R(-a)(p - c - t) / s.

    degrees: number d -> angle in [-d, d], or (min, max). translate: None or (fx, fy): shift in
    [-fx*W, fx*W] x [-fy*H, fy*H] pixels (real-valued). scale: None or (min, max). interpolation: 'bilinear' or
    'nearest'; pixels mapped from outside the image get ``fill``."""

    floating = True

    def __init__(self, degrees=0, translate=None, scale=None, fill=0.0, interpolation="bilinear", seed=None):
        super().__init__(seed)
        name = type(self).__name__
        self.degrees = _range(name, "degrees", degrees, 0.0)
        if translate is not None:
            if not (isinstance(translate, (tuple, list)) and len(translate) == 2
                    and all(isinstance(e, numbers.Real) and 0 <= e <= 1 for e in translate)):
                raise ValueError(f"{name}: argument 'translate' must be None or a pair (fx, fy) in [0, 1], "
                                 f"got {translate!r}")
            translate = (float(translate[0]), float(translate[1]))
        self.translate = translate
        if scale is not None:
            scale = _range(name, "scale", scale, 1.0)
            if scale[0] <= 0:
                raise ValueError(f"{name}: argument 'scale' must be positive, got {scale}")
        self.scale = scale
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"{name}: argument 'interpolation' must be 'bilinear' or 'nearest', "
                             f"got {interpolation!r}")
        self.interpolation = interpolation
        self.fill = fill

    def get_params(self, rng, n, h, w):
        """The per-sample (angle in degrees, tx, ty in pixels, scale) a call with this ``rng`` draws first."""
        angle = rng.uniform(*self.degrees, n)
        tx, ty = np.zeros(n), np.zeros(n)
        if self.translate is not None:
            tx = rng.uniform(-1.0, 1.0, n) * self.translate[0] * w
            ty = rng.uniform(-1.0, 1.0, n) * self.translate[1] * h
        s = rng.uniform(*self.scale, n) if self.scale is not None else np.ones(n)
        return angle, tx, ty, s

    def _apply(self, x, boxes, masks, rng):
        n, _, h, w = x.shape
        angle, tx, ty, s = self.get_params(rng, n, h, w)
        a = np.deg2rad(angle)
        cos, sin = np.cos(a)[:, None, None], np.sin(a)[:, None, None]
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        dx = np.arange(w)[None, None, :] - cx - tx[:, None, None]
        dy = np.arange(h)[None, :, None] - cy - ty[:, None, None]
        sx = cx + (cos * dx - sin * dy) / s[:, None, None]
        sy = cy + (sin * dx + cos * dy) / s[:, None, None]
        # cos(90 deg) is 6e-17, not 0: snap coordinates that are integers up to rounding so that right-angle
        # rotations and whole-pixel shifts copy pixels exactly instead of blending with the border fill
        for v in (sx, sy):
            r = np.round(v)
            near = np.abs(v - r) < 1e-6
            v[near] = r[near]
        if self.interpolation == "bilinear":
            out = _sample_bilinear(x, sx, sy, self.fill)
        else:
            out = _sample_nearest(x, sx, sy, self.fill)
        if masks is not None:
            masks = _sample_nearest(masks, sx, sy, 0)
        if boxes is not None:
            b = np.asarray(boxes, dtype=np.float64)
            # corners in pixel-centre coordinates, pushed through the forward map c + t + s R(a) (p - c)
            px = np.stack([b[:, 0], b[:, 2], b[:, 0], b[:, 2]], 1) * w - 0.5 - cx
            py = np.stack([b[:, 1], b[:, 1], b[:, 3], b[:, 3]], 1) * h - 0.5 - cy
            c1, s1 = cos[:, :, 0], sin[:, :, 0]
            qx = (cx + tx[:, None] + s[:, None] * (c1 * px + s1 * py) + 0.5) / w
            qy = (cy + ty[:, None] + s[:, None] * (-s1 * px + c1 * py) + 0.5) / h
            nb = np.stack([qx.min(1), qy.min(1), qx.max(1), qy.max(1)], 1)
            nb[(b[:, 2] <= b[:, 0]) | (b[:, 3] <= b[:, 1])] = 0.0
            boxes = _clean_boxes(nb).astype(boxes.dtype if np.issubdtype(boxes.dtype, np.floating) else np.float32)
        return out, boxes, masks


class RandomRotation(RandomAffine):
    """Rotation by a random angle in [-degrees, degrees] (or (min, max)) about the centre; see RandomAffine."""

    def __init__(self, degrees, fill=0.0, interpolation="bilinear", seed=None):
        super().__init__(degrees, fill=fill, interpolation=interpolation, seed=seed)


class RandomScale(RandomAffine):
    """Zoom by a random factor in scale=(min, max) about the centre; see RandomAffine."""

    def __init__(self, scale=(0.8, 1.2), fill=0.0, interpolation="bilinear", seed=None):
        super().__init__(0, scale=scale, fill=fill, interpolation=interpolation, seed=seed)


# ---------------------------------------------------------------------------------------------------------- colour
def rgb_to_grayscale(x):
    """ITU-R 601 luma as torchvision: 0.2989 R + 0.587 G + 0.114 B, keeping a channel axis (N,1,H,W)."""
    return (0.2989 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).astype(x.dtype, copy=False)


def rgb_to_hsv(x):
    """NCHW RGB in [0, 1] -> HSV with hue in [0, 1)."""
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    maxc, minc = x.max(axis=1), x.min(axis=1)
    cr = maxc - minc
    grey = cr == 0
    s = cr / np.where(grey, 1, maxc)
    d = np.where(grey, 1, cr)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = np.where(maxc == r, bc - gc, np.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = np.where(grey, 0.0, np.mod(h / 6.0, 1.0))
    return np.stack([h, s, maxc], axis=1).astype(x.dtype, copy=False)


def hsv_to_rgb(x):
    """Inverse of rgb_to_hsv, by the closed form f(n) = V - V S clip(min(k, 4 - k), 0, 1), k = (n + 6H) mod 6,
    (R, G, B) = (f(5), f(3), f(1)): the same values as the six-sector table, without a per-pixel table lookup."""
    h6, s, v = x[:, 0:1] * 6, x[:, 1:2], x[:, 2:3]
    k = np.mod(np.array([5, 3, 1], dtype=x.dtype)[None, :, None, None] + h6, 6)
    return (v - v * s * np.clip(np.minimum(k, 4 - k), 0, 1)).astype(x.dtype, copy=False)


def _blend(a, b, f):
    return np.clip(f * a + (1 - f) * b, 0.0, 1.0)


class ColorJitter(Transform):
    """torchvision's ColorJitter on float images in [0, 1], one factor per sample and a random order of the four
    adjustments per sample. brightness/contrast/saturation: b -> factor in [max(0, 1-b), 1+b] (or a (min, max)
    pair); hue: h in [0, 0.5] -> shift in [-h, h] (or a pair within [-0.5, 0.5]).

    brightness: clip(f x); contrast: clip(f x + (1-f) mean(grey(x))) with the per-image mean of the luma;
    saturation: clip(f x + (1-f) grey(x)) per pixel; hue: rotate H in HSV by the shift. Saturation and hue leave
    1-channel images unchanged (torchvision does the same)."""

    floating = True

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0, seed=None):
        super().__init__(seed)
        self.brightness = _range("ColorJitter", "brightness", brightness, 1.0, lo_bound=0.0, clamp=True)
        self.contrast = _range("ColorJitter", "contrast", contrast, 1.0, lo_bound=0.0, clamp=True)
        self.saturation = _range("ColorJitter", "saturation", saturation, 1.0, lo_bound=0.0, clamp=True)
        self.hue = _range("ColorJitter", "hue", hue, 0.0, lo_bound=-0.5, hi_bound=0.5)

    def _apply(self, x, boxes, masks, rng):
        n, c = x.shape[:2]
        if c not in (1, 3):
            raise ValueError(f"ColorJitter: expected 1 or 3 channels, got {c}")
        factors = [rng.uniform(*r, n).astype(x.dtype)[:, None, None, None]
                   for r in (self.brightness, self.contrast, self.saturation, self.hue)]
        order = np.argsort(rng.random((n, 4)), axis=1)  # a random permutation per sample
        identity = [self.brightness == (1.0, 1.0), self.contrast == (1.0, 1.0),
                    self.saturation == (1.0, 1.0) or c == 1, self.hue == (0.0, 0.0) or c == 1]
        out = x.copy()
        for step in range(4):
            for op in range(4):
                sel = order[:, step] == op
                if identity[op] or not sel.any():
                    continue
                xs, f = out[sel], factors[op][sel]
                if op == 0:
                    xs = np.clip(f * xs, 0.0, 1.0)
                elif op == 1:
                    grey = rgb_to_grayscale(xs) if c == 3 else xs
                    xs = _blend(xs, grey.mean(axis=(1, 2, 3), keepdims=True), f)
                elif op == 2:
                    xs = _blend(xs, rgb_to_grayscale(xs), f)
                else:
                    hsv = rgb_to_hsv(xs)
                    hsv[:, 0:1] = np.mod(hsv[:, 0:1] + f, 1.0)
                    xs = hsv_to_rgb(hsv)
                out[sel] = xs
        return out, boxes, masks
