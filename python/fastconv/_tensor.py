"""fastconv.Tensor: torch's tensor habits over NumPy arrays, and the handle of the eager training loop.

A Tensor holds a NumPy array (`np.asarray(t)` and `t.numpy()` share its memory) or, inside a recorded step, a
value not computed yet (see fastconv/_lazy.py): reading it (`item`, `tolist`, `numpy`, indexing with arrays,
comparisons) runs the recorded forward; shape ops and arithmetic on it are recorded too, so gradients flow through
them. Functional ops and modules given Tensors return Tensors; given NumPy arrays they return NumPy arrays, as ever.
"""
from __future__ import annotations

import builtins
import numbers
from collections import namedtuple

import numpy as np

from . import _trace

__all__ = ["Tensor", "tensor", "from_numpy", "as_tensor", "zeros", "ones", "full", "empty", "zeros_like",
           "ones_like", "randn", "rand", "randint", "arange", "stack", "flatten", "float32", "float64", "int64",
           "int32", "uint8", "bool", "long", "device", "is_tensor", "numel", "argmax", "exp", "log", "sqrt", "abs"]

float32, float64, int64, int32, uint8 = (np.dtype(n) for n in ("float32", "float64", "int64", "int32", "uint8"))
bool = np.dtype("bool")  # noqa: A001 - torch's name (fastconv.bool)
long = int64

_DTYPES = {"float32": float32, "float": float32, "float64": float64, "double": float64, "int64": int64,
           "long": int64, "int32": int32, "int": int32, "uint8": uint8, "bool": bool}

values_indices = namedtuple("values_indices", ["values", "indices"])  # what torch's max(dim=) returns


class device(str):
    """torch.device's small part: a device name ('cpu', 'cuda', 'cuda:0') that compares equal to its string."""

    def __new__(cls, kind="cpu", index=None):
        name = str(kind) if index is None else f"{kind}:{int(index)}"
        return super().__new__(cls, name)

    @property
    def type(self) -> str:
        return self.split(":")[0]


def _dtype(d):
    if d is None:
        return None
    if isinstance(d, str):
        if d not in _DTYPES:
            raise TypeError(f"unknown dtype {d!r}; expected one of {sorted(_DTYPES)}")
        return _DTYPES[d]
    return np.dtype(d)


def _shape_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if not isinstance(s, (numbers.Integral, np.integer)) or isinstance(s, builtins.bool):
            raise TypeError(f"shape entries must be ints, got {type(s).__name__} {s!r}")
    return tuple(int(s) for s in shape)


def _dim(d, ndim: int, who: str) -> int:
    if not -ndim - (ndim == 0) <= d < max(ndim, 1):
        raise IndexError(f"{who}: Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                         f"{max(ndim, 1) - 1}], but got {d})")
    return d % max(ndim, 1)


def _arr(x):
    return x._value() if isinstance(x, Tensor) else x


