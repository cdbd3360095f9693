"""The C++ Model (fastconv._C.Model, fastconv/model.h) against Python: a model trained in Python and saved with
fastconv.save loads in C++ and predicts, trains and saves as Python does (the reference: Python's compiled model
continuing from the same state), and adversarial model files are refused with messages naming the field."""
import json
import os

import numpy as np
import pytest

import fastconv as fc
from fastconv import _C, nn
from fastconv.io import load_safetensors, read_metadata, save_safetensors


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Dropout(0.25), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))


def batch(rng, n):
    return rng.standard_normal((n, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, n)


def trained(opt_name, path, steps=3, seed=0):
    """A small CNN trained `steps` steps in Python and saved; returns (compiled net, rng for more batches)."""
    fc.manual_seed(seed)
    model = small_cnn()
    opt = {"adam": lambda p: fc.optim.Adam(p, lr=1e-2),
           "adagrad": lambda p: fc.optim.Adagrad(p, lr=0.05, lr_decay=0.1, initial_accumulator_value=0.1),
           "adadelta": lambda p: fc.optim.Adadelta(p, lr=0.7, weight_decay=0.01),
           "sgd": lambda p: fc.optim.SGD(p, lr=0.05, momentum=0.9)}[opt_name](model.parameters())
    net = fc.compile(model, (4, 1, 8, 8), loss="cross_entropy", optimizer=opt)
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        net.train_step(*batch(rng, 4))
    fc.save(net, path)
    return net, rng


def max_rel(a, b):
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-6)))


@pytest.fixture
def adam_file(tmp_path):
    p = str(tmp_path / "adam.safetensors")
    net, rng = trained("adam", p)
    return p, net, rng


def test_predict_matches_python_at_the_saved_and_other_batch_sizes(adam_file):
    path, net, rng = adam_file
    m = _C.Model.load(path)
    assert m.input_shape == [4, 1, 8, 8] and m.output_names == ["output"] and m.trainable
    for n in (4, 1, 9):
        x, _ = batch(rng, n)
        ref = net.predict(x)
        got = m.predict(x)
        assert got.shape == ref.shape == (n, 3)
        assert max_rel(got, ref) <= 1e-6
        named = m.predict_named(x)
        assert list(named) == ["output"] and np.array_equal(named["output"], got)


