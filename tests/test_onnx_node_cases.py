"""The onnx package's own backend node tests, replayed through fastconv.onnx.load: the cases are generated from the
installed package's case definitions (onnx.backend.test.case.node; nothing downloaded), and every case whose nodes
are all ops the importer supports runs in fastconv and is compared with the case's expected outputs at the case's
own tolerances. The cases fastconv cannot express are listed in SKIPS with the reason (docs/onnx.md has the same
list; a test checks that the two agree)."""
from __future__ import annotations

import pathlib
import re
import warnings

import numpy as np
import pytest

import fastconv as fc

onnx = pytest.importorskip("onnx")

from onnx_node_skips import SKIPS  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "onnx.md"


def _cases():
    from onnx.backend.test.case import node
    from fastconv.onnx._import_ops import OPS
    data_ops = set(OPS) | {"Shape", "Size", "Constant"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = node.collect_testcases(None)
    return [c for c in cases if all(n.op_type in data_ops and n.domain in ("", "ai.onnx") for n in c.model.graph.node)
            and any(n.op_type in OPS for n in c.model.graph.node)]


CASES = _cases()


def _static_inputs(model, inputs):
    """Graph inputs that feed shape-like slots (Resize's scales, Reshape's shape, ...) become initializers: the
    importer needs them as constants, and a case's data is known."""
    from fastconv.onnx._import_ops import OPS
    from onnx import numpy_helper
    names = [i.name for i in model.graph.input]
    slots = set()
    for n in model.graph.node:
        for j, x in enumerate(n.input):
            if n.op_type in OPS and j in OPS[n.op_type][2]:
                slots.add(x)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    keep = []
    for name, vi, arr in zip(names, list(m.graph.input), inputs):
        if name in slots:
            m.graph.initializer.append(numpy_helper.from_array(np.asarray(arr), name))
        else:
            keep.append((vi, arr))
    del m.graph.input[:]
    m.graph.input.extend([vi for vi, _ in keep])
    return m, [a for _, a in keep]


def run_case(case):
    for inputs, expected in case.data_sets:
        model, data = _static_inputs(case.model, list(inputs))
        for a in data:
            if np.asarray(a).dtype not in (np.float32, np.int64):
                raise TypeError(f"input dtype {np.asarray(a).dtype} (fastconv computes float32)")
        net = fc.onnx.load(model)
        got = net(*data)
        got = got if isinstance(got, tuple) else (got,)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            np.testing.assert_allclose(np.asarray(g), e, rtol=case.rtol, atol=case.atol)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_onnx_node_case(case):
    if case.name in SKIPS:
        pytest.skip(SKIPS[case.name])
    run_case(case)


def test_skips_are_real_and_documented():
    """Every listed skip that the installed onnx generates still fails (so the list shrinks as features land), and
    docs/onnx.md lists exactly these cases."""
    names = {c.name: c for c in CASES}  # (a listed case that another onnx version lacks is not an error)
    passing = []
    for name in sorted(set(SKIPS) & set(names)):
        try:
            run_case(names[name])
        except Exception:  # noqa: BLE001 - expected: this case is listed because it fails
            continue
        passing.append(name)
    assert not passing, f"these listed cases pass now; remove them from SKIPS: {passing}"
    documented = set(re.findall(r"^\| `(test_[A-Za-z0-9_]+)` \|", DOCS.read_text(), flags=re.M))
    assert documented == set(SKIPS), (sorted(documented - set(SKIPS)), sorted(set(SKIPS) - documented))


@pytest.mark.parametrize("name", ["test_edge_pad", "test_reflect_pad", "test_wrap_pad"])
def test_int32_pad_cases_as_float32(name):
    """The int32 Pad cases (skipped above: fastconv computes in float32) with their int32 tensors as float32 (small
    integers: exact), so the edge, reflect and wrap modes are checked against ONNX's expected outputs too."""
    import types
    case = {c.name: c for c in CASES}.get(name)
    if case is None:
        pytest.skip(f"the installed onnx has no {name}")
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    for vi in list(model.graph.input) + list(model.graph.output):
        if vi.type.tensor_type.elem_type == onnx.TensorProto.INT32:
            vi.type.tensor_type.elem_type = onnx.TensorProto.FLOAT

    def f32(arrays):
        return [a.astype(np.float32) if np.asarray(a).dtype == np.int32 else a for a in arrays]

    data = [(f32(i), f32(e)) for i, e in case.data_sets]
    assert any(np.asarray(e[0]).size for _, e in data)
    run_case(types.SimpleNamespace(model=model, data_sets=data, rtol=case.rtol, atol=case.atol))
