"""fastconv.onnx.export: a model traced in eval mode (the same tracer as fc.compile) and written node by node as
ONNX through onnx.helper. Parameters and buffers keep their state_dict names as initializer names; every other
value is named '<layer scope>.<op>_<id>'."""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .._trace import Symbol, TraceContext
from ..nn.module import Module, binder_for
from ._errors import OnnxExportError

MIN_OPSET = 13  # Softmax's per-axis semantics, Split/Squeeze/Unsqueeze/ReduceSum with axes as inputs


class _Recorder(TraceContext):
    """A trace that remembers the arrays behind parameters and constants (the plain tracer keeps only the ids)."""

    def __init__(self) -> None:
        super().__init__()
        self.params: dict[int, tuple[str, np.ndarray]] = {}
        self.consts: dict[int, np.ndarray] = {}

    def param(self, name, array, requires_grad=True):
        s = super().param(name, array, requires_grad)
        self.params[s.id] = (name, array)
        return s

    def constant(self, array, name=""):
        s = super().constant(array, name)
        self.consts[s.id] = np.array(array)
        return s


class _Node:
    __slots__ = ("op", "inputs", "outputs", "attrs", "scope", "index")

    def __init__(self, d: dict, index: int) -> None:
        self.op, self.inputs, self.outputs = d["op"], list(d["inputs"]), list(d["outputs"])
        self.attrs, self.scope, self.index = dict(d["attrs"]), d["scope"], index

    def where(self) -> str:
        return f"node {self.index} ({self.op}" + (f", layer '{self.scope}'" if self.scope else "") + ")"


def _flatten(out) -> list:
    if isinstance(out, Symbol):
        return [out]
    if isinstance(out, (list, tuple)):
        return [s for o in out for s in _flatten(o)]
    if isinstance(out, dict):
        return [s for o in out.values() for s in _flatten(o)]
    raise OnnxExportError(f"fastconv.onnx.export: the model returned {type(out).__name__}; forward must return "
                          f"traced values or tuples/dicts of them")


def trace_for_export(model: Module, input_shape: Sequence[int], input_name: str = "input"):
    """(recorder, input symbol, flat output symbols) of `model` traced in eval mode; modes are restored."""
    saved = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with _Recorder() as ctx:
            binder_for(ctx, model)
            x = ctx.input(input_name, tuple(int(s) for s in input_shape), "float32")
            outs = _flatten(model(x))
    finally:
        for m, mode in saved:
            object.__setattr__(m, "training", mode)
    return ctx, x, outs


