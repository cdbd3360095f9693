"""Saving and loading models: one safetensors file (our own native reader/writer, fastconv._C; no dependency on
the safetensors package) holding the weights under their state_dict names and, in the header's __metadata__, the architecture as
JSON (each module's class and constructor arguments; containers list their children).

    fc.save(model, "net.safetensors")
    model2 = fc.load("net.safetensors")             # rebuilt from the architecture description
    fc.load("net.safetensors", model=my_model)      # or loaded into an existing model (strict keys and shapes)
    fc.register_module(MyNet)                       # lets fc.load rebuild your own classes too

Loading never imports or executes code named by the file: the architecture's class names are looked up in a
registry (fastconv's layers and models, plus classes passed to register_module), every field is checked, and the
parameters a description asks for are counted against the tensors the file holds before anything is allocated.

safetensors layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Every malformed
file raises ValueError naming the file and the problem; so does one whose data no longer matches the CRC-32C its
writer stored (docs/model_format.md). Tensor names starting with "fastconv." are reserved for fastconv's own
tensors: load() does not pass them to load_state_dict, and save() refuses a state_dict that has such a name.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any

import numpy as np

from .nn.module import Module

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "read_metadata", "architecture",
           "build_from_architecture", "register_module", "registered_modules", "ArchitectureError",
           "save_checkpoint", "load_checkpoint"]

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_FORMAT = "fastconv"


# ---- safetensors ------------------------------------------------------------------------------------------------
# Reading and writing are native (cpp/src/io/safetensors.cpp): one read of the whole file, the checks below in C++
# with the same messages, and a CRC-32C of the data section ("fastconv.checksum" in __metadata__) written on save
# and verified on load when present (files written before it existed load without it).
_CHECKSUM = "fastconv.checksum"
_RESERVED = "fastconv."  # tensor names for graph constants and optimizer state, never passed to load_state_dict


def save_safetensors(tensors: dict, path, metadata: dict | None = None) -> None:
    """Writes arrays (NumPy, or anything with .detach().cpu().numpy()) and string metadata. A "fastconv.checksum"
    in `metadata` (as load_safetensors returns it) is recomputed from the data, not copied."""
    from . import _C
    entries = []
    for name, a in tensors.items():
        if hasattr(a, "detach") and hasattr(a, "numpy"):
            a = a.detach().cpu().numpy()
        a = np.asarray(a)
        if a.dtype not in _CODES:
            raise TypeError(f"save: tensor '{name}' has unsupported dtype {a.dtype}")
        a = a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)  # (ascontiguousarray makes 0-d 1-d)
        entries.append((str(name), _CODES[a.dtype], a))
    meta = {str(k): str(v) for k, v in (metadata or {}).items() if str(k) != _CHECKSUM}
    _C.write_safetensors(os.fspath(path), entries, meta)


def _bad(path):
    return lambda msg: ValueError(f"fastconv.load: {os.fspath(path)}: {msg}")


def _json(text, what: str, bad):
    """json.loads with every failure a ValueError: bad UTF-8, bad syntax, nesting deep enough to exhaust the C
    parser's recursion (RecursionError) and integers too long to convert are all properties of the file."""
    try:
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8")
        return json.loads(text)
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"{what} is not valid UTF-8 JSON ({e})") from None
    except RecursionError:
        raise bad(f"{what} nests JSON arrays or objects too deeply to parse") from None


def read_metadata(path) -> dict:
    """The __metadata__ of a safetensors file (reads only its header)."""
    from . import _C
    return dict(_C.read_safetensors_metadata(os.fsdecode(os.fspath(path))))


def load_safetensors(path) -> tuple["OrderedDict[str, np.ndarray]", dict]:
    """(tensors by name in file order, metadata). Raises ValueError naming the file for any malformed content,
    and for a file whose data does not match its checksum. The arrays share one buffer holding the file."""
    from . import _C
    entries, meta = _C.read_safetensors(os.fsdecode(os.fspath(path)))
    return OrderedDict((name, a) for name, _code, _shape, a in entries), dict(meta)


