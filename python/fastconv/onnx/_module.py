"""OnnxModule: an ONNX graph as a fastconv Module.

The module is built from a plain description (JSON-able: the graph's nodes with their attributes, and the names,
shapes and dtypes of its tensors), so fastconv.save / fastconv.load treat it as any other registered model: the
description is the constructor argument, the tensors are the state_dict. Float initializers that feed data inputs
are Parameters (they train); BatchNormalization's mean and variance are running buffers; every other tensor
(shapes, axes, scales, Constant nodes) is a static buffer that forward reads as a NumPy array.

forward interprets the nodes in order. Values that depend only on static tensors and on the shapes of traced values
(Shape -> Gather -> Concat -> Reshape chains) are computed in NumPy while tracing, so the compiled graph holds only
the data path. Nothing in a description is executed: node types are looked up in a fixed table (_import_ops).
"""
from __future__ import annotations

import numpy as np

from ..io import register_module
from ..nn import _checks
from ..nn.module import Module, Parameter, engine_array
from ._errors import OnnxImportError


class _Holder(Module):
    """A namespace module, so that parameter names with dots ("layer1.0.conv1.weight") keep their state_dict
    paths. Never saved on its own: OnnxModule rebuilds the tree from its description."""

    def forward(self, *args):  # pragma: no cover - never called
        raise TypeError("an OnnxModule namespace is not callable")


def _prefixes(parts):
    return [".".join(parts[:i]) for i in range(1, len(parts))]


_DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "uint16", "uint32", "uint64",
           "bool")


def _validate(graph, ops) -> None:
    """A description (from a file, through fastconv.load) is checked field by field before anything is allocated."""
    def bad(field, msg):
        raise ValueError(f"OnnxModule: graph description field '{field}' {msg}")

    def names(v, field):
        if not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            bad(field, "must be a list of strings")

    if not isinstance(graph, dict) or set(graph) != {"opset", "inputs", "outputs", "nodes", "param", "running",
                                                     "static"}:
        bad("graph", "must be a dict with keys opset, inputs, outputs, nodes, param, running, static")
    if not (isinstance(graph["opset"], int) and 1 <= graph["opset"] <= 1000):
        bad("opset", "must be an int")
    names(graph["outputs"], "outputs")
    for i, e in enumerate(graph["inputs"]):
        if not (isinstance(e, list) and len(e) == 3 and isinstance(e[0], str) and isinstance(e[1], list) and
                all(d is None or (isinstance(d, int) and d >= 0) for d in e[1]) and e[2] in _DTYPES):
            bad(f"inputs[{i}]", "must be [name, dims (ints or None), dtype]")
    for kind in ("param", "running", "static"):
        for i, e in enumerate(graph[kind]):
            if not (isinstance(e, list) and len(e) == 3 and isinstance(e[0], str) and isinstance(e[1], list) and
                    len(e[1]) <= 16 and all(isinstance(d, int) and 0 <= d < 2 ** 62 for d in e[1]) and
                    e[2] in _DTYPES):
                bad(f"{kind}[{i}]", "must be [name, shape (non-negative ints), dtype]")
    for i, n in enumerate(graph["nodes"]):
        if not (isinstance(n, list) and len(n) == 5 and isinstance(n[0], str) and isinstance(n[1], str) and
                isinstance(n[4], dict)):
            bad(f"nodes[{i}]", "must be [op_type, name, inputs, outputs, attributes]")
        names(n[2], f"nodes[{i}][2]")
        names(n[3], f"nodes[{i}][3]")
        if n[0] not in ops:
            bad(f"nodes[{i}][0]", f"names op '{n[0]}', which fastconv.onnx does not support")


class OnnxModule(Module):
    """An imported ONNX graph (fastconv.onnx.load builds it; its constructor takes the graph description)."""

    def __init__(self, graph: dict) -> None:
        super().__init__()
        from . import _import_ops
        _validate(graph, _import_ops.supported())
        object.__setattr__(self, "_graph", graph)
        object.__setattr__(self, "_slots", {})  # onnx tensor name -> (owner module, attribute name, kind)
        leaves: set[str] = set()
        for kind, entries in (("param", graph["param"]), ("running", graph["running"]),
                              ("static", graph["static"])):
            for name, shape, dtype in entries:
                key = self._place(name, leaves)
                owner = self
                for part in key[:-1]:
                    if part not in owner._modules:
                        owner.add_module(part, _Holder())
                    owner = owner._modules[part]
                _checks.reserve(self, tuple(shape))
                arr = np.zeros(tuple(shape), np.dtype(dtype))
                if kind == "param":
                    owner.register_parameter(key[-1], Parameter(arr))
                else:
                    owner._buffers[key[-1]] = engine_array(arr)
                self._slots[name] = (owner, key[-1], kind)
        self._handlers = [_import_ops.handler(n) for n in graph["nodes"]]

    def _place(self, name: str, leaves: set) -> list[str]:
        """The state_dict path of an ONNX tensor: its dotted name where that makes a tree, else one flat key."""
        parts = name.split(".")
        if len(parts) > 1 and all(parts) and not any(p in leaves for p in _prefixes(parts)) and \
                not any(k.startswith(name + ".") for k in leaves):
            leaves.add(name)
            return parts
        flat = name.replace(".", "_")
        if flat in leaves or flat in ("training",):
            flat = "onnx_" + flat
        leaves.add(flat)
        return [flat]

    # ---- tensors as forward sees them -------------------------------------------------------------------------
    def _tensor(self, name: str):
        owner, attr, kind = self._slots[name]
        if kind == "static":
            return owner._buffers[attr], True
        if kind == "param":
            return owner._maybe_bind(attr, owner._parameters[attr], True), False
        return owner._maybe_bind(attr, owner._buffers[attr], False), False

    def forward(self, *inputs):
        g = self._graph
        names = [i[0] for i in g["inputs"]]
        if len(inputs) != len(names):
            raise TypeError(f"OnnxModule.forward: the graph takes {len(names)} input(s) {names}, got {len(inputs)}")
        env: dict[str, tuple] = {"": (None, True)}
        for (name, shape, _), x in zip(g["inputs"], inputs):
            got = tuple(x.shape)
            if len(got) != len(shape) or any(s is not None and s != d for s, d in zip(shape, got)):
                raise ValueError(f"OnnxModule: input '{name}' has shape {got}; the graph declares "
                                 f"{tuple('?' if s is None else s for s in shape)}")
            env[name] = (x, False)
        for node, run in zip(g["nodes"], self._handlers):
            op_type, node_name, ins, outs, attrs = node
            args = []
            for i in ins:
                if i not in env:
                    env[i] = self._tensor(i)
                args.append(env[i])
            try:
                results = run(self, attrs, args, outs)
            except OnnxImportError as e:
                if str(e).startswith("fastconv.onnx"):
                    raise
                raise OnnxImportError(f"fastconv.onnx: node '{node_name}' ({op_type}): {e}") from None
            except (ValueError, TypeError, IndexError, NotImplementedError) as e:
                raise OnnxImportError(f"fastconv.onnx: node '{node_name}' ({op_type}): {e}") from e
            for o, r in zip(outs, results):
                if o:
                    env[o] = r
        out = [env[o][0] for o in g["outputs"]]
        return out[0] if len(out) == 1 else tuple(out)

    def extra_repr(self) -> str:
        return f"{len(self._graph['nodes'])} nodes, opset {self._graph['opset']}"


register_module(OnnxModule)

__all__ = ["OnnxModule"]
