"""The ONNX operators fastconv.onnx.load supports, each as a function of (module, attributes, inputs, outputs)
returning its outputs. An input or output is a pair (value, static): static values are NumPy arrays known while
tracing (initializers in shape-like slots, Constant nodes, shapes of traced values and what is computed from them);
the rest is the data path, run through fastconv.functional (traced into the compiled graph, or eager on arrays).

OPS maps each op type to (function, the attributes it understands, the input slots that must be static). Attributes
outside that set, and values a function cannot express, raise OnnxImportError naming the node, op and attribute.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from . import _import_pad_pool as _pp
from ._errors import OnnxImportError
from ._import_static import SHAPE_ONLY, STATIC_OPS

_BIG = 3.4028234663852886e38


class Unsupported(OnnxImportError):
    pass


def _need(cond: bool, attr: str, msg: str) -> None:
    if not cond:
        raise Unsupported(f"attribute '{attr}': {msg}")


def _shape(v) -> tuple:
    return tuple(int(s) for s in v.shape)


def _static(v, what: str) -> np.ndarray:
    val, st = v
    if not st:
        raise Unsupported(f"input '{what}' must be a constant (an initializer, a Constant node or computed from "
                          f"shapes); here it depends on the data")
    return val


def _padding(attrs, nd: int, kind: str = "pool"):
    """ONNX's auto_pad / pads as fastconv's padding argument."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        _need(not any(attrs.get("pads", [])), "pads", "cannot be given with auto_pad SAME_*")
        return auto.lower()
    if auto == "VALID":
        return 0
    _need(auto == "NOTSET", "auto_pad", f"unknown value '{auto}'")
    pads = list(attrs.get("pads", [0] * (2 * nd)))
    _need(len(pads) == 2 * nd, "pads", f"needs {2 * nd} values for {nd} spatial dimensions, got {pads}")
    if not any(pads):
        return 0
    return tuple((pads[i], pads[nd + i]) for i in range(nd))


def _spatial(attrs, name: str, nd: int, default: int = 1):
    v = list(attrs.get(name, [default] * nd))
    _need(len(v) == nd, name, f"needs {nd} values, got {v}")
    return tuple(int(a) for a in v)


# ---- convolution and pooling ---------------------------------------------------------------------------------------
def conv(m, a, ins, outs):
    x, w = ins[0][0], ins[1][0]
    nd = len(w.shape) - 2
    _need(1 <= nd <= 3, "kernel_shape", f"{nd}-D convolution is not supported (1-D to 3-D)")
    if "kernel_shape" in a:
        _need(tuple(a["kernel_shape"]) == _shape(w)[2:], "kernel_shape",
              f"{a['kernel_shape']} differs from the weight's {_shape(w)[2:]}")
    b = ins[2][0] if len(ins) > 2 and ins[2][0] is not None else None
    f = getattr(F, f"conv{nd}d")
    return [(f(x, w, b, stride=_spatial(a, "strides", nd), padding=_padding(a, nd, "conv"),
               dilation=_spatial(a, "dilations", nd), groups=int(a.get("group", 1))), False)]


def conv_transpose(m, a, ins, outs):
    x, w = ins[0][0], ins[1][0]
    nd = len(w.shape) - 2
    _need(1 <= nd <= 3, "kernel_shape", f"{nd}-D transposed convolution is not supported (1-D to 3-D)")
    b = ins[2][0] if len(ins) > 2 and ins[2][0] is not None else None
    s, d = _spatial(a, "strides", nd), _spatial(a, "dilations", nd)
    opad = list(_spatial(a, "output_padding", nd, 0))
    k, inp = _shape(w)[2:], _shape(x)[2:]
    auto = a.get("auto_pad", "NOTSET")
    if "output_shape" in a or auto in ("SAME_UPPER", "SAME_LOWER"):
        want = list(a["output_shape"])[-nd:] if "output_shape" in a else [i * st for i, st in zip(inp, s)]
        begin, end = [], []
        for i in range(nd):
            total = s[i] * (inp[i] - 1) + opad[i] + (k[i] - 1) * d[i] + 1 - want[i]
            if total < 0:  # a larger output than the kernels reach: the extra goes to output_padding
                opad[i] -= total
                total = 0
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            begin.append(lo)
            end.append(total - lo)
        pads = tuple(zip(begin, end))
    else:
        pads = _padding(a, nd, "conv")
        _need(not isinstance(pads, str), "auto_pad", f"'{auto}' is not supported for ConvTranspose")
    f = getattr(F, f"conv_transpose{nd}d")
    return [(f(x, w, b, stride=s, padding=pads, output_padding=tuple(opad), groups=int(a.get("group", 1)),
               dilation=d), False)]