def test_predict_matches_pytorch_with_the_loaded_weights(adam_file):
    """An independent reference: torch's layers in eval mode with the weights (and running statistics) C++ loaded."""
    import torch
    path, _, rng = adam_file
    m = _C.Model.load(path)
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Dropout(0.25), torch.nn.Flatten(),
                             torch.nn.Linear(64, 3)).double().eval()
    sd = {k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()}
    tm.load_state_dict({k: (v.double() if v.is_floating_point() else v) for k, v in sd.items()})
    assert float(sd["1.running_var"].sub(1).abs().max()) > 1e-3  # trained statistics, not the initial ones
    x, _ = batch(rng, 6)
    with torch.no_grad():
        ref = tm(torch.from_numpy(x).double()).numpy()
    assert np.allclose(m.predict(x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("opt_name", ["adam", "sgd", "adagrad", "adadelta"])
def test_train_steps_continue_as_python_does(tmp_path, opt_name):
    path = str(tmp_path / "m.safetensors")
    net, rng = trained(opt_name, path)
    m = _C.Model.load(path)
    assert m.steps == 3
    assert m.lr() == pytest.approx(dict(adam=1e-2, adadelta=0.7).get(opt_name, 0.05))
    for k in range(4):
        x, y = batch(rng, 4 if k % 2 == 0 else 6)  # a second batch size replays the train graph
        ref = net.train_step(x, y)
        got = m.train_step(x, y)
        assert got == pytest.approx(ref, rel=1e-6, abs=1e-7), f"step {k}"
    assert m.steps == 7
    ref_sd, got_sd = net.model.state_dict(), m.state_dict()
    assert list(got_sd) == list(ref_sd)
    for k, v in ref_sd.items():
        assert np.allclose(got_sd[k], v, rtol=1e-5, atol=1e-6), k


def test_the_match_depends_on_the_restored_optimizer_state(adam_file, tmp_path):
    """Zeroed slots or a step count of 0 (what a reader that forgot them would run) step differently: so the match
    above checks that slots and steps are restored."""
    path, net, rng = adam_file
    x, y = batch(rng, 4)
    ref = _C.Model.load(path)
    ref.train_step(x, y)

    def zero_slots(tensors):
        for k in tensors:
            if k.startswith("fastconv.optim."):
                tensors[k] = np.zeros_like(tensors[k])

    def no_steps(doc):
        doc["train"]["state"]["steps"] = 0

    for name, ed, et in (("slots", None, zero_slots), ("steps", no_steps, None)):
        m = _C.Model.load(rewrite(path, str(tmp_path / f"{name}.safetensors"), ed, et))
        m.train_step(x, y)
        assert not np.allclose(m.state_dict()["6.weight"], ref.state_dict()["6.weight"], rtol=1e-4, atol=1e-6), name


def test_set_lr_zero_freezes_the_weights(adam_file):
    path, net, rng = adam_file
    m = _C.Model.load(path)
    before = {k: v.copy() for k, v in m.state_dict().items()}
    m.set_lr(0.0)
    assert m.lr() == 0.0
    m.train_step(*batch(rng, 4))
    after = m.state_dict()
    for k in ("0.weight", "6.weight", "6.bias"):
        assert np.array_equal(after[k], before[k]), k


def test_cpp_save_then_python_load_gives_the_cpp_weights(adam_file, tmp_path):
    path, net, rng = adam_file
    m = _C.Model.load(path)
    m.train_step(*batch(rng, 4))
    out = str(tmp_path / "cpp.safetensors")
    m.save(out)
    py = fc.load(out)
    cpp = m.state_dict()
    for k, v in py.state_dict().items():
        assert np.array_equal(v, cpp[k]), k
    # and the C++ file loads in C++ again with its optimizer state
    m2 = _C.Model.load(out)
    assert m2.steps == m.steps == 4
    x, y = batch(rng, 4)
    assert m2.train_step(x, y) == m.train_step(x, y)
    x, _ = batch(rng, 5)
    assert np.array_equal(m2.predict(x), m.predict(x))


def test_module_saved_with_input_shape_has_a_graph(tmp_path):
    fc.manual_seed(1)
    model = small_cnn()
    p = str(tmp_path / "mod.safetensors")
    fc.save(model, p)
    assert "fastconv.graph" not in read_metadata(p)  # never compiled, no shape: weights only
    with pytest.raises(ValueError, match="has no traced graph: save it from Python with fastconv.save"):
        _C.Model.load(p)
    fc.save(model, p, input_shape=(2, 1, 8, 8))
    m = _C.Model.load(p)
    assert not m.trainable
    x = np.random.default_rng(3).standard_normal((3, 1, 8, 8)).astype(np.float32)
    ref = fc.compile(model, (3, 1, 8, 8)).predict(x)
    assert max_rel(m.predict(x), ref) <= 1e-6
    with pytest.raises(ValueError, match="no training program"):
        m.train_step(x, np.zeros(3, np.int64))
    # a module compiled before is traced at its compiled shape
    other = small_cnn()
    fc.compile(other, (5, 1, 8, 8))
    fc.save(other, p)
    assert _C.Model.load(p).input_shape == [5, 1, 8, 8]


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: no static graph
            return self.fc(x)
        return x


def test_untraceable_module_still_saves_without_a_graph(tmp_path):
    fc.io.register_module(Untraceable)
    model = Untraceable()
    p = str(tmp_path / "u.safetensors")
    with pytest.warns(UserWarning, match="could not be traced"):
        fc.save(model, p, input_shape=(2, 4))
    assert "fastconv.graph" not in read_metadata(p)
    back = fc.load(p)
    assert np.array_equal(back.state_dict()["fc.weight"], model.state_dict()["fc.weight"])
    with pytest.raises(ValueError, match="has no traced graph"):
        _C.Model.load(p)


def test_fastconv_train_file_loads_in_cpp(tmp_path):
    from fastconv import cli
    out = str(tmp_path / "run")
    assert cli.main(["train", "--epochs", "1", "--quiet", "--out", out, "--seed", "2"]) == 0
    path = os.path.join(out, "model.safetensors")
    m = _C.Model.load(path)
    assert m.trainable
    py = fc.load(path)
    shape = tuple(m.input_shape)
    x = np.random.default_rng(4).random((5,) + shape[1:]).astype(np.float32)
    ref = fc.compile(py, (5,) + shape[1:]).predict(x)
    assert max_rel(m.predict(x), ref) <= 1e-5


# ---- adversarial files ------------------------------------------------------------------------------------------
def rewrite(src, dst, edit_doc=None, edit_tensors=None):
    tensors, meta = load_safetensors(src)
    meta = {k: v for k, v in meta.items() if k != "fastconv.checksum"}
    if edit_doc is not None:
        doc = json.loads(meta["fastconv.graph"])
        r = edit_doc(doc)
        meta["fastconv.graph"] = r if isinstance(r, str) else json.dumps(doc)
    if edit_tensors is not None:
        edit_tensors(tensors)
    save_safetensors(tensors, dst, meta)
    return dst


def first_node(doc, op):
    return next(n for n in doc["predict"]["graph"]["nodes"] if n["op"] == op)


def set_op(doc):
    first_node(doc, "relu")["op"] = "frobnicate"


def newer(doc):
    doc["opset"] = 99


def out_of_range(doc):
    first_node(doc, "relu")["inputs"] = [100000]


def forward_ref(doc):
    nodes = doc["predict"]["graph"]["nodes"]
    nodes[0]["inputs"][0] = nodes[-1]["outputs"][0]


def deep(doc):
    return json.dumps(doc)[:-1] + ', "x": ' + "[" * 200 + "]" * 200 + "}"


def absurd(doc):
    doc["predict"]["graph"]["values"][0]["shape"] = [2 ** 40, 2 ** 40, 8, 8]


def wrong_recorded(doc):
    g = doc["predict"]["graph"]
    g["values"][first_node(doc, "conv2d")["outputs"][0]]["shape"] = [4, 5, 8, 8]


def non_param(doc):
    doc["train"]["groups"][0]["params"][0][0] = doc["train"]["x"]


def param_as_input(doc):
    v = doc["predict"]["graph"]["values"][first_node(doc, "conv2d")["inputs"][1]]
    v["kind"] = "input"


def drop_weight(tensors):
    del tensors["0.weight"]


def reshape_weight(tensors):
    tensors["6.weight"] = np.zeros((3, 65), np.float32)


CASES = [
    ("unknown op", set_op, None, r"nodes\[\d+\].*'frobnicate'"),
    ("newer op-set", newer, None, r"op-set is 99, newer than this reader's \(1\)"),
    ("id out of range", out_of_range, None, r"input value id 100000 is out of range"),
    ("forward reference", forward_ref, None, r"forward reference"),
    ("deep nesting", deep, None, r"(?i)nest|depth"),
    ("absurd shape", absurd, None, r"values\[0\]\.shape"),
    ("wrong recorded shape", wrong_recorded, None, r"conv2d.*recorded as float32\[4, 5, 8, 8\]"),
    ("second input", param_as_input, None, r"reads input '0\.weight' .*which is not the model's input"),
    ("missing tensor", None, drop_weight, r"no tensor '0\.weight'"),
    ("tensor of wrong shape", None, reshape_weight, r"tensor '6\.weight' is float32\[3, 65\]"),
    ("train spec names a non-param", non_param, None, r"train\.groups\[0\]\.params: value \d+ is not a parameter"),
]


@pytest.mark.parametrize("name,edit_doc,edit_tensors,pattern", CASES, ids=[c[0] for c in CASES])
def test_adversarial_files_are_refused_clearly(adam_file, tmp_path, name, edit_doc, edit_tensors, pattern):
    path, _, _ = adam_file
    bad = rewrite(path, str(tmp_path / "bad.safetensors"), edit_doc, edit_tensors)
    with pytest.raises(ValueError, match=pattern) as e:
        _C.Model.load(bad)
    assert "bad.safetensors" in str(e.value)


def test_unmodified_rewrite_still_loads(adam_file, tmp_path):
    path, net, rng = adam_file  # the rewriting itself keeps a good file good (so the cases above test their edit)
    m = _C.Model.load(rewrite(path, str(tmp_path / "same.safetensors"), lambda d: None))
    x, _ = batch(rng, 4)
    assert max_rel(m.predict(x), net.predict(x)) <= 1e-6


def test_predict_from_threads_while_the_program_cache_evicts(adam_file):
    from concurrent.futures import ThreadPoolExecutor
    path, net, rng = adam_file
    m = _C.Model.load(path)
    xs = [batch(rng, n)[0] for n in range(1, 13)]  # 12 shapes: more than the 8 programs kept
    refs = [net.predict(x) for x in xs]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda i: m.predict(xs[i % 12]), range(48)))
    for i, out in enumerate(outs):
        assert np.array_equal(out, refs[i % 12]), i


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 5)
        self.a = nn.Linear(5, 2)
        self.b = nn.Linear(5, 3)

    def forward(self, x):
        h = fc.functional.relu(self.body(x))
        return self.a(h), self.b(h)


