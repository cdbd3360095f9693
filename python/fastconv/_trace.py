"""Tracing: the one mechanism that turns Python code into a fastconv graph.

Every functional op goes through `op()`. With NumPy arrays it runs the C++ kernel at once (eager); when any input is
a `Symbol` (a value of a graph being traced) it appends a node instead. `value_and_grad` traces a function once per
input shapes, appends the backward pass in C++ (`Graph.append_backward`), compiles an `Executable` and reuses it.
The graph engine (compile, nn modules, training) builds on this same tracer.
"""
from __future__ import annotations

import functools
import itertools
import numbers
import threading
from typing import Any, Callable, Sequence

import numpy as np

from . import _C

_local = threading.local()


class TraceContext:
    """A graph under construction. Entered with `with`; nested contexts are not allowed."""

    def __init__(self) -> None:
        self.graph = _C.Graph()
        self._keep: list[Any] = []  # arrays bound into the graph without a copy must outlive it
        self.step_state = None  # an optimizer's C++ state: its step counter numbers this graph's steps
        self._step: Symbol | None = None

    def __enter__(self) -> "TraceContext":
        if getattr(_local, "ctx", None) is not None:
            raise RuntimeError("fastconv: a trace is already active in this thread; traces do not nest")
        _local.ctx = self
        return self

    def __exit__(self, *exc) -> None:
        _local.ctx = None

    def input(self, name: str, shape: Sequence[int], dtype: str = "float32") -> "Symbol":
        return Symbol(self, self.graph.input(name, list(shape), dtype))

    def param(self, name: str, array: np.ndarray, requires_grad: bool = True) -> "Symbol":
        self._keep.append(array)
        return Symbol(self, self.graph.param(name, array, requires_grad))

    def step(self) -> "Symbol":
        """The index of each run of this graph (int64 [1], 0 on the first), counted on the device by a node of the
        graph: per-step randomness (dropout) reads it, so the host writes nothing between steps."""
        if self._step is None:
            self._step = Symbol(self, _C.step_counter(self.graph, self.step_state))
        return self._step

    def positional_seed(self) -> int:
        """A seed fixed by how many were drawn in this graph before (and fastconv.manual_seed): an eager step that
        records the same ops draws the same seeds, so its compiled program is reused; the step counter still gives
        every run fresh masks."""
        self._positional = getattr(self, "_positional", 0) + 1
        x = (_base_seed[0] * 0x9E3779B97F4A7C15 + self._positional * 0xD1B54A32D192ED03 + 7) & 0xFFFFFFFFFFFFFFFF
        return (x ^ (x >> 29)) & 0x7FFFFFFFFFFFFFFF

    def constant(self, array: np.ndarray, name: str = "") -> "Symbol":
        self._keep.append(array)
        return Symbol(self, self.graph.constant(array, name))


def current() -> TraceContext | None:
    return getattr(_local, "ctx", None)


class Symbol:
    """A value in a graph being traced: it has a static shape and dtype but no data yet."""

    __array_priority__ = 1000  # `ndarray + Symbol` defers to Symbol.__radd__

    def __init__(self, ctx: TraceContext, vid: int) -> None:
        self.ctx = ctx
        self.id = vid

    @property
    def shape(self) -> tuple:
        return tuple(self.ctx.graph.shape(self.id))

    @property
    def dtype(self) -> str:
        return self.ctx.graph.dtype(self.id)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> "_Size":
        """The element count (NumPy's `size`), also callable as torch's `size()` / `size(dim)`."""
        return _Size(int(np.prod(self.shape, dtype=np.int64)), self.shape)

    def __repr__(self) -> str:
        return f"Symbol(%{self.id}, shape={self.shape}, dtype={self.dtype})"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d Symbol")
        return self.shape[0]

    def __bool__(self) -> bool:
        raise TypeError("a traced value has no data yet, so it cannot be used as a Python bool; traced graphs are "
                        "static (use the value outside the traced function)")

    # Arithmetic mirrors torch/NumPy; Python scalars fold into a `scale` node (y = alpha*x + beta).
    def __add__(self, o):
        return _scalar_or(self, o, "add", lambda c: dict(beta=c))

    __radd__ = __add__

    def __sub__(self, o):
        return _scalar_or(self, o, "sub", lambda c: dict(beta=-c))

    def __rsub__(self, o):
        if _is_scalar(o):
            return op("scale", [self], dict(alpha=-1.0, beta=float(o)))
        return op("sub", [o, self])

    def __mul__(self, o):
        return _scalar_or(self, o, "mul", lambda c: dict(alpha=c))

    __rmul__ = __mul__

    def __truediv__(self, o):
        return _scalar_or(self, o, "div", lambda c: dict(alpha=1.0 / c))

    def __rtruediv__(self, o):
        return op("div", [o, self])

    def __neg__(self):
        return op("scale", [self], dict(alpha=-1.0))

    def sum(self, dim=None, keepdim: bool = False):
        return op("sum", [self], dict(dim=dim, keepdim=keepdim))

    def mean(self, dim=None, keepdim: bool = False):
        return op("mean", [self], dict(dim=dim, keepdim=keepdim))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return op("reshape", [self], dict(shape=tuple(int(s) for s in shape)))

    view = reshape

    # torch's tensor methods that models call in forward, so one forward serves tracing and the eager loop
    def dim(self) -> int:
        return self.ndim

    def view_as(self, other):
        return self.reshape(tuple(other.shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return op("flatten", [self], dict(start_dim=int(start_dim), end_dim=int(end_dim)))

    def unsqueeze(self, dim: int):
        s = self.shape
        d = dim % (len(s) + 1)
        return self.reshape(s[:d] + (1,) + s[d:])

    def squeeze(self, dim=None):
        s = self.shape
        if dim is None:
            return self.reshape(tuple(n for n in s if n != 1))
        d = dim % max(len(s), 1)
        return self.reshape(s[:d] + s[d + 1:]) if s and s[d] == 1 else self

    def permute(self, *dims):
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        return op("permute", [self], dict(dims=tuple(int(d) % self.ndim for d in dims)))

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.ndim))
        dims[dim0], dims[dim1] = dims[dim1], dims[dim0]
        return self.permute(*dims)


