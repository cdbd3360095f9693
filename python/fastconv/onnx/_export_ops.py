"""The ONNX mapping of fastconv's ops for fastconv.onnx.export (_export.py), one function per op family,
registered by op name in EXPORTERS."""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from ._errors import OnnxExportError

if TYPE_CHECKING:
    from ._export import Builder, _Node

def _ints(v, n: int) -> list[int]:
    if v is None:
        return [0] * n
    if isinstance(v, (int, np.integer)):
        return [int(v)] * n
    v = [int(a) for a in v]
    return v * n if len(v) == 1 else v


# ---- fastconv op -> ONNX, one function per op family ------------------------------------------------------------
EXPORTERS: dict[str, Callable[[Builder, _Node], None]] = {}


def _reg(*names):
    def deco(fn):
        for nm in names:
            EXPORTERS[nm] = fn
        return fn
    return deco


def _spatial(b: Builder, vid: int) -> list[int]:
    return list(b.shape(vid)[2:])


def conv_pads(attrs: dict, in_sp: Sequence[int], k: Sequence[int], stride: Sequence[int], dil: Sequence[int]):
    """(begin, end) pads per spatial dim of a fastconv convolution or pooling call, as its shape rule reads them."""
    nd = len(in_sp)
    if attrs.get("pads") is not None:
        p = _ints(attrs["pads"], 2 * nd)
        return p[:nd], p[nd:]
    pad = attrs.get("padding", 0)
    if isinstance(pad, str):
        eff = [d * (kk - 1) + 1 for d, kk in zip(dil, k)]
        if pad == "valid":
            return [0] * nd, [0] * nd
        if pad == "full":
            return [e - 1 for e in eff], [e - 1 for e in eff]
        if pad in ("same", "same_upper", "same_lower"):
            total = [max(0, (-(-i // s) - 1) * s + e - i) for i, s, e in zip(in_sp, stride, eff)]
            if pad == "same_lower":
                begin = [t - t // 2 for t in total]
            else:
                begin = [t // 2 for t in total]
            return begin, [t - bb for t, bb in zip(total, begin)]
        raise OnnxExportError(f"fastconv.onnx.export: unknown padding mode {pad!r}")
    p = _ints(pad, nd)
    return p, list(p)


@_reg("conv1d", "conv2d", "conv3d")
def _conv(b: Builder, n: _Node) -> None:
    w = b.shape(n.inputs[1])
    nd = len(w) - 2
    stride, dil = _ints(n.attrs.get("stride", 1), nd), _ints(n.attrs.get("dilation", 1), nd)
    pb, pe = conv_pads(n.attrs, _spatial(b, n.inputs[0]), w[2:], stride, dil)
    b.emit(n, "Conv", [b.name(v) for v in n.inputs], kernel_shape=list(w[2:]), strides=stride, dilations=dil,
           pads=pb + pe, group=int(n.attrs.get("groups", 1)))


@_reg("conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
def _conv_transpose(b: Builder, n: _Node) -> None:
    w = b.shape(n.inputs[1])
    nd = len(w) - 2
    stride, dil = _ints(n.attrs.get("stride", 1), nd), _ints(n.attrs.get("dilation", 1), nd)
    if n.attrs.get("pads") is not None:
        p = _ints(n.attrs["pads"], 2 * nd)
        pb, pe = p[:nd], p[nd:]
    else:
        pb = _ints(n.attrs.get("padding", 0), nd)
        pe = list(pb)
    b.emit(n, "ConvTranspose", [b.name(v) for v in n.inputs], kernel_shape=list(w[2:]), strides=stride,
           dilations=dil, pads=pb + pe, group=int(n.attrs.get("groups", 1)),
           output_padding=_ints(n.attrs.get("output_padding", 0), nd))


_UNARY = {"relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "identity": "Identity"}


@_reg(*_UNARY)
def _unary(b: Builder, n: _Node) -> None:
    b.emit(n, _UNARY[n.op], [b.name(n.inputs[0])])


@_reg("leaky_relu")
def _leaky_relu(b: Builder, n: _Node) -> None:
    b.emit(n, "LeakyRelu", [b.name(n.inputs[0])], alpha=float(n.attrs.get("negative_slope", 0.01)))


@_reg("elu")
def _elu(b: Builder, n: _Node) -> None:
    b.emit(n, "Elu", [b.name(n.inputs[0])], alpha=float(n.attrs.get("alpha", 1.0)))


@_reg("hardtanh", "relu6")
def _clip(b: Builder, n: _Node) -> None:
    lo, hi = (0.0, 6.0) if n.op == "relu6" else (float(n.attrs.get("min_val", -1.0)),
                                                 float(n.attrs.get("max_val", 1.0)))
    b.emit(n, "Clip", [b.name(n.inputs[0]), b.const(np.float32(lo), b.tmp(n, "min")),
                       b.const(np.float32(hi), b.tmp(n, "max"))])


@_reg("pow")
def _pow(b: Builder, n: _Node) -> None:
    b.emit(n, "Pow", [b.name(n.inputs[0]), b.const(np.float32(n.attrs["exponent"]), b.tmp(n, "exponent"))])


@_reg("softplus")
def _softplus(b: Builder, n: _Node) -> None:
    # ONNX's Softplus has no beta and no threshold; torch's switch to x above the threshold differs from
    # log(1 + exp(x)) by less than exp(-threshold).
    beta = float(n.attrs.get("beta", 1.0))
    x = b.name(n.inputs[0])
    if beta == 1.0:
        b.emit(n, "Softplus", [x])
        return
    bx = b.add("Mul", [x, b.const(np.float32(beta), b.tmp(n, "beta"))], [b.tmp(n, "bx")], n)
    sp = b.add("Softplus", [bx], [b.tmp(n, "sp")], n)
    b.emit(n, "Div", [sp, b.const(np.float32(beta), b.tmp(n, "beta"))])


@_reg("gelu")
def _gelu(b: Builder, n: _Node) -> None:
    approx = n.attrs.get("approximate", "none")
    x = b.name(n.inputs[0])
    if b.opset >= 20:
        b.emit(n, "Gelu", [x], approximate=approx)
        return
    c = lambda v, w: b.const(np.float32(v), b.tmp(n, w))  # noqa: E731
    if approx == "tanh":  # 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        x3 = b.add("Mul", [b.add("Mul", [x, x], [b.tmp(n, "x2")], n), x], [b.tmp(n, "x3")], n)
        inner = b.add("Add", [x, b.add("Mul", [x3, c(0.044715, "k")], [b.tmp(n, "kx3")], n)], [b.tmp(n, "in")], n)
        t = b.add("Tanh", [b.add("Mul", [inner, c(np.sqrt(2 / np.pi), "s")], [b.tmp(n, "si")], n)],
                  [b.tmp(n, "t")], n)
    else:  # 0.5 x (1 + erf(x / sqrt 2))
        t = b.add("Erf", [b.add("Mul", [x, c(1 / np.sqrt(2.0), "s")], [b.tmp(n, "xs")], n)], [b.tmp(n, "t")], n)
    one = b.add("Add", [t, c(1.0, "one")], [b.tmp(n, "1t")], n)
    b.emit(n, "Mul", [b.add("Mul", [x, c(0.5, "half")], [b.tmp(n, "hx")], n), one])


@_reg("softmax", "log_softmax")
def _softmax(b: Builder, n: _Node) -> None:
    b.emit(n, "Softmax" if n.op == "softmax" else "LogSoftmax", [b.name(n.inputs[0])],
           axis=int(n.attrs.get("dim", -1)))


@_reg("threshold")
def _threshold(b: Builder, n: _Node) -> None:
    x = b.name(n.inputs[0])
    gt = b.add("Greater", [x, b.const(np.float32(n.attrs["threshold"]), b.tmp(n, "th"))], [b.tmp(n, "gt")], n)
    b.emit(n, "Where", [gt, x, b.const(np.float32(n.attrs["value"]), b.tmp(n, "value"))])


@_reg("add", "sub", "mul", "div")
def _binary(b: Builder, n: _Node) -> None:
    b.emit(n, n.op.capitalize(), [b.name(v) for v in n.inputs])


@_reg("scale")
def _scale(b: Builder, n: _Node) -> None:
    alpha, beta = float(n.attrs.get("alpha", 1.0)), float(n.attrs.get("beta", 0.0))
    x = b.name(n.inputs[0])
    if alpha == 1.0 and beta == 0.0:
        b.emit(n, "Identity", [x])
    elif beta == 0.0:
        b.emit(n, "Mul", [x, b.const(np.float32(alpha), b.tmp(n, "alpha"))])
    elif alpha == 1.0:
        b.emit(n, "Add", [x, b.const(np.float32(beta), b.tmp(n, "beta"))])
    else:
        ax = b.add("Mul", [x, b.const(np.float32(alpha), b.tmp(n, "alpha"))], [b.tmp(n, "ax")], n)
        b.emit(n, "Add", [ax, b.const(np.float32(beta), b.tmp(n, "beta"))])


@_reg("linear")
def _linear(b: Builder, n: _Node) -> None:
    x, w = b.name(n.inputs[0]), b.name(n.inputs[1])
    ins = [x, w] + ([b.name(n.inputs[2])] if len(n.inputs) > 2 else [])
    if len(b.shape(n.inputs[0])) == 2:
        b.emit(n, "Gemm", ins, transB=1)
        return
    wt = b.add("Transpose", [w], [b.tmp(n, "weight_t")], n, perm=[1, 0])
    if len(ins) == 2:
        b.emit(n, "MatMul", [x, wt])
    else:
        b.emit(n, "Add", [b.add("MatMul", [x, wt], [b.tmp(n, "mm")], n), ins[2]])


def _pool_common(b: Builder, n: _Node, nd: int, dilated: bool):
    k = _ints(n.attrs["kernel_size"], nd)
    s = n.attrs.get("stride")
    s = k if s is None or (not isinstance(s, (int, np.integer)) and len(s) == 0) else _ints(s, nd)
    d = _ints(n.attrs.get("dilation", 1), nd) if dilated else [1] * nd
    pb, pe = conv_pads(n.attrs, _spatial(b, n.inputs[0]), k, s, d)
    return dict(kernel_shape=k, strides=s, pads=pb + pe, ceil_mode=int(bool(n.attrs.get("ceil_mode", False))),
                dilations=d if any(v != 1 for v in d) else None)


@_reg("max_pool1d", "max_pool2d", "max_pool3d", "min_pool2d")
def _max_pool(b: Builder, n: _Node) -> None:
    nd = 2 if n.op == "min_pool2d" else int(n.op[-2])
    attrs = _pool_common(b, n, nd, True)
    x = b.name(n.inputs[0])
    want_idx = b.consumers.get(n.outputs[1], 0) > 0
    if want_idx and any(b.consumer_ops[c] != "max_unpool2d" for c in b.consumer_ids.get(n.outputs[1], [])):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: pooling indices are only exported for "
                              f"max_unpool2d (ONNX counts them over the whole tensor, fastconv per plane)")
    if n.op == "min_pool2d":
        x = b.add("Neg", [x], [b.tmp(n, "neg")], n)
        m = b.add("MaxPool", [x], [b.tmp(n, "max")] + ([b.out_name(n, 1)] if want_idx else []), n, **attrs)
        b.emit(n, "Neg", [m if isinstance(m, str) else m[0]])
    else:
        b.emit(n, "MaxPool", [x], 2 if want_idx else 1, **attrs)


@_reg("avg_pool1d", "avg_pool2d", "avg_pool3d")
def _avg_pool(b: Builder, n: _Node) -> None:
    nd = int(n.op[-2])
    if n.attrs.get("divisor_override") not in (None, 0):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: divisor_override has no ONNX equivalent")
    attrs = _pool_common(b, n, nd, True)
    if attrs["dilations"] is not None and b.opset < 19:
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: a dilated average pool needs opset >= 19 "
                              f"(AveragePool's dilations)")
    b.emit(n, "AveragePool", [b.name(n.inputs[0])], count_include_pad=int(bool(n.attrs.get("count_include_pad",
                                                                                              True))), **attrs)


@_reg("adaptive_avg_pool2d", "adaptive_max_pool2d")
def _adaptive(b: Builder, n: _Node) -> None:
    ins, outs = _spatial(b, n.inputs[0]), _spatial(b, n.outputs[0])
    avg = n.op == "adaptive_avg_pool2d"
    if n.op == "adaptive_max_pool2d" and b.consumers.get(n.outputs[1], 0):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: adaptive_max_pool2d indices have no ONNX "
                              f"equivalent")
    x = b.name(n.inputs[0])
    if all(o == 1 for o in outs):
        b.emit(n, "GlobalAveragePool" if avg else "GlobalMaxPool", [x])
    elif all(i % o == 0 for i, o in zip(ins, outs)):
        k = [i // o for i, o in zip(ins, outs)]
        b.emit(n, "AveragePool" if avg else "MaxPool", [x], kernel_shape=k, strides=k)
    else:
        _adaptive_separable(b, n, x, ins, outs, avg)


def _windows(i: int, o: int) -> list[tuple[int, int]]:
    return [((j * i) // o, ((j + 1) * i + o - 1) // o) for j in range(o)]


def _adaptive_separable(b: Builder, n: _Node, x: str, ins, outs, avg: bool) -> None:
    """Uneven adaptive windows, one spatial axis at a time (both pools are separable): averages as a product with
    a constant [in, out] averaging matrix, maxima as one ReduceMax per window."""
    cur = x
    for axis in (3, 2):
        i, o = ins[axis - 2], outs[axis - 2]
        last = axis == 2 or ins[0] == outs[0]
        if i == o:
            continue
        dst = [b.out_name(n)] if last else [b.tmp(n, f"axis{axis}")]
        if avg:
            m = np.zeros((i, o), np.float32)
            for j, (s, e) in enumerate(_windows(i, o)):
                m[s:e, j] = 1.0 / (e - s)
            if axis == 3:
                cur = b.add("MatMul", [cur, b.const(m, b.tmp(n, "avg_w"))], dst, n)
            else:
                cur = b.add("MatMul", [b.const(np.ascontiguousarray(m.T), b.tmp(n, "avg_h")), cur], dst, n)
            continue
        parts = []
        for j, (s, e) in enumerate(_windows(i, o)):
            sl = b.add("Slice", [cur, b.ints([s], b.tmp(n, "s")), b.ints([e], b.tmp(n, "e")),
                                 b.ints([axis], b.tmp(n, "a"))], [b.tmp(n, f"win{axis}_{j}")], n)
            parts.append(b.add("ReduceMax", [sl], [b.tmp(n, f"max{axis}_{j}")], n, axes=[axis], keepdims=1)
                         if b.opset < 18 else
                         b.add("ReduceMax", [sl, b.ints([axis], b.tmp(n, "ax"))], [b.tmp(n, f"max{axis}_{j}")], n,
                               keepdims=1))
        cur = b.add("Concat", parts, dst, n, axis=axis)


@_reg("global_avg_pool2d")
def _global_avg(b: Builder, n: _Node) -> None:
    g = b.add("GlobalAveragePool", [b.name(n.inputs[0])], [b.tmp(n, "gap")], n)
    b.emit(n, "Flatten", [g], axis=1)


@_reg("max_unpool2d")
def _max_unpool(b: Builder, n: _Node) -> None:
    attrs = _pool_common(b, n, 2, False)
    attrs.pop("ceil_mode")
    attrs.pop("dilations")
    ins = [b.name(n.inputs[0]), b.name(n.inputs[1])]
    if n.attrs.get("output_size") is not None:
        shape = b.shape(n.outputs[0])
        if b.batch_dim(n.inputs[0]):
            head = b.add("Slice", [b.add("Shape", [ins[0]], [b.tmp(n, "shape")], n), b.ints([0], b.tmp(n, "s0")),
                                   b.ints([1], b.tmp(n, "s1"))], [b.tmp(n, "n")], n)
            ins.append(b.add("Concat", [head, b.ints(shape[1:], b.tmp(n, "rest"))], [b.tmp(n, "out_shape")], n,
                             axis=0))
        else:
            ins.append(b.ints(shape, b.tmp(n, "out_shape")))
    b.emit(n, "MaxUnpool", ins, **attrs)


@_reg("batch_norm")
def _batch_norm(b: Builder, n: _Node) -> None:
    if n.attrs.get("training", False):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: batch_norm in training mode (export traces in "
                              f"eval mode; a functional call with training=True stays in training mode)")
    if not n.attrs.get("has_running", False):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: batch_norm without running statistics")
    c = b.shape(n.inputs[0])[1]
    it = iter(n.inputs[1:])
    rm, rv = next(it), next(it)
    w = b.name(next(it)) if n.attrs.get("has_weight") else b.const(np.ones(c, np.float32), b.tmp(n, "weight"))
    bias = b.name(next(it)) if n.attrs.get("has_bias") else b.const(np.zeros(c, np.float32), b.tmp(n, "bias"))
    b.emit(n, "BatchNormalization", [b.name(n.inputs[0]), w, bias, b.name(rm), b.name(rv)],
           epsilon=float(n.attrs.get("eps", 1e-5)), momentum=1.0 - float(n.attrs.get("momentum", 0.1)))


def _affine(b: Builder, n: _Node, shape: Sequence[int]) -> tuple:
    it = iter(n.inputs[1:])
    w = b.name(next(it)) if n.attrs.get("has_weight") else None
    bias = b.name(next(it)) if n.attrs.get("has_bias") else None
    return (w or b.const(np.ones(shape, np.float32), b.tmp(n, "weight")),
            bias or b.const(np.zeros(shape, np.float32), b.tmp(n, "bias")))


@_reg("layer_norm")
def _layer_norm(b: Builder, n: _Node) -> None:
    ns = _ints(n.attrs["normalized_shape"], 1) if isinstance(n.attrs["normalized_shape"], int) else \
        [int(s) for s in n.attrs["normalized_shape"]]
    w, bias = _affine(b, n, ns)
    b.emit(n, "LayerNormalization", [b.name(n.inputs[0]), w, bias], axis=-len(ns),
           epsilon=float(n.attrs.get("eps", 1e-5)))


@_reg("group_norm")
def _group_norm(b: Builder, n: _Node) -> None:
    xs = b.shape(n.inputs[0])
    c, g = xs[1], int(n.attrs["num_groups"])
    w, bias = _affine(b, n, [c])
    x = b.name(n.inputs[0])
    if b.opset >= 21:
        b.emit(n, "GroupNormalization", [x, w, bias], num_groups=g, epsilon=float(n.attrs.get("eps", 1e-5)))
        return
    # Before opset 21 GroupNormalization's scale is per group; instance norm over [N, G, rest] normalises groups.
    r = b.add("Reshape", [x, b.ints([0, g, -1], b.tmp(n, "grouped"))], [b.tmp(n, "r")], n)
    inorm = b.add("InstanceNormalization", [r, b.const(np.ones(g, np.float32), b.tmp(n, "ones")),
                                            b.const(np.zeros(g, np.float32), b.tmp(n, "zeros"))],
                  [b.tmp(n, "in")], n, epsilon=float(n.attrs.get("eps", 1e-5)))
    back = b.add("Reshape", [inorm, b.add("Shape", [x], [b.tmp(n, "shape")], n)], [b.tmp(n, "back")], n)
    cshape = b.ints([c] + [1] * (len(xs) - 2), b.tmp(n, "cshape"))
    ws = b.add("Reshape", [w, cshape], [b.tmp(n, "w")], n)
    bs = b.add("Reshape", [bias, cshape], [b.tmp(n, "b")], n)
    b.emit(n, "Add", [b.add("Mul", [back, ws], [b.tmp(n, "scaled")], n), bs])


@_reg("local_response_norm")
def _lrn(b: Builder, n: _Node) -> None:
    size = int(n.attrs["size"])
    if size % 2 == 0:
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: local_response_norm with an even size ({size}): "
                              f"torch's window [c - size//2, c + (size-1)//2] differs from ONNX LRN's")
    b.emit(n, "LRN", [b.name(n.inputs[0])], size=size, alpha=float(n.attrs.get("alpha", 1e-4)),
           beta=float(n.attrs.get("beta", 0.75)), bias=float(n.attrs.get("k", 1.0)))


@_reg("reshape", "flatten")
def _reshape(b: Builder, n: _Node) -> None:
    ins, outs = b.shape(n.inputs[0]), b.shape(n.outputs[0])
    x = b.name(n.inputs[0])
    if n.op == "flatten" and len(ins) >= 2 and n.attrs.get("end_dim", -1) in (-1, len(ins) - 1) and \
            int(n.attrs.get("start_dim", 0)) % len(ins) >= 1 and len(outs) == 2:
        b.emit(n, "Flatten", [x], axis=1)
        return
    b.emit(n, "Reshape", [x, b.ints(b.reshape_target(n, n.inputs[0], outs), b.tmp(n, "shape"))])


@_reg("cat")
def _cat(b: Builder, n: _Node) -> None:
    b.emit(n, "Concat", [b.name(v) for v in n.inputs], axis=int(n.attrs.get("dim", 0)))


@_reg("slice")
def _slice(b: Builder, n: _Node) -> None:
    dim = int(n.attrs["dim"]) % len(b.shape(n.inputs[0]))
    if dim == 0 and b.batch_dim(n.inputs[0]):
        raise OnnxExportError(f"fastconv.onnx.export: {n.where()}: slicing the batch dimension; export with "
                              f"dynamic_batch=False")
    start, length = int(n.attrs["start"]), int(n.attrs["length"])
    b.emit(n, "Slice", [b.name(n.inputs[0]), b.ints([start], b.tmp(n, "starts")),
                        b.ints([start + length], b.tmp(n, "ends")), b.ints([dim], b.tmp(n, "axes"))])


@_reg("permute")
def _permute(b: Builder, n: _Node) -> None:
    b.emit(n, "Transpose", [b.name(n.inputs[0])], perm=[int(d) for d in n.attrs["dims"]])


@_reg("sum", "mean")
def _reduce(b: Builder, n: _Node) -> None:
    rank = len(b.shape(n.inputs[0]))
    dim = n.attrs.get("dim")
    axes = list(range(rank)) if dim is None else [int(d) % rank for d in _ints(dim, 1)]
    keep = int(bool(n.attrs.get("keepdim", False)))
    x = b.name(n.inputs[0])
    op = "ReduceSum" if n.op == "sum" else "ReduceMean"
    if op == "ReduceSum" or b.opset >= 18:
        b.emit(n, op, [x, b.ints(axes, b.tmp(n, "axes"))], keepdims=keep)
    else:
        b.emit(n, op, [x], axes=axes, keepdims=keep)


@_reg("interpolate", "resize")
def _interpolate(b: Builder, n: _Node) -> None:
    from ._resize_export import export_resize
    export_resize(b, n)
