"""Transposed convolution and checkerboard artifacts (Odena et al., Distill 2016), numerically.

A stride-s transposed convolution scatters each input value into a k x k window of the output, windows s apart.
When k is not a multiple of s the windows overlap unevenly: with k = 3, s = 2 output pixels receive 1 or 2
contributions per axis (1, 2 or 4 in 2-D) -- a checkerboard even for a constant input and a constant kernel.
k = 4, s = 2 covers every interior pixel exactly twice per axis. Resize-then-convolve has no such pattern.

    python examples/transposed_conv.py [OUT_DIR]
"""
import os
import sys

import numpy as np

import fastconv.functional as F
from fastconv import viz

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FASTCONV_EXAMPLE_OUT", "example-out")
os.makedirs(out_dir, exist_ok=True)


def scatter_reference(x, w, stride):
    """Transposed convolution by definition (no padding): out[s*i + a, s*j + b] += x[i, j] * w[a, b]."""
    h, wd = x.shape
    k = w.shape[0]
    out = np.zeros(((h - 1) * stride + k, (wd - 1) * stride + k), np.float64)
    for i in range(h):
        for j in range(wd):
            out[stride * i:stride * i + k, stride * j:stride * j + k] += x[i, j] * w
    return out


x = np.ones((6, 6), np.float32)
print("overlap counts: a constant 6x6 input, a constant kernel of ones, stride 2\n")
results = {}
for k in (3, 4):
    w = np.ones((k, k), np.float32)
    y = F.conv_transpose2d(x[None, None], w[None, None], stride=2)[0, 0]
    assert np.array_equal(y, scatter_reference(x, w, 2)), "conv_transpose2d differs from its definition"
    inner = y[k:-k, k:-k]  # away from the borders, where fewer windows reach
    results[k] = y
    print(f"kernel {k}x{k}: output {y.shape[0]}x{y.shape[1]}, one row through the middle:")
    print("   ", y[y.shape[0] // 2].astype(int))
    print(f"    interior values: {sorted(set(inner.astype(int).ravel().tolist()))} "
          f"({'uneven: checkerboard' if inner.min() != inner.max() else 'even: no checkerboard'})\n")
    viz.save_image(y / y.max(), os.path.join(out_dir, f"overlap_k{k}_s2.png"), scale=12)

# the same in 1-D, where the pattern is easiest to read: k=3, s=2 alternates 1, 2, 1, 2, ...
row = F.conv_transpose1d(np.ones((1, 1, 8), np.float32), np.ones((1, 1, 3), np.float32), stride=2)[0, 0]
print("1-D, k=3, s=2:", row.astype(int), "\n")

# random (trained-looking) kernels keep the artifact: the output's 2x2 phase classes have different means
rng = np.random.default_rng(0)
w = rng.uniform(0.5, 1.5, (3, 3)).astype(np.float32)
y = F.conv_transpose2d(np.ones((1, 1, 16, 16), np.float32), w[None, None], stride=2)[0, 0][3:-3, 3:-3]
phases = {(a, b): float(y[a::2, b::2].mean()) for a in (0, 1) for b in (0, 1)}
print("random positive 3x3 kernel, stride 2: mean output per (row, col) parity:",
      {k: round(v, 3) for k, v in phases.items()})

# the usual fix: nearest-neighbour upsampling, then an ordinary convolution
up = F.interpolate(np.ones((1, 1, 6, 6), np.float32), scale_factor=2, mode="nearest")
z = F.conv2d(up, np.ones((1, 1, 3, 3), np.float32), padding=1)[0, 0]
print(f"resize (nearest x2) + 3x3 conv: interior values {sorted(set(z[1:-1, 1:-1].astype(int).ravel().tolist()))}"
      f" (uniform)")
viz.save_image(z / z.max(), os.path.join(out_dir, "resize_conv.png"), scale=12)
print(f"wrote PNGs to {out_dir}")