_MAX_DIMS = 32  # also the architecture's array nesting bound


def _weights(tensors) -> "OrderedDict[str, np.ndarray]":
    """The tensors a state_dict holds: all but the reserved fastconv.* names."""
    return OrderedDict((k, v) for k, v in tensors.items() if not k.startswith(_RESERVED))


def _check_state_names(sd, who: str) -> None:
    bad = [k for k in sd if str(k).startswith(_RESERVED)]
    if bad:
        raise ValueError(f"{who}: state_dict keys {bad[:5]} start with '{_RESERVED}', which is reserved for "
                         f"fastconv's own tensors in model files; rename the module or attribute")


# ---- architecture description -----------------------------------------------------------------------------------
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")


def _enc(v, where: str):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, Module):
        return {"__module__": architecture(v)}
    if isinstance(v, tuple):
        return {"__tuple__": [_enc(x, where) for x in v]}
    if isinstance(v, list):
        return [_enc(x, where) for x in v]
    if isinstance(v, dict) and all(isinstance(k, str) for k in v):
        return {"__dict__": [[k, _enc(x, where)] for k, x in v.items()]}
    if isinstance(v, np.ndarray) and v.size <= _MAX_ARRAY:
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    return {"__unserializable__": f"{type(v).__name__} in {where}"}


def architecture(model: Module) -> dict:
    """A JSON-able description: class, constructor arguments (or children for containers), training flag."""
    cls = type(model)
    spec: dict[str, Any] = {"class": _class_key(cls), "training": bool(model.training)}
    if cls.__name__ in _CONTAINERS and cls.__module__.startswith("fastconv.nn"):
        spec["children"] = [[k, architecture(m)] for k, m in model._modules.items()]
    else:
        args, kwargs = model.__dict__.get("_fc_init_args", ((), {}))
        spec["args"] = [_enc(a, cls.__name__) for a in args]
        spec["kwargs"] = [[k, _enc(a, cls.__name__)] for k, a in kwargs.items()]
    frozen = [k for k, p in model.named_parameters() if not p.requires_grad]
    if frozen:
        spec["frozen"] = frozen
    return spec


# ---- the class registry: loading a file never imports anything --------------------------------------------------
# A file names its classes as "module:qualname" strings. They are looked up in this table (fastconv's own layers and
# models, plus what the caller registered), never imported: a file naming any other class is rejected before a
# single constructor runs, so a model file cannot make fastconv execute code it did not already trust.
_REGISTRY: dict[str, type] = {}
_BUILTIN: set[str] = set()