class Builder:
    """Collects ONNX nodes, initializers and value names while the fastconv graph is walked."""

    def __init__(self, ctx: _Recorder, opset: int, batch: int, dynamic: bool) -> None:
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.ctx, self.g, self.opset, self.batch, self.dynamic = ctx, ctx.graph, opset, batch, dynamic
        self.nodes: list = []
        self.inits: dict[str, Any] = {}
        self.names: dict[int, str] = {}
        self.preset: dict[int, str] = {}
        self.used: set[str] = set()
        self.override: dict[int, np.ndarray] = {}  # folded parameters: value id -> new array

    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.used:
            name, k = f"{base}_{k}", k + 1
        self.used.add(name)
        return name

    def shape(self, vid: int) -> tuple:
        return tuple(self.g.shape(vid))

    def initializer(self, array: np.ndarray, name: str) -> str:
        name = self.unique(name)
        self.inits[name] = self.numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def const(self, array, hint: str, dtype=None) -> str:
        return self.initializer(np.asarray(array, dtype=dtype), hint)

    def ints(self, values, hint: str) -> str:
        return self.const(np.asarray(list(values), np.int64), hint)

    def name(self, vid: int) -> str:
        """The ONNX name of a fastconv value: produced earlier, or an initializer made on first use."""
        if vid in self.names:
            return self.names[vid]
        kind = self.g.kind(vid)
        if kind == "param":
            pname, arr = self.ctx.params[vid]
            arr = self.override.get(vid, arr)
            self.names[vid] = self.initializer(np.asarray(arr), pname)
        elif kind == "const":
            self.names[vid] = self.initializer(self.ctx.consts[vid], f"const_{vid}")
        else:
            raise OnnxExportError(f"fastconv.onnx.export: value %{vid} is used before it is computed")
        return self.names[vid]

    def out_name(self, n: _Node, k: int = 0) -> str:
        vid = n.outputs[k]
        if vid not in self.names:
            base = self.preset.get(vid) or (f"{n.scope}.{n.op}_{vid}" if n.scope else f"{n.op}_{vid}")
            self.names[vid] = self.unique(base)
        return self.names[vid]

    def tmp(self, n: _Node, what: str) -> str:
        return self.unique((f"{n.scope}." if n.scope else "") + f"{n.op}_{n.outputs[0]}.{what}")

    def add(self, op_type: str, inputs: Sequence[str], outputs: Sequence[str], n: _Node | None = None, **attrs):
        node_name = self.unique((f"{n.scope}/" if n is not None and n.scope else "") + op_type)
        self.nodes.append(self.helper.make_node(op_type, list(inputs), list(outputs), name=node_name,
                                                **{k: v for k, v in attrs.items() if v is not None}))
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def emit(self, n: _Node, op_type: str, inputs: Sequence[str], k_outputs: int = 1, **attrs):
        return self.add(op_type, inputs, [self.out_name(n, k) for k in range(k_outputs)], n, **attrs)

    def batch_dim(self, vid: int) -> bool:
        s = self.shape(vid)
        return self.dynamic and len(s) > 0 and s[0] == self.batch

    def reshape_target(self, n: _Node, in_vid: int, out_shape: Sequence[int]) -> list[int]:
        """A Reshape target that follows a symbolic batch: the leading dim copied (0) or inferred (-1)."""
        out = [int(s) for s in out_shape]
        if not self.dynamic:
            return out
        ins = self.shape(in_vid)
        if ins and out and ins[0] == self.batch and out[0] == self.batch:
            return [0] + out[1:]
        if ins and ins[0] == self.batch and out and out[0] % max(self.batch, 1) == 0:
            return [-1] + out[1:]
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: reshape {ins} -> {tuple(out)} mixes the batch "
                              f"dimension with others; export with dynamic_batch=False")


from ._export_ops import EXPORTERS  # noqa: E402  (it needs Builder only for type hints)


