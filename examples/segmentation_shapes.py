"""Semantic segmentation of the generated shapes with a small fully convolutional network (FCN).

    python examples/segmentation_shapes.py [OUT_DIR]

Every pixel is classified as background, circle, square or triangle. The network downsamples twice (max-pooling),
then a stride-4 transposed convolution brings the class scores back to the input resolution -- no dense layer, so
it works on any image size. Loss: per-pixel cross-entropy (targets (N, H, W), as torch). Reports pixel accuracy and
the intersection over union per class, and writes image | truth | prediction PNGs.
"""
import importlib.util
import os
import sys

import numpy as np

import fastconv as fc
import fastconv.nn as nn
from fastconv import viz
from fastconv.data import SHAPE_KINDS, make_shapes

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FASTCONV_EXAMPLE_OUT", "example-out")
os.makedirs(out_dir, exist_ok=True)

S, K = 32, 1 + len(SHAPE_KINDS)
train = make_shapes(1200, S, seed=0, noise=0.03)
test = make_shapes(200, S, seed=1, noise=0.03)
fc.manual_seed(0)
# The model zoo (fastconv.models), when installed, has larger segmentation networks; this one is built inline so
# the example stays small and fast.
if importlib.util.find_spec("fastconv.models") is not None:
    print("(fastconv.models is installed: see it for larger segmentation networks)")
model = nn.Sequential(
    nn.Conv2d(3, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),     # 16x16
    nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),    # 8x8
    nn.Conv2d(64, 64, 3, padding=2, dilation=2), nn.BatchNorm2d(64), nn.ReLU(),          # wider context
    # back to 32x32; the kernel is a multiple of the stride, so no checkerboard (see transposed_conv.py)
    nn.ConvTranspose2d(64, K, 8, stride=4, padding=2))
print(f"FCN with {sum(p.size for p in model.parameters()):,} parameters; receptive field of the last conv: "
      f"{viz.receptive_field(model[:11], S)[-1].rf} pixels")
hist = fc.fit(model, train.images, train.masks, batch_size=32, epochs=6, verbose=0, seed=0,
              optimizer=fc.optim.Adam(model.parameters(), lr=3e-3))
print("pixel accuracy per epoch (train):", [round(a, 4) for a in hist.history["accuracy"]])

pred = fc.predict(model, test.images).argmax(1)
truth = test.masks
print(f"test pixel accuracy {(pred == truth).mean():.4f} (always 'background' would score "
      f"{(truth == 0).mean():.4f})")
for c, name in enumerate(("background",) + SHAPE_KINDS):
    inter = np.sum((pred == c) & (truth == c))
    union = np.sum((pred == c) | (truth == c))
    print(f"  IoU {name:10s} {inter / max(union, 1):.3f}")

palette = np.array([[0, 0, 0], [1, 0.2, 0.2], [0.2, 1, 0.2], [0.3, 0.5, 1]], np.float32)
rows = [np.concatenate([test.images[i].transpose(1, 2, 0), palette[truth[i]], palette[pred[i]]], axis=1)
        for i in range(6)]
viz.save_image(np.concatenate(rows, axis=0), os.path.join(out_dir, "segmentation.png"), scale=4)
print(f"wrote segmentation.png (image | truth | prediction) to {out_dir}")
