"""fastconv.onnx.load: models written in torch (ResNet-18/50, VGG-11/16, GoogLeNet, a U-Net; torchvision's layouts,
built here, nothing downloaded) exported with torch.onnx.export and loaded into fastconv equal torch's float64
outputs (rel <= 1e-4) and onnxruntime's, train (the loss falls over a few steps) and save like any model; every zoo
model exported by fastconv.onnx.export loads back with the outputs fastconv computes (rel <= 1e-5); unsupported
ops and attributes are refused naming the node, the op and the attribute."""
from __future__ import annotations

import io

import numpy as np
import pytest

import fastconv as fc
import fastconv.models as M

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from conftest import rel_err, torch  # noqa: E402
from test_models_torch import TBasicBlock, TGoogLeNet, TResNet18, randomize_bn  # noqa: E402,F401
from test_onnx_export import ZOO, _randomize  # noqa: E402

from onnx import helper, TensorProto  # noqa: E402
import onnx.numpy_helper  # noqa: E402,F401

from conftest import randn, t64  # noqa: E402
import fastconv.functional as F  # noqa: E402

tnn, TF = torch.nn, torch.nn.functional
# torch.onnx's TorchScript exporter (the dynamo one needs onnxscript, which is not a dependency) warns that it is old
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ---- torch models not in test_models_torch ------------------------------------------------------------------------
class TBottleneck(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class TResNet50(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, 3)
        self.layer2 = self._make_layer(128, 4, 2)
        self.layer3 = self._make_layer(256, 6, 2)
        self.layer4 = self._make_layer(512, 3, 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(2048, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        ds = None
        if stride != 1 or self.inplanes != planes * 4:
            ds = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * 4, 1, stride, bias=False), tnn.BatchNorm2d(planes * 4))
        layers = [TBottleneck(self.inplanes, planes, stride, ds)]
        self.inplanes = planes * 4
        layers += [TBottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


_VGG = {11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
        16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]}


class TVGG(tnn.Module):
    """torchvision's VGG feature layers; a small classifier over a 1x1 average pool (32x32 inputs)."""

    def __init__(self, depth, num_classes=10, hidden=64):
        super().__init__()
        layers, c = [], 3
        for v in _VGG[depth]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU(inplace=True)]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.classifier = tnn.Sequential(tnn.Linear(512, hidden), tnn.ReLU(True), tnn.Dropout(),
                                         tnn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _double_conv(cin, cout):
    return tnn.Sequential(tnn.Conv2d(cin, cout, 3, padding=1, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU(True),
                          tnn.Conv2d(cout, cout, 3, padding=1, bias=False), tnn.BatchNorm2d(cout), tnn.ReLU(True))


class TUNet(tnn.Module):
    """A U-Net: max-pool encoder, transposed-convolution and bilinear decoders, skip connections by Concat."""

    def __init__(self, cin=1, classes=3, w=16):
        super().__init__()
        self.inc = _double_conv(cin, w)
        self.down1, self.down2 = _double_conv(w, 2 * w), _double_conv(2 * w, 4 * w)
        self.up1 = tnn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.dec1 = _double_conv(4 * w, 2 * w)
        self.dec2 = _double_conv(3 * w, w)
        self.outc = tnn.Conv2d(w, classes, 1)

    def forward(self, x):
        x1 = self.inc(x)
        x2 = self.down1(TF.max_pool2d(x1, 2))
        x3 = self.down2(TF.max_pool2d(x2, 2))
        y = self.dec1(torch.cat([self.up1(x3), x2], 1))
        y = TF.interpolate(y, scale_factor=2, mode="bilinear", align_corners=False)
        return self.outc(self.dec2(torch.cat([y, x1], 1)))


TORCH_NETS = [
    ("resnet18", lambda: TResNet18(10), (2, 3, 64, 64)),
    ("resnet50", lambda: TResNet50(10), (1, 3, 64, 64)),
    ("vgg11", lambda: TVGG(11), (2, 3, 32, 32)),
    ("vgg16", lambda: TVGG(16), (1, 3, 32, 32)),
    ("googlenet", lambda: TGoogLeNet(10), (1, 3, 64, 64)),
    ("unet", lambda: TUNet(), (2, 1, 32, 32)),
]


def _torch_export(model, shape, keep_bn: bool = False) -> bytes:
    f = io.BytesIO()
    kw = dict(do_constant_folding=False, training=torch.onnx.TrainingMode.PRESERVE) if keep_bn else {}
    torch.onnx.export(model.eval(), (torch.zeros(shape),), f, dynamo=False, opset_version=17, input_names=["input"],
                      output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}}, **kw)
    return f.getvalue()


