"""A procedurally generated data set for classification, localisation and segmentation: one shape per image."""
from __future__ import annotations

import numbers
from typing import NamedTuple

import numpy as np

__all__ = ["SHAPE_KINDS", "Shapes", "make_shapes"]

SHAPE_KINDS = ("circle", "square", "triangle")


class Shapes(NamedTuple):
    """What make_shapes returns (unpacks like a tuple)."""

    images: np.ndarray      # (N, C, H, W) float32 in [0, 1]
    labels: np.ndarray      # (N,) int64: index into `kinds`; -1 for an empty image
    boxes: np.ndarray       # (N, 4) float32 [x0, y0, x1, y1] normalised to [0, 1]; zeros for an empty image
    masks: np.ndarray       # (N, H, W) int64: 0 background, 1 + label inside the shape
    objectness: np.ndarray  # (N,) float32: 1 if the image holds a shape, else 0


def make_shapes(n, image_size=32, seed=0, kinds=SHAPE_KINDS, channels=3, noise=0.0, p_empty=0.0,
                size_range=(0.25, 0.6)) -> Shapes:
    """``n`` images, each with one filled shape of a random kind, position, size and colour on a random flat
    background (the course's localisation example: is there an object, which one, and where).

    kinds: which shapes, in label order ('circle', 'square', 'triangle': an upward isosceles triangle as wide
    as it is tall). size_range: the shape's width as a fraction of the image side. The shape always lies wholly
    inside the image, centred on a pixel centre; a pixel belongs to it when its centre does, so the mask's
    bounding box lies within one pixel of ``boxes`` (the exact geometric extent). Foreground and background
    colours differ by 0.35..0.65 in every channel. noise: standard deviation of Gaussian pixel noise (then
    clipped to [0, 1]). p_empty: probability that an image holds no shape (objectness 0, label -1).
    Deterministic for a given seed and arguments.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"make_shapes: argument 'n' must be a non-negative int, got {n!r}")
    if isinstance(image_size, bool) or not isinstance(image_size, numbers.Integral) or image_size < 4:
        raise ValueError(f"make_shapes: argument 'image_size' must be an int >= 4, got {image_size!r}")
    if isinstance(channels, bool) or not isinstance(channels, numbers.Integral) or channels < 1:
        raise ValueError(f"make_shapes: argument 'channels' must be a positive int, got {channels!r}")
    kinds = (kinds,) if isinstance(kinds, str) else tuple(kinds)
    bad = [k for k in kinds if k not in SHAPE_KINDS]
    if not kinds or bad or len(set(kinds)) != len(kinds):
        raise ValueError(f"make_shapes: argument 'kinds' must be distinct names from {SHAPE_KINDS}, got {kinds!r}")
    if not isinstance(noise, numbers.Real) or noise < 0:
        raise ValueError(f"make_shapes: argument 'noise' must be a non-negative number, got {noise!r}")
    if not isinstance(p_empty, numbers.Real) or not 0 <= p_empty <= 1:
        raise ValueError(f"make_shapes: argument 'p_empty' must be a probability in [0, 1], got {p_empty!r}")
    try:
        lo, hi = (float(v) for v in size_range)
    except (TypeError, ValueError):
        lo = hi = -1.0
    if not 0 < lo <= hi <= 0.9:
        raise ValueError(f"make_shapes: argument 'size_range' must satisfy 0 < min <= max <= 0.9, got {size_range!r}")

    s = int(image_size)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(kinds), n)
    geom = np.array([SHAPE_KINDS.index(k) for k in kinds])[labels]
    # half-width in pixels; at most (s-1)/2 so that some pixel-centre position fits the shape
    r = np.clip(rng.uniform(lo, hi, n) * s / 2, 1.0, (s - 1) / 2)
    # centres on pixel centres k + 0.5 with the whole shape inside [0, s]
    kmin = np.ceil(r - 0.5)
    kmax = np.floor(s - r - 0.5)
    cx = kmin + np.floor(rng.random(n) * (kmax - kmin + 1)) + 0.5
    cy = kmin + np.floor(rng.random(n) * (kmax - kmin + 1)) + 0.5
    bg = rng.random((n, channels))
    fg = np.mod(bg + rng.uniform(0.35, 0.65, (n, channels)), 1.0)
    present = rng.random(n) >= p_empty

    centres = np.arange(s) + 0.5
    dx = centres[None, None, :] - cx[:, None, None]
    dy = centres[None, :, None] - cy[:, None, None]
    rr = r[:, None, None]
    g = geom[:, None, None]
    inside = np.where(g == 0, dx * dx + dy * dy <= rr * rr,
                      np.where(g == 1, (np.abs(dx) <= rr) & (np.abs(dy) <= rr),
                               (dy <= rr) & (2 * np.abs(dx) <= dy + rr)))
    inside &= present[:, None, None]

    images = np.where(inside[:, None], fg[:, :, None, None], bg[:, :, None, None])
    if noise > 0:
        images = np.clip(images + rng.normal(0.0, noise, images.shape), 0.0, 1.0)
    masks = np.where(inside, labels[:, None, None] + 1, 0).astype(np.int64)
    boxes = np.stack([cx - r, cy - r, cx + r, cy + r], axis=1) / s
    boxes[~present] = 0.0
    labels = np.where(present, labels, -1).astype(np.int64)
    return Shapes(images.astype(np.float32), labels, boxes.astype(np.float32), masks, present.astype(np.float32))
