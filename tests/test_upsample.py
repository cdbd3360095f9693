"""interpolate / upsample against PyTorch float64 (forward and gradients), bed_of_nails against NumPy, errors."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional


def bed_of_nails_torch(t, fh, fw):
    """Independent reference: zeros with the input at the top-left of each fh x fw block (differentiable)."""
    out = t.new_zeros(t.shape[:-1] + (t.shape[-1] * fw,)) if t.dim() == 3 else \
        t.new_zeros(t.shape[:-2] + (t.shape[-2] * fh, t.shape[-1] * fw))
    if t.dim() == 3:
        out[..., ::fw] = t
    else:
        out[..., ::fh, ::fw] = t
    return out


def grads_match(fn, tfn, x, seed, tol):
    tx = t64(x, True)
    ref = tfn(tx)
    w = randn(*ref.shape, seed=seed + 1)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda a: (fn(a) * w).sum())(x)
    assert rel_err(g, tx.grad) <= tol


# ------------------------------------------------------------------------------------------------ course examples

def test_course_upsampling_kinds_on_a_2x2_map():
    # seed 004 "Upsample CNN: Techniques": nearest neighbours, bilinear, bed of nails, max-unpooling of a 2x2 map
    x = np.array([[1, 2], [3, 4]], np.float32)[None, None]
    near = F.interpolate(x, scale_factor=2, mode="nearest")
    assert near[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
    assert rel_err(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False),
                   TF.interpolate(t64(x), scale_factor=2, mode="bilinear", align_corners=False)) <= 1e-7
    # align_corners=True keeps the corners and interpolates linearly in between (1, 1+1/3, 1+2/3, 2 on the top row)
    ac = F.upsample_bilinear(x, scale_factor=2)
    np.testing.assert_allclose(ac[0, 0, 0], [1, 4 / 3, 5 / 3, 2], rtol=1e-6)
    np.testing.assert_allclose(ac[0, 0, :, 0], [1, 5 / 3, 7 / 3, 3], rtol=1e-6)
    nails = F.interpolate(x, scale_factor=2, mode="bed_of_nails")
    assert nails[0, 0].tolist() == [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]]


def test_resnet_style_resize_64_to_224():
    x = randn(2, 3, 64, 64, seed=3)
    for ac in (False, True):
        y = F.interpolate(x, size=224, mode="bilinear", align_corners=ac)
        assert y.shape == (2, 3, 224, 224)
        assert rel_err(y, TF.interpolate(t64(x), size=224, mode="bilinear", align_corners=ac)) <= 1e-5
    y = F.interpolate(x, size=(224, 100))
    assert rel_err(y, TF.interpolate(t64(x), size=(224, 100))) == 0.0


# ------------------------------------------------------------------------------------------------ hypothesis

SCALES = [0.3, 0.5, 0.75, 1.0, 1.5, 1.7, 2.0, 2.5, 3.0, 4.0]


@st.composite
def up_cfg(draw):
    nd = draw(st.sampled_from([1, 2]))
    mode = draw(st.sampled_from(["nearest", "nearest-exact", "linear", "bed_of_nails"]))
    if mode == "linear" and nd == 2:
        mode = "bilinear"
    lead = draw(st.sampled_from([(1, 1), (2, 3), (0, 2)]))
    insz = tuple(draw(st.integers(1, 13)) for _ in range(nd))
    kw = dict(mode=mode)
    if mode == "bed_of_nails":
        f = tuple(draw(st.integers(1, 4)) for _ in range(nd))
        if draw(st.booleans()):
            kw["scale_factor"] = f if draw(st.booleans()) else f[0]
        else:
            kw["size"] = tuple(i * fi for i, fi in zip(insz, f))
    elif draw(st.booleans()):
        kw["size"] = tuple(draw(st.integers(1, 30)) for _ in range(nd))
        if draw(st.booleans()):
            kw["size"] = kw["size"][0]
    else:
        sc = tuple(draw(st.sampled_from(SCALES)) for _ in range(nd))
        kw["scale_factor"] = sc if draw(st.booleans()) else sc[0]
        kw["recompute_scale_factor"] = draw(st.sampled_from([None, False, True]))
    if "linear" in mode:
        kw["align_corners"] = draw(st.sampled_from([None, False, True]))
    return lead + insz, kw, draw(st.integers(0, 999))


@settings(max_examples=120, deadline=None)
@given(up_cfg(), st.sampled_from(["ref", "tables"]))
def test_interpolate_matches_torch(cfg, algo):
    os.environ["FASTCONV_ALGO"] = f"upsample={algo}"  # each kernel path on its own
    try:
        check_interpolate(*cfg)
    finally:
        del os.environ["FASTCONV_ALGO"]


def check_interpolate(shape, kw, seed):
    x = randn(*shape, seed=seed)
    if kw["mode"] == "bed_of_nails":
        insz = shape[2:]
        if "size" in kw:
            f = [o // i for o, i in zip(kw["size"], insz)]
        else:
            sf = kw["scale_factor"]
            f = list(sf) if isinstance(sf, tuple) else [sf] * len(insz)
        fh, fw = (f + [1])[:2] if len(f) == 2 else (1, f[0])
        tfn = lambda t: bed_of_nails_torch(t, fh, fw)  # noqa: E731
    else:
        tfn = lambda t: TF.interpolate(t, **kw)  # noqa: E731
    try:
        ref = tfn(t64(x))
    except (RuntimeError, ValueError):  # e.g. a downscale to size 0: we must refuse it too
        with pytest.raises(ValueError, match="interpolate: "):
            F.interpolate(x, **kw)
        return
    y = F.interpolate(x, **kw)
    exact = kw["mode"] in ("nearest", "nearest-exact", "bed_of_nails")
    assert rel_err(y, ref) <= (0.0 if exact else 1e-5)
    if x.size:
        grads_match(lambda a: F.interpolate(a, **kw), tfn, x, seed, 1e-5)


def test_aliases_and_area_mode():
    x = randn(1, 2, 9, 7, seed=2)
    assert rel_err(F.upsample(x, size=(4, 5), mode="bilinear"), TF.interpolate(t64(x), size=(4, 5), mode="bilinear")) \
        <= 1e-6
    assert rel_err(F.upsample_nearest(x, scale_factor=3), TF.interpolate(t64(x), scale_factor=3)) == 0.0
    assert rel_err(F.upsample_bilinear(x, size=13),
                   TF.interpolate(t64(x), size=13, mode="bilinear", align_corners=True)) <= 1e-6
    for kw in (dict(size=(4, 5)), dict(scale_factor=0.6)):
        assert rel_err(F.interpolate(x, mode="area", **kw), TF.interpolate(t64(x), mode="area", **kw)) <= 1e-6
        grads_match(lambda a: F.interpolate(a, mode="area", **kw), lambda t: TF.interpolate(t, mode="area", **kw),
                    x, 5, 1e-6)
    x3 = randn(2, 3, 11, seed=4)
    assert rel_err(F.interpolate(x3, size=4, mode="area"), TF.interpolate(t64(x3), size=4, mode="area")) <= 1e-6
    grads_match(lambda a: F.interpolate(a, size=4, mode="area"), lambda t: TF.interpolate(t, size=4, mode="area"),
                x3, 6, 1e-6)


# ------------------------------------------------------------------------------------------------ errors

def test_unknown_upsample_algo_is_rejected(monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", "upsample=fast")
    with pytest.raises(ValueError, match=r"'upsample=fast': no upsample kernel is called 'fast' \(upsample "
                                         r"algorithms: ref, tables\)"):
        F.interpolate(randn(1, 1, 2, 2), scale_factor=2)


X4 = np.zeros((1, 1, 4, 4), np.float32)


@pytest.mark.parametrize("kw,kind,msg", [
    (dict(size=3, scale_factor=2), ValueError, "interpolate: only one of size or scale_factor should be defined"),
    (dict(), ValueError, "interpolate: either size or scale_factor should be defined"),
    (dict(size=8, align_corners=True), ValueError,
     "interpolate: align_corners option can only be set with the interpolating modes"),
    (dict(size=8, mode="cubic"), ValueError, "interpolate: argument 'mode' must be one of .* got 'cubic'"),
    (dict(size=8, mode="trilinear"), ValueError, "interpolate: mode 'trilinear' needs a 5-D input"),
    (dict(size=8, mode="linear"), ValueError, r"interpolate: mode 'linear' needs a 3-D input \[N, C, W\], got 4-D"),
    (dict(scale_factor=1.5, mode="bed_of_nails"), ValueError,
     r"interpolate: mode 'bed_of_nails' needs integer scale factors, got \(1.5,\)"),
    (dict(size=(8, 7), mode="bed_of_nails"), ValueError,
     r"interpolate: mode 'bed_of_nails' needs an output size that is an integer multiple of the input size, "
     r"got size \(8, 7\) for input \[4, 4\]"),
    (dict(scale_factor=0.2), ValueError, r"interpolate: output size would be \(0, 0\) for input \[4, 4\]"),
    (dict(size=(0, 3)), ValueError, r"interpolate: output size would be \(0, 3\)"),
    (dict(scale_factor=-2.0), ValueError, r"interpolate: argument 'scale_factor' must be positive, got \(-2,\)"),
    (dict(size=(2, 3, 4)), ValueError, "interpolate: input and output must have the same number of spatial dim"),
    (dict(size=8, recompute_scale_factor=True), ValueError,
     "interpolate: recompute_scale_factor is not meaningful with an explicit size"),
    (dict(size=8, mode="nearest", antialias=True), ValueError,
     "interpolate: anti-alias option is restricted to bilinear and bicubic modes"),
])
def test_interpolate_errors(kw, kind, msg):
    with pytest.raises(kind, match=msg):
        F.interpolate(X4, **kw)


def test_interpolate_rank_errors():
    with pytest.raises(ValueError, match=r"interpolate: mode 'bilinear' needs a 4-D input \[N, C, H, W\], got 3-D"):
        F.interpolate(np.zeros((1, 2, 5), np.float32), size=8, mode="bilinear")
    with pytest.raises(ValueError, match=r"interpolate: expected a 3-D \[N, C, W\] or 4-D \[N, C, H, W\] input, got 5-D"):
        F.interpolate(np.zeros((1, 1, 2, 2, 2), np.float32), size=4)
    with pytest.raises(TypeError, match="interpolate: argument 'input' must be a floating-point array"):
        F.interpolate(np.zeros((1, 1, 2, 2), np.int64), size=4)
