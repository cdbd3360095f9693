"""NumPy implementations of the ONNX operators that appear in shape computations (Shape -> Gather -> Unsqueeze ->
Concat -> Reshape, as torch.onnx writes dynamic flattening). fastconv.onnx.load runs them while tracing whenever
all their inputs are static, so only the data path reaches the compiled graph. Shape and Size need only the shape
of their input, so they fold on traced values too."""
from __future__ import annotations

import numpy as np

_ONNX_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
                10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}


def _shape(a, v, opset):
    sh = np.asarray(tuple(int(s) for s in v[0].shape), np.int64)
    r = len(sh)
    start, end = int(a.get("start", 0)), a.get("end")
    start = max(0, min(r, start + r if start < 0 else start))
    end = r if end is None else max(0, min(r, int(end) + r if int(end) < 0 else int(end)))
    return [sh[start:end]]


def _size(a, v, opset):
    return [np.asarray(int(np.prod([int(s) for s in v[0].shape])), np.int64)]


def _gather(a, v, opset):
    return [np.take(v[0], np.asarray(v[1], np.int64), axis=int(a.get("axis", 0)))]


def _axes(a, v, r):
    ax = v[1] if len(v) > 1 and v[1] is not None else a.get("axes")
    return None if ax is None else [int(x) % r for x in np.asarray(ax).reshape(-1)]


def _unsqueeze(a, v, opset):
    x = np.asarray(v[0])
    n = len(_axes_raw(a, v))
    out = x
    for i in sorted(_axes(a, v, x.ndim + n)):
        out = np.expand_dims(out, i)
    return [out]


def _axes_raw(a, v):
    ax = v[1] if len(v) > 1 and v[1] is not None else a.get("axes", [])
    return list(np.asarray(ax).reshape(-1))


def _squeeze(a, v, opset):
    x = np.asarray(v[0])
    ax = _axes(a, v, x.ndim)
    return [np.squeeze(x, axis=None if ax is None else tuple(ax))]


def _concat(a, v, opset):
    arrs = [np.asarray(x) for x in v if x is not None]
    return [np.concatenate(arrs, axis=int(a["axis"]) % arrs[0].ndim)]


def _cast(a, v, opset):
    to = int(a["to"])
    if to not in _ONNX_DTYPES:
        raise ValueError(f"attribute 'to': ONNX type {to} is not supported")
    return [np.asarray(v[0]).astype(_ONNX_DTYPES[to])]


def _binary(f, int_f=None):
    def run(a, v, opset):
        x, y = np.asarray(v[0]), np.asarray(v[1])
        if int_f is not None and x.dtype.kind in "iu" and y.dtype.kind in "iu":
            return [int_f(x, y).astype(np.result_type(x, y))]
        return [f(x, y).astype(np.result_type(x, y))]
    return run


def _slice(a, v, opset):
    x = np.asarray(v[0])
    if opset < 10:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        starts, ends = v[1], v[2]
        axes = v[3] if len(v) > 3 else None
        steps = v[4] if len(v) > 4 else None
    starts, ends = [int(s) for s in np.asarray(starts).reshape(-1)], [int(e) for e in np.asarray(ends).reshape(-1)]
    axes = list(range(len(starts))) if axes is None else [int(i) % x.ndim for i in np.asarray(axes).reshape(-1)]
    steps = [1] * len(starts) if steps is None else [int(s) for s in np.asarray(steps).reshape(-1)]
    idx = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        idx[ax] = slice(s, e, st)  # Python slicing clamps as ONNX does (INT64_MAX / MIN ends included)
    return [x[tuple(idx)]]


def _reshape(a, v, opset):
    from ._import_ops import reshape_target
    x = np.asarray(v[0])
    return [x.reshape(reshape_target(x.shape, v[1], bool(a.get("allowzero", 0))))]


def _constant_of_shape(a, v, opset):
    val = a.get("value")
    val = np.zeros((1,), np.float32) if val is None else np.asarray(val)
    return [np.full(tuple(int(s) for s in np.asarray(v[0]).reshape(-1)), val.reshape(-1)[0], val.dtype)]


def _range(a, v, opset):
    s, lim, d = (np.asarray(x).reshape(()) for x in v[:3])
    return [np.arange(s, lim, d).astype(np.result_type(s, lim, d))]


def _expand(a, v, opset):
    x, sh = np.asarray(v[0]), [int(s) for s in np.asarray(v[1]).reshape(-1)]
    return [x * np.ones(sh, x.dtype)]


def _transpose(a, v, opset):
    x = np.asarray(v[0])
    return [np.transpose(x, a.get("perm"))]


def _where(a, v, opset):
    return [np.where(np.asarray(v[0]), np.asarray(v[1]), np.asarray(v[2]))]


def _unary(f):
    return lambda a, v, opset: [f(np.asarray(v[0])).astype(np.asarray(v[0]).dtype)]


def _reduce(f):
    def run(a, v, opset):
        x = np.asarray(v[0])
        ax = _axes(a, v, max(x.ndim, 1))
        if ax == [] and int(a.get("noop_with_empty_axes", 0)):
            return [x]
        return [f(x, axis=None if not ax else tuple(ax), keepdims=bool(a.get("keepdims", 1))).astype(x.dtype)]
    return run


STATIC_OPS = {
    "Shape": _shape, "Size": _size, "Gather": _gather, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "Concat": _concat, "Cast": _cast, "Slice": _slice, "Reshape": _reshape, "ConstantOfShape": _constant_of_shape,
    "Range": _range, "Expand": _expand, "Transpose": _transpose, "Where": _where,
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _binary(np.divide, lambda x, y: np.trunc(x / y)), "Equal": lambda a, v, o: [np.equal(v[0], v[1])],
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Sqrt": _unary(np.sqrt), "Neg": _unary(np.negative),
    "Identity": lambda a, v, o: [np.asarray(v[0])], "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum), "ReduceMean": _reduce(np.mean),
}

SHAPE_ONLY = {"Shape", "Size"}

__all__ = ["STATIC_OPS", "SHAPE_ONLY"]
