"""Writing pictures: PNGs of arrays, heat-map overlays and training curves.

Images are written with Pillow when it is installed, else matplotlib; training curves need matplotlib (the 'viz'
extra: pip install fastconv[viz]). Both are imported only when a function needs them. Colour maps are computed in
NumPy, so overlays look the same whichever library writes the file.
"""
from __future__ import annotations

import json
import os

import numpy as np

__all__ = ["to_uint8", "save_image", "jet", "heatmap_overlay", "save_heatmap_overlay", "plot_history",
           "load_history"]


def _matplotlib():
    try:
        import matplotlib
        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ImportError("fastconv.viz: plotting needs matplotlib (pip install 'fastconv[viz]' or "
                          "pip install matplotlib)") from e
    return plt


def _hwc(image, fn: str) -> np.ndarray:
    """(H, W), (H, W, C) or (C, H, W) with C in 1, 3, 4 -> (H, W) or (H, W, C)."""
    a = np.asarray(image)
    if a.ndim == 4 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[2] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"{fn}: expected an image (H, W), (H, W, 3|4) or (C, H, W) with C in 1, 3, 4; got shape "
                         f"{np.shape(image)}")
    return a


def to_uint8(image, fn: str = "to_uint8") -> np.ndarray:
    """An image as uint8 (H, W[, C]): floats are taken to lie in [0, 1] (clipped), integers in 0..255."""
    a = _hwc(image, fn)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind == "f":
        return np.round(np.clip(np.nan_to_num(a.astype(np.float64)), 0.0, 1.0) * 255.0).astype(np.uint8)
    if a.dtype.kind in "iub":
        return np.clip(a, 0, 255).astype(np.uint8)
    raise TypeError(f"{fn}: unsupported image dtype {a.dtype}")


def save_image(image, path, scale: int = 1) -> np.ndarray:
    """Writes image (see to_uint8) as a PNG (or any format Pillow infers from the extension); scale: integer
    nearest-neighbour enlargement. Returns the uint8 array written."""
    a = to_uint8(image, "save_image")
    if scale > 1:
        a = a.repeat(int(scale), axis=0).repeat(int(scale), axis=1)
    d = os.path.dirname(os.fspath(path))
    if d:
        os.makedirs(d, exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        plt = _matplotlib()
        plt.imsave(os.fspath(path), a, cmap="gray" if a.ndim == 2 else None, vmin=0, vmax=255)
        return a
    Image.fromarray(a).save(os.fspath(path))
    return a


def jet(v) -> np.ndarray:
    """The 'jet' colour map (blue -> cyan -> yellow -> red) of values in [0, 1]: (..., 3) float32 in [0, 1]."""
    v = np.clip(np.asarray(v, dtype=np.float64), 0.0, 1.0)
    r = np.clip(1.5 - np.abs(4.0 * v - 3.0), 0.0, 1.0)
    g = np.clip(1.5 - np.abs(4.0 * v - 2.0), 0.0, 1.0)
    b = np.clip(1.5 - np.abs(4.0 * v - 1.0), 0.0, 1.0)
    return np.stack([r, g, b], axis=-1).astype(np.float32)


def heatmap_overlay(image, cam, alpha: float = 0.5) -> np.ndarray:
    """The image (greyscale or RGB, floats in [0, 1] or uint8) blended with jet(cam): (H, W, 3) float32 in
    [0, 1]. cam (H, W) in [0, 1] must have the image's size (grad_cam upsamples to it)."""
    img = _hwc(image, "heatmap_overlay")
    img = img.astype(np.float32) / 255.0 if img.dtype.kind in "iub" else img.astype(np.float32)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3]
    c = np.asarray(cam, dtype=np.float32)
    if c.ndim == 3 and c.shape[0] == 1:
        c = c[0]
    if c.shape != img.shape[:2]:
        raise ValueError(f"heatmap_overlay: cam has shape {c.shape} but the image is {img.shape[:2]}; upsample "
                         f"the map to the image size first")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"heatmap_overlay: alpha must be in [0, 1], got {alpha}")
    return np.clip((1.0 - alpha) * img + alpha * jet(c), 0.0, 1.0).astype(np.float32)


def save_heatmap_overlay(image, cam, path, alpha: float = 0.5, scale: int = 1) -> np.ndarray:
    """heatmap_overlay written as a PNG; returns the overlay array."""
    over = heatmap_overlay(image, cam, alpha)
    save_image(over, path, scale=scale)
    return over


def load_history(history) -> dict:
    """{metric: [values per epoch]} from a fastconv History, a dict or a JSON file written by the CLI."""
    if hasattr(history, "history") and isinstance(history.history, dict):
        return dict(history.history)
    if isinstance(history, (str, os.PathLike)):
        with open(history) as f:
            data = json.load(f)
        return dict(data.get("history", data))
    if isinstance(history, dict):
        return dict(history)
    raise TypeError(f"plot_history: expected a History, a dict of lists or a JSON path, got {type(history).__name__}")


def plot_history(history, path, title: str | None = None) -> dict:
    """Training curves as a PNG: one panel per metric (loss, accuracy, ...), the training and validation series
    ('val_' prefix) together, over epochs 1..E. Returns the history dict that was plotted. Needs matplotlib."""
    h = load_history(history)
    metrics = [k for k in h if not k.startswith("val_")]
    metrics += [k[4:] for k in h if k.startswith("val_") and k[4:] not in metrics]
    if not metrics:
        raise ValueError("plot_history: the history holds no metrics")
    plt = _matplotlib()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), squeeze=False)
    for ax, m in zip(axes[0], metrics):
        for key, label, style in ((m, "train", "-o"), (f"val_{m}", "validation", "-s")):
            if key in h and len(h[key]):
                ax.plot(np.arange(1, len(h[key]) + 1), h[key], style, label=label, markersize=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(m)
        ax.set_title(m)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    d = os.path.dirname(os.fspath(path))
    if d:
        os.makedirs(d, exist_ok=True)
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
    return h
