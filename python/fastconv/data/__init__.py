"""Data sets, readers, a mini-batch loader and batch augmentation, all plain NumPy (NCHW float32 in [0, 1]).

    from fastconv.data import load_digits, DataLoader
    from fastconv.data.transforms import Compose, RandomCrop, RandomHorizontalFlip

    x, y = load_digits("train", image_size=16)             # bundled with scikit-learn: no download
    aug = Compose([RandomCrop(16, padding=2), RandomHorizontalFlip()])
    for xb, yb in DataLoader(x, y, batch_size=64, shuffle=True, seed=0, transform=aug): ...

Nothing here downloads anything: readers for MNIST / Fashion-MNIST (IDX), CIFAR-10/100 (python batches) and
image folders read files you already have, and say which file they expected where when one is missing.
Optional dependencies: scikit-learn (load_digits), Pillow (ImageFolder).
"""
from __future__ import annotations

from . import transforms
from .cifar import CIFAR10_CLASSES, load_cifar10, load_cifar100, read_cifar_batch
from .digits import load_digits, stratified_split
from .folder import IMG_EXTENSIONS, ImageFolder
from .loader import DataLoader
from .mnist import FASHION_MNIST_CLASSES, MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from .shapes import SHAPE_KINDS, Shapes, make_shapes

__all__ = ["transforms", "load_digits", "stratified_split", "make_shapes", "Shapes", "SHAPE_KINDS", "read_idx",
           "load_mnist", "load_fashion_mnist", "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "load_cifar10",
           "load_cifar100", "read_cifar_batch", "CIFAR10_CLASSES", "ImageFolder", "IMG_EXTENSIONS", "DataLoader"]