class Tensor:
    __slots__ = ("_arr", "_lazy", "requires_grad", "grad", "__weakref__")
    __array_priority__ = 1000  # ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data=None, requires_grad: builtins.bool = False) -> None:
        if data is None:
            data = np.zeros((0,), np.float32)
        self._arr = data if isinstance(data, np.ndarray) else np.asarray(data)
        self._lazy = None  # (LazyTrace, value id) while the value is recorded, not computed
        self.requires_grad = builtins.bool(requires_grad)
        self.grad = None

    @classmethod
    def _from_lazy(cls, trace, vid: int) -> "Tensor":
        t = cls.__new__(cls)
        t._arr, t._lazy, t.requires_grad, t.grad = None, (trace, vid), True, None
        return t

    def _value(self) -> np.ndarray:
        if self._arr is None:
            self._lazy[0].forward(self)
        return self._arr

    def _live(self) -> builtins.bool:
        """Recorded in an open step (ops on it are recorded and reach its gradient)."""
        return self._lazy is not None and not self._lazy[0].closed

    # ---- what it is ------------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        if self._arr is not None:
            return self._arr.shape
        return tuple(self._lazy[0].graph.shape(self._lazy[1]))

    @property
    def dtype(self) -> np.dtype:
        if self._arr is not None:
            return self._arr.dtype
        return np.dtype(self._lazy[0].graph.dtype(self._lazy[1]))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def device(self) -> device:
        return device("cpu")

    @property
    def ctx(self):  # traced branches of the functional ops ask a value for its trace (dropout's step counter)
        return self._lazy[0].ctx

    @property
    def is_leaf(self) -> builtins.bool:
        return self._lazy is None

    @property
    def T(self) -> "Tensor":
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        s = self.shape
        return s if dim is None else s[_dim(dim, len(s), "size")]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    nelement = numel

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self) -> str:
        if self._arr is None:
            return f"tensor(<not computed yet>, shape={list(self.shape)}, dtype={self.dtype})"
        body = np.array2string(self._arr, separator=", ", prefix="tensor(")
        extra = "" if self._arr.dtype in (float32, int64) else f", dtype={self._arr.dtype}"
        return f"tensor({body}{extra}{', requires_grad=True' if self.requires_grad and self.is_leaf else ''})"

    # ---- values ----------------------------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        return self._value()

    def __array__(self, dtype=None, copy=None):
        a = self._value()
        return a if dtype is None else a.astype(dtype, copy=False)

    def __dlpack__(self, *args, **kwargs):
        return self._value().__dlpack__(*args, **kwargs)

    def __dlpack_device__(self):
        return self._value().__dlpack_device__()

    def data_ptr(self) -> int:
        return self._value().ctypes.data

    def item(self):
        a = self._value()
        if a.size != 1:
            raise RuntimeError(f"a Tensor with {a.size} elements cannot be converted to Scalar")
        return a.reshape(-1)[0].item()

    def tolist(self):
        return self._value().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self) -> builtins.bool:
        a = self._value()
        if a.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {a.size} values is ambiguous")
        return builtins.bool(a.reshape(-1)[0])

    def __iter__(self):
        if not self.shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def detach(self) -> "Tensor":
        return Tensor(self._value())

    def clone(self) -> "Tensor":
        return Tensor(self._value().copy(), requires_grad=self.requires_grad and self.is_leaf)

    def cpu(self) -> "Tensor":
        return self

    def to(self, *args, **kwargs) -> "Tensor":
        """to('cpu'), to(dtype), to(device, dtype): a CUDA device gives the engine's device tensor (fastconv._C)."""
        dev, dt = kwargs.get("device"), kwargs.get("dtype")
        for a in args:
            if isinstance(a, (np.dtype, type)) or (isinstance(a, str) and a in _DTYPES):
                dt = a
            else:
                dev = a
        out = self if dt is None else self.type(dt)
        if dev is not None and str(dev).split(":")[0] != "cpu":
            from . import _C
            return _C.from_numpy(np.ascontiguousarray(out._value())).to(str(dev))
        return out

    def type(self, dtype) -> "Tensor":
        d = _dtype(dtype)
        return self if d == self.dtype else Tensor(self._value().astype(d))

    def float(self) -> "Tensor":
        return self.type(float32)

    def double(self) -> "Tensor":
        return self.type(float64)

    def long(self) -> "Tensor":
        return self.type(int64)

    def int(self) -> "Tensor":
        return self.type(int32)

    def requires_grad_(self, requires_grad: builtins.bool = True) -> "Tensor":
        if not self.is_leaf:
            raise RuntimeError("you can only change requires_grad flags of leaf variables")
        if requires_grad and self.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        self.requires_grad = builtins.bool(requires_grad)
        return self

    def backward(self, gradient=None) -> None:
        if not self._live():
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: this "
                               "value was not recorded in a step with trainable parameters (or its step already "
                               "ran backward())")
        self._lazy[0].backward(self, gradient)

    # ---- shape ops (recorded when live) ------------------------------------------------------------------------------
    def _op(self, name, inputs, attrs):
        from ._trace import op
        return op(name, inputs, attrs)

    def reshape(self, *shape) -> "Tensor":
        shape = _shape_args(shape)
        if self._live():
            return self._op("reshape", [self], dict(shape=shape))
        return Tensor(self._value().reshape(shape))

    view = reshape

    def view_as(self, other) -> "Tensor":
        return self.reshape(tuple(other.shape))

    reshape_as = view_as

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        s = self.shape
        if not s:
            return self.reshape(1)
        a, b = _dim(start_dim, len(s), "flatten"), _dim(end_dim, len(s), "flatten")
        return self.reshape(s[:a] + (int(np.prod(s[a:b + 1], dtype=np.int64)),) + s[b + 1:])

    def unsqueeze(self, dim: int) -> "Tensor":
        s = self.shape
        d = _dim(dim, len(s) + 1, "unsqueeze")
        return self.reshape(s[:d] + (1,) + s[d:])

    def squeeze(self, dim=None) -> "Tensor":
        s = self.shape
        if dim is None:
            return self.reshape(tuple(n for n in s if n != 1))
        d = _dim(dim, len(s), "squeeze")
        return self.reshape(s[:d] + s[d + 1:]) if s and s[d] == 1 else self

    def permute(self, *dims) -> "Tensor":
        dims = _shape_args(dims)
        if len(dims) != self.ndim:
            raise RuntimeError(f"permute: number of dims don't match: got {len(dims)} for a {self.ndim}-D tensor")
        if self._live():
            return self._op("permute", [self], dict(dims=tuple(d % self.ndim for d in dims)))
        return Tensor(self._value().transpose(dims))

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        dims = list(range(self.ndim))
        a, b = _dim(dim0, self.ndim, "transpose"), _dim(dim1, self.ndim, "transpose")
        dims[a], dims[b] = dims[b], dims[a]
        return self.permute(*dims)

    def t(self) -> "Tensor":
        return self.transpose(0, 1) if self.ndim == 2 else self

    def contiguous(self) -> "Tensor":
        return self if self._arr is None else Tensor(np.ascontiguousarray(self._arr))

    def expand(self, *shape) -> "Tensor":
        shape = _shape_args(shape)
        own = (1,) * (len(shape) - self.ndim) + tuple(self.shape)
        shape = tuple(o if n == -1 else n for n, o in zip(shape, own))  # -1 keeps the size, as torch
        if self._live():
            return self._op("broadcast_to", [self], dict(shape=shape))
        return Tensor(np.broadcast_to(self._value(), shape))

    def __getitem__(self, key):
        if self._live() and _basic_index(key):
            return _record_index(self, key)
        return Tensor(np.asarray(self._value()[_arr(key) if isinstance(key, Tensor) else key]))

    def __setitem__(self, key, value) -> None:
        if self._arr is None:
            raise RuntimeError("a value recorded in a step cannot be written in place (compute a new one instead)")
        self._arr[_arr(key) if isinstance(key, Tensor) else key] = _arr(value)

    # ---- reductions ----------------------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim: builtins.bool = False, dtype=None) -> "Tensor":
        if self._live() and dtype is None:
            return self._op("sum", [self], dict(dim=dim, keepdim=keepdim))
        return Tensor(np.asarray(self._value().sum(axis=_axes(dim), keepdims=keepdim, dtype=_dtype(dtype))))

    def mean(self, dim=None, keepdim: builtins.bool = False) -> "Tensor":
        if self._live():
            return self._op("mean", [self], dict(dim=dim, keepdim=keepdim))
        return Tensor(np.asarray(self._value().mean(axis=_axes(dim), keepdims=keepdim), dtype=self.dtype))

    def _arg(self, fn, dim, keepdim):
        a = self._value()
        if dim is None:
            return Tensor(np.asarray(fn(a.reshape(-1)), np.int64))
        return Tensor(np.asarray(fn(a, axis=dim, keepdims=keepdim), np.int64))

    def argmax(self, dim=None, keepdim: builtins.bool = False) -> "Tensor":
        return self._arg(np.argmax, dim, keepdim)

    def argmin(self, dim=None, keepdim: builtins.bool = False) -> "Tensor":
        return self._arg(np.argmin, dim, keepdim)

    def _extreme(self, fn, argfn, dim, keepdim):
        a = self._value()
        if dim is None:
            return Tensor(np.asarray(fn(a)))
        return values_indices(Tensor(np.asarray(fn(a, axis=dim, keepdims=keepdim))),
                              Tensor(np.asarray(argfn(a, axis=dim, keepdims=keepdim), np.int64)))

    def max(self, dim=None, keepdim: builtins.bool = False):
        if isinstance(dim, Tensor):  # torch.max(a, b): the elementwise maximum
            return Tensor(np.maximum(self._value(), dim._value()))
        return self._extreme(np.max, np.argmax, dim, keepdim)

    def min(self, dim=None, keepdim: builtins.bool = False):
        if isinstance(dim, Tensor):
            return Tensor(np.minimum(self._value(), dim._value()))
        return self._extreme(np.min, np.argmin, dim, keepdim)

    def std(self, dim=None, keepdim: builtins.bool = False, unbiased: builtins.bool = True) -> "Tensor":
        return Tensor(np.asarray(self._value().std(axis=_axes(dim), keepdims=keepdim, ddof=int(unbiased))))

    def norm(self, p=2) -> "Tensor":
        return Tensor(np.asarray(np.linalg.norm(self._value().reshape(-1), ord=p), self.dtype))

    # ---- comparisons and elementwise math (values: not recorded) ----------------------------------------------------
    def _cmp(self, fn, other):
        return Tensor(fn(self._value(), _arr(other)))

    def eq(self, other):
        return self._cmp(np.equal, other)

    def ne(self, other):
        return self._cmp(np.not_equal, other)

    def lt(self, other):
        return self._cmp(np.less, other)

    def le(self, other):
        return self._cmp(np.less_equal, other)

    def gt(self, other):
        return self._cmp(np.greater, other)

    def ge(self, other):
        return self._cmp(np.greater_equal, other)

    __eq__, __ne__, __lt__, __le__, __gt__, __ge__ = eq, ne, lt, le, gt, ge
    __hash__ = object.__hash__

    def equal(self, other) -> builtins.bool:
        return self.shape == tuple(other.shape) and builtins.bool(np.array_equal(self._value(), _arr(other)))

    def abs(self):
        return Tensor(np.abs(self._value()))

    def exp(self):
        return Tensor(np.exp(self._value()))

    def log(self):
        return Tensor(np.log(self._value()))

    def sqrt(self):
        return Tensor(np.sqrt(self._value()))

    def __pow__(self, p):
        if self._live() and isinstance(p, numbers.Real) and not isinstance(p, builtins.bool):
            return self._op("pow", [self], dict(exponent=float(p)))
        return Tensor(np.power(self._value(), _arr(p)))

    # ---- arithmetic (recorded when live) ---------------------------------------------------------------------------
    def _binary(self, other, name, np_fn, scalar_attrs, reflected=False):
        live = self._live() or (isinstance(other, Tensor) and other._live())
        if live:
            if isinstance(other, numbers.Real) and not isinstance(other, builtins.bool) and scalar_attrs:
                return self._op("scale", [self], scalar_attrs(float(other)))
            a, b = (other, self) if reflected else (self, other)
            return self._op(name, [a, b], {})
        a, b = (_arr(other), self._value()) if reflected else (self._value(), _arr(other))
        return Tensor(np.asarray(np_fn(a, b)))

    def __add__(self, o):
        return self._binary(o, "add", np.add, lambda c: dict(alpha=1.0, beta=c))

    def __radd__(self, o):
        return self._binary(o, "add", np.add, lambda c: dict(alpha=1.0, beta=c), True)

    def __sub__(self, o):
        return self._binary(o, "sub", np.subtract, lambda c: dict(alpha=1.0, beta=-c))

    def __rsub__(self, o):
        return self._binary(o, "sub", np.subtract, lambda c: dict(alpha=-1.0, beta=c), True)

    def __mul__(self, o):
        return self._binary(o, "mul", np.multiply, lambda c: dict(alpha=c, beta=0.0))

    def __rmul__(self, o):
        return self._binary(o, "mul", np.multiply, lambda c: dict(alpha=c, beta=0.0), True)

    def __truediv__(self, o):
        return self._binary(o, "div", np.true_divide, lambda c: dict(alpha=1.0 / c, beta=0.0))

    def __rtruediv__(self, o):
        return self._binary(o, "div", np.true_divide, None, True)

    def __neg__(self):
        if self._live():
            return self._op("scale", [self], dict(alpha=-1.0, beta=0.0))
        return Tensor(-self._value())

    def __iadd__(self, o):
        if self._arr is not None and not self._live():
            np.add(self._arr, _arr(o), out=self._arr, casting="unsafe")
            return self
        return self + o

    add, sub, mul, div = __add__, __sub__, __mul__, __truediv__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # ndarray (op) Tensor: recorded when a Tensor is live and the op is one the graph has, else computed now
        names = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.true_divide: "div"}
        if method == "__call__" and ufunc in names and len(inputs) == 2 and "out" not in kwargs and \
                builtins.any(isinstance(x, Tensor) and x._live() for x in inputs):
            return self._op(names[ufunc], list(inputs), {})
        out = getattr(ufunc, method)(*[_arr(x) for x in inputs], **{k: (tuple(_arr(o) for o in v) if k == "out"
                                                                       else v) for k, v in kwargs.items()})
        return Tensor(out) if isinstance(out, np.ndarray) else out


