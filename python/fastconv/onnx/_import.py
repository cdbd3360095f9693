"""fastconv.onnx.load: an ONNX file (or bytes, or a ModelProto) as a fastconv Module (OnnxModule).

Loading parses the protobuf with the onnx package and reads tensors; it never executes anything from the file:
node types are looked up in a fixed table, and every node, attribute and tensor type outside it is refused with an
OnnxImportError naming the node, the op and the attribute, before any module is built."""
from __future__ import annotations

import os

import numpy as np

from ._errors import OnnxImportError
from ._import_fold import fold_constants, fold_pads
from ._import_ops import OPS, RUNNING_SLOTS, supported
from ._module import OnnxModule

MIN_OPSET, MAX_OPSET = 7, 25
_DOMAINS = ("", "ai.onnx")


def _where(node, index: int) -> str:
    return f"node '{node.name or '#' + str(index)}' ({node.op_type})"


def _attr_value(onnx, attr, where: str):
    from onnx import numpy_helper
    t = onnx.AttributeProto
    k = attr.type
    if k == t.FLOAT:
        return float(attr.f)
    if k == t.INT:
        return int(attr.i)
    if k == t.STRING:
        return attr.s.decode("utf-8", "replace")
    if k == t.FLOATS:
        return [float(v) for v in attr.floats]
    if k == t.INTS:
        return [int(v) for v in attr.ints]
    if k == t.STRINGS:
        return [s.decode("utf-8", "replace") for s in attr.strings]
    if k == t.TENSOR:
        return numpy_helper.to_array(attr.t)
    raise OnnxImportError(f"fastconv.onnx.load: {where}: attribute '{attr.name}' has type "
                          f"{t.AttributeType.Name(k)}, which is not supported (subgraphs and sparse tensors)")


def _constant(node, attrs: dict, where: str) -> np.ndarray:
    keys = [k for k in attrs]
    if len(keys) != 1:
        raise OnnxImportError(f"fastconv.onnx.load: {where}: expected one value attribute, got {keys}")
    k, v = keys[0], attrs[keys[0]]
    if k == "value":
        return np.asarray(v)
    if k in ("value_float", "value_floats"):
        return np.asarray(v, np.float32)
    if k in ("value_int", "value_ints"):
        return np.asarray(v, np.int64)
    raise OnnxImportError(f"fastconv.onnx.load: {where}: attribute '{k}' is not supported")


def _dims(vi) -> list:
    tt = vi.type.tensor_type
    if not tt.HasField("shape"):
        return None
    return [int(d.dim_value) if d.HasField("dim_value") else None for d in tt.shape.dim]


def _read(model):
    import onnx
    if isinstance(model, onnx.ModelProto):
        return onnx, model
    if isinstance(model, (bytes, bytearray, memoryview)):
        return onnx, onnx.load_from_string(bytes(model))
    if isinstance(model, (str, os.PathLike)):
        if not os.path.isfile(model):
            raise FileNotFoundError(f"fastconv.onnx.load: no such file: '{os.fspath(model)}'")
        try:
            return onnx, onnx.load(os.fspath(model))
        except Exception as e:  # noqa: BLE001 - a damaged file; the parser's own words
            raise OnnxImportError(f"fastconv.onnx.load: '{os.fspath(model)}' is not a readable ONNX model: "
                                  f"{type(e).__name__}: {e}") from None
    raise TypeError(f"fastconv.onnx.load: expected a path, bytes or onnx.ModelProto, got {type(model).__name__}")


