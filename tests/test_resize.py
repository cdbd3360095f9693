"""resize (ONNX Resize semantics) and the interpolate modes that run on it: bicubic, trilinear and antialias vs torch
float64 (values and gradients); every coordinate transformation, nearest rounding mode, cubic coefficient,
exclude_outside, antialias and tf_crop_and_resize vs onnx's float64 reference and onnxruntime."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
_SETTINGS = dict(max_examples=30, deadline=None, derandomize=True, database=None)


def _check_torch(x, kw, tol=1e-5):
    tx = t64(x, True)
    ref = TF.interpolate(tx, **kw)
    out = F.interpolate(x, **kw)
    assert out.shape == tuple(ref.shape)
    assert rel_err(out, ref) <= tol, kw
    g = randn(*ref.shape, seed=5)
    (ref * t64(g)).sum().backward()
    _, gx = fc.value_and_grad(lambda a: (F.interpolate(a, **kw) * g).sum())(x)
    assert rel_err(gx, tx.grad) <= 1e-5, kw


@settings(**_SETTINGS)
@given(h=st.integers(1, 9), w=st.integers(1, 9), data=st.data())
def test_bicubic_matches_torch(h, w, data):
    x = randn(2, 3, h, w, seed=h * 10 + w)
    align = data.draw(st.sampled_from([None, False, True]))
    if data.draw(st.booleans()):
        kw = dict(size=(data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))))
    else:
        kw = dict(scale_factor=(data.draw(st.sampled_from([0.5, 0.7, 1.0, 1.5, 2.0, 3.0])),
                                data.draw(st.sampled_from([0.6, 1.0, 2.0, 2.5]))),
                  recompute_scale_factor=data.draw(st.sampled_from([None, True])))
        if any(int(np.floor(n * f)) == 0 for n, f in zip((h, w), kw["scale_factor"])):
            return
    _check_torch(x, dict(kw, mode="bicubic", align_corners=align))


@settings(**_SETTINGS)
@given(h=st.integers(2, 12), w=st.integers(2, 12), oh=st.integers(1, 12), ow=st.integers(1, 12),
       mode=st.sampled_from(["bilinear", "bicubic"]))
def test_antialias_matches_torch(h, w, oh, ow, mode):
    _check_torch(randn(1, 2, h, w, seed=h + w), dict(size=(oh, ow), mode=mode, antialias=True))


def test_antialias_scale_factor_and_trilinear_match_torch():
    x = randn(2, 3, 17, 11, seed=1)
    _check_torch(x, dict(scale_factor=0.3, mode="bilinear", antialias=True))
    _check_torch(x, dict(scale_factor=(0.5, 0.25), mode="bicubic", antialias=True))
    v = randn(1, 2, 3, 5, 4, seed=2)
    _check_torch(v, dict(scale_factor=2, mode="trilinear"))
    _check_torch(v, dict(size=(4, 3, 7), mode="trilinear", align_corners=True))
    with pytest.raises(ValueError, match="anti-alias option is restricted to bilinear and bicubic"):
        F.interpolate(x, scale_factor=0.5, mode="nearest", antialias=True)
    with pytest.raises(ValueError, match="mode 'trilinear' needs a 5-D input"):
        F.interpolate(x, scale_factor=2, mode="trilinear")


# ---- ONNX semantics vs onnxruntime -------------------------------------------------------------------------------
def _resize_model(x, attrs, scales=None, sizes=None, roi=None, axes=None):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper
    inits, names = [], ["x", "", "", ""]
    for k, (nm, v, dt) in enumerate([("roi", roi, np.float32), ("scales", scales, np.float32),
                                     ("sizes", sizes, np.int64)]):
        if v is not None:
            inits.append(numpy_helper.from_array(np.asarray(v, dt), nm))
            names[k + 1] = nm
    while names[-1] == "":
        names.pop()
    if axes is not None:
        attrs = dict(attrs, axes=list(axes))
    node = helper.make_node("Resize", names, ["y"], **attrs)
    g = helper.make_graph([node], "r", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 9
    return onnx, m


def _onnx_reference(x, attrs, **kw):
    """onnx's own NumPy (float64) implementation: the definition the backend node tests are generated from."""
    onnx, m = _resize_model(x, attrs, **kw)
    from onnx.reference import ReferenceEvaluator
    return ReferenceEvaluator(m).run(None, {"x": x})[0]