def _axes(dim):
    return tuple(dim) if isinstance(dim, (list, tuple)) else dim


def _basic_index(key) -> builtins.bool:
    key = key if isinstance(key, tuple) else (key,)
    return builtins.all((isinstance(k, slice) and k.step in (None, 1)) or
                        (isinstance(k, (numbers.Integral, np.integer)) and not isinstance(k, builtins.bool))
                        for k in key)


def _record_index(t: Tensor, key) -> Tensor:
    """t[ints and slices] on a recorded value: slice ops (differentiable), then a reshape dropping int dims."""
    key = key if isinstance(key, tuple) else (key,)
    if len(key) > t.ndim:
        raise IndexError(f"too many indices for tensor of dimension {t.ndim}")
    out, shape = t, list(t.shape)
    keep = []
    for d, k in enumerate(key):
        n = shape[d]
        if isinstance(k, slice):
            start, stop, _ = k.indices(n)
            length = builtins.max(0, stop - start)
            keep.append(length)
        else:
            if not -n <= int(k) < n:
                raise IndexError(f"index {int(k)} is out of bounds for dimension {d} with size {n}")
            start, length = int(k) % n, 1
        if (start, length) != (0, n):
            out = out._op("slice", [out], dict(dim=d, start=start, length=length))
    final = tuple(keep) + tuple(shape[len(key):])
    return out if tuple(out.shape) == final else out.reshape(final)