def max_pool(m, a, ins, outs):
    x = ins[0][0]
    k = tuple(a["kernel_shape"])
    nd = len(k)
    _need(1 <= nd <= 3, "kernel_shape", f"{nd}-D pooling is not supported")
    order = int(a.get("storage_order", 0))
    _need(order in (0, 1), "storage_order", f"must be 0 (row major) or 1 (column major), got {order}")
    f = getattr(F, f"max_pool{nd}d")
    want_idx = len(outs) > 1 and bool(outs[1])
    if want_idx:
        n_planes = int(np.prod(_shape(x)[:-nd]))
        _need(n_planes == 1 or a.get("_fc_local_indices"), "Indices",
              "indices over the whole tensor (ONNX's flattening across batch and channels) are supported only for "
              "one plane or when they feed MaxUnpool")
    stride, dil, pad = _spatial(a, "strides", nd), _spatial(a, "dilations", nd), _padding(a, nd)
    flip = want_idx and order == 1 and nd > 1
    if flip:  # column-major indices = row-major indices of the input with its spatial axes reversed
        lead = len(x.shape) - nd
        perm = tuple(range(lead)) + tuple(range(len(x.shape) - 1, lead - 1, -1))
        x, k, stride, dil = F.permute(x, perm), k[::-1], stride[::-1], dil[::-1]
        pad = pad[::-1] if isinstance(pad, tuple) else pad
    r = f(x, k, stride=stride, padding=pad, dilation=dil, ceil_mode=bool(a.get("ceil_mode", 0)),
          return_indices=want_idx)
    if flip:
        r = tuple(F.permute(v, perm) for v in r)
    return [(r[0], False), (r[1], False)] if want_idx else [(r, False)]


def avg_pool(m, a, ins, outs):
    x = ins[0][0]
    k = tuple(a["kernel_shape"])
    nd = len(k)
    _need(1 <= nd <= 3, "kernel_shape", f"{nd}-D pooling is not supported")
    f = getattr(F, f"avg_pool{nd}d")
    return [(f(x, k, stride=_spatial(a, "strides", nd), padding=_padding(a, nd), ceil_mode=bool(a.get("ceil_mode", 0)),
               count_include_pad=bool(a.get("count_include_pad", 0)), dilation=_spatial(a, "dilations", nd)), False)]


def global_avg_pool(m, a, ins, outs):
    x = ins[0][0]
    return [(F.mean(x, dim=tuple(range(2, len(x.shape))), keepdim=True), False)]


def global_max_pool(m, a, ins, outs):
    x = ins[0][0]
    nd = len(x.shape) - 2
    _need(1 <= nd <= 3, "input", f"GlobalMaxPool over {nd} spatial dimensions is not supported")
    return [(getattr(F, f"max_pool{nd}d")(x, _shape(x)[2:]), False)]


def max_unpool(m, a, ins, outs):
    x, idx = ins[0][0], ins[1][0]
    k = tuple(a["kernel_shape"])
    nd = len(k)
    _need(1 <= nd <= 3, "kernel_shape", f"{nd}-D MaxUnpool is not supported (1-D to 3-D)")
    pads = list(a.get("pads", [0] * (2 * nd)))
    _need(pads[:nd] == pads[nd:], "pads", f"begin and end pads must be equal, got {pads}")
    size = None
    if len(ins) > 2 and ins[2][0] is not None:
        size = tuple(int(v) for v in _static(ins[2], "output_shape"))[-nd:]
    f = getattr(F, f"max_unpool{nd}d")
    return [(f(x, idx, k, _spatial(a, "strides", nd), tuple(pads[:nd]), size), False)]