def _ort(data: bytes, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    return ort.InferenceSession(data, so, providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]


def _build(name):
    build, shape = {n: (b, s) for n, b, s in TORCH_NETS}[name]
    torch.manual_seed(0)
    return randomize_bn(build()).eval(), shape


@pytest.mark.parametrize("name", [n for n, _, _ in TORCH_NETS])
def test_torch_exported_models_match_torch_and_train(name, tmp_path):
    model, shape = _build(name)
    variants = [("folded", _torch_export(model, shape))]
    if name in ("resnet18", "unet"):  # BatchNormalization nodes kept (no eval-mode folding into Conv)
        variants.append(("bn", _torch_export(model, shape, keep_bn=True)))
    x = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        want = model.double()(torch.tensor(x, dtype=torch.float64)).numpy()
    model.float()
    for kind, data in variants:
        if kind == "bn":
            assert any(n.op_type == "BatchNormalization" for n in onnx.load_from_string(data).graph.node)
        net = fc.onnx.load(data)
        got = fc.compile(net, shape).predict(x)
        assert got.shape == want.shape and rel_err(got, want) <= 1e-4, (kind, rel_err(got, want))
        assert rel_err(got, _ort(data, x)) <= 1e-4
        # another batch size: the exported batch dimension is symbolic, Shape-based flattening folds per batch
        xb = np.concatenate([x, x[:1]])
        assert rel_err(fc.compile(net, xb.shape).predict(xb), _ort(data, xb)) <= 1e-4
    # trains: initializers are parameters; the loss falls on a fixed batch
    net = fc.onnx.load(variants[-1][1]).train()
    n_params = sum(p.size for p in net.parameters())
    assert n_params == sum(p.numel() for p in model.parameters() if p.requires_grad) or variants[-1][0] == "folded"
    before = {k: np.array(v) for k, v in net.state_dict().items()}
    opt = fc.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
    c = fc.compile(net, shape, loss="cross_entropy", optimizer=opt)
    r = np.random.default_rng(3)
    out_shape = want.shape
    y = r.integers(0, out_shape[1], size=(shape[0],) + tuple(out_shape[2:]))
    losses = [float(c.train_step(x, y)) for _ in range(5)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0], losses
    assert any(not np.array_equal(before[k], v) for k, v in net.state_dict().items())
    # saves and loads like any model (the graph is the architecture, the tensors the weights)
    net.eval()
    path = tmp_path / f"{name}.safetensors"
    fc.save(net, path)
    again = fc.load(path)
    assert isinstance(again, fc.onnx.OnnxModule)
    np.testing.assert_array_equal(fc.compile(again, shape).predict(x), fc.compile(net, shape).predict(x))


def test_state_dict_keeps_torch_names():
    model, shape = _build("resnet18")
    net = fc.onnx.load(_torch_export(model, shape, keep_bn=True))
    sd = net.state_dict()
    for k in ("conv1.weight", "bn1.running_mean", "layer1.0.conv1.weight", "layer4.1.bn2.bias", "fc.weight"):
        assert k in sd, k
        np.testing.assert_array_equal(sd[k], model.state_dict()[k].numpy())
    assert not net.training  # loaded for inference; .train() for training


@pytest.mark.parametrize("name,kw,shape", ZOO, ids=[z[0] for z in ZOO])
def test_zoo_export_then_load(name, kw, shape):
    fc.manual_seed(0)
    model = _randomize(M.get(name, **kw)).eval()
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    want = fc.compile(model, shape).predict(x)
    got = fc.compile(fc.onnx.load(fc.onnx.export(model, shape)), shape).predict(x)
    want, got = (want, got) if isinstance(want, tuple) else ((want,), (got,))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and rel_err(g, w) <= 1e-5, (name, rel_err(g, w))


# ---- errors -------------------------------------------------------------------------------------------------------
def _model(nodes, inits=(), opset=17, shape=(1, 2, 6, 6)):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def test_unsupported_ops_and_attributes_name_node_op_attribute():
    from onnx import numpy_helper
    w = numpy_helper.from_array(np.ones((2, 2, 3, 3), np.float32), "w")
    cases = [
        (_model([helper.make_node("NonMaxSuppression", ["x"], ["y"], name="nms")]),
         r"node 'nms' \(NonMaxSuppression\): op 'NonMaxSuppression' is not supported"),
        (_model([helper.make_node("LpPool", ["x"], ["y"], name="lp", kernel_shape=[2, 2], foo=1)]),
         r"node 'lp' \(LpPool\): attribute 'foo' of LpPool is not supported"),
        (_model([helper.make_node("Conv", ["x", "w"], ["y"], name="c1", kernel_shape=[3, 3], foo=1)], [w]),
         r"node 'c1' \(Conv\): attribute 'foo' of Conv is not supported"),
        (_model([helper.make_node("Relu", ["x"], ["y"], name="r", domain="com.example")]),
         r"node 'r' \(Relu\): domain 'com.example' is not supported"),
        (_model([helper.make_node("Relu", ["x"], ["y"])], opset=5), r"opset 5 is not supported"),
    ]
    for m, msg in cases:
        with pytest.raises(fc.onnx.OnnxImportError, match=msg):
            fc.onnx.load(m.SerializeToString())
    # attribute values that fastconv cannot express surface when the graph is built, naming the node
    net = fc.onnx.load(_model([helper.make_node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2],
                                                storage_order=2)]))
    with pytest.raises(fc.onnx.OnnxImportError, match=r"node 'mp' \(MaxPool\): attribute 'storage_order'"):
        fc.compile(net, (1, 2, 6, 6))
    net = fc.onnx.load(_model([helper.make_node("Pad", ["x", "pads"], ["y"], name="pd", mode="mirror")],
                              [onnx.numpy_helper.from_array(np.zeros(8, np.int64), "pads")]))
    with pytest.raises(fc.onnx.OnnxImportError, match=r"node 'pd' \(Pad\): attribute 'mode': 'mirror'"):
        fc.compile(net, (1, 2, 6, 6))


