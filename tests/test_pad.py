"""pad vs torch float64: every mode, any number of padded dims, negative pads (crop), forward and gradients, both
kernels ("rows" and "ref") in eager calls and compiled graphs, and bad-input errors."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional
MODES = ["constant", "reflect", "replicate", "circular"]


@st.composite
def pad_case(draw):
    mode = draw(st.sampled_from(MODES))
    rank = draw(st.integers(1, 5))
    shape = tuple(draw(st.integers(0 if mode == "constant" else 1, 6)) for _ in range(rank))
    if draw(st.booleans()) and rank > 1:  # an empty leading (batch) dim works in every mode
        shape = (0,) + shape[1:]
    m = draw(st.integers(0 if mode == "constant" else 1, min(rank, 3)))
    pads = []
    for i in range(m):
        n = shape[rank - 1 - i]
        hi = {"constant": 4, "reflect": n - 1, "replicate": 4, "circular": n}[mode]
        lo = -(n // 2)  # crop at most half from each side so the size stays >= 0
        b, a = draw(st.integers(lo, max(lo, hi))), draw(st.integers(lo, max(lo, hi)))
        assume(mode == "constant" or n + b + a > 0)
        if mode == "circular":  # torch crops first, then wraps at most once around what is kept
            kept = n - max(-b, 0) - max(-a, 0)
            assume(kept > 0 and b <= kept and a <= kept)
        pads += [b, a]
    value = draw(st.sampled_from([None, 0.0, -1.5])) if mode == "constant" else None
    return shape, tuple(pads), mode, value


def torch_pad(t, pads, mode, value):
    """torch's F.pad where it supports the case; else the same padding built from torch ops one dim at a time
    (torch's non-constant modes take 1-3 dims of 2-D to 5-D inputs only)."""
    if mode == "constant":
        return TF.pad(t, pads, value=0.0 if value is None else value)
    m = len(pads) // 2
    if t.dim() in (m + 1, m + 2) and m <= 3 and t.numel():
        return TF.pad(t, pads, mode=mode)
    for i in range(m):
        d = t.dim() - 1 - i
        lead = t.movedim(d, -1)
        flat = lead.reshape(-1, 1, lead.shape[-1])
        out = TF.pad(flat, pads[2 * i: 2 * i + 2], mode=mode)
        t = out.reshape(lead.shape[:-1] + (out.shape[-1],)).movedim(-1, d)
    return t


def check(shape, pads, mode, value, seed=0):
    x = randn(*shape, seed=seed)
    kw = {} if value is None else {"value": value}
    tx = t64(x, True)
    ref = torch_pad(tx, pads, mode, value)
    y = F.pad(x, pads, mode, **kw)
    assert y.shape == tuple(ref.shape)
    assert rel_err(y, ref) <= 1e-7
    if ref.numel() and x.size:
        w = randn(*ref.shape, seed=seed + 1)
        (ref * t64(w)).sum().backward()
        _, g = fc.value_and_grad(lambda a: (F.pad(a, pads, mode, **kw) * w).sum())(x)
        assert rel_err(g, tx.grad) <= 1e-6


@settings(max_examples=120)
@given(case=pad_case(), seed=st.integers(0, 999))
def test_pad_matches_torch(case, seed):
    shape, pads, mode, value = case
    check(shape, pads, mode, value, seed)


@pytest.mark.parametrize("algo_name", ["rows", "ref"])
@pytest.mark.parametrize("mode", MODES)
def test_each_kernel_on_its_own(mode, algo_name, monkeypatch):
    monkeypatch.setenv("FASTCONV_ALGO", f"pad={algo_name}")
    for shape, pads in [((2, 3, 5, 7), (2, 1, 3, 2)), ((3, 4, 6), (1, 3)), ((2, 2, 3, 4, 5), (1, 1, 2, 0, 0, 2)),
                        ((4, 9), (-2, 3)), ((4, 9), (3, -2)), ((1, 1, 5), (3, 2))]:
        check(shape, pads, mode, None, seed=len(pads))


def test_course_zero_padding_example():
    # "padding=1 around a 3x3 image gives a 5x5 map with a zero border"
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
    y = F.pad(x, (1, 1, 1, 1))
    assert y.shape == (1, 1, 5, 5) and y[0, 0, 0].tolist() == [0] * 5 and y[0, 0, 1:4, 1:4].tolist() == x[0, 0].tolist()
    assert F.pad(x, (1, 1, 1, 1), "reflect")[0, 0, 0].tolist() == [5, 4, 5, 6, 5]
    assert F.pad(x, (1, 1, 1, 1), "replicate")[0, 0, 0].tolist() == [1, 1, 2, 3, 3]
    assert F.pad(x, (1, 1, 1, 1), "circular")[0, 0, 0].tolist() == [9, 7, 8, 9, 7]


def test_nan_value_and_nan_input():
    x = np.array([[1.0, np.nan]], np.float32)
    y = F.pad(x, (1, 1), value=np.nan)
    assert np.isnan(y[0, [0, 2, 3]]).all() and y[0, 1] == 1.0
    assert np.isnan(F.pad(x, (1, 1), "reflect")[0, 0])  # reflects the NaN at index 1


def test_compiled_graph_uses_the_rows_kernel():
    x = randn(2, 3, 8, 8)
    t = fc.trace(lambda a: F.pad(a, (1, 2, 3, 4), "reflect"), x)
    assert "pad__rows" in t.exe.schedule()
    _, g = fc.value_and_grad(lambda a: F.pad(a, (1, 2, 3, 4), "reflect").sum())(x)
    tx = t64(x, True)
    TF.pad(tx, (1, 2, 3, 4), mode="reflect").sum().backward()
    assert rel_err(g, tx.grad) <= 1e-6


def test_errors():
    x = randn(1, 3, 4)
    with pytest.raises(ValueError, match=r"pad: argument 'pad' must have an even length .* got pad=\(1,\)"):
        F.pad(x, (1,))
    with pytest.raises(ValueError, match=r"pad: argument 'pad' pads 4 dimensions .* input has only 3 \(shape \[1, 3, 4\]\)"):
        F.pad(x, (1,) * 8)
    with pytest.raises(ValueError, match=r"pad: argument 'mode' must be 'constant', 'reflect', 'replicate' or "
                                         r"'circular', got 'zeros'"):
        F.pad(x, (1, 1), "zeros")
    with pytest.raises(ValueError, match=r"pad: padding mode 'reflect' doesn't take a 'value' argument"):
        F.pad(x, (1, 1), "reflect", 2.0)
    with pytest.raises(ValueError, match=r"pad: padding \(4, 0\) of dimension 2 must be less than its size 4 for mode "
                                         r"'reflect'"):
        F.pad(x, (4, 0), "reflect")
    with pytest.raises(ValueError, match=r"pad: padding \(5, 0\) of dimension 2 must be at most its size 4 for mode "
                                         r"'circular'"):
        F.pad(x, (5, 0), "circular")
    with pytest.raises(ValueError, match=r"pad: padding \(-3, -2\) of dimension 2 \(size 4\) would give a negative "
                                         r"size -1"):
        F.pad(x, (-3, -2))
    with pytest.raises(ValueError, match=r"pad: mode 'replicate' needs a non-empty dimension to pad, but dimension 2 "
                                         r"of input shape \[2, 3, 0\] is empty"):
        F.pad(np.zeros((2, 3, 0), np.float32), (1, 1), "replicate")
    with pytest.raises(ValueError, match=r"pad: padding \(-2, -2\) of dimension 2 \(size 4\) would leave it empty, "
                                         r"which mode 'replicate' does not allow"):
        F.pad(x, (-2, -2), "replicate")
    with pytest.raises(TypeError, match=r"pad: argument 'pad' must be a tuple of ints .* got int 1"):
        F.pad(x, 1)
    with pytest.raises(TypeError, match=r"pad: argument 'pad' must contain only ints, got \(1.5, 1\)"):
        F.pad(x, (1.5, 1))
    with pytest.raises(TypeError, match="pad: argument 'input' must be a floating-point array"):
        F.pad(np.zeros((2, 2), np.int64), (1, 1))