class _Size(int):
    """Symbol.size: an int (NumPy's element count) that, called, answers torch's size() and size(dim)."""

    def __new__(cls, n: int, shape: tuple):
        obj = super().__new__(cls, n)
        obj.shape = shape
        return obj

    def __call__(self, dim=None):
        return self.shape if dim is None else self.shape[dim]


def _is_scalar(o) -> bool:
    return isinstance(o, (int, float, np.integer, np.floating)) and not isinstance(o, bool)


def _scalar_or(s: Symbol, o, name: str, scalar_attrs: Callable[[float], dict]):
    if _is_scalar(o):
        return op("scale", [s], scalar_attrs(float(o)))
    return op(name, [s, o])


def _as_graph_value(ctx: TraceContext, x) -> int:
    if isinstance(x, Symbol):
        if x.ctx is not ctx:
            raise ValueError("fastconv: a Symbol from another trace was used; values cannot cross traces")
        return x.id
    arr = np.asarray(x)
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    return ctx.constant(np.asarray(arr, order="C")).id  # asarray keeps 0-d arrays 0-d


_Tensor = None  # fastconv.Tensor, set when fastconv.tensor is imported (it imports this module)


def op(name: str, inputs: Sequence[Any], attrs: dict | None = None, *, multi: bool = False, scope: str = ""):
    """Runs op `name` eagerly on arrays, or records it when an input is a Symbol. Returns one value, or a tuple of
    values when `multi` is set (ops with several outputs)."""
    attrs = attrs or {}
    if _Tensor is not None and any(isinstance(x, _Tensor) for x in inputs):
        live = any(isinstance(x, _Tensor) and x._live() for x in inputs)
        if live or not any(isinstance(x, Symbol) for x in inputs):  # else: a Tensor as a constant of a trace
            from ._lazy import dispatch
            return dispatch(name, inputs, attrs, multi, scope)
    ctx = next((x.ctx for x in inputs if isinstance(x, Symbol)), None)
    if ctx is None:
        ctx = current() if any(isinstance(x, Symbol) for x in inputs) else None
    if ctx is None:
        outs = _C.run_op(name, list(inputs), attrs)
    else:
        ids = [_as_graph_value(ctx, x) for x in inputs]
        outs = [Symbol(ctx, v) for v in ctx.graph.add(name, ids, attrs, scope)]
    return tuple(outs) if multi else outs[0]


_seed_counter = itertools.count()
_base_seed = [0x5EED]


def manual_seed(seed: int) -> None:
    """Seeds fastconv's random streams (dropout masks, parameter initialisation)."""
    global _seed_counter
    if isinstance(seed, bool) or not isinstance(seed, (numbers.Integral, np.integer)):
        raise TypeError(f"manual_seed: argument 'seed' must be an int, got {type(seed).__name__} {seed!r:.60}")
    if not -2**63 <= int(seed) < 2**64:  # torch's range: any 64-bit value, signed or not
        raise ValueError(f"manual_seed: argument 'seed' must be in [-2**63, 2**64), got {int(seed)}")
    _base_seed[0] = int(seed)
    _seed_counter = itertools.count()