def test_damaged_file(tmp_path):
    p = tmp_path / "bad.onnx"
    p.write_bytes(b"\xff\xfe not a protobuf \x00" * 7)
    with pytest.raises(fc.onnx.OnnxImportError, match="is not a readable ONNX model"):
        fc.onnx.load(p)
    with pytest.raises(FileNotFoundError):
        fc.onnx.load(tmp_path / "missing.onnx")


def test_shape_folding_and_constants():
    """torch's dynamic flatten (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) and Constant nodes fold while
    tracing; a Constant feeding Mul stays a constant (not a parameter)."""
    from onnx import numpy_helper
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Constant", [], ["i0"], value=numpy_helper.from_array(np.array(0, np.int64))),
             helper.make_node("Gather", ["s", "i0"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "m1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["x", "shape"], ["f"]),
             helper.make_node("Constant", [], ["half"], value_float=0.5),
             helper.make_node("Mul", ["f", "half"], ["y"])]
    m = _model(nodes, [numpy_helper.from_array(np.array([0], np.int64), "ax"),
                       numpy_helper.from_array(np.array([-1], np.int64), "m1")], shape=(None, 2, 6, 6))
    net = fc.onnx.load(m)
    assert not list(net.parameters())
    x = np.random.default_rng(0).standard_normal((3, 2, 6, 6)).astype(np.float32)
    np.testing.assert_allclose(fc.compile(net, x.shape).predict(x), x.reshape(3, -1) * 0.5, rtol=1e-6)


def test_saved_description_is_checked_before_anything_is_built():
    """A model file's OnnxModule description is data: an op outside the table or an absurd tensor shape is refused
    by fastconv.load's architecture check, before any tensor is allocated."""
    import copy
    net = fc.onnx.load(_model([helper.make_node("Relu", ["x"], ["y"], name="r")]))
    spec = fc.io.architecture(net)
    assert fc.io.build_from_architecture(copy.deepcopy(spec))(np.ones((1, 2, 6, 6), np.float32)).shape == (1, 2, 6, 6)
    evil = copy.deepcopy(spec)
    evil["args"][0]["__dict__"][3][1][0][0] = "Exec"  # nodes[0][0], the op type
    with pytest.raises(ValueError, match="names op 'Exec', which fastconv.onnx does not support"):
        fc.io.build_from_architecture(evil)
    huge = copy.deepcopy(spec)
    huge["args"][0]["__dict__"][6][1].append(["w", [2 ** 40, 2 ** 40], "float32"])  # static tensors
    with pytest.raises(ValueError):
        fc.io.build_from_architecture(huge, max_elements=100)


def test_zero_pad_folds_into_conv_and_avg_pool():
    """torch's F.pad before a convolution (and before an average pool counting the pads) is exported as Pad; it
    folds into the reader's pads. Other Pads run as fastconv.functional.pad."""
    class P(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv = tnn.Conv2d(2, 3, 3)

        def forward(self, x):
            y = self.conv(TF.pad(x, (1, 2, 0, 1)))
            return TF.avg_pool2d(TF.pad(y, (1, 0, 1, 0)), 2, count_include_pad=True)

    torch.manual_seed(0)
    model = P().eval()
    data = _torch_export(model, (2, 2, 7, 6))
    assert any(n.op_type == "Pad" for n in onnx.load_from_string(data).graph.node)
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6)).astype(np.float32)
    with torch.no_grad():
        want = model.double()(torch.tensor(x, dtype=torch.float64)).numpy()
    got = fc.compile(fc.onnx.load(data), x.shape).predict(x)
    assert got.shape == want.shape and rel_err(got, want) <= 1e-5

    class Q(tnn.Module):
        def forward(self, x):
            return TF.relu(TF.pad(x, (1, 1, 1, 1), value=2.0))

    data = _torch_export(Q(), (1, 2, 4, 4))
    net = fc.onnx.load(data)
    assert [n[0] for n in net._graph["nodes"]].count("Pad") == 1  # not folded: it pads with 2.0
    x = randn(1, 2, 4, 4, seed=3)
    assert rel_err(fc.compile(net, x.shape).predict(x), TF.relu(TF.pad(t64(x), (1, 1, 1, 1), value=2.0))) <= 1e-6


