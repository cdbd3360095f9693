"""Replays the loader-fuzzing regressions (tests/fuzz/regressions/{file,arch}/: inputs the fuzzer found, and the
hostile inputs of the reliability issue) and the fuzzer's seed corpus: each loads into a model or raises a
ValueError that names the file. The fuzzer itself (fuzz_load.py, atheris) runs from .ci/run."""
from __future__ import annotations

import glob
import json
import os
import struct

import numpy as np
import pytest

import fastconv as fc
from fastconv.io import save_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = sorted(glob.glob(os.path.join(HERE, "regressions", "file", "*")))
ARCHS = sorted(glob.glob(os.path.join(HERE, "regressions", "arch", "*")))


def outcome(path: str) -> str:
    try:
        fc.load(path)
    except ValueError as e:
        assert path in str(e), str(e)
        return "ValueError"
    return "loaded"


def test_there_are_regressions_to_replay():
    assert len(FILES) >= 3 and len(ARCHS) >= 3


@pytest.mark.parametrize("src", FILES, ids=[os.path.basename(f) for f in FILES])
def test_file_regressions(src, tmp_path):
    p = tmp_path / "m.safetensors"
    p.write_bytes(open(src, "rb").read())
    assert outcome(str(p)) == "ValueError"


@pytest.mark.parametrize("src", ARCHS, ids=[os.path.basename(f) for f in ARCHS])
def test_arch_regressions(src, tmp_path):
    p = str(tmp_path / "m.safetensors")
    text = open(src, "rb").read().decode("latin-1")
    save_safetensors({"w": np.zeros(8, np.float32)}, p, {"format": "fastconv", "architecture": text})
    assert outcome(p) == "ValueError"


def _write_regressions() -> None:  # pragma: no cover - how the hand-made regressions were made
    def header_file(name, header, data=b""):
        hj = json.dumps(header).encode()
        with open(os.path.join(HERE, "regressions", "file", name), "wb") as f:
            f.write(struct.pack("<Q", len(hj)) + hj + data)

    header_file("header_length_2pow63", {}, b"")
    header_file("tensor_2pow31_squared", {"t": {"dtype": "F32", "shape": [2 ** 31, 2 ** 31], "data_offsets": [0, 0]}})
    header_file("deep_header", {"__metadata__": {"architecture": "[" * 50000 + "]" * 50000, "format": "fastconv"}})
    # The data checksum (fastconv.checksum): a fc.save(Linear(3, 2)) file with its last 8 bytes set to 0xff, and
    # one whose checksum digits were upper-cased (the format says lowercase hex).
    arch = {"this_nothing": {"class": "this:Nothing"},
            "linear_15000": {"class": "fastconv.nn.linear:Linear", "args": [15000, 15000]},
            "conv_padding_2pow63": {"class": "fastconv.nn.conv:Conv2d", "args": [1, 4, 3],
                                   "kwargs": [["padding", 2 ** 63]]},
            "array_dtype_U": {"class": "fastconv.nn.linear:Linear",
                              "args": [{"__array__": [1], "dtype": "U1000000000"}, 2]}}
    for name, a in arch.items():
        with open(os.path.join(HERE, "regressions", "arch", name), "w") as f:
            f.write(json.dumps(a))
    with open(os.path.join(HERE, "regressions", "arch", "deep_modules"), "w") as f:
        f.write('{"class": "fastconv.nn.container:Sequential", "children": [["0", ' * 100 + "{}" + "]]}" * 100)


# ---- the C++ model loader: structural mutants of real graph documents (graph_mutations.py) ----------------------
def _graph_fixture(tmp_path):
    import fastconv.nn as nn
    fc.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Dropout(0.25),
                        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3))
    trained = fc.compile(net, (2, 1, 4, 4), loss="cross_entropy", optimizer=fc.optim.Adam(net.parameters()))
    trained.train_step(np.ones((2, 1, 4, 4), np.float32), np.array([0, 2]))
    p = str(tmp_path / "seed.safetensors")
    fc.save(trained, p)
    tensors, meta = fc.io.load_safetensors(p)
    return dict(tensors), json.loads(meta["fastconv.graph"])


GRAPHS = sorted(glob.glob(os.path.join(HERE, "regressions", "graph", "*")))


def _graph_outcome(path: str) -> str:
    try:
        model = fc._C.Model.load(path)
    except ValueError as e:
        assert path in str(e), str(e)
        return "ValueError"
    try:
        model.predict(np.zeros(model.input_shape, np.float32))
    except (ValueError, TypeError):
        return "refused input"
    return "loaded"


def test_graph_mutants_load_or_raise_value_errors(tmp_path):
    """3000 structurally mutated documents (ids, shapes, dtypes, kinds, ops, attribute types, optimizer state): each
    loads and predicts, or is refused with a ValueError naming the file; never a crash or another exception."""
    import random
    import sys
    sys.path.insert(0, HERE)
    import graph_mutations
    tensors, doc = _graph_fixture(tmp_path)
    rng = random.Random(12)
    p = str(tmp_path / "m.safetensors")
    seen = {"loaded": 0, "ValueError": 0, "refused input": 0}
    for _ in range(3000):
        text = graph_mutations.dumps(graph_mutations.mutate(doc, rng.randrange, edits=1 + rng.randrange(3)))
        save_safetensors(tensors, p, {"format": "fastconv", "fastconv.graph": text})
        seen[_graph_outcome(p)] += 1
    # The mutants reach both outcomes: the loader's checks refuse most, harmless edits (a scope, a name) still load.
    assert seen["ValueError"] > 2000 and seen["loaded"] >= 10, seen


@pytest.mark.parametrize("src", GRAPHS, ids=[os.path.basename(f) for f in GRAPHS])
def test_graph_regressions(src, tmp_path):
    tensors, _ = _graph_fixture(tmp_path)
    p = str(tmp_path / "m.safetensors")
    save_safetensors(tensors, p, {"format": "fastconv", "fastconv.graph": open(src, "rb").read().decode("latin-1")})
    assert _graph_outcome(p) == "ValueError"
