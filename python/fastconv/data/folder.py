"""A folder of images, one sub-folder per class (torchvision's ImageFolder layout), read into NumPy arrays."""
from __future__ import annotations

import os

import numpy as np

__all__ = ["ImageFolder", "IMG_EXTENSIONS"]

IMG_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp")
_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def _pil():
    try:
        from PIL import Image
    except ImportError as e:
        raise ImportError("fastconv.data.ImageFolder reads images with Pillow: pip install pillow") from e
    return Image


class ImageFolder:
    """root/<class>/<image>: class names are the sub-folder names, sorted, mapped to 0, 1, ... like torchvision
    (``classes``, ``class_to_idx``); files are taken in sorted order, those with IMG_EXTENSIONS only.

    ``images`` (N, C, H, W) float32 in [0, 1] and ``labels`` (N,) int64 are read on first use (``arrays()``
    returns both). channels: 1 (greyscale), 3 (RGB) or 4 (RGBA); images are converted as Pillow does.
    image_size: None (all images must then have the same size) or an int / (h, w) to resize each image to,
    bilinearly in NumPy (fastconv.data.transforms.resize). Needs Pillow.
    """

    def __init__(self, root, image_size=None, channels=3, extensions=IMG_EXTENSIONS):
        self.root = os.fspath(root)
        if channels not in _MODES:
            raise ValueError(f"ImageFolder: argument 'channels' must be 1, 3 or 4, got {channels!r}")
        if image_size is not None:
            from .transforms import _pair

            image_size = _pair("ImageFolder", "image_size", image_size, positive=True)
        self.image_size = image_size
        self.channels = channels
        self.extensions = tuple(e.lower() for e in extensions)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"ImageFolder: '{self.root}' is not a directory (expected root/<class>/<image>)")
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"ImageFolder: no class sub-folders in '{self.root}' "
                                    f"(expected root/<class>/<image>)")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.samples = []
        for c in self.classes:
            d = os.path.join(self.root, c)
            files = sorted(f for f in os.listdir(d)
                           if f.lower().endswith(self.extensions) and os.path.isfile(os.path.join(d, f)))
            if not files:
                raise FileNotFoundError(f"ImageFolder: class folder '{d}' holds no image with an extension in "
                                        f"{self.extensions}")
            self.samples.extend((os.path.join(d, f), self.class_to_idx[c]) for f in files)
        self._images = None
        self._labels = np.array([t for _, t in self.samples], dtype=np.int64)

    def __len__(self):
        return len(self.samples)

    def load_image(self, path):
        """One image as a (C, H, W) float32 array in [0, 1], converted and resized as the folder's settings say."""
        Image = _pil()
        try:
            with Image.open(path) as im:
                a = np.asarray(im.convert(_MODES[self.channels]))
        except (OSError, ValueError) as e:
            raise ValueError(f"ImageFolder: cannot read image '{path}': {e}") from None
        a = (a[:, :, None] if a.ndim == 2 else a).transpose(2, 0, 1).astype(np.float32) / np.float32(255.0)
        if self.image_size is not None and a.shape[1:] != self.image_size:
            from .transforms import resize

            a = np.clip(resize(a[None], self.image_size)[0], 0.0, 1.0)
        return a

    def _load(self):
        imgs = [self.load_image(p) for p, _ in self.samples]  # one decode per file: unavoidable
        sizes = {a.shape[1:] for a in imgs}
        if len(sizes) > 1:
            first = {}
            for (p, _), a in zip(self.samples, imgs):
                first.setdefault(a.shape[1:], p)
            raise ValueError(f"ImageFolder: images differ in size {sorted(sizes)} (e.g. {list(first.values())[:2]});"
                             f" pass image_size=(h, w) to resize them")
        self._images = np.stack(imgs)

    @property
    def images(self) -> np.ndarray:
        if self._images is None:
            self._load()
        return self._images

    @property
    def labels(self) -> np.ndarray:
        return self._labels

    def arrays(self):
        """(images, labels)."""
        return self.images, self.labels

    def __getitem__(self, i):
        return self.images[i], self.labels[i]

    def __repr__(self):
        return f"ImageFolder('{self.root}', {len(self)} images, {len(self.classes)} classes)"
