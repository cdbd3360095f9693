"""fastconv.onnx.export: every zoo model written as ONNX passes onnx.checker and runs in ONNX Runtime (CPU EP) with
the outputs fastconv computes (rel <= 1e-5), at the traced batch size and, with dynamic_batch, at another."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.models as M
from fastconv import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import rel_err  # noqa: E402


def _session(model_proto):
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    return ort.InferenceSession(model_proto.SerializeToString(), so, providers=["CPUExecutionProvider"])


def _randomize(model, seed: int = 0):
    """Running statistics away from (0, 1) so that a batch norm exported wrongly cannot pass."""
    rng = np.random.default_rng(seed)
    for k, v in model.state_dict().items():
        if k.endswith("running_var"):
            v[...] = rng.uniform(0.5, 2.0, v.shape)
        elif k.endswith("running_mean"):
            v[...] = rng.normal(0, 0.2, v.shape)
        elif k.endswith("bias") or (k.endswith("weight") and v.ndim == 1):
            v[...] = rng.normal(0, 0.2, v.shape) + (1.0 if k.endswith("weight") else 0.0)
    return model


ZOO = [
    ("lenet5", {}, (2, 1, 32, 32)),
    ("lenet5_modern", {}, (2, 1, 32, 32)),
    ("alexnet", dict(num_classes=10, lrn=True), (1, 3, 64, 64)),
    ("vgg11_bn", dict(num_classes=10, hidden=64, avgpool_size=1), (1, 3, 32, 32)),
    ("vgg16", dict(num_classes=10, hidden=64, avgpool_size=2), (1, 3, 64, 64)),
    ("googlenet", dict(num_classes=10), (1, 3, 64, 64)),
    ("resnet18", dict(num_classes=10), (1, 3, 64, 64)),
    ("resnet50", dict(num_classes=10), (1, 3, 32, 32)),
    ("fcn", dict(num_classes=5, variant="8s"), (1, 3, 64, 64)),
    ("unet", dict(num_classes=3, depth=3), (1, 1, 48, 40)),
    ("siamese_net", {}, (2, 1, 28, 28)),
    ("localization_net", {}, (1, 3, 64, 64)),
]


@pytest.mark.parametrize("name,kw,shape", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_round_trip_onnxruntime(name, kw, shape, tmp_path):
    fc.manual_seed(0)
    model = _randomize(M.get(name, **kw)).eval()
    has_bn = any(k.endswith("running_mean") for k in model.state_dict())
    for fold in ((False, True) if has_bn else (False,)):
        path = tmp_path / f"{name}_{fold}.onnx"
        proto = fc.onnx.export(model, shape, path, fold_bn=fold)
        onnx.checker.check_model(onnx.load(str(path)), full_check=True)
        if not fold:  # the initializers are the state_dict's arrays under its names
            sd = model.state_dict()
            for init in proto.graph.initializer:
                if init.name in sd:
                    np.testing.assert_array_equal(onnx.numpy_helper.to_array(init), sd[init.name])
            assert {i.name for i in proto.graph.initializer} & set(sd)
        else:
            assert not any(n.op_type == "BatchNormalization" for n in proto.graph.node)
        sess = _session(proto)
        for batch in (shape[0], shape[0] + 2):
            x = np.random.default_rng(batch).standard_normal((batch,) + shape[1:]).astype(np.float32)
            ref = fc.compile(model, x.shape).predict(x)
            ref = ref if isinstance(ref, tuple) else (ref,)
            got = sess.run(None, {"input": x})
            assert len(got) == len(ref)
            for g, r in zip(got, ref):
                assert g.shape == r.shape
                assert rel_err(g, r) <= 1e-5, (name, fold, batch, rel_err(g, r))


class _Ops(nn.Module):
    """The functional ops the zoo does not use, in one graph."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.ln = nn.LayerNorm([4, 8, 8])
        self.gn = nn.GroupNorm(2, 4)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        h = self.conv(x)
        a = F.leaky_relu(h, 0.2) + F.elu(h, 0.7) - F.gelu(h) * F.gelu(h, approximate="tanh")
        a = a + F.softplus(h) + F.softplus(h, beta=2.0) + F.hardtanh(h, -0.5, 0.5) + F.relu6(h)
        a = F.threshold(a, 0.1, -1.0) / (1.0 + F.sigmoid(h))
        a = self.gn(self.ln(a)) * 2.0 - 0.5
        p = F.avg_pool2d(a, 3, 2, 1, count_include_pad=False) + F.avg_pool2d(a, 2, 2, ceil_mode=True) + F.max_pool2d(a, 3, 2, 1)
        p = p + F.min_pool2d(a, 3, 2, 1)
        u = F.interpolate(p, scale_factor=2, mode="nearest") + F.interpolate(p, size=(8, 8), mode="bilinear")
        u = u + F.interpolate(p, size=(8, 8), mode="bilinear", align_corners=True)
        u = u + F.interpolate(p, scale_factor=2.0, mode="nearest-exact")
        y = F.permute(self.fc(u), (0, 1, 3, 2))  # linear over the last dimension of a 4-D input: MatMul + Add
        s = F.softmax(y, dim=1) + F.log_softmax(y, dim=-1)
        t = F.cat([F.adaptive_avg_pool2d(y, (3, 2)), F.adaptive_max_pool2d(y, (3, 4))], 3)
        return t.mean(dim=(2, 3)) + s.mean(dim=(2, 3)), F.global_avg_pool2d(u).sum(1)