def next_seed() -> int:
    """A fresh 63-bit seed from the global stream; deterministic after manual_seed."""
    k = next(_seed_counter)
    x = (_base_seed[0] * 0x9E3779B97F4A7C15 + k * 0xBF58476D1CE4E5B9 + 1) & 0xFFFFFFFFFFFFFFFF
    x ^= x >> 31
    return x & 0x7FFFFFFFFFFFFFFF


def _input_dtype(a: np.ndarray) -> str:
    if a.dtype.kind == "f":
        return "float32"
    if a.dtype.kind in "iu":
        return "int64"
    if a.dtype.kind == "b":
        return "bool"
    raise TypeError(f"fastconv: unsupported array dtype {a.dtype}; expected a floating-point or integer array")


def _convert_input(a: np.ndarray, dtype: str) -> np.ndarray:
    # ascontiguousarray promotes 0-d arrays to 1-d; keep the shape the graph was traced with.
    out = np.ascontiguousarray(a, dtype={"float32": np.float32, "int64": np.int64, "bool": np.bool_}[dtype])
    return out.reshape(np.shape(a))


class Traced:
    """A function traced for fixed input shapes: its graph and its compiled executable."""

    def __init__(self, f: Callable, args: Sequence[Any], grad_argnums: Sequence[int] | None):
        self.array_pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]
        self.dtypes = {i: _input_dtype(args[i]) for i in self.array_pos}
        with TraceContext() as ctx:
            syms = {i: ctx.input(f"arg{i}", args[i].shape, self.dtypes[i]) for i in self.array_pos}
            call_args = [syms.get(i, a) for i, a in enumerate(args)]
            out = f(*call_args)
        self.ctx = ctx
        self.syms = syms
        if not isinstance(out, Symbol):
            raise TypeError(f"fastconv: the traced function must return a value computed from its array arguments "
                            f"(a fastconv op result), got {type(out).__name__}")
        self.out = out
        self.grads: list[int] = []
        if grad_argnums is not None:
            if out.size != 1:
                raise ValueError(f"value_and_grad: the function must return a scalar (one element), got shape "
                                 f"{out.shape}; reduce it with .sum() or .mean()")
            for i in grad_argnums:
                if i not in syms:
                    raise TypeError(f"value_and_grad: argnums={i} refers to a non-array argument "
                                    f"({type(args[i]).__name__ if i < len(args) else 'missing'})")
                if self.dtypes[i] != "float32":
                    raise TypeError(f"value_and_grad: argument {i} has dtype {args[i].dtype}; gradients need "
                                    f"floating-point arrays")
            self.grads = ctx.graph.append_backward(out.id, [syms[i].id for i in grad_argnums])
        self.exe = _C.Executable(ctx.graph, [out.id] + list(self.grads))

    def run(self, args: Sequence[Any]):
        inputs = {self.syms[i].id: _convert_input(args[i], self.dtypes[i]) for i in self.array_pos}
        vals = self.exe.call(inputs, [self.out.id] + list(self.grads))
        return vals[0], vals[1:]


def _cache_key(args: Sequence[Any]) -> tuple:
    key = []
    for a in args:
        if isinstance(a, np.ndarray):
            key.append(("array", a.shape, _input_dtype(a)))
        else:
            try:
                hash(a)
                key.append(("value", a))
            except TypeError:
                key.append(("object", id(a)))
    return tuple(key)


def _normalize_args(args: Sequence[Any]) -> list:
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(a)
        elif hasattr(a, "__dlpack__") or hasattr(a, "__array__"):
            out.append(np.asarray(a))
        elif isinstance(a, (list, tuple)) and a and all(_is_scalar(x) for x in a):
            out.append(np.asarray(a))
        else:
            out.append(a)
    return out


def trace(f: Callable, *example_args) -> Traced:
    """Traces f for the shapes of `example_args`; `.ctx.graph.dump()` shows the graph, `.exe.schedule()` the plan."""
    return Traced(f, _normalize_args(example_args), None)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0) -> Callable:
    """Returns g(*args) -> (f(*args), df/dargs[argnums]) computed by fastconv's compiled backward pass.

    f must return a one-element value built from fastconv ops. Array arguments become graph inputs (traced once per
    shapes and dtypes, then cached); other arguments are baked into the trace and are part of the cache key. Arrays
    that f reads from its closure become graph constants bound to their memory.
    """
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    cache: dict[tuple, Traced] = {}

    @functools.wraps(f)
    def wrapped(*args):
        args = _normalize_args(args)
        key = _cache_key(args)
        t = cache.get(key)
        if t is None:
            t = cache[key] = Traced(f, args, nums)
        value, grads = t.run(args)
        return value, (grads[0] if single else tuple(grads))

    wrapped.cache = cache  # exposed for tests and debugging
    return wrapped
