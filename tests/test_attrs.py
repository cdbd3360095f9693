"""Attribute names are checked against each op's declared list (issue 12): a misspelt or unknown attribute is a
ValueError naming the op, the name, the closest accepted name and the accepted list, eagerly (fc._C.run_op), in a
graph (Graph.add) and through the functional layer; correct calls are unaffected (vs PyTorch float64)."""
import re

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
from conftest import t64, torch

TF = torch.nn.functional
CONV2D = "conv2d accepts: dilation, groups, out_size, padding, pads, stride"


def _xw(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((2, 3, 9, 9)).astype(np.float32),
            rng.standard_normal((4, 3, 3, 3)).astype(np.float32))


def test_eager_misspelt_conv_attribute_names_op_name_suggestion_and_list():
    x, w = _xw()
    with pytest.raises(ValueError) as e:
        fc._C.run_op("conv2d", [x, w], {"strides": (2, 2)})
    assert str(e.value) == f"conv2d: unknown attribute 'strides' (did you mean 'stride'?); {CONV2D}"


def test_graph_misspelt_attribute_is_a_value_error_and_adds_nothing():
    g = fc._C.Graph()
    x = g.input("x", [2, 3, 9, 9])
    w = g.input("w", [4, 3, 3, 3])
    with pytest.raises(ValueError) as e:
        g.add("conv2d", [x, w], {"paddng": 1}, "features.0")
    assert str(e.value) == (f"in layer 'features.0': conv2d: unknown attribute 'paddng' (did you mean 'padding'?); "
                            f"{CONV2D}")
    with pytest.raises(ValueError, match=re.escape("max_pool2d: unknown attribute 'kernel' (did you mean "
                                                   "'kernel_size'?); max_pool2d accepts: ceil_mode, dilation, "
                                                   "kernel_size, padding, pads, stride")):
        g.add("max_pool2d", [x], {"kernel": 2})
    assert g.num_nodes == 0  # nothing was recorded for the failed calls
    (y,) = g.add("conv2d", [x, w], {"stride": 2})
    assert g.shape(y) == (2, 4, 4, 4)  # (9 - 3) // 2 + 1
    assert g.node(0)["attrs"] == {"stride": 2}


def test_unknown_name_without_a_close_match_lists_the_accepted_names():
    x = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError) as e:
        fc._C.run_op("softmax", [x], {"temperature": 2.0})
    assert str(e.value) == "softmax: unknown attribute 'temperature'; softmax accepts: dim"
    with pytest.raises(ValueError) as e:
        fc._C.run_op("relu", [x], {"inplace": True})
    assert str(e.value) == "relu: unknown attribute 'inplace'; relu takes no attributes"


def test_op_attrs_lists_the_declared_names():
    assert fc._C.op_attrs("conv2d") == ["dilation", "groups", "out_size", "padding", "pads", "stride"]
    assert fc._C.op_attrs("relu") == []
    for name in fc._C.op_names():
        names = fc._C.op_attrs(name)
        assert names == sorted(set(names)), name


def test_correct_strided_conv_matches_torch_eager_graph_and_functional():
    x, w = _xw(1)
    b = np.linspace(-1, 1, 4).astype(np.float32)
    want = TF.conv2d(t64(x), t64(w), t64(b), stride=2, padding=1).numpy()
    assert want.shape == (2, 4, 5, 5)
    (eager,) = fc._C.run_op("conv2d", [x, w, b], {"stride": (2, 2), "padding": 1})
    np.testing.assert_allclose(np.asarray(eager), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(np.asarray(F.conv2d(x, w, b, stride=2, padding=1)), want, rtol=1e-4, atol=1e-4)
    g = fc._C.Graph()
    xi, wi, bi = g.input("x", list(x.shape)), g.input("w", list(w.shape)), g.input("b", list(b.shape))
    (y,) = g.add("conv2d", [xi, wi, bi], {"stride": 2, "padding": 1})
    exe = fc._C.Executable(g, [y])
    (got,) = exe.call({xi: x, wi: w, bi: b}, [y])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("weighted", [False, True])
def test_functional_losses_pass_only_declared_optional_input_flags(weighted):
    """mse_loss has a weight but no pos_weight: the functional layer passes has_* flags only for given inputs."""
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((3, 4)).astype(np.float32), rng.standard_normal((3, 4)).astype(np.float32)
    wt = rng.random((3, 4)).astype(np.float32) + 0.5
    got = F.mse_loss(x, t, weight=wt if weighted else None)
    d2 = (t64(x) - t64(t)) ** 2
    want = (d2 * t64(wt)).sum() / t64(wt).sum() if weighted else d2.mean()
    np.testing.assert_allclose(float(np.asarray(got)), float(want), rtol=1e-5)
    pw = rng.random(4).astype(np.float32) + 0.5
    got = F.binary_cross_entropy_with_logits(x, (t > 0).astype(np.float32), pos_weight=pw)
    want = TF.binary_cross_entropy_with_logits(t64(x), t64((t > 0).astype(np.float32)), pos_weight=t64(pw))
    np.testing.assert_allclose(float(np.asarray(got)), float(want), rtol=1e-5)