def describe(model):
    """(graph description for OnnxModule, {tensor name: array}) of an ONNX model; raises OnnxImportError for what
    fastconv cannot run."""
    onnx, proto = _read(model)
    from onnx import numpy_helper
    opset = None
    for imp in proto.opset_import:
        if imp.domain in _DOMAINS:
            opset = int(imp.version)
    if opset is None:
        raise OnnxImportError("fastconv.onnx.load: the model imports no version of the default ONNX domain")
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OnnxImportError(f"fastconv.onnx.load: opset {opset} is not supported ({MIN_OPSET}..{MAX_OPSET})")
    g = proto.graph
    tensors: dict[str, np.ndarray] = {}
    for init in g.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL and not init.external_data:
            raise OnnxImportError(f"fastconv.onnx.load: initializer '{init.name}' has no data")
        tensors[init.name] = numpy_helper.to_array(init)
    if len(g.sparse_initializer):
        raise OnnxImportError("fastconv.onnx.load: sparse initializers are not supported")
    inputs = []
    for vi in g.input:
        if vi.name in tensors:
            continue
        dims = _dims(vi)
        et = vi.type.tensor_type.elem_type
        if dims is None:
            raise OnnxImportError(f"fastconv.onnx.load: graph input '{vi.name}' has no declared shape")
        inputs.append([vi.name, dims, onnx.helper.tensor_dtype_to_np_dtype(et).name if et else "float32"])
    ok = supported()
    nodes = []
    consumers: dict[str, list[str]] = {}
    constants: set[str] = set()  # Constant nodes' outputs: static, never trained
    for i, n in enumerate(g.node):
        where = _where(n, i)
        if n.domain not in _DOMAINS:
            raise OnnxImportError(f"fastconv.onnx.load: {where}: domain '{n.domain}' is not supported")
        attrs = {a.name: _attr_value(onnx, a, where) for a in n.attribute}
        if n.op_type == "Constant":
            tensors[n.output[0]] = _constant(n, attrs, where)
            constants.add(n.output[0])
            continue
        if n.op_type not in ok:
            raise OnnxImportError(f"fastconv.onnx.load: {where}: op '{n.op_type}' is not supported")
        allowed = OPS[n.op_type][1] if n.op_type in OPS else None
        for k in attrs:
            if allowed is not None and k not in allowed:
                raise OnnxImportError(f"fastconv.onnx.load: {where}: attribute '{k}' of {n.op_type} is not "
                                      f"supported")
        if "value" in attrs and isinstance(attrs["value"], np.ndarray):  # ConstantOfShape
            attrs["value"] = attrs["value"].tolist()
        for k, v in attrs.items():
            if isinstance(v, np.ndarray):
                raise OnnxImportError(f"fastconv.onnx.load: {where}: tensor attribute '{k}' is not supported")
        for x in n.input:
            consumers.setdefault(x, []).append(n.op_type)
        nodes.append([n.op_type, n.name or f"#{i}", list(n.input), list(n.output), attrs])
    where_n = lambda n: f"node '{n[1]}' ({n[0]})"  # noqa: E731
    nodes = fold_constants(nodes, tensors, constants, opset, where_n)
    nodes = fold_pads(nodes, tensors, opset, [o.name for o in g.output], where_n)
    for node in nodes:  # MaxPool indices that only MaxUnpool reads may stay per-plane (torch's layout)
        if node[0] == "MaxPool" and len(node[3]) > 1 and node[3][1]:
            if set(consumers.get(node[3][1], [])) == {"MaxUnpool"}:
                node[4]["_fc_local_indices"] = 1
    # Which tensors train: float tensors in a data slot of a data op are parameters, running statistics buffers.
    kinds: dict[str, str] = {}
    for op_type, _, ins, _, _ in nodes:
        static_slots = OPS[op_type][2] if op_type in OPS else set(range(len(ins)))
        running = RUNNING_SLOTS.get(op_type, set())
        for j, x in enumerate(ins):
            if x not in tensors or op_type not in OPS:
                continue
            if j in running:
                kinds.setdefault(x, "running")
            elif j not in static_slots and tensors[x].dtype.kind == "f" and x not in constants:
                kinds[x] = "param"
    graph = {"opset": opset, "inputs": inputs, "outputs": [o.name for o in g.output], "nodes": nodes,
             "param": [], "running": [], "static": []}
    used = {x for _, _, ins, _, _ in nodes for x in ins} | set(graph["outputs"])
    for name, arr in tensors.items():
        if name not in used:
            continue
        kind = kinds.get(name, "static")
        if kind in ("param", "running") and arr.dtype != np.float32:
            tensors[name] = arr = arr.astype(np.float32)
        graph[kind].append([name, [int(s) for s in arr.shape], arr.dtype.name])
    for o in graph["outputs"]:
        if o not in tensors and not any(o in n[3] for n in nodes) and o not in [i[0] for i in inputs]:
            raise OnnxImportError(f"fastconv.onnx.load: graph output '{o}' is produced by no node")
    return graph, tensors


def load(model) -> OnnxModule:
    graph, tensors = describe(model)
    m = OnnxModule(graph)
    for name, (owner, attr, kind) in m._slots.items():
        store = owner._parameters if kind == "param" else owner._buffers
        store[attr][...] = tensors[name]
    return m.eval()
