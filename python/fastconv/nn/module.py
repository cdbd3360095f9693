"""Module and Parameter: PyTorch's container semantics over NumPy arrays.

A module's parameters and buffers live in memory the C++ engine allocates and owns; `Parameter` (an ndarray subclass)
and the buffer arrays are NumPy views of it (handles). Calling a module on arrays runs its forward eagerly through
fastconv.functional; calling it on traced Symbols records graph nodes, and every parameter or buffer that forward
reads is bound into the graph *without a copy* (`TraceContext.param`: the graph shares the C++ storage), so compiled
optimizer updates and batch-norm statistics written in C++ are visible in the arrays. Nodes recorded while a
submodule runs carry its path ("features.3") as their scope, so shape errors name the layer.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Iterator

import numpy as np

from .. import _C, _trace
from .._trace import Symbol

__all__ = ["Parameter", "Module", "IncompatibleKeys"]


_ENGINE_DTYPES = {np.dtype(n): n for n in ("float32", "float64", "int64", "int32", "uint8", "bool")}


def engine_array(a: np.ndarray) -> np.ndarray:
    """A copy of `a` in memory the C++ engine allocates and owns (a NumPy view of it); dtypes the engine does not
    store stay NumPy arrays."""
    a = np.asarray(a)
    name = _ENGINE_DTYPES.get(a.dtype)
    if name is None:
        return np.array(a, order="C", copy=True)
    out = _C.empty_array(list(a.shape), name)
    out[...] = a
    return out


class Parameter(np.ndarray):
    """A trainable float32 array (C-contiguous; updated in place by compiled optimizers). Its memory belongs to the
    C++ engine; the Parameter is a NumPy view of it. `.grad` is filled by an eager step's backward()."""

    grad = None

    def __new__(cls, data=None, requires_grad: bool = True):
        if data is None:
            data = np.zeros((0,), np.float32)
        if hasattr(data, "detach") and hasattr(data, "numpy"):
            data = data.detach().cpu().numpy()
        arr = engine_array(np.asarray(data, dtype=np.float32))
        obj = arr.view(cls)
        obj.requires_grad = bool(requires_grad)
        return obj

    def __array_finalize__(self, obj) -> None:
        self.requires_grad = getattr(obj, "requires_grad", True)

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        # Arithmetic on a parameter gives a plain array (like a torch op result), not another Parameter.
        if arr is self:
            return self
        arr = arr.view(np.ndarray)
        return arr[()] if return_scalar else arr

    def __reduce__(self):
        return (Parameter, (np.asarray(self), self.requires_grad))

    # ---- weight versions (docs/inference.md) ---------------------------------------------------------------------
    # Writes through a Parameter bump the version of its engine storage, so compiled programs recompute the constants
    # they fold from it (batch-norm folding). Writes through a raw NumPy view (p.view(np.ndarray), state_dict()
    # arrays, buffers) are not seen: call Compiled.weights_changed() after them.
    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        _C.bump_versions([self])

    def fill(self, value) -> None:
        super().fill(value)
        _C.bump_versions([self])

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        args = [i.view(np.ndarray) if isinstance(i, Parameter) else i for i in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) if isinstance(o, Parameter) else o for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        if out is None:
            return result
        written = [o for o in out if isinstance(o, Parameter)]
        if written:
            _C.bump_versions(written)
        # in-place operators (p *= 2) must hand back the Parameter itself
        if isinstance(result, tuple):
            return tuple(o if isinstance(o, Parameter) else r for r, o in zip(result, out))
        return out[0] if len(out) == 1 and isinstance(out[0], Parameter) else result

    def __array_function__(self, func, types, args, kwargs):
        result = super().__array_function__(func, types, args, kwargs)
        dst = [a for a in list(args[:1]) + [kwargs.get("out"), kwargs.get("dst")] if isinstance(a, Parameter)]
        if dst and (func in _WRITERS or "out" in kwargs):
            _C.bump_versions(dst)
        return result

    def requires_grad_(self, requires_grad: bool = True) -> "Parameter":
        self.requires_grad = bool(requires_grad)
        return self

    def __repr__(self) -> str:
        return "Parameter containing:\n" + repr(self.view(np.ndarray)) + \
            ("" if self.requires_grad else ", requires_grad=False")