# ---- normalisation -------------------------------------------------------------------------------------------------
def batch_norm(m, a, ins, outs):
    _need(int(a.get("spatial", 1)) == 1, "spatial", "only spatial=1 is supported")
    x, scale, bias, mean, var = (v[0] for v in ins[:5])
    train = m.training or bool(a.get("training_mode", 0))
    mom, eps = float(a.get("momentum", 0.9)), float(a.get("epsilon", 1e-5))
    if not any(outs[1:]):
        # a node in training mode updates the statistics as ONNX defines (biased batch variance); a model put into
        # train() here trains as torch's BatchNorm does (unbiased)
        onnx_train = bool(a.get("training_mode", 0))
        return [(F.batch_norm(x, mean, var, scale, bias, training=train, momentum=1.0 - mom, eps=eps,
                              running_var_unbiased=not onnx_train), False)]
    # The training outputs (opset 14+): the updated statistics are graph values, as ONNX defines them, with the
    # biased batch variance; the input statistics are not updated in place.
    _need(train, "training_mode", "the running_mean/running_var outputs exist only in training mode")
    r = len(x.shape)
    dims, keep = tuple(i for i in range(r) if i != 1), tuple(-1 if i == 1 else 1 for i in range(r))
    bm = F.mean(x, dim=dims)
    bv = F.mean(F.mul(F.sub(x, F.reshape(bm, keep)), F.sub(x, F.reshape(bm, keep))), dim=dims)
    y = F.batch_norm(x, None, None, scale, bias, training=True, eps=eps)
    return [(y, False), (F.add(mean * mom, bm * (1.0 - mom)), False), (F.add(var * mom, bv * (1.0 - mom)), False)]


def instance_norm(m, a, ins, outs):
    x, scale, bias = (v[0] for v in ins[:3])
    return [(F.group_norm(x, int(x.shape[1]), scale, bias, eps=float(a.get("epsilon", 1e-5))), False)]


def group_norm(m, a, ins, outs):
    x, scale, bias = (v[0] for v in ins[:3])
    g, c = int(a["num_groups"]), int(x.shape[1])
    _need(_shape(scale) == (c,) or g == c, "num_groups",
          f"scale/bias of {_shape(scale)} per group (opset 18's form) with {g} groups of {c} channels are not "
          f"supported; per-channel scale and bias (opset 21) are")
    return [(F.group_norm(x, g, scale, bias, eps=float(a.get("epsilon", 1e-5))), False)]


def layer_norm(m, a, ins, outs):
    x = ins[0][0]
    axis = int(a.get("axis", -1)) % len(x.shape)
    ns = _shape(x)[axis:]
    scale = ins[1][0]
    bias = ins[2][0] if len(ins) > 2 else None
    for v, nm in ((scale, "Scale"), (bias, "B")):
        _need(v is None or _shape(v) == ns, nm, f"shape {None if v is None else _shape(v)} must be {ns}")
    eps = float(a.get("epsilon", 1e-5))
    y = (F.layer_norm(x, ns, scale, bias, eps=eps), False)
    if not any(outs[1:]):
        return [y]
    # Mean and InvStdDev (biased variance), of shape x.shape[:axis] + (1,) * (rank - axis)
    dims = tuple(range(axis, len(x.shape)))
    mu = F.mean(x, dim=dims, keepdim=True)
    d = F.sub(x, mu)
    return [y, (mu, False), (F.pow(F.mean(F.mul(d, d), dim=dims, keepdim=True) + eps, -0.5), False)]


def lrn(m, a, ins, outs):
    return [(F.local_response_norm(ins[0][0], int(a["size"]), alpha=float(a.get("alpha", 1e-4)),
                                   beta=float(a.get("beta", 0.75)), k=float(a.get("bias", 1.0))), False)]