@pytest.mark.parametrize("mode", ["reflect", "replicate", "constant"])
def test_torch_pad_modes_run(mode):
    """torch's F.pad modes export as Pad reflect / edge / constant (with crops: negative pads); loaded and
    compiled they equal torch in float64, at a second batch size too."""
    class P(tnn.Module):
        def forward(self, x):
            return TF.pad(x, (2, 1, 1, 3), mode=mode) if mode != "constant" else TF.pad(x, (2, -1, 1, 3), value=-.5)

    data = _torch_export(P(), (2, 3, 5, 6))
    # (torch writes circular padding as Slice + Concat of data; ONNX's wrap mode is replayed in test_onnx_node_cases)
    assert [n.op_type for n in onnx.load_from_string(data).graph.node].count("Pad") == 1
    net = fc.onnx.load(data)
    for n in (2, 3):
        x = randn(n, 3, 5, 6, seed=n)
        want = P()(t64(x))
        assert rel_err(fc.compile(net, x.shape).predict(x), want) <= 1e-6


def _ort_all(model, *xs):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {i.name: x for i, x in zip(sess.get_inputs(), xs)})


def _graph(nodes, ins, outs, inits=(), opset=18):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in ins],
                          [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outs],
                          initializer=list(inits))
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


@pytest.mark.parametrize("p,attrs", [(2, dict(kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[2, 1])),
                                     (3, dict(kernel_shape=[2, 2], dilations=[2, 1])),
                                     (1, dict(kernel_shape=[3], strides=[2], auto_pad="SAME_UPPER")),
                                     (2, dict(kernel_shape=[2, 2, 2]))])
