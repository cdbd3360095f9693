"""Looking inside a digit classifier: Grad-CAM, occlusion sensitivity, feature maps and first-layer kernels.

    python examples/gradcam_digits.py [OUT_DIR]

Trains a small CNN on scikit-learn's digits (upsampled to 16x16) for a few seconds, then for a few test digits
writes: the Grad-CAM map of the predicted class overlaid on the digit, the occlusion map (drop in probability when
a 4x4 patch is blacked out), the feature maps after the first block and the learnt 3x3 kernels.
"""
import os
import sys

import numpy as np

import fastconv as fc
import fastconv.nn as nn
from fastconv import viz
from fastconv.data import load_digits
from fastconv.data.transforms import resize

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FASTCONV_EXAMPLE_OUT", "example-out")
os.makedirs(out_dir, exist_ok=True)

fc.manual_seed(0)
xtr, ytr = load_digits("train", image_size=16)
xte, yte = load_digits("test", image_size=16)
# Global average pooling before the classifier (as in ResNet): each class score is a weighted sum of whole
# feature maps, the setting Grad-CAM (and CAM before it) was designed for.
model = nn.Sequential(
    nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),       # 0-2: 32x8x8
    nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),                       # 3-4: 64x8x8
    nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),                       # 5-6: 64x8x8 <- Grad-CAM layer
    nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
fc.fit(model, xtr, ytr, epochs=30, batch_size=32, optimizer=fc.optim.Adam(model.parameters(), lr=3e-3), verbose=0,
       seed=0)
acc = float((fc.predict(model, xte).argmax(1) == yte).mean())
print(f"small CNN trained on digits: test accuracy {acc:.4f}")

print(viz.format_receptive_field(viz.receptive_field(model, 16)))

idx = np.array([np.flatnonzero(yte == d)[0] for d in (0, 3, 5, 7, 8, 9)])
x = xte[idx]
pred = fc.predict(model, x).argmax(1)
cams = viz.grad_cam(model, x, pred, layer="6")          # the last conv layer's ReLU, 8x8, upsampled to 16x16
occ = viz.occlusion_map(model, x, pred, patch=4, stride=2)
tiles = []
for i, (cam, o) in enumerate(zip(cams, occ)):
    over = viz.heatmap_overlay(x[i], cam, alpha=0.5)
    o16 = resize(o[None, None].astype(np.float32), 16)[0, 0]   # patch positions -> pixels, for display
    o_img = viz.jet(np.clip(o16 / max(o.max(), 1e-6), 0, 1))
    digit = np.repeat(x[i, 0][:, :, None], 3, axis=2)
    tiles.append(np.concatenate([digit, over, o_img], axis=1))
    peak = np.unravel_index(np.argmax(cam), cam.shape)
    print(f"digit {yte[idx[i]]}: predicted {pred[i]}; Grad-CAM peak at (row, col) {tuple(int(v) for v in peak)}"
          f"{' (all zero: no positive evidence at this layer)' if cam.max() == 0 else ''}; "
          f"largest occlusion drop {o.max():.3f}")
sheet = np.concatenate([np.pad(t, ((1, 1), (0, 0), (0, 0)), constant_values=1.0) for t in tiles], axis=0)
viz.save_image(sheet, os.path.join(out_dir, "gradcam_occlusion.png"), scale=8)

maps = viz.feature_maps(model, x[:1], ["1", "6"])
viz.save_image(viz.feature_map_grid(maps["1"], scale=4), os.path.join(out_dir, "feature_maps_block1.png"))
viz.save_image(viz.feature_map_grid(maps["6"], scale=8), os.path.join(out_dir, "feature_maps_block2.png"))
viz.save_image(viz.kernel_grid(model[0], scale=8), os.path.join(out_dir, "kernels_conv1.png"))
print(f"wrote gradcam_occlusion.png (digit | Grad-CAM | occlusion), feature maps and kernels to {out_dir}")