# ---- factories -------------------------------------------------------------------------------------------------------
_DTYPE_MSG = ("{who}: can't convert an array of dtype {dtype} (strings, complex and object arrays are not supported); "
              "expected dtype float64, float32, int64, int32, uint8 or bool")


def is_tensor(x) -> builtins.bool:
    return isinstance(x, Tensor)


def numel(x) -> int:
    return x.numel()


def tensor(data, dtype=None, device=None, requires_grad: builtins.bool = False) -> Tensor:
    """A new Tensor holding a copy of `data` (nested lists of numbers default to float32 or int64, as torch's)."""
    if isinstance(data, Tensor):
        data = data._value()
    if hasattr(data, "detach") and hasattr(data, "numpy"):
        data = data.detach().cpu().numpy()
    a = np.array(data, dtype=_dtype(dtype), copy=True)
    if a.dtype.kind not in "fiub":
        raise TypeError(_DTYPE_MSG.format(who="tensor", dtype=a.dtype))
    if dtype is None and a.dtype == np.float64 and not isinstance(data, np.ndarray):
        a = a.astype(np.float32)  # Python floats are float32 in torch
    if dtype is None and a.dtype.kind in "iu" and not isinstance(data, np.ndarray):
        a = a.astype(np.int64)
    t = Tensor(a).requires_grad_(requires_grad) if requires_grad else Tensor(a)
    return t.to(device) if device is not None else t