# ---- the entry point --------------------------------------------------------------------------------------------
def _fold_bn(b: Builder, nodes: list[_Node]) -> set[int]:
    """Folds eval-mode batch norms that are a convolution's only consumer into its weight and bias; returns the
    indices of the batch-norm nodes that disappear."""
    producer = {v: n for n in nodes for v in n.outputs}
    gone: set[int] = set()
    for n in nodes:
        if n.op != "batch_norm" or n.attrs.get("training") or not n.attrs.get("has_running"):
            continue
        conv = producer.get(n.inputs[0])
        if conv is None or conv.op not in ("conv1d", "conv2d", "conv3d") or b.consumers.get(n.inputs[0], 0) != 1 \
                or n.inputs[0] in b.preset:
            continue
        vals = n.inputs[1:] + conv.inputs[1:]
        if any(b.g.kind(v) not in ("param", "const") for v in vals):
            continue
        arr = lambda v: np.asarray(b.ctx.params[v][1] if b.g.kind(v) == "param" else b.ctx.consts[v],  # noqa: E731
                                   np.float64)
        it = iter(n.inputs[1:])
        rm, rv = arr(next(it)), arr(next(it))
        gamma = arr(next(it)) if n.attrs.get("has_weight") else np.ones_like(rm)
        beta = arr(next(it)) if n.attrs.get("has_bias") else np.zeros_like(rm)
        scale = gamma / np.sqrt(rv + float(n.attrs.get("eps", 1e-5)))
        w = arr(conv.inputs[1])
        wf = (w * scale.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
        bias0 = arr(conv.inputs[2]) if len(conv.inputs) > 2 else np.zeros_like(rm)
        bf = ((bias0 - rm) * scale + beta).astype(np.float32)
        b.names[conv.inputs[1]] = b.initializer(wf, _param_name(b, conv.inputs[1]))
        bias_name = _param_name(b, conv.inputs[2]) if len(conv.inputs) > 2 else \
            (_param_name(b, n.inputs[-1]) if n.attrs.get("has_bias") else f"{conv.scope}.bias")
        bias_vid = -1000 - conv.index  # a fresh value id for the folded bias
        b.names[bias_vid] = b.initializer(bf, bias_name)
        conv.inputs = conv.inputs[:2] + [bias_vid]
        conv.outputs = list(n.outputs[:1])
        gone.add(n.index)
    return gone


def _param_name(b: Builder, vid: int) -> str:
    return b.ctx.params[vid][0] if b.g.kind(vid) == "param" else f"const_{vid}"


def export(model: Module, input_shape, path=None, opset: int = 17, dynamic_batch: bool = True, fold_bn: bool = False,
           input_name: str = "input", output_names=None):
    import onnx
    from onnx import TensorProto, helper

    if not isinstance(model, Module):
        raise TypeError(f"fastconv.onnx.export: model must be a fastconv.nn.Module, got {type(model).__name__}")
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"fastconv.onnx.export: input_shape must be positive sizes with the batch first, got "
                         f"{tuple(input_shape)}")
    max_opset = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= int(opset) <= max_opset:
        raise ValueError(f"fastconv.onnx.export: opset must be between {MIN_OPSET} and {max_opset} (the installed "
                         f"onnx package's newest), got {opset}")
    ctx, x, outs = trace_for_export(model, shape, input_name)
    g = ctx.graph
    nodes = [_Node(g.node(i), i) for i in range(g.num_nodes)]
    b = Builder(ctx, int(opset), shape[0], bool(dynamic_batch))
    b.consumers, b.consumer_ids, b.consumer_ops = {}, {}, {}
    for nd in nodes:
        b.consumer_ops[nd.index] = nd.op
        for v in nd.inputs:
            b.consumers[v] = b.consumers.get(v, 0) + 1
            b.consumer_ids.setdefault(v, []).append(nd.index)
    b.names[x.id] = input_name
    b.used.add(input_name)
    names = list(output_names) if output_names is not None else \
        (["output"] if len(outs) == 1 else [f"output_{i}" for i in range(len(outs))])
    if len(names) != len(outs):
        raise ValueError(f"fastconv.onnx.export: {len(outs)} outputs but {len(names)} output_names")
    for s, nm in zip(outs, names):
        if s.id not in b.preset and g.kind(s.id) == "computed":
            b.preset[s.id] = nm
    gone = _fold_bn(b, nodes) if fold_bn else set()
    for nd in nodes:
        if nd.index in gone:
            continue
        fn = EXPORTERS.get(nd.op)
        if fn is None:
            raise OnnxExportError(f"fastconv.onnx.export: {nd.where()}: op '{nd.op}' has no ONNX mapping yet "
                                  f"(exportable: {', '.join(sorted(EXPORTERS))})")
        fn(b, nd)
    out_vi = []
    for s, nm in zip(outs, names):
        src = b.name(s.id)
        if src != nm:  # an output that is an input, a parameter or another output's value
            b.add("Identity", [src], [b.unique(nm) if nm in b.used and nm != src else nm])
            src = b.nodes[-1].output[0]
        dims = [("N" if (dynamic_batch and i == 0 and d == shape[0] and b.batch_dim(s.id)) else d)
                for i, d in enumerate(s.shape)]
        out_vi.append(helper.make_tensor_value_info(src, TensorProto.FLOAT if s.dtype == "float32" else
                                                    TensorProto.INT64, dims))
    in_dims = ["N" if dynamic_batch else shape[0]] + list(shape[1:])
    graph = helper.make_graph(b.nodes, type(model).__name__, [helper.make_tensor_value_info(input_name,
                                                                                            TensorProto.FLOAT,
                                                                                            in_dims)],
                              out_vi, initializer=list(b.inits.values()))
    from .. import __version__
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", int(opset))], producer_name="fastconv",
                          producer_version=__version__)
    m.ir_version = helper.find_min_ir_version_for(list(m.opset_import))  # what older runtimes accept
    onnx.checker.check_model(m, full_check=True)
    if path is not None:
        onnx.save(m, os.fspath(path))
    return m