def test_lp_pool_compiled_equals_onnxruntime(p, attrs):
    nd = len(attrs["kernel_shape"])
    shape = (2, 3) + (7, 6, 5)[:nd]
    m = _graph([helper.make_node("LpPool", ["x"], ["y"], p=p, **attrs)], [("x", shape)], ["y"])
    x = randn(*shape, seed=p)
    want = _ort_all(m, x)[0]
    net = fc.onnx.load(m)
    assert rel_err(fc.compile(net, shape).predict(x), want) <= 1e-5
    assert rel_err(net(x), want) <= 1e-5


def test_batched_matmul_and_layer_norm_outputs_compile():
    """MatMul of two data operands (a @ a^T, batched) and of a batched weight, and LayerNormalization's Mean and
    InvStdDev, equal onnxruntime eagerly and (the normalised output) compiled; the batched product's gradient
    equals torch's."""
    w = onnx.numpy_helper.from_array(randn(4, 5, 3, seed=9), "w")
    sc = onnx.numpy_helper.from_array(randn(6, 6, seed=4), "s")
    nodes = [helper.make_node("Transpose", ["a"], ["at"], perm=[0, 1, 3, 2]),
             helper.make_node("MatMul", ["a", "at"], ["aa"]),
             helper.make_node("MatMul", ["a", "w"], ["aw"]),
             helper.make_node("LayerNormalization", ["aa", "s"], ["ln", "mu", "isd"], axis=-2)]
    a = randn(2, 4, 6, 5, seed=1)
    for outs in (["ln", "mu", "isd", "aw"], ["ln"], ["aw"]):
        m = _graph(nodes, [("a", a.shape)], outs, [w, sc], opset=17)
        want = _ort_all(m, a)
        net = fc.onnx.load(m)
        got = net(a)
        got = got if isinstance(got, tuple) else (got,)
        for g, e in zip(got, want):
            assert g.shape == e.shape and rel_err(g, e) <= 1e-5
        if len(outs) == 1:
            assert rel_err(fc.compile(net, a.shape).predict(a), want[0]) <= 1e-5
    from fastconv.onnx._import_ops import matmul  # the data-path composition, differentiated by fastconv

    def mm(x, y):
        return matmul(None, {}, [(x, False), (y, False)], [""])[0][0]

    ta = t64(a, True)
    torch.matmul(ta, ta.transpose(2, 3)).pow(2).sum().backward()
    _, ga = fc.value_and_grad(lambda v: F.sum(F.pow(mm(v, F.permute(v, (0, 1, 3, 2))), 2)))(a)
    assert rel_err(ga, ta.grad) <= 1e-5


def test_lp_pool_model_exports_as_pow_and_round_trips():
    """nn.LPPool2d (pow, average pool, pow) exports with Pow nodes; onnxruntime and fastconv.onnx.load run the file
    with torch's values."""
    net = fc.nn.Sequential(fc.nn.LPPool2d(3, 2, 1), fc.nn.LPPool2d(2, (2, 3)))
    data = fc.onnx.export(net, (2, 3, 8, 9)).SerializeToString()
    assert [n.op_type for n in onnx.load_from_string(data).graph.node].count("Pow") == 4
    x = np.abs(randn(2, 3, 8, 9, seed=5)) + 0.1
    want = TF.lp_pool2d(TF.lp_pool2d(t64(x), 3, 2, 1), 2, (2, 3))
    assert rel_err(_ort(data, x), want) <= 1e-5
    assert rel_err(fc.compile(fc.onnx.load(data), x.shape).predict(x), want) <= 1e-5