def from_numpy(a: np.ndarray) -> Tensor:
    """A Tensor sharing the array's memory (as torch.from_numpy)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(a).__name__})")
    if a.dtype.kind not in "fiub":
        raise TypeError(_DTYPE_MSG.format(who="from_numpy", dtype=a.dtype))
    return Tensor(a)


def as_tensor(data, dtype=None) -> Tensor:
    if isinstance(data, Tensor) and dtype is None:
        return data
    if isinstance(data, np.ndarray) and (dtype is None or _dtype(dtype) == data.dtype):
        return Tensor(data)
    return tensor(data, dtype)


def _factory(fn, shape, dtype, requires_grad):
    t = Tensor(fn(_shape_args(shape), _dtype(dtype) or float32))
    return t.requires_grad_() if requires_grad else t


def zeros(*shape, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(np.zeros, shape, dtype, requires_grad)


def ones(*shape, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(np.ones, shape, dtype, requires_grad)


def empty(*shape, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(np.empty, shape, dtype, requires_grad)


def full(size, fill_value, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(lambda s, d: np.full(s, fill_value, d), (size,), dtype, requires_grad)


def zeros_like(t, dtype=None) -> Tensor:
    return Tensor(np.zeros(tuple(t.shape), _dtype(dtype) or t.dtype))


def ones_like(t, dtype=None) -> Tensor:
    return Tensor(np.ones(tuple(t.shape), _dtype(dtype) or t.dtype))


def _rng():
    from ._trace import next_seed
    return np.random.default_rng(next_seed())  # fastconv.manual_seed makes these reproducible


def randn(*shape, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(lambda s, d: _rng().standard_normal(s).astype(d), shape, dtype, requires_grad)


def rand(*shape, dtype=None, requires_grad: builtins.bool = False) -> Tensor:
    return _factory(lambda s, d: _rng().random(s).astype(d), shape, dtype, requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    if high is None:
        low, high = 0, low
    return Tensor(_rng().integers(low, high, _shape_args((size,))).astype(_dtype(dtype) or int64))


def arange(start, end=None, step=1, dtype=None) -> Tensor:
    if end is None:
        start, end = 0, start
    a = np.arange(start, end, step)
    if dtype is None:
        a = a.astype(int64 if a.dtype.kind in "iu" else float32)
    return Tensor(a.astype(_dtype(dtype)) if dtype is not None else a)


def stack(tensors, dim: int = 0) -> Tensor:
    return Tensor(np.stack([_arr(t) for t in tensors], axis=dim))


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    if isinstance(input, Tensor):
        return input.flatten(start_dim, end_dim)
    from .functional import flatten as f
    return f(input, start_dim, end_dim)


def argmax(input, dim=None, keepdim: builtins.bool = False) -> Tensor:
    return as_tensor(input).argmax(dim, keepdim)


def exp(x) -> Tensor:
    return as_tensor(x).exp()


def log(x) -> Tensor:
    return as_tensor(x).log()


def sqrt(x) -> Tensor:
    return as_tensor(x).sqrt()


def abs(x) -> Tensor:  # noqa: A001 - torch's name
    return as_tensor(x).abs()


_trace._Tensor = Tensor  # op() hands calls with Tensors to _lazy.dispatch