def _class_key(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _registry() -> dict[str, type]:
    if not _BUILTIN:
        from . import models, nn
        for pkg in (nn, models):
            for name in pkg.__all__:
                obj = getattr(pkg, name, None)
                if isinstance(obj, type) and issubclass(obj, Module) and obj is not Module:
                    _REGISTRY.setdefault(_class_key(obj), obj)
                    _BUILTIN.add(_class_key(obj))
    return _REGISTRY


def register_module(cls: type) -> type:
    """Lets fastconv.load rebuild saved models of class `cls` (a fastconv.nn.Module subclass) from the constructor
    arguments in the file. Usable as a class decorator. fastconv's own layers and models are always registered;
    a file naming a class that is not registered is refused with a ValueError."""
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise TypeError(f"register_module: expected a fastconv.nn.Module subclass, got {cls!r}")
    key = _class_key(cls)
    reg = _registry()
    if key in _BUILTIN and reg[key] is not cls:
        raise ValueError(f"register_module: {key} is fastconv's own class and cannot be replaced")
    reg[key] = cls  # a class redefined under the same name (a notebook cell run again) replaces the old one
    return cls


def registered_modules() -> list[str]:
    """The class names (as files spell them, "module:qualname") that fastconv.load may rebuild."""
    return sorted(_registry())


# ---- rebuilding a model from its description: every field checked ----------------------------------------------
_SPEC_KEYS = {"class", "training", "children", "args", "kwargs", "frozen"}
_MAX_MODULE_DEPTH = 32   # the zoo nests 5 deep; the limit keeps rebuilding far from Python's recursion limit
_MAX_VALUE_DEPTH = 16
_MAX_ARRAY = 4096        # save() writes small arrays inline, larger ones as unserialisable
_ARRAY_DTYPES = ("float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool")


class ArchitectureError(ValueError):
    """A malformed or refused architecture description; the message names the file and the field."""


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def bad(self, field: str, msg: str) -> ArchitectureError:
        return ArchitectureError(f"fastconv.load: {self.source}: architecture field '{field}': {msg}")

    def module(self, spec, field: str, depth: int) -> Module:
        if depth > _MAX_MODULE_DEPTH:
            raise self.bad(field, f"modules nest more than {_MAX_MODULE_DEPTH} levels deep")
        if not isinstance(spec, dict):
            raise self.bad(field, f"must be a JSON object describing a module, got {_kind(spec)}")
        unknown = sorted(set(spec) - _SPEC_KEYS)
        if unknown:
            raise self.bad(field, f"unknown keys {unknown} (expected {sorted(_SPEC_KEYS)})")
        name = spec.get("class")
        if not isinstance(name, str):
            raise self.bad(f"{field}.class", f"must be a class name string, got {_kind(name)}")
        cls = _registry().get(name)
        if cls is None:
            hint = ("it was defined inside a function; " if "<locals>" in name else "")
            raise self.bad(f"{field}.class", f"{name!r} is not a registered fastconv module class ({hint}loading "
                                             f"never imports code: call fastconv.register_module(YourClass) first, "
                                             f"or build the model in code and use fastconv.load(path, model=model))")
        training = spec.get("training", True)
        if not isinstance(training, bool):
            raise self.bad(f"{field}.training", f"must be true or false, got {_kind(training)}")
        if "children" in spec:
            m = self._container(cls, spec, field, depth)
        else:
            m = self._construct(cls, spec, field, depth)
        m.train(training)
        frozen = spec.get("frozen", [])
        params = dict(m.named_parameters())
        if not isinstance(frozen, list):
            raise self.bad(f"{field}.frozen", f"must be a list of parameter names, got {_kind(frozen)}")
        for i, k in enumerate(frozen):
            if not isinstance(k, str) or k not in params:
                raise self.bad(f"{field}.frozen[{i}]", f"{k!r} is not a parameter of {cls.__name__} (it has "
                                                       f"{sorted(params)[:8]}{'...' if len(params) > 8 else ''})")
            params[k].requires_grad = False
        return m

    def _container(self, cls, spec, field: str, depth: int) -> Module:
        if cls.__name__ not in _CONTAINERS or not cls.__module__.startswith("fastconv.nn"):
            raise self.bad(f"{field}.children", f"only Sequential, ModuleList and ModuleDict list children; "
                                                f"{cls.__name__} is built from args/kwargs")
        if "args" in spec or "kwargs" in spec:
            raise self.bad(field, "a container has children, not args/kwargs")
        children = spec["children"]
        if not isinstance(children, list):
            raise self.bad(f"{field}.children", f"must be a list of [name, module] pairs, got {_kind(children)}")
        m = cls()
        for i, item in enumerate(children):
            where = f"{field}.children[{i}]"
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise self.bad(where, f"must be a [name, module] pair, got {_kind(item)}")
            key = item[0]
            if not key or "." in key or key in m._modules:
                raise self.bad(f"{where}[0]", f"child name {key!r} is empty, contains '.', or repeats")
            m.add_module(key, self.module(item[1], f"{where}[1]", depth + 1))
        return m

    def _construct(self, cls, spec, field: str, depth: int) -> Module:
        args, kwargs = spec.get("args", []), spec.get("kwargs", [])
        if not isinstance(args, list):
            raise self.bad(f"{field}.args", f"must be a list, got {_kind(args)}")
        if not isinstance(kwargs, list):
            raise self.bad(f"{field}.kwargs", f"must be a list of [name, value] pairs, got {_kind(kwargs)}")
        pos = [self.value(a, f"{field}.args[{i}]", depth, 0) for i, a in enumerate(args)]
        kw: dict[str, Any] = {}
        for i, item in enumerate(kwargs):
            where = f"{field}.kwargs[{i}]"
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise self.bad(where, f"must be a [name, value] pair, got {_kind(item)}")
            if not item[0].isidentifier() or item[0] in kw:
                raise self.bad(f"{where}[0]", f"{item[0]!r} is not an argument name, or repeats")
            kw[item[0]] = self.value(item[1], f"{where}[1]", depth, 0)
        try:
            return cls(*pos, **kw)
        except ArchitectureError:
            raise
        except Exception as e:  # noqa: BLE001 - the constructor's own error, reported with the field it came from
            raise self.bad(field, f"{cls.__name__}(...) rejected its arguments: {type(e).__name__}: {e}") from None

    def value(self, v, field: str, mdepth: int, vdepth: int):
        if vdepth > _MAX_VALUE_DEPTH:
            raise self.bad(field, f"values nest more than {_MAX_VALUE_DEPTH} levels deep")
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.value(x, f"{field}[{i}]", mdepth, vdepth + 1) for i, x in enumerate(v)]
        if not isinstance(v, dict):
            raise self.bad(field, f"unsupported value {_kind(v)}")
        tag = next(iter(v), None)
        if len(v) == 1 and tag == "__module__":
            return self.module(v[tag], f"{field}.__module__", mdepth + 1)
        if len(v) == 1 and tag == "__tuple__" and isinstance(v[tag], list):
            return tuple(self.value(x, f"{field}.__tuple__[{i}]", mdepth, vdepth + 1) for i, x in enumerate(v[tag]))
        if len(v) == 1 and tag == "__dict__" and isinstance(v[tag], list):
            out: OrderedDict[str, Any] = OrderedDict()
            for i, item in enumerate(v[tag]):
                if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)) or item[0] in out:
                    raise self.bad(f"{field}.__dict__[{i}]", f"must be a [key, value] pair with a new string key, "
                                                             f"got {_kind(item)}")
                out[item[0]] = self.value(item[1], f"{field}.__dict__[{i}][1]", mdepth, vdepth + 1)
            return out
        if set(v) == {"__array__", "dtype"}:
            return self._array(v, field)
        if len(v) == 1 and tag == "__unserializable__":
            raise self.bad(field, f"a constructor argument ({str(v[tag])[:80]}) could not be saved; build the "
                                  f"model in code and use fastconv.load(path, model=model)")
        raise self.bad(field, f"unknown value encoding with keys {sorted(v)[:4]}")

    def _array(self, v, field: str) -> np.ndarray:
        if v["dtype"] not in _ARRAY_DTYPES:
            raise self.bad(f"{field}.dtype", f"must be one of {', '.join(_ARRAY_DTYPES)}, got {_kind(v['dtype'])}")
        count = [0]

        def check(x, d):  # numbers only, bounded size and depth, before NumPy sees it
            if d > _MAX_DIMS:
                raise self.bad(f"{field}.__array__", f"nests more than {_MAX_DIMS} levels")
            if isinstance(x, list):
                for y in x:
                    check(y, d + 1)
            elif isinstance(x, (bool, int, float)):
                count[0] += 1
                if count[0] > _MAX_ARRAY:
                    raise self.bad(f"{field}.__array__", f"holds more than {_MAX_ARRAY} numbers")
            else:
                raise self.bad(f"{field}.__array__", f"holds {_kind(x)}; only numbers are allowed")
        check(v["__array__"], 0)
        try:
            with np.errstate(all="ignore"):
                return np.array(v["__array__"], dtype=v["dtype"])
        except (ValueError, TypeError, OverflowError) as e:
            raise self.bad(f"{field}.__array__", f"is not a regular {v['dtype']} array ({e})") from None


