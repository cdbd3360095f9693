"""fastconv.load on hostile files: no code runs (classes come from a registry, nothing is imported), every field of
the architecture is checked with a ValueError naming the file and the field, and a description asking for more
parameters than the file's tensors hold fails before anything is allocated."""
from __future__ import annotations

import json
import os
import struct
import sys
import textwrap

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
from fastconv.io import load_safetensors, save_safetensors


def write_arch(path, arch, tensors=None, raw_arch: str | None = None):
    """A file with this architecture and, by default, enough tensor elements that the parameter budget is not what
    fails (so the field under test is)."""
    meta = {"format": "fastconv", "architecture": raw_arch if raw_arch is not None else json.dumps(arch)}
    save_safetensors({"pad": np.zeros(1000, np.float32)} if tensors is None else tensors, path, meta)
    return path


def test_a_file_naming_a_module_on_sys_path_never_imports_it(tmp_path, monkeypatch):
    # A module in the working directory (a notebook's cwd is on sys.path): importing it would write the marker.
    marker = tmp_path / "imported.txt"
    (tmp_path / "evil_fc_module.py").write_text(textwrap.dedent(f"""
        open({str(marker)!r}, "w").write("ran")
        import fastconv.nn as nn
        class Net(nn.Module):
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("evil_fc_module:Net", "this:Nothing", "os:system", "fastconv.io:load"):
        p = write_arch(tmp_path / "m.safetensors", {"class": name, "args": [], "kwargs": []})
        with pytest.raises(ValueError) as e:
            fc.load(p)
        msg = str(e.value)
        assert str(p) in msg and "architecture.class" in msg and "not a registered" in msg, msg
    assert not marker.exists()
    assert "evil_fc_module" not in sys.modules and "this" not in sys.modules


def test_every_zoo_model_and_layer_saved_today_still_loads(tmp_path):
    fc.manual_seed(0)
    models = [fc.models.lenet5(), fc.models.resnet18(num_classes=3, shortcut="A"), fc.models.unet(depth=2, base=4),
              fc.models.vgg11_bn(num_classes=2, hidden=8, avgpool_size=1), fc.models.siamese_net(8, base=4),
              fc.models.TripletNet(fc.models.siamese_net(4, base=2)), fc.models.fcn(variant="8s", base=2),
              fc.models.googlenet(num_classes=3), fc.models.alexnet(small_input=True, num_classes=4),
              fc.models.localization_net(base=4),
              nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"), nn.BatchNorm2d(2, momentum=None), nn.ReLU(),
                            nn.Dropout2d(0.25), nn.ModuleList([nn.Identity()]), nn.MaxPool2d(2, ceil_mode=True),
                            nn.Upsample(scale_factor=2), nn.GroupNorm(1, 2), nn.LayerNorm([2, 4, 4]),
                            nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=1), nn.AdaptiveAvgPool2d((None, 2)),
                            nn.Flatten(), nn.Linear(24, 3, bias=False), nn.LogSoftmax(1))]
    for i, m in enumerate(models):
        p = tmp_path / f"m{i}.safetensors"
        fc.save(m, p)
        m2 = fc.load(p)
        assert type(m2) is type(m) and repr(m2) == repr(m), type(m).__name__
        a, b = m.state_dict(), m2.state_dict()
        assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a), type(m).__name__


class NotRegistered(nn.Module):
    def __init__(self, d: int = 2) -> None:
        super().__init__()
        self.w = nn.Parameter(np.ones(d))


def test_user_classes_load_once_registered_or_into_a_given_model(tmp_path):
    p = tmp_path / "u.safetensors"
    fc.save(NotRegistered(3), p)
    with pytest.raises(ValueError, match=r"is not a registered fastconv module class.*register_module"):
        fc.load(p)
    assert fc.load(p, model=NotRegistered(3)).w.shape == (3,)
    fc.register_module(NotRegistered)
    try:
        assert fc.load(p).w.shape == (3,)
    finally:
        fc.io._REGISTRY.pop(fc.io._class_key(NotRegistered))
    with pytest.raises(TypeError, match="register_module"):
        fc.register_module(int)
    with pytest.raises(ValueError, match="fastconv's own class"):
        fake = type("Conv2d", (nn.Module,), {"__module__": "fastconv.nn.conv", "__qualname__": "Conv2d"})
        fc.register_module(fake)


def test_parameter_budget_is_checked_before_allocating(tmp_path):
    # 176 bytes asking for 225 million parameters: refused by the constructor's reservation, before np.empty.
    p = write_arch(tmp_path / "big.safetensors",
                   {"class": "fastconv.nn.linear:Linear", "args": [15000, 15000], "kwargs": []}, {})
    assert os.path.getsize(p) < 300
    with pytest.raises(ValueError, match=r"big\.safetensors.*Linear\(15000, 15000\) needs 225015000 parameter "
                                         r"elements.*0 elements"):
        fc.load(p)
    # Inside a zoo model the nested layers reserve too (ResNet builds them in its own constructor).
    p = write_arch(tmp_path / "zoo.safetensors", {"class": "fastconv.models.resnet:ResNet",
                                                  "args": ["bottleneck", [3, 8, 36, 3]], "kwargs": []},
                   {"w": np.zeros(10, np.float32)})
    with pytest.raises(ValueError, match=r"zoo\.safetensors.*more than the 10 elements"):
        fc.load(p)
    # The budget counts against what the file holds: an honest file of the same layer loads.
    m = nn.Linear(30, 20)
    fc.save(m, tmp_path / "ok.safetensors")
    assert np.array_equal(fc.load(tmp_path / "ok.safetensors").weight, m.weight)


LIN = {"class": "fastconv.nn.linear:Linear", "args": [2, 3], "kwargs": []}


def seq(*children):
    return {"class": "fastconv.nn.container:Sequential", "children": [[str(i), c] for i, c in enumerate(children)]}


def nested_value(depth):
    v = 1
    for _ in range(depth):
        v = [v]
    return v


MALFORMED = [
    # (architecture, the field the message must name, words it must contain)
    ([1, 2], "architecture", "JSON object"),
    ({"args": []}, "architecture.class", "class name string"),
    ({"class": 5}, "architecture.class", "class name string"),
    (dict(LIN, extra=1), "architecture", "unknown keys"),
    (dict(LIN, training="yes"), "architecture.training", "true or false"),
    (dict(LIN, args={"a": 1}), "architecture.args", "must be a list"),
    (dict(LIN, kwargs={"bias": True}), "architecture.kwargs", "pairs"),
    (dict(LIN, kwargs=[["bias"]]), "architecture.kwargs[0]", "pair"),
    (dict(LIN, kwargs=[["not an identifier", 1]]), "architecture.kwargs[0][0]", "argument name"),
    (dict(LIN, kwargs=[["bias", True], ["bias", False]]), "architecture.kwargs[1][0]", "repeats"),
    (dict(LIN, kwargs=[["colour", 1]]), "architecture", "unexpected keyword"),
    (dict(LIN, args=[2, -3]), "architecture", "out_features"),
    (dict(LIN, args=[2, 2 ** 64]), "architecture", "out_features"),
    (dict(LIN, args=[2, "3"]), "architecture", "out_features"),
    (dict(LIN, args=[{"__tuple__": 1}]), "architecture.args[0]", "unknown value encoding"),
    (dict(LIN, args=[{"__weird__": 1}]), "architecture.args[0]", "unknown value encoding"),
    (dict(LIN, args=[{"__array__": [1], "dtype": "U1000000000"}]), "architecture.args[0].dtype", "must be one of"),
    (dict(LIN, args=[{"__array__": [[1], [1, 2]], "dtype": "float32"}]), "architecture.args[0].__array__",
     "regular"),
    (dict(LIN, args=[{"__array__": ["x"], "dtype": "float32"}]), "architecture.args[0].__array__", "only numbers"),
    (dict(LIN, args=[{"__array__": list(range(5000)), "dtype": "int64"}]), "architecture.args[0].__array__",
     "more than 4096"),
    (dict(LIN, args=[{"__unserializable__": "function in Net"}]), "architecture.args[0]", "model=model"),
    (dict(LIN, args=[{"__dict__": [[1, 2]]}]), "architecture.args[0].__dict__[0]", "string key"),
    (dict(LIN, args=[nested_value(40)]), "architecture.args[0]", "nest more than 16"),
    (dict(LIN, frozen="weight"), "architecture.frozen", "list of parameter names"),
    (dict(LIN, frozen=["gain"]), "architecture.frozen[0]", "not a parameter of Linear"),
    (dict(LIN, children=[]), "architecture.children", "only Sequential"),
    (dict(seq(LIN), args=[]), "architecture", "not args/kwargs"),
    ({"class": "fastconv.nn.container:Sequential", "children": {"0": LIN}}, "architecture.children", "pairs"),
    (seq(LIN, [1]), "architecture.children[1][1]", "JSON object"),
    ({"class": "fastconv.nn.container:Sequential", "children": [["a.b", LIN]]}, "architecture.children[0][0]",
     "contains '.'"),
    ({"class": "fastconv.nn.container:Sequential", "children": [["a", LIN], ["a", LIN]]},
     "architecture.children[1][0]", "repeats"),
    (dict(LIN, args=[{"__module__": LIN}, 3]), "architecture", "in_features"),
    ({"class": "fastconv.models.resnet:ResNet", "args": [], "kwargs": [["layers", [1, 1]]]}, "architecture",
     "ResNet(...) rejected its arguments"),
]


@pytest.mark.parametrize("arch,field,words", MALFORMED, ids=[f"case{i}" for i in range(len(MALFORMED))])
def test_malformed_architecture_fields_are_value_errors_naming_file_and_field(tmp_path, arch, field, words):
    p = write_arch(tmp_path / "bad.safetensors", arch)
    with pytest.raises(ValueError) as e:
        fc.load(p)
    msg = str(e.value)
    assert str(p) in msg and f"architecture field '{field}" in msg and words in msg, msg


def test_deep_nesting_and_broken_json_are_value_errors(tmp_path):
    deep = LIN
    for _ in range(40):
        deep = seq(deep)
    cases = [(json.dumps(deep), "nest more than 32"), ("[" * 200000 + "]" * 200000, "too deeply"),
             ("{", "not valid UTF-8 JSON"), ('{"class": ' + "9" * 5000 + "}", "not valid UTF-8 JSON")]
    for raw, words in cases:
        p = write_arch(tmp_path / "deep.safetensors", None, raw_arch=raw)
        with pytest.raises(ValueError, match=words) as e:
            fc.load(p)
        assert str(p) in str(e.value)


def _with_header(path, header: dict, data: bytes = b""):
    hj = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(hj)) + hj + data)
    return path


def test_hostile_safetensors_headers(tmp_path):
    cases = [
        ({"t": {"dtype": "F32", "shape": [2 ** 31, 2 ** 31], "data_offsets": [0, 0]}}, "more elements than any tensor"),
        ({"t": {"dtype": "F32", "shape": [0, 2 ** 63], "data_offsets": [0, 0]}}, "invalid shape"),
        ({"t": {"dtype": "F32", "shape": [1] * 40, "data_offsets": [0, 4]}}, "invalid shape"),
        ({"__metadata__": ["x"]}, "__metadata__ must map strings"),
        ({"t": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, "outside the"),
    ]
    for header, words in cases:
        p = _with_header(tmp_path / "h.safetensors", header, b"\0" * 4)
        with pytest.raises(ValueError, match=words) as e:
            load_safetensors(p)
        assert str(p) in str(e.value)
    # a header nested too deeply for the JSON parser
    p = tmp_path / "n.safetensors"
    body = b"[" * 100000 + b"]" * 100000
    p.write_bytes(struct.pack("<Q", len(body)) + body)
    with pytest.raises(ValueError, match="too deeply"):
        fc.load(p)


def test_load_rejects_a_model_argument_that_is_not_a_module(tmp_path):
    p = tmp_path / "m.safetensors"
    fc.save(nn.Linear(2, 2), p)
    with pytest.raises(TypeError, match="model must be a fastconv.nn.Module"):
        fc.load(p, model="net")