def test_dropout_mask_outputs():
    """Dropout's mask: all true where nothing drops (inference, or ratio 0 in training); in training, eagerly, the
    kept positions of the same draw (y = x / (1 - ratio) there, 0 elsewhere); tracing a training mask is refused
    naming the node."""
    ratio = onnx.numpy_helper.from_array(np.array(0.25, np.float32), "r")
    on = onnx.numpy_helper.from_array(np.array(True), "t")
    x = randn(4, 50, seed=6)
    m = _graph([helper.make_node("Dropout", ["x"], ["y", "mask"], name="d")], [("x", x.shape)], ["y", "mask"])
    y, mask = fc.onnx.load(m)(x)
    assert mask.dtype == np.bool_ and mask.all() and np.array_equal(y, x)
    m = _graph([helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], name="d")], [("x", x.shape)],
               ["y", "mask"], [ratio, on])
    net = fc.onnx.load(m)
    y, mask = net(x)
    assert mask.dtype == np.bool_ and 0.6 < mask.mean() < 0.9
    np.testing.assert_allclose(y, np.where(mask, x / 0.75, 0.0), rtol=1e-6)
    m1 = _graph([helper.make_node("Dropout", ["x", "r", "t"], ["y", "mask"], name="d")], [("x", x.shape)], ["mask"],
                [ratio, on])
    with pytest.raises(fc.onnx.OnnxImportError, match=r"node 'd' \(Dropout\): attribute 'mask'"):
        fc.compile(fc.onnx.load(m1), x.shape)


@pytest.mark.parametrize("nd", [1, 3])
def test_max_pool_unpool_1d_3d_equal_torch(nd):
    """MaxPool (indices read by MaxUnpool only: per plane, as torch) and MaxUnpool in 1-D and 3-D equal torch's
    max_pool / max_unpool in float64."""
    shape = (2, 3) + (9, 6, 8)[:nd]
    k = [2] * nd
    m = _graph([helper.make_node("MaxPool", ["x"], ["y", "i"], kernel_shape=k, strides=k),
                helper.make_node("MaxUnpool", ["y", "i"], ["z"], kernel_shape=k, strides=k)],
               [("x", shape)], ["z"])
    x = randn(*shape, seed=nd)
    pool, unpool = getattr(TF, f"max_pool{nd}d"), getattr(TF, f"max_unpool{nd}d")
    y, i = pool(t64(x), 2, 2, return_indices=True)
    want = unpool(y, i, 2, 2)
    net = fc.onnx.load(m)
    assert rel_err(net(x), want) <= 1e-7
    assert rel_err(fc.compile(net, shape).predict(x), want) <= 1e-7


def test_batch_norm_node_in_training_mode_updates_stats_with_the_biased_variance():
    # ONNX: running_var = momentum * var + (1 - momentum) * biased batch variance, also when the node does not
    # output the statistics (then the model's buffers are updated in place)
    rng = np.random.default_rng(12)
    x = rng.standard_normal((4, 3, 2, 2)).astype(np.float32)
    inits = [onnx.numpy_helper.from_array(v, n) for n, v in
             (("s", np.ones(3, np.float32)), ("b", np.zeros(3, np.float32)), ("m", np.zeros(3, np.float32)),
              ("v", np.ones(3, np.float32)))]
    node = helper.make_node("BatchNormalization", ["x", "s", "b", "m", "v"], ["y"], momentum=0.8, training_mode=1)
    g = helper.make_graph([node], "bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 3, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4, 3, 2, 2])], inits)
    model = fc.onnx.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 15)]))
    model(x)
    xs = x.astype(np.float64).transpose(1, 0, 2, 3).reshape(3, -1)
    buffers = dict(model.named_buffers())
    var = next(v for k, v in buffers.items() if k.endswith("v"))
    np.testing.assert_allclose(var, 0.8 + 0.2 * xs.var(1), rtol=1e-6)  # ddof=0: biased