# ---- linear algebra ------------------------------------------------------------------------------------------------
def gemm(m, a, ins, outs):
    x, w = ins[0][0], ins[1][0]
    if int(a.get("transA", 0)):
        x = F.permute(x, (1, 0))
    if not int(a.get("transB", 0)):
        w = F.permute(w, (1, 0))
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    c = ins[2] if len(ins) > 2 and ins[2][0] is not None else None
    n = int(w.shape[0])
    if c is not None and alpha == 1.0 and beta == 1.0 and _shape(c[0]) in ((n,), (1, n)):
        b = c[0] if len(c[0].shape) == 1 else F.reshape(c[0], (n,))
        return [(F.linear(x, w, b), False)]
    y = F.linear(x, w)
    if alpha != 1.0:
        y = y * alpha
    if c is not None and beta != 0.0:
        y = F.add(y, c[0] if beta == 1.0 else c[0] * beta)
    return [(y, False)]


def matmul(m, a, ins, outs):
    """A @ B (numpy.matmul): linear over the last axis where B is a matrix (or a vector), over the second-to-last
    axis of B where A is a matrix ((B^T A^T)^T, as fastconv.onnx.export writes uneven adaptive pooling), else
    (two batched operands) the broadcast product A[..., m, k, 1] * B[..., 1, k, n] summed over k, which holds
    m * k * n values per batch."""
    x, w = ins[0][0], ins[1][0]
    xs, ws = _shape(x), _shape(w)
    _need(len(xs) >= 1 and len(ws) >= 1, "A/B", "MatMul needs operands of rank 1 or more")
    if len(xs) == 1:
        x = F.reshape(x, (1,) + xs)
    if len(ws) == 1:
        w = F.reshape(w, ws + (1,))
    xr, wr = _shape(x), _shape(w)
    if len(wr) == 2:
        y = F.linear(x, F.permute(w, (1, 0)))
    elif len(xr) == 2:
        r = len(wr)
        swap = tuple(range(r - 2)) + (r - 1, r - 2)
        y = F.permute(F.linear(F.permute(w, swap), x), swap)
    else:
        y = F.sum(F.mul(F.reshape(x, xr + (1,)), F.reshape(w, wr[:-2] + (1,) + wr[-2:])), dim=-2)
    if len(xs) == 1 and len(ws) == 1:
        ys = ()
    elif len(xs) == 1:
        ys = ws[:-2] + ws[-1:]
    elif len(ws) == 1:
        ys = xs[:-1]
    else:
        ys = tuple(np.broadcast_shapes(xs[:-2], ws[:-2])) + (xs[-2], ws[-1])
    return [(F.reshape(y, ys) if ys != _shape(y) else y, False)]


# ---- activations ---------------------------------------------------------------------------------------------------
def _unary(fn):
    return lambda m, a, ins, outs: [(fn(ins[0][0], a), False)]


def prelu(m, a, ins, outs):
    x, slope = ins[0][0], ins[1][0]
    r = F.relu(x)
    return [(F.add(r, F.mul(slope, F.sub(x, r))), False)]


def _softmax(fn):
    def run(m, a, ins, outs):
        x = ins[0][0]
        r = len(x.shape)
        if m._graph["opset"] >= 13:
            return [(fn(x, int(a.get("axis", -1))), False)]
        axis = int(a.get("axis", 1)) % r  # opset < 13: softmax over the 2-D coercion [prod(:axis), prod(axis:)]
        sh = _shape(x)
        if axis == r - 1:
            return [(fn(x, -1), False)]
        y = fn(F.reshape(x, (int(np.prod(sh[:axis])), int(np.prod(sh[axis:])))), -1)
        return [(F.reshape(y, sh), False)]
    return run