def _ort_resize(x, attrs, **kw):
    ort = pytest.importorskip("onnxruntime")
    _, m = _resize_model(x, attrs, **kw)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    return ort.InferenceSession(m.SerializeToString(), so, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


COORDS = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric"]
NEAREST = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


@pytest.mark.parametrize("coord", COORDS)
def test_resize_modes_match_onnx(coord):
    """Every mode against onnx's reference; linear and cubic at integer sizes against onnxruntime too (nearest
    rounding at exact ties, and align_corners with a scale whose product with the size is fractional, follow the
    reference's float64 arithmetic, where onnxruntime rounds in float32 or uses the integer size)."""
    x = randn(1, 2, 5, 7, seed=3)
    f32 = lambda v: None if v is None else tuple(float(np.float32(a)) for a in v)  # noqa: E731 (as ONNX holds them)
    for (scales, sizes), mode in itertools.product(
            [((1, 1, 1.6, 0.6), None), ((1, 1, 0.5, 2.0), None), (None, (1, 2, 8, 3)), (None, (1, 2, 3, 10))],
            ["nearest", "linear", "cubic"]):
        for extra in ([dict(nearest_mode=n) for n in NEAREST] if mode == "nearest" else
                      [{}, dict(antialias=1), dict(antialias=1, exclude_outside=1)] +
                      ([dict(exclude_outside=1), dict(cubic_coeff_a=-0.5)] if mode == "cubic" else [])):
            attrs = dict(mode=mode, coordinate_transformation_mode=coord, **extra)
            fkw = {k: (bool(v) if k in ("antialias", "exclude_outside") else v) for k, v in extra.items()}
            got = F.resize(x, size=sizes, scale_factor=f32(scales), mode=mode, coordinate_transformation_mode=coord,
                           **fkw)
            want = _onnx_reference(x, attrs, scales=scales, sizes=sizes)
            assert got.shape == want.shape, (attrs, scales, sizes)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=str((attrs, scales, sizes)))
            if mode != "nearest" and sizes is not None and not (extra.get("exclude_outside") and mode == "linear"
                                                                and not extra.get("antialias")):
                np.testing.assert_allclose(got, _ort_resize(x, attrs, sizes=sizes), rtol=1e-5, atol=1e-5,
                                           err_msg=str(("onnxruntime", attrs, sizes)))


def test_tf_crop_and_resize_axes_and_aspect_ratio_match_onnxruntime():
    x = randn(1, 1, 6, 5, seed=4)
    roi = [float(np.float32(v)) for v in (0.0, 0.0, 0.3, 0.2, 1.0, 1.0, 1.2, 0.8)]  # as ONNX holds them
    for mode in ("nearest", "linear", "cubic"):
        attrs = dict(mode=mode, coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-2.5)
        want = _onnx_reference(x, attrs, sizes=(1, 1, 4, 7), roi=roi)
        if mode != "nearest":  # (nearest: exact ties, which onnxruntime rounds in float32)
            np.testing.assert_allclose(_ort_resize(x, attrs, sizes=(1, 1, 4, 7), roi=roi), want, rtol=1e-5,
                                       atol=1e-5)
        got = F.resize(x, size=(1, 1, 4, 7), mode=mode, coordinate_transformation_mode="tf_crop_and_resize",
                       extrapolation_value=-2.5, roi=roi)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for policy in ("not_larger", "not_smaller"):
        want = _onnx_reference(x, dict(mode="linear", keep_aspect_ratio_policy=policy), sizes=(9, 4), axes=(3, 2))
        got = F.resize(x, size=(9, 4), axes=(3, 2), mode="linear", keep_aspect_ratio_policy=policy)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # every axis may be resized, the batch too
    want = _onnx_reference(x, dict(mode="nearest"), scales=(2.0, 3.0, 0.5, 1.0))
    np.testing.assert_allclose(F.resize(x, scale_factor=(2.0, 3.0, 0.5, 1.0)), want)


@pytest.mark.parametrize("mode,coord,extra", [("linear", "align_corners", {}), ("cubic", "half_pixel",
                                                                                dict(exclude_outside=True)),
                                              ("linear", "half_pixel", dict(antialias=True)),
                                              ("nearest", "tf_crop_and_resize", dict(roi=[0.1, 0.2, 0.9, 1.1]))])
def test_resize_backward_is_the_transpose(mode, coord, extra):
    """resize is linear in x: <d/dx sum(resize(x) * g), v> = <g, resize(v)> (the forward is checked above)."""
    x, v = randn(2, 3, 7, 6, seed=6), randn(2, 3, 7, 6, seed=7)
    kw = dict(size=(4, 9), axes=(2, 3), mode=mode, coordinate_transformation_mode=coord, **extra)
    g = randn(2, 3, 4, 9, seed=8)
    _, gx = fc.value_and_grad(lambda a: (F.resize(a, **kw) * g).sum())(x)
    av = np.asarray(F.resize(v, **kw), np.float64)
    if coord == "tf_crop_and_resize":  # the extrapolated outputs are constants
        av = av - np.asarray(F.resize(np.zeros_like(v), **kw), np.float64)
    want = float(np.sum(av * g))
    assert abs(float(np.sum(np.asarray(gx, np.float64) * v)) - want) <= 1e-5 * float(np.sum(np.abs(av * g)))


def test_resize_errors():
    x = randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="resize: argument 'mode' must be one of 'nearest', 'linear', 'cubic'"):
        F.resize(x, scale_factor=(1, 1, 2, 2), mode="area")
    with pytest.raises(ValueError, match="argument 'coordinate_transformation_mode' must be one of"):
        F.resize(x, scale_factor=(1, 1, 2, 2), coordinate_transformation_mode="corner")
    with pytest.raises(ValueError, match="antialias is only defined for modes 'linear' and 'cubic'"):
        F.resize(x, scale_factor=(1, 1, 0.5, 0.5), antialias=True)
    with pytest.raises(ValueError, match="scale_factor has 2 values for 4 axes"):
        F.resize(x, scale_factor=(2, 2))
    with pytest.raises(ValueError, match="give exactly one of size and scale_factor"):
        F.resize(x)
