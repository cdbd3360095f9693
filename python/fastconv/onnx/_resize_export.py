"""Export of fastconv's interpolate and resize nodes as ONNX Resize."""
from __future__ import annotations

import numpy as np

from ._errors import OnnxExportError

# torch.nn.functional.interpolate's modes as (ONNX mode, coordinate transformation, nearest_mode). 'half_pixel' is
# torch's align_corners=False mapping for every output size (ONNX's 'pytorch_half_pixel' differs at size 1).
_TORCH_MODES = {"nearest": ("nearest", "asymmetric", "floor"),
                "nearest-exact": ("nearest", "half_pixel", "round_prefer_ceil"),
                "linear": ("linear", "half_pixel", None), "bilinear": ("linear", "half_pixel", None),
                "trilinear": ("linear", "half_pixel", None), "bicubic": ("cubic", "half_pixel", None)}


def _sizes_input(b, n, x: str) -> str:
    out = b.shape(n.outputs[0])
    if b.batch_dim(n.inputs[0]):
        head = b.add("Slice", [b.add("Shape", [x], [b.tmp(n, "shape")], n), b.ints([0], b.tmp(n, "s0")),
                               b.ints([1], b.tmp(n, "s1"))], [b.tmp(n, "n")], n)
        return b.add("Concat", [head, b.ints(out[1:], b.tmp(n, "rest"))], [b.tmp(n, "sizes")], n, axis=0)
    return b.ints(out, b.tmp(n, "sizes"))


def export_resize(b, n) -> None:
    x = b.name(n.inputs[0])
    rank = len(b.shape(n.inputs[0]))
    a = n.attrs
    if n.op == "resize":  # fastconv's ONNX-semantics op: its attributes are Resize's
        mode, ctm = a.get("mode", "nearest"), a.get("coordinate_transformation_mode", "half_pixel")
        nearest = a.get("nearest_mode", "round_prefer_floor") if mode == "nearest" else None
        extra = dict(cubic_coeff_a=float(a.get("cubic_coeff_a", -0.75)) if mode == "cubic" else None,
                     exclude_outside=int(bool(a.get("exclude_outside", False))) or None,
                     extrapolation_value=float(a.get("extrapolation_value", 0.0))
                     if ctm == "tf_crop_and_resize" else None,
                     antialias=int(bool(a.get("antialias", False))) or None)
        if extra["antialias"] and b.opset < 18:
            raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: antialiased Resize needs opset >= 18")
        if ctm == "half_pixel_symmetric" and b.opset < 19:
            raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: half_pixel_symmetric needs opset >= 19")
        roi = a.get("roi") or [0.0] * rank + [1.0] * rank
        roi_name = b.const(np.asarray(roi, np.float32), b.tmp(n, "roi")) if ctm == "tf_crop_and_resize" else ""
        ins_shape = b.shape(n.inputs[0])
        sizes, scales = [int(v) for v in a["sizes"]], [float(v) for v in a["scales"]]
        by_size = all(i == 0 or abs(sc - o / i) <= 1e-12 * max(1.0, sc) for i, o, sc in zip(ins_shape, sizes, scales))
        if by_size:
            inputs = [x, roi_name, "", _sizes_input(b, n, x)]
        else:
            f32 = np.asarray(scales, np.float32)
            if [int(np.float64(v) * i) for v, i in zip(f32, ins_shape)] != sizes:
                raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: resize to {tuple(sizes)} with scales "
                                      f"{tuple(scales)}: ONNX Resize would give another size from float32 scales")
            inputs = [x, roi_name, b.const(f32, b.tmp(n, "scales"))]
        b.emit(n, "Resize", inputs, mode=mode, coordinate_transformation_mode=ctm, nearest_mode=nearest, **extra)
        return
    tmode = a.get("mode", "nearest")
    if tmode not in _TORCH_MODES:
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: interpolate mode {tmode!r} has no ONNX Resize "
                              f"equivalent")
    mode, ctm, nearest = _TORCH_MODES[tmode]
    if mode != "nearest" and a.get("align_corners"):
        ctm = "align_corners"
    extra = {}
    if mode == "cubic":
        extra["cubic_coeff_a"] = -0.75
    if a.get("antialias"):
        if b.opset < 18:
            raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: antialiased Resize needs opset >= 18")
        extra.update(antialias=1, exclude_outside=1)
        if mode == "cubic":
            extra["cubic_coeff_a"] = -0.5  # torch's antialiased bicubic is PIL's (a = -0.5)
    scale = a.get("scale_factor")
    if scale is not None and not a.get("recompute_scale_factor"):
        f = [float(scale)] * (rank - 2) if isinstance(scale, (int, float)) else [float(s) for s in scale]
        if len(f) == 1:
            f = f * (rank - 2)
        b.emit(n, "Resize", [x, "", b.const(np.asarray([1.0, 1.0] + f, np.float32), b.tmp(n, "scales"))],
               mode=mode, coordinate_transformation_mode=ctm, nearest_mode=nearest, **extra)
    else:
        b.emit(n, "Resize", [x, "", "", _sizes_input(b, n, x)], mode=mode, coordinate_transformation_mode=ctm,
               nearest_mode=nearest, **extra)