def pow_(m, a, ins, outs):
    """Pow with a constant exponent that is one value (broadcast or not): fastconv.functional.pow."""
    x = ins[0][0]
    e = np.asarray(_static(ins[1], "Y"))
    if not (e.dtype.kind in "fiu" and e.size >= 1 and np.all(e == e.reshape(-1)[0])):
        raise Unsupported(f"input 'Y': the exponent must be one number (a scalar, or an array of equal values; "
                          f"fastconv's pow has a scalar exponent), got a {e.dtype} array of shape {e.shape}")
    y = F.pow(x, float(e.reshape(-1)[0]))
    want = tuple(np.broadcast_shapes(_shape(x), e.shape))
    return [(F.reshape(y, want) if want != _shape(x) else y, False)]


def clip(m, a, ins, outs):
    lo, hi = a.get("min", -_BIG), a.get("max", _BIG)
    if len(ins) > 1 and ins[1][0] is not None:
        lo = float(_static(ins[1], "min"))
    if len(ins) > 2 and ins[2][0] is not None:
        hi = float(_static(ins[2], "max"))
    lo = min(float(lo), float(hi))  # ONNX: min(max(x, lo), hi), so hi wins where lo > hi
    return [(F.hardtanh(ins[0][0], lo, float(hi)), False)]


def _binary(name):
    fn = getattr(F, name)

    def run(m, a, ins, outs):
        (x, xs), (y, ys) = ins[0], ins[1]
        if not xs and ys and np.size(y) == 1 and np.ndim(y) <= len(x.shape):
            c = float(np.asarray(y).reshape(()))
            return [({"add": lambda: x + c, "sub": lambda: x - c, "mul": lambda: x * c,
                      "div": lambda: x / c}[name](), False)]
        if xs and not ys and np.size(x) == 1 and np.ndim(x) <= len(y.shape) and name in ("add", "mul"):
            c = float(np.asarray(x).reshape(()))
            return [(y + c if name == "add" else y * c, False)]
        return [(fn(x, y), False)]
    return run


# ---- shapes --------------------------------------------------------------------------------------------------------
def _axes(a, ins, r: int, default=None):
    if len(ins) > 1 and ins[1][0] is not None:
        ax = [int(v) for v in _static(ins[1], "axes")]
    elif "axes" in a:
        ax = [int(v) for v in a["axes"]]
    else:
        ax = default
    return None if ax is None else sorted(v % r for v in ax)


def concat(m, a, ins, outs):
    vals = [v for v, _ in ins if v is not None]
    axis = int(a["axis"]) % len(vals[0].shape)
    return [(F.cat(vals, axis), False)]


def flatten(m, a, ins, outs):
    x = ins[0][0]
    sh = _shape(x)
    axis = int(a.get("axis", 1))
    axis = axis + len(sh) if axis < 0 else axis
    return [(F.reshape(x, (int(np.prod(sh[:axis])), int(np.prod(sh[axis:])))), False)]


def reshape_target(sh, target, allowzero: bool) -> tuple:
    t = [int(v) for v in target]
    if not allowzero:
        t = [sh[i] if v == 0 else v for i, v in enumerate(t)]
    if t.count(-1) == 1:
        known = int(np.prod([v for v in t if v != -1]))
        t[t.index(-1)] = int(np.prod(sh)) // known if known else 0
    if int(np.prod(t)) != int(np.prod(sh)) or any(v < 0 for v in t):
        raise ValueError(f"cannot reshape {tuple(sh)} to {tuple(int(v) for v in target)}")
    return tuple(t)


def reshape(m, a, ins, outs):
    x = ins[0][0]
    t = reshape_target(_shape(x), _static(ins[1], "shape"), bool(a.get("allowzero", 0)))
    return [(F.reshape(x, t), False)]


def transpose(m, a, ins, outs):
    x = ins[0][0]
    perm = tuple(int(p) for p in a.get("perm", range(len(x.shape) - 1, -1, -1)))
    return [(F.permute(x, perm), False)]


def squeeze(m, a, ins, outs):
    x = ins[0][0]
    sh = _shape(x)
    ax = _axes(a, ins, len(sh), [i for i, s in enumerate(sh) if s == 1])
    for i in ax:
        if sh[i] != 1:
            raise ValueError(f"cannot squeeze axis {i} of size {sh[i]}")
    return [(F.reshape(x, tuple(s for i, s in enumerate(sh) if i not in ax)), False)]


