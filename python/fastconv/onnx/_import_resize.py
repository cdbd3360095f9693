"""ONNX Resize (opsets 10-19) and Upsample (7-9) as fastconv's `resize` (functional.resize: ONNX's semantics)."""
from __future__ import annotations

import numpy as np

from .. import functional as F


def resize(m, a, ins, outs, static, unsupported):
    x = ins[0][0]
    opset = m._graph["opset"]
    mode = a.get("mode", "nearest")
    if mode == "bilinear":  # Upsample-7's spelling
        mode = "linear"
    if mode not in ("nearest", "linear", "cubic"):
        raise unsupported(f"attribute 'mode': '{mode}' is not one of 'nearest', 'linear', 'cubic'")
    legacy = "scales" in a or len(ins) == 2 or opset < 11  # Upsample and Resize-10: (X, scales), asymmetric
    present = lambda i: len(ins) > i and ins[i][0] is not None and np.size(ins[i][0]) > 0  # noqa: E731
    if legacy:
        scales = a["scales"] if "scales" in a else static(ins[1], "scales")
        return [(F.resize(x, scale_factor=[float(s) for s in np.asarray(scales).reshape(-1)], mode=mode,
                          coordinate_transformation_mode="asymmetric", nearest_mode="floor"), False)]
    ctm = a.get("coordinate_transformation_mode", "half_pixel")
    roi = None
    if ctm == "tf_crop_and_resize":
        if not present(1):
            raise unsupported("input 'roi' is required by coordinate_transformation_mode 'tf_crop_and_resize'")
        roi = [float(v) for v in np.asarray(static(ins[1], "roi"), np.float32).reshape(-1)]
    scales = sizes = None
    if present(3):
        sizes = [int(v) for v in np.asarray(static(ins[3], "sizes")).reshape(-1)]
    elif present(2):
        scales = [float(v) for v in np.asarray(static(ins[2], "scales"), np.float32).reshape(-1)]
    else:
        raise unsupported("one of the inputs 'scales' and 'sizes' must be given")
    axes = a.get("axes")
    kw = dict(mode=mode, coordinate_transformation_mode=ctm, nearest_mode=a.get("nearest_mode", "round_prefer_floor"),
              cubic_coeff_a=float(a.get("cubic_coeff_a", -0.75)), exclude_outside=bool(a.get("exclude_outside", 0)),
              extrapolation_value=float(a.get("extrapolation_value", 0.0)), antialias=bool(a.get("antialias", 0)),
              roi=roi, axes=None if axes is None else [int(v) for v in axes])
    if sizes is not None:
        kw["keep_aspect_ratio_policy"] = a.get("keep_aspect_ratio_policy", "stretch")
    return [(F.resize(x, size=sizes, scale_factor=scales, **kw), False)]
