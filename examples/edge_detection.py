"""Edge detection with fixed kernels: the course's Sobel worked example reproduced exactly, then Sobel and Prewitt
on a photograph (scikit-image's camera man when scikit-image is installed, else a synthetic image).

    python examples/edge_detection.py [OUT_DIR]      # PNGs go to OUT_DIR ($FASTCONV_EXAMPLE_OUT, else ./example-out)

F.conv2d is cross-correlation (as in every deep learning library), so the kernels below are written as they slide.
"""
import os
import sys

import numpy as np

import fastconv.functional as F
from fastconv import viz

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FASTCONV_EXAMPLE_OUT", "example-out")
os.makedirs(out_dir, exist_ok=True)

# ---- the worked example (Deep Learning ch. 5, Bischl): a 10x10 image, S_x, the 8x8 feature map ----------------
A = np.array([
    [0, 0, 0, 0, 255, 255, 0, 0, 0, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 0, 255, 255, 0, 0, 0, 0],
    [255, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 255, 255, 255, 255, 255, 255, 0, 0],
    [0, 255, 0, 255, 255, 255, 255, 0, 255, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 255, 255, 255, 255, 0, 0, 0],
    [0, 0, 0, 255, 0, 0, 255, 0, 0, 255],
    [0, 0, 255, 255, 0, 0, 255, 255, 0, 0]], np.float32)
SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)
SOBEL_Y = SOBEL_X.T.copy()
PREWITT_X = np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], np.float32)
PREWITT_Y = PREWITT_X.T.copy()
COURSE_MAP = np.array([  # the slide's feature map
    [0, 510, 1020, 510, -510, -1020, -510, 0],
    [-255, 510, 1020, 510, -510, -1020, -510, 0],
    [-255, 765, 765, 255, -255, -765, -765, -255],
    [255, 765, 510, 0, 0, -510, -765, -510],
    [255, 510, 765, 0, 0, -765, -510, -255],
    [0, 765, 1020, 0, 0, -1020, -765, 0],
    [0, 1020, 765, -255, 255, -765, -1020, 255],
    [255, 1020, 0, -765, 765, 0, -1020, 255]], np.float32)

G = F.conv2d(A[None, None], SOBEL_X[None, None])[0, 0]
assert np.array_equal(G, COURSE_MAP), "the Sobel feature map differs from the course's"
print("Sobel S_x on the course's 10x10 image (valid cross-correlation) -> 8x8 feature map, as on the slide:")
print(G.astype(int))
shown = np.round((G - G.min()) / (G.max() - G.min()) * 255).astype(int)  # the slide's normalised map
print("normalised to 0..255 (vertical edges light/dark):")
print(shown)
viz.save_image(A / 255, os.path.join(out_dir, "course_image.png"), scale=16)
viz.save_image(shown.astype(np.uint8), os.path.join(out_dir, "course_sobel_x.png"), scale=16)

# ---- a photograph ------------------------------------------------------------------------------------------------
try:
    from skimage import data as skdata

    img = skdata.camera().astype(np.float32) / 255.0
    source = "scikit-image's camera man"
except ImportError:
    yy, xx = np.mgrid[0:256, 0:256].astype(np.float32)
    img = 0.2 + 0.5 * ((xx - 128) ** 2 + (yy - 110) ** 2 < 60 ** 2) + 0.3 * ((xx > 30) & (xx < 90) & (yy > 170))
    img += 0.15 * np.sin(xx / 9.0) * (yy > 215)
    img = np.clip(img, 0, 1).astype(np.float32)
    source = "a synthetic image (pip install scikit-image for the camera man)"
print(f"\nedges of {source}, {img.shape[0]}x{img.shape[1]}:")

# all four kernels in one convolution: 1 input channel -> 4 output channels
kernels = np.stack([SOBEL_X, SOBEL_Y, PREWITT_X, PREWITT_Y])[:, None]
maps = F.conv2d(img[None, None], kernels, padding=1)[0]
for name, gx, gy in (("sobel", maps[0], maps[1]), ("prewitt", maps[2], maps[3])):
    mag = np.sqrt(gx ** 2 + gy ** 2)  # G = sqrt(Gx^2 + Gy^2)
    mag /= mag.max()
    path = os.path.join(out_dir, f"{name}_magnitude.png")
    viz.save_image(mag, path)
    print(f"  {name:8s} |G| mean {mag.mean():.4f}, strongest 1% of pixels above {np.quantile(mag, 0.99):.3f} -> {path}")
viz.save_image(img, os.path.join(out_dir, "input.png"))
grid = viz.feature_map_grid(maps, ncols=4, pad=4)
viz.save_image(grid, os.path.join(out_dir, "gx_gy_sobel_prewitt.png"))
print(f"wrote {len(os.listdir(out_dir))} PNGs to {out_dir}")