def _zero_grads(params, set_to_none: bool) -> None:
    for p in params:
        if getattr(p, "grad", None) is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.numpy()[...] = 0


# NumPy functions that write into their first argument (Parameter.__array_function__ bumps its version).
_WRITERS = {f for f in (getattr(np, n, None) for n in ("copyto", "put", "place", "putmask", "fill_diagonal",
                                                      "put_along_axis")) if f is not None}

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


def _to_numpy(v, key: str) -> np.ndarray:
    if hasattr(v, "detach") and hasattr(v, "numpy"):
        return v.detach().cpu().numpy()
    if isinstance(v, np.ndarray):
        return v
    try:
        return np.asarray(v)
    except Exception as e:
        raise TypeError(f"load_state_dict: value for key '{key}' must be an array or tensor, "
                        f"got {type(v).__name__}") from e


class _Binder:
    """Per-trace state: which graph value each parameter/buffer array is bound to, the module paths (scopes) and
    the output shapes each module produced (for summary)."""

    def __init__(self, ctx: _trace.TraceContext, root: "Module") -> None:
        self.ctx = ctx
        self.root = root
        self.paths = {id(m): name for name, m in root.named_modules()}
        self.bound: dict[int, tuple[str, np.ndarray, Symbol]] = {}
        self.calls: list[tuple["Module", str, Any]] = []  # (module, path, output) in call order

    def path(self, m: "Module") -> str:
        return self.paths.get(id(m), type(m).__name__)

    def bind(self, owner: "Module", name: str, arr: np.ndarray, trainable: bool) -> Symbol:
        hit = self.bound.get(id(arr))
        if hit is not None:
            return hit[2]
        p = self.paths.get(id(owner), "")
        full = f"{p}.{name}" if p else name
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            raise ValueError(f"fastconv: {full} must be a writeable C-contiguous array to be bound into a graph")
        sym = self.ctx.param(full, arr, requires_grad=trainable)
        self.bound[id(arr)] = (full, arr, sym)
        return sym


def binder_for(ctx: _trace.TraceContext, root: "Module") -> _Binder:
    b = getattr(ctx, "_fc_binder", None)
    if b is None:
        b = _Binder(ctx, root)
        ctx._fc_binder = b
    return b


def _find_ctx(args, kwargs):
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, Symbol):
            return a.ctx
        if isinstance(a, (list, tuple)):
            for x in a:
                if isinstance(x, Symbol):
                    return x.ctx
    return _trace.current()