def test_several_outputs_are_named_in_order(tmp_path):
    fc.io.register_module(TwoHeads)
    fc.manual_seed(5)
    model = TwoHeads()
    net = fc.compile(model, (4, 6))
    p = str(tmp_path / "two.safetensors")
    fc.save(net, p)
    m = _C.Model.load(p)
    assert m.output_names == ["output0", "output1"]
    x = np.random.default_rng(6).standard_normal((7, 6)).astype(np.float32)
    ra, rb = net.predict(x)
    named = m.predict_named(x)
    assert list(named) == ["output0", "output1"]
    assert max_rel(named["output0"], ra) <= 1e-6 and max_rel(named["output1"], rb) <= 1e-6
    assert np.array_equal(m.predict(x), named["output0"])  # predict: the first output


def test_bad_batches_are_value_errors_naming_the_shapes(adam_file):
    path, _, _ = adam_file
    m = _C.Model.load(path)
    with pytest.raises(ValueError, match=r"Model::predict: input of shape \[2, 3, 8, 8\].*3 channels"):
        m.predict(np.zeros((2, 3, 8, 8), np.float32))
    with pytest.raises(ValueError, match=r"Model::train_step: x of shape \[2, 1, 8, 8\], y of shape \[2, 5\]"):
        m.train_step(np.zeros((2, 1, 8, 8), np.float32), np.zeros((2, 5), np.int64))
    with pytest.raises(TypeError, match="integer class labels"):
        m.train_step(np.zeros((2, 1, 8, 8), np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match="x has 2 samples but y has 3"):
        m.train_step(np.zeros((2, 1, 8, 8), np.float32), np.zeros(3, np.int64))
    assert m.steps == 3  # nothing ran
