"""bench/bench_infer.py end to end at --size 32, one repeat: outputs are checked equal and the JSON has its fields."""
from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("onnxruntime")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))


def test_bench_infer_smoke(tmp_path):
    import bench_infer
    out = tmp_path / "infer.json"
    bench_infer.main(["--models", "resnet18,vgg16", "--batches", "1", "--size", "32", "--repeats", "1",
                      "--rounds", "1", "--json", str(out)])
    payload = json.loads(out.read_text())
    assert {"machine", "onnxruntime", "rows"} <= set(payload)
    assert [r["model"] for r in payload["rows"]] == ["resnet18", "vgg16"]
    for r in payload["rows"]:
        assert r["outputs_equal"] is True and r["max_rel"] <= 1e-4
        assert r["fastconv_ms"] > 0 and r["ort_ms"] > 0 and r["ratio_ort"] > 0
    r18 = payload["rows"][0]
    assert r18["folded_steps"] > 0  # the batch norms are folded once, not per run
    assert r18["torch_ms"] == "n/a" or r18["torch_ms"] > 0
    cpp_bin = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "dev", "fastconv_bench_infer")
    if os.path.isfile(cpp_bin):  # the C++ API column ran, and its output was part of the equality check
        assert all(r["cpp_ms"] > 0 and r["ratio_cpp"] > 0 for r in payload["rows"])
    else:
        assert all(r["cpp_ms"] == "n/a" for r in payload["rows"])