def _kind(v) -> str:
    s = json.dumps(v) if isinstance(v, (list, dict, str, int, float, bool, type(None))) else repr(v)
    return f"{type(v).__name__} {s[:60]}{'...' if len(s) > 60 else ''}"


def build_from_architecture(spec, path: str = "<architecture>", max_elements: int | None = None) -> Module:
    """Rebuilds a model from architecture(model). Classes come from the registry only. `max_elements`: the most
    parameter and buffer elements the model may reserve while it is built (what the weights to load hold)."""
    from .nn import _checks

    builder = _Builder(os.fspath(path))
    if max_elements is None:
        return builder.module(spec, "architecture", 0)
    with _checks.param_budget(max_elements, os.fspath(path)):
        return builder.module(spec, "architecture", 0)


# ---- the API ----------------------------------------------------------------------------------------------------
def save(model, path, metadata: dict | None = None, input_shape=None) -> None:
    """Writes weights (state_dict names) and the architecture to one safetensors file. `metadata`: extra string
    entries for the header (read them back with read_metadata); fastconv's own keys cannot be overridden. The file
    also holds the traced graphs that C++ loads (fastconv._C.Model, fastconv/model.h): for a compiled model its
    programs (with the training program and optimizer state when compiled with a loss and an optimizer), for a
    module when `input_shape` is given or it was compiled before."""
    from .compile import Compiled
    from ._export import graph_document
    from . import _tree_io
    if _tree_io.is_tree(model):  # a state_dict, or nested dicts/lists of tensors and numbers (torch.save's use)
        if metadata is not None or input_shape is not None:
            raise TypeError("save: metadata and input_shape apply to models, not to a dict or list")
        return _tree_io.save(model, path)
    target = model
    if isinstance(model, Compiled):
        model = model.model
    if not isinstance(model, Module):
        raise TypeError(f"save: expected a fastconv.nn.Module, got {type(model).__name__}")
    from . import __version__
    meta = {"format": _FORMAT, "fastconv_version": __version__,
            "architecture": json.dumps(architecture(model), separators=(",", ":"))}
    clash = sorted(set(metadata or {}) & (set(meta) | {"fastconv.graph"}))
    if clash:
        raise ValueError(f"save: metadata keys {clash} are reserved by fastconv")
    sd = model.state_dict()
    _check_state_names(sd, "save")
    tensors = dict(sd)
    doc = graph_document(target, input_shape)
    if doc is not None:
        meta["fastconv.graph"], extra = doc
        tensors.update(extra)
    save_safetensors(tensors, path, {**(metadata or {}), **meta})