def unsqueeze(m, a, ins, outs):
    x = ins[0][0]
    sh = list(_shape(x))
    ax = _axes(a, ins, len(sh) + len(_axes_raw(a, ins)))
    for i in ax:
        sh.insert(i, 1)
    return [(F.reshape(x, tuple(sh)), False)]


def _axes_raw(a, ins):
    return list(_static(ins[1], "axes")) if len(ins) > 1 and ins[1][0] is not None else list(a.get("axes", []))


def identity(m, a, ins, outs):
    return [ins[0]]


def cast(m, a, ins, outs):
    _need(int(a["to"]) == 1, "to", "casting the data path to a type other than float32 is not supported")
    return [ins[0]]


def dropout(m, a, ins, outs):
    ratio = float(a.get("ratio", 0.5))
    if len(ins) > 1 and ins[1][0] is not None:
        ratio = float(_static(ins[1], "ratio"))
    train = m.training
    if len(ins) > 2 and ins[2][0] is not None:
        train = bool(_static(ins[2], "training_mode"))
    x = ins[0][0]
    if not (len(outs) > 1 and outs[1]):
        return [(F.dropout(x, ratio, training=train), False)]
    if not train or ratio == 0.0:  # nothing is dropped: the mask is all true, known while tracing
        return [ins[0], (np.ones(_shape(x), dtype=bool), True)]
    # The mask is the kept positions of a dropout of ones (bool: a NumPy value, so eager calls only).
    _need(isinstance(x, np.ndarray), "mask", "a training-mode mask (bool) is not a value fastconv graphs "
          "compute; call the module eagerly on arrays, or do not read the mask")
    keep = F.dropout(np.ones(_shape(x), np.float32), ratio, training=True)
    return [(F.mul(x, keep), False), (np.asarray(keep) != 0, True)]


def resize(m, a, ins, outs):
    from ._import_resize import resize as run
    return run(m, a, ins, outs, _static, Unsupported)


def reduce_mean(name):
    fn = getattr(F, name)

    def run(m, a, ins, outs):
        x = ins[0][0]
        r = len(x.shape)
        ax = _axes(a, ins, r, list(range(r)))
        if not ax and int(a.get("noop_with_empty_axes", 0)):
            return [ins[0]]
        return [(fn(x, dim=tuple(ax or range(r)), keepdim=bool(a.get("keepdims", 1))), False)]
    return run