def test_functional_ops_round_trip(tmp_path):
    fc.manual_seed(1)
    model = _randomize(_Ops()).eval()
    x = np.random.default_rng(3).standard_normal((2, 3, 8, 8)).astype(np.float32)
    proto = fc.onnx.export(model, x.shape, tmp_path / "ops.onnx")
    for batch in (2, 5):
        xb = np.random.default_rng(batch).standard_normal((batch, 3, 8, 8)).astype(np.float32)
        ref = fc.compile(model, xb.shape).predict(xb)
        for g, r in zip(_session(proto).run(None, {"input": xb}), ref):
            assert rel_err(g, r) <= 1e-5


def test_opset_20_gelu_and_21_group_norm(tmp_path):
    model = _randomize(_Ops()).eval()
    x = np.random.default_rng(4).standard_normal((2, 3, 8, 8)).astype(np.float32)
    proto = fc.onnx.export(model, x.shape, None, opset=21)
    ops = {n.op_type for n in proto.graph.node}
    assert {"Gelu", "GroupNormalization"} <= ops
    ref = fc.compile(model, x.shape).predict(x)
    for g, r in zip(_session(proto).run(None, {"input": x}), ref):
        assert rel_err(g, r) <= 1e-5


def test_onnx_padding_forms_round_trip():
    w1, w2 = np.random.default_rng(5).standard_normal((2, 3, 4, 3, 3)).astype(np.float32)

    class Pads(nn.Module):
        def forward(self, x):
            a = F.conv2d(x, w1, padding=((1, 1), (2, 0)))
            b = F.conv2d(x, w2, stride=2, padding="same_upper")
            c = F.max_pool2d(a, 3, 2, padding=((2, 0), (0, 1))) + F.avg_pool2d(a, 2, 2, padding="same_lower")
            c = c + F.avg_pool2d(a, 2, 2, padding=((1, 0), (0, 1)), count_include_pad=False)
            d = F.avg_pool2d(b, 2, 1, padding=((1, 0), (0, 1)), dilation=2)
            return c, d

    x = np.random.default_rng(6).standard_normal((2, 4, 9, 8)).astype(np.float32)
    with pytest.raises(fc.onnx.OnnxExportError, match="opset >= 19"):
        fc.onnx.export(Pads(), x.shape)
    proto = fc.onnx.export(Pads(), x.shape, opset=19)
    for g, r in zip(_session(proto).run(None, {"input": x}), fc.compile(Pads(), x.shape).predict(x)):
        assert g.shape == r.shape and rel_err(g, r) <= 1e-5


def test_resize_modes_round_trip():
    class Up(nn.Module):
        def forward(self, x):
            a = F.interpolate(x, size=(9, 7), mode="bicubic") + F.interpolate(x, scale_factor=1.5, mode="bicubic",
                                                                              align_corners=True)
            b = F.interpolate(x, size=(3, 2), mode="bilinear", antialias=True)
            c = F.interpolate(x, size=(3, 2), mode="bicubic", antialias=True)
            d = F.resize(x, size=(3, 2), axes=(2, 3), mode="cubic", coordinate_transformation_mode="half_pixel",
                         exclude_outside=True, cubic_coeff_a=-0.6)
            e = F.resize(x, scale_factor=(1.0, 1.0, 0.5, 2.0), mode="linear", coordinate_transformation_mode="asymmetric")
            return a, b + c + d, e

    x = np.random.default_rng(7).standard_normal((2, 3, 6, 5)).astype(np.float32)
    with pytest.raises(fc.onnx.OnnxExportError, match="opset >= 18"):
        fc.onnx.export(Up(), x.shape)
    proto = fc.onnx.export(Up(), x.shape, opset=18)
    for batch in (2, 3):
        xb = np.random.default_rng(batch).standard_normal((batch, 3, 6, 5)).astype(np.float32)
        for g, r in zip(_session(proto).run(None, {"input": xb}), fc.compile(Up(), xb.shape).predict(xb)):
            assert g.shape == r.shape and rel_err(g, r) <= 1e-5


def test_static_batch_and_errors():
    class Mix(nn.Module):
        def forward(self, x):
            return x.reshape(1, -1)  # [1, N*C*H*W]: mixes the batch with the other dims

    with pytest.raises(fc.onnx.OnnxExportError, match="batch"):
        fc.onnx.export(Mix(), (2, 3, 4, 4))
    proto = fc.onnx.export(Mix(), (2, 3, 4, 4), dynamic_batch=False)
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    x = np.arange(96, dtype=np.float32).reshape(2, 3, 4, 4)
    np.testing.assert_array_equal(_session(proto).run(None, {"input": x})[0], x.reshape(1, -1))

    class Nails(nn.Module):
        def forward(self, x):
            return F.interpolate(x, scale_factor=2, mode="bed_of_nails")

    with pytest.raises(fc.onnx.OnnxExportError, match=r"interpolate.*bed_of_nails"):
        fc.onnx.export(Nails(), (1, 1, 4, 4))
    with pytest.raises(ValueError, match="opset"):
        fc.onnx.export(Mix(), (2, 3), opset=7)
    with pytest.raises(TypeError, match="Module"):
        fc.onnx.export(lambda x: x, (2, 3))


def test_export_keeps_modes_and_import_fastconv_does_not_import_onnx():
    model = M.resnet18(num_classes=3).train()
    fc.onnx.export(model, (1, 3, 32, 32))
    assert all(m.training for m in model.modules())
    code = "import sys, fastconv; import fastconv.onnx; assert 'onnx' not in sys.modules, 'onnx imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