def load(path, model: Module | None = None) -> Module:
    """Reads a file written by save(): rebuilds the model from its architecture (or fills `model`) and loads the
    weights with strict key and shape checks. Rebuilding never imports or runs code named by the file: classes come
    from fastconv's own layers and models and those given to register_module. Every problem with the file is a
    ValueError naming the file and the field."""
    if model is not None and not isinstance(model, Module):
        raise TypeError(f"fastconv.load: model must be a fastconv.nn.Module, got {type(model).__name__}")
    tensors, meta = load_safetensors(path)
    from . import _tree_io
    if meta.get("format") == _tree_io.FORMAT:
        if model is not None:
            model.load_state_dict(_tree_io.load(path, tensors, meta))
            return model
        return _tree_io.load(path, tensors, meta)
    tensors = _weights(tensors)
    p = os.fspath(path)
    if model is None:
        if meta.get("format") != _FORMAT or "architecture" not in meta:
            raise ValueError(f"fastconv.load: {p}: no fastconv architecture in the file's metadata (plain "
                             f"safetensors weights?); pass model=... to load the weights into a model")
        spec = _json(meta["architecture"], "the architecture metadata", _bad(p))
        model = build_from_architecture(spec, p, max_elements=sum(int(t.size) for t in tensors.values()))
    try:
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"fastconv.load: {p}: the weights do not match the model: {e}") from None
    return model


# ---- training checkpoints ---------------------------------------------------------------------------------------
_OPT = "optimizer."