_CONV_POOL = {"auto_pad", "pads", "strides", "dilations", "kernel_shape"}
OPS = {
    "Conv": (conv, _CONV_POOL | {"group"}, set()),
    "ConvTranspose": (conv_transpose, _CONV_POOL | {"group", "output_padding", "output_shape"}, set()),
    "MaxPool": (max_pool, _CONV_POOL | {"ceil_mode", "storage_order", "_fc_local_indices"}, set()),
    "AveragePool": (avg_pool, _CONV_POOL | {"ceil_mode", "count_include_pad"}, set()),
    "GlobalAveragePool": (global_avg_pool, set(), set()),
    "GlobalMaxPool": (global_max_pool, set(), set()),
    "MaxUnpool": (max_unpool, {"kernel_shape", "pads", "strides"}, {2}),
    "BatchNormalization": (batch_norm, {"epsilon", "momentum", "training_mode", "spatial"}, set()),
    "InstanceNormalization": (instance_norm, {"epsilon"}, set()),
    "GroupNormalization": (group_norm, {"epsilon", "num_groups", "stash_type"}, set()),
    "LayerNormalization": (layer_norm, {"axis", "epsilon", "stash_type"}, set()),
    "LRN": (lrn, {"alpha", "beta", "bias", "size"}, set()),
    "Gemm": (gemm, {"alpha", "beta", "transA", "transB"}, set()),
    "MatMul": (matmul, set(), set()),
    "LpPool": (lambda m, a, ins, outs: _pp.lp_pool(m, a, ins, outs, _need, _spatial, _padding),
               _CONV_POOL | {"p", "ceil_mode"}, set()),
    "Pad": (lambda m, a, ins, outs: _pp.pad(m, a, ins, outs, _need, _static), {"mode", "pads", "value"},
            {1, 2, 3}),
    "Relu": (_unary(lambda x, a: F.relu(x)), set(), set()),
    "LeakyRelu": (_unary(lambda x, a: F.leaky_relu(x, float(a.get("alpha", 0.01)))), {"alpha"}, set()),
    "PRelu": (prelu, set(), set()),
    "Elu": (_unary(lambda x, a: F.elu(x, float(a.get("alpha", 1.0)))), {"alpha"}, set()),
    "Selu": (_unary(lambda x, a: F.elu(x, float(a.get("alpha", 1.6732632423543772))) *
                    float(a.get("gamma", 1.0507009873554805))), {"alpha", "gamma"}, set()),
    "Sigmoid": (_unary(lambda x, a: F.sigmoid(x)), set(), set()),
    "HardSigmoid": (_unary(lambda x, a: F.hardtanh(x * float(a.get("alpha", 0.2)) + float(a.get("beta", 0.5)),
                                                   0.0, 1.0)), {"alpha", "beta"}, set()),
    "Tanh": (_unary(lambda x, a: F.tanh(x)), set(), set()),
    "Softmax": (_softmax(F.softmax), {"axis"}, set()),
    "LogSoftmax": (_softmax(F.log_softmax), {"axis"}, set()),
    "Gelu": (_unary(lambda x, a: F.gelu(x, a.get("approximate", "none"))), {"approximate"}, set()),
    "Softplus": (_unary(lambda x, a: F.softplus(x)), set(), set()),
    "Clip": (clip, {"min", "max"}, {1, 2}),
    "Pow": (pow_, set(), {1}),
    "Add": (_binary("add"), set(), set()),
    "Sub": (_binary("sub"), set(), set()),
    "Mul": (_binary("mul"), set(), set()),
    "Div": (_binary("div"), set(), set()),
    "Concat": (concat, {"axis"}, set()),
    "Flatten": (flatten, {"axis"}, set()),
    "Reshape": (reshape, {"allowzero"}, {1}),
    "Transpose": (transpose, {"perm"}, set()),
    "Squeeze": (squeeze, {"axes"}, {1}),
    "Unsqueeze": (unsqueeze, {"axes"}, {1}),
    "Identity": (identity, set(), set()),
    "Cast": (cast, {"to", "saturate"}, set()),
    "Dropout": (dropout, {"ratio", "seed"}, {1, 2}),
    "Resize": (resize, {"mode", "coordinate_transformation_mode", "nearest_mode", "cubic_coeff_a", "exclude_outside",
                        "extrapolation_value", "antialias", "axes", "keep_aspect_ratio_policy"}, {1, 2, 3}),
    "Upsample": (resize, {"mode", "scales"}, {1}),
    "ReduceMean": (reduce_mean("mean"), {"axes", "keepdims", "noop_with_empty_axes"}, {1}),
    "ReduceSum": (reduce_mean("sum"), {"axes", "keepdims", "noop_with_empty_axes"}, {1}),
}

# Inputs that are running statistics (buffers updated in training), by op type.
RUNNING_SLOTS = {"BatchNormalization": {3, 4}}


def handler(node):
    op_type = node[0]
    fn = OPS.get(op_type, (None,))[0]
    static = STATIC_OPS.get(op_type)

    def run(m, attrs, ins, outs):
        if static is not None and (op_type in SHAPE_ONLY or all(st for _, st in ins)):
            return [(v, True) for v in static(attrs, [v for v, _ in ins], m._graph["opset"])]
        if fn is None:
            raise Unsupported(f"{op_type} is supported only on constants (shape computations), and here an input "
                              f"depends on the data")
        return fn(m, attrs, ins, outs)
    return run


def supported() -> set[str]:
    return set(OPS) | set(STATIC_OPS)


__all__ = ["OPS", "RUNNING_SLOTS", "handler", "supported", "reshape_target"]