class Module:
    """Base class of all layers and user models (torch.nn.Module's interface)."""

    training: bool

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        # Constructor arguments, so fastconv.save can describe the architecture and fastconv.load rebuild it.
        object.__setattr__(obj, "_fc_init_args", (args, kwargs))
        return obj

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())

    # ---- attribute registration ---------------------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, (Parameter, Module)) and params is None:
            raise AttributeError(f"cannot assign {type(value).__name__} '{name}' before Module.__init__() call")
        if isinstance(value, (Parameter, Module)):
            for d in ("_parameters", "_buffers", "_modules"):
                self.__dict__[d].pop(name, None)
        if isinstance(value, Parameter):
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            self.__dict__.pop(name, None)
            self._modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(fastconv.nn.Parameter or None expected)")
            params[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, np.ndarray):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (array or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            if name in d["_parameters"]:
                return self._maybe_bind(name, d["_parameters"][name], True)
            if name in d["_buffers"]:
                return self._maybe_bind(name, d["_buffers"][name], False)
            if name in d["_modules"]:
                return d["_modules"][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for dn in ("_parameters", "_buffers", "_modules"):
            if name in self.__dict__.get(dn, {}):
                del self.__dict__[dn][name]
                return
        object.__delattr__(self, name)

    def _maybe_bind(self, name: str, arr, is_param: bool):
        ctx = _trace.current()
        if arr is None or ctx is None or not isinstance(arr, np.ndarray):
            return arr
        b = getattr(ctx, "_fc_binder", None)
        if b is None:
            b = binder_for(ctx, self)
        trainable = is_param and bool(getattr(arr, "requires_grad", False))
        return b.bind(self, name, arr, trainable)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a fastconv.nn.Parameter or None, "
                            f"got {type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        if "." in name or not name:
            raise KeyError(f"register_buffer: invalid buffer name '{name}'")
        if tensor is not None:
            tensor = engine_array(_to_numpy(tensor, name))
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a fastconv.nn.Module")
        self._modules[name] = module

    register_module = add_module

    # ---- traversal ----------------------------------------------------------------------------------------------
    def named_modules(self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True):
        memo = set() if memo is None else memo
        if id(self) in memo and remove_duplicate:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, which: str, prefix: str, recurse: bool):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mp, m in mods:
            for k, v in m.__dict__[which].items():
                if v is None or id(v) in seen:
                    continue
                seen.add(id(v))
                yield (f"{mp}.{k}" if mp else k), v

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ---- modes --------------------------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the .grad that eager backward() calls filled (compiled steps keep theirs inside the step)."""
        _zero_grads(self.parameters(), set_to_none)

    def to(self, device="cpu", *args, **kwargs) -> "Module":
        """Where fastconv.compile runs this model when no device is given ('cpu', 'cuda', 'cuda:N'). The arrays
        stay NumPy arrays on the host: a model compiled for a device keeps its own device copy of them, refreshed
        from these arrays before every call and written back after every training step."""
        from ..compile import _device_arg
        object.__setattr__(self, "_device", _device_arg(device, "Module.to"))
        return self

    def cpu(self) -> "Module":
        return self.to("cpu")

    def cuda(self, device=None) -> "Module":
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    @property
    def device(self) -> str:
        """The device set by .to() ('cpu' unless moved)."""
        return getattr(self, "_device", "cpu")

    # ---- state dicts --------------------------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False) -> "OrderedDict[str, Any]":
        """Parameters and persistent buffers under PyTorch's key names. The arrays share memory with the module
        (as torch's state_dict shares storage)."""
        out = OrderedDict() if destination is None else destination
        for mp, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = f"{mp}." if mp else ""
            for k, v in m._parameters.items():
                if v is not None:
                    out[pre + k] = v if keep_vars else v.view(np.ndarray)
            for k, v in m._buffers.items():
                if v is not None and k not in m._non_persistent:
                    out[pre + k] = v
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False) -> IncompatibleKeys:
        """Copies arrays (NumPy or torch tensors) into the existing parameters and buffers, in place, so compiled
        graphs bound to them see the new values."""
        own = self.state_dict(keep_vars=True)
        given = OrderedDict((k, v) for k, v in dict(state_dict).items())
        missing = [k for k in own if k not in given]
        unexpected = [k for k in given if k not in own]
        errors = []
        for k, dst in own.items():
            if k not in given:
                continue
            src = _to_numpy(given[k], k)
            if src.shape != dst.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape {tuple(src.shape)} from "
                              f"checkpoint, the shape in current model is {tuple(dst.shape)}.")
                continue
            if dst.dtype.kind == "f" and src.dtype.kind not in "fiu":
                errors.append(f"dtype mismatch for {k}: got {src.dtype}, expected a floating-point array")
                continue
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        written = []
        for k, dst in own.items():
            if k in given:
                np.ndarray.__setitem__(dst, Ellipsis, _to_numpy(given[k], k))
                written.append(dst)
        _C.bump_versions(written)  # buffers are plain arrays: their writes are announced here
        return IncompatibleKeys(missing, unexpected)

    # ---- calling ------------------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"Module [{type(self).__name__}] is missing the required \"forward\" function")

    def __call__(self, *args, **kwargs):
        ctx = _find_ctx(args, kwargs)
        if ctx is None:
            return self.forward(*args, **kwargs)
        b = binder_for(ctx, self)
        g = ctx.graph
        saved = g.current_scope
        g.current_scope = b.path(self)
        try:
            out = self.forward(*args, **kwargs)
        finally:
            g.current_scope = saved
        b.calls.append((self, b.path(self), out))
        return out

    # ---- printing -----------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            body = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        head = f"{type(self).__name__}(" + self.extra_repr()
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def summary(self, input_shape, print_fn=None, **kwargs):
        """Prints a Keras-style table of layers, output shapes and parameter counts (fastconv.summary)."""
        from ..summary import summary
        return summary(self, input_shape, print_fn=print_fn, **kwargs)

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(self._modules)