def save_checkpoint(path, model, optimizer=None, info: dict | None = None) -> None:
    """Everything a training run needs to continue where it stopped, in one safetensors file: the model as
    fastconv.save writes it (weights, buffers, architecture), the optimizer's state tensors under
    'optimizer.<parameter index>.<slot>', and its hyper-parameters and step count plus `info` (JSON-able: epoch,
    data position...) in the metadata. Written to a temporary name and renamed, so a kill leaves the old file."""
    from .compile import Compiled
    if isinstance(model, Compiled):
        model = model.model
    if not isinstance(model, Module):
        raise TypeError(f"save_checkpoint: expected a fastconv.nn.Module, got {type(model).__name__}")
    from . import __version__
    tensors = dict(model.state_dict())
    _check_state_names(tensors, "save_checkpoint")
    meta = {"format": _FORMAT, "fastconv_version": __version__,
            "architecture": json.dumps(architecture(model), separators=(",", ":")),
            "checkpoint": json.dumps({"info": info or {}}, separators=(",", ":"))}
    if optimizer is not None:
        sd = optimizer.state_dict()
        step = None
        for idx, st in sd["state"].items():
            for slot, a in st.items():
                if slot == "step":
                    step = int(float(a))
                    continue
                tensors[f"{_OPT}{idx}.{slot}"] = np.asarray(a)
        groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
        meta["checkpoint"] = json.dumps({"info": info or {}, "optimizer": type(optimizer).__name__,
                                         "param_groups": groups, "step": step if step is not None else
                                         int(getattr(optimizer, "_step", 0))}, separators=(",", ":"))
    save_safetensors(tensors, path, meta)


def load_checkpoint(path, model: Module | None = None, optimizer=None) -> tuple:
    """(model, info) from save_checkpoint's file: the model rebuilt from its architecture (or `model` filled in),
    and `optimizer` (built by the caller over that model's parameters, as before the checkpoint) given back its
    state, hyper-parameters and step count. Malformed files are ValueErrors naming the file, as in load()."""
    tensors, meta = load_safetensors(path)
    p = os.fspath(path)
    bad = _bad(p)
    ck = _json(meta.get("checkpoint", "null"), "the checkpoint metadata", bad)
    if not isinstance(ck, dict) or not isinstance(ck.get("info", {}), dict):
        raise bad("no training checkpoint in the file's metadata (written by fastconv.save, not save_checkpoint?)")
    tensors = _weights(tensors)
    weights = OrderedDict((k, v) for k, v in tensors.items() if not k.startswith(_OPT))
    if model is None:
        spec = _json(meta.get("architecture", "null"), "the architecture metadata", bad)
        model = build_from_architecture(spec, p, max_elements=sum(int(t.size) for t in weights.values()))
    try:
        model.load_state_dict(weights, strict=True)
    except (RuntimeError, TypeError, ValueError) as e:
        raise bad(f"the weights do not match the model: {e}") from None
    if optimizer is not None:
        if ck.get("optimizer") != type(optimizer).__name__:
            raise bad(f"the checkpoint holds {ck.get('optimizer')!r} state, not {type(optimizer).__name__}")
        groups = ck.get("param_groups")
        if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
            raise bad("checkpoint field 'param_groups' must be a list of objects")
        state: dict = {}
        for k, a in tensors.items():
            if k.startswith(_OPT):
                idx, _, slot = k[len(_OPT):].partition(".")
                if not idx.isdigit() or not slot:
                    raise bad(f"optimizer tensor name {k!r} is not 'optimizer.<index>.<slot>'")
                state.setdefault(int(idx), {})[slot] = a
        step = ck.get("step")
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise bad(f"checkpoint field 'step' must be a non-negative int, got {step!r}")
        for st in state.values():
            st["step"] = np.array(float(step), np.float32)
        groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in g.items()}
                  for g in groups]
        try:
            optimizer.load_state_dict({"state": state, "param_groups": groups})
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise bad(f"the optimizer state does not match the optimizer: {type(e).__name__}: {e}") from None
        optimizer._step = step  # also when no parameter has state yet (a checkpoint before the first step)
    return model, ck.get("info", {})
