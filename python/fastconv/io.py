"""Saving and loading models: one safetensors file (our own reader/writer; no dependency on the safetensors
package) holding the weights under their state_dict names and, in the header's __metadata__, the architecture as
JSON (each module's class and constructor arguments; containers list their children).

    fc.save(model, "net.safetensors")
    model2 = fc.load("net.safetensors")             # rebuilt from the architecture description
    fc.load("net.safetensors", model=my_model)      # or loaded into an existing model (strict keys and shapes)

safetensors layout: 8-byte little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape,
data_offsets: [begin, end]}, "__metadata__": {str: str}}, then the raw little-endian tensor bytes. Every malformed
file raises ValueError naming the file and the problem.
"""
from __future__ import annotations

import importlib
import json
import os
import struct
from collections import OrderedDict
from typing import Any

import numpy as np

from .nn.module import Module

__all__ = ["save", "load", "save_safetensors", "load_safetensors", "architecture", "build_from_architecture"]

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64, "I32": np.int32,
           "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}
_FORMAT = "fastconv"


# ---- safetensors ------------------------------------------------------------------------------------------------
def save_safetensors(tensors: dict, path, metadata: dict | None = None) -> None:
    header: dict[str, Any] = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, a in tensors.items():
        if hasattr(a, "detach") and hasattr(a, "numpy"):
            a = a.detach().cpu().numpy()
        a = np.asarray(a)
        if a.dtype not in _CODES:
            raise TypeError(f"save: tensor '{name}' has unsupported dtype {a.dtype}")
        data = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": _CODES[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * (-len(hj) % 8)  # the data section starts 8-byte aligned
    tmp = f"{os.fspath(path)}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)  # never leave a half-written file under the real name


def _bad(path):
    return lambda msg: ValueError(f"fastconv.load: {os.fspath(path)}: {msg}")


def _read_header(f, path, file_size: int) -> tuple[int, dict, dict]:
    """(header length, tensor entries, metadata) from an open safetensors file."""
    bad = _bad(path)
    if file_size < 8:
        raise bad(f"file is {file_size} bytes, too short for a safetensors header (truncated or not a model file)")
    (n,) = struct.unpack("<Q", f.read(8))
    if n == 0 or n > file_size - 8:
        raise bad(f"header length {n} does not fit in a file of {file_size} bytes (truncated or corrupt)")
    try:
        header = json.loads(f.read(n).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"header is not valid UTF-8 JSON ({e})") from None
    if not isinstance(header, dict):
        raise bad("header is not a JSON object")
    meta = header.pop("__metadata__", {}) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise bad("__metadata__ must map strings to strings")
    return n, header, meta


def read_metadata(path) -> dict:
    """The __metadata__ of a safetensors file (reads only its header)."""
    with open(path, "rb") as f:
        return _read_header(f, path, os.fstat(f.fileno()).st_size)[2]


def load_safetensors(path) -> tuple["OrderedDict[str, np.ndarray]", dict]:
    """(tensors by name in file order, metadata). Raises ValueError naming the file for any malformed content."""
    bad = _bad(path)
    with open(path, "rb") as f:
        raw = f.read()
        f.seek(0)
        n, header, meta = _read_header(f, path, len(raw))
    data = memoryview(raw)[8 + n:]
    out: OrderedDict[str, np.ndarray] = OrderedDict()
    spans = []
    for name, e in header.items():
        if not isinstance(e, dict) or set(e) != {"dtype", "shape", "data_offsets"}:
            raise bad(f"entry '{name}' must have exactly dtype, shape and data_offsets")
        dt = _DTYPES.get(e["dtype"]) if isinstance(e["dtype"], str) else None
        if dt is None:
            raise bad(f"tensor '{name}' has unknown dtype {e['dtype']!r}")
        shape, offs = e["shape"], e["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                                for d in shape)):
            raise bad(f"tensor '{name}' has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) and not isinstance(o, bool)
                                                                  for o in offs)):
            raise bad(f"tensor '{name}' has invalid data_offsets {offs!r}")
        b, end = offs
        need = int(np.prod(shape, dtype=np.int64)) * np.dtype(dt).itemsize
        if not 0 <= b <= end <= len(data):
            raise bad(f"tensor '{name}' data_offsets {offs} are outside the {len(data)}-byte data section "
                      f"(truncated file?)")
        if end - b != need:
            raise bad(f"tensor '{name}' has {end - b} bytes but dtype {e['dtype']} shape {shape} needs {need}")
        spans.append((b, end, name))
        out[name] = np.frombuffer(data[b:end], dtype=np.dtype(dt).newbyteorder("<")).astype(dt).reshape(shape)
    spans.sort()
    pos = 0
    for b, end, name in spans:
        if b != pos:
            raise bad(f"tensor '{name}' starts at byte {b} but the previous tensor ends at {pos} (overlapping or "
                      f"gapped data)")
        pos = end
    if pos != len(data):
        raise bad(f"{len(data) - pos} trailing bytes after the last tensor")
    return out, meta


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
    if isinstance(v, np.ndarray) and v.size <= 4096:
        return {"__array__": v.tolist(), "dtype": str(v.dtype)}
    return {"__unserializable__": f"{type(v).__name__} in {where}"}


def _dec(v, path: str):
    if isinstance(v, list):
        return [_dec(x, path) for x in v]
    if not isinstance(v, dict):
        return v
    if "__module__" in v:
        return build_from_architecture(v["__module__"], path)
    if "__tuple__" in v:
        return tuple(_dec(x, path) for x in v["__tuple__"])
    if "__dict__" in v:
        return OrderedDict((k, _dec(x, path)) for k, x in v["__dict__"])
    if "__array__" in v:
        return np.array(v["__array__"], dtype=v["dtype"])
    if "__unserializable__" in v:
        raise ValueError(f"cannot rebuild the model from {path}: constructor argument ({v['__unserializable__']}) "
                         f"was not serialisable; build the model in code and use fastconv.load(path, model=model)")
    raise ValueError(f"{path}: malformed architecture value {v!r}")


def architecture(model: Module) -> dict:
    """A JSON-able description: class, constructor arguments (or children for containers), training flag."""
    cls = type(model)
    spec: dict[str, Any] = {"class": f"{cls.__module__}:{cls.__qualname__}", "training": bool(model.training)}
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


def _resolve_class(name: str, path: str):
    mod, _, qual = name.partition(":")
    if "<locals>" in qual:
        raise ValueError(f"cannot rebuild the model from {path}: class {qual} was defined inside a function; build "
                         f"it in code and use fastconv.load(path, model=model)")
    try:
        obj = importlib.import_module(mod)
        for part in qual.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"cannot rebuild the model from {path}: class {name} is not importable ({e}); build it in "
                         f"code and use fastconv.load(path, model=model)") from None
    if not (isinstance(obj, type) and issubclass(obj, Module)):
        raise ValueError(f"{path}: {name} is not a fastconv.nn.Module class")
    return obj


def build_from_architecture(spec: dict, path: str = "<architecture>") -> Module:
    if not isinstance(spec, dict) or "class" not in spec:
        raise ValueError(f"{path}: malformed architecture description")
    cls = _resolve_class(spec["class"], path)
    if "children" in spec:
        m = cls()
        for k, child in spec["children"]:
            m.add_module(k, build_from_architecture(child, path))
    else:
        args = [_dec(a, path) for a in spec.get("args", [])]
        kwargs = {k: _dec(a, path) for k, a in spec.get("kwargs", [])}
        try:
            m = cls(*args, **kwargs)
        except Exception as e:
            raise ValueError(f"{path}: rebuilding {spec['class']} failed: {type(e).__name__}: {e}") from e
    m.train(bool(spec.get("training", True)))
    params = dict(m.named_parameters())
    for k in spec.get("frozen", []):
        if k in params:
            params[k].requires_grad = False
    return m


# ---- the API ----------------------------------------------------------------------------------------------------
def save(model, path, metadata: dict | None = None) -> None:
    """Writes weights (state_dict names) and the architecture to one safetensors file. `metadata`: extra string
    entries for the header (read them back with read_metadata); fastconv's own keys cannot be overridden."""
    from .compile import Compiled
    if isinstance(model, Compiled):
        model = model.model
    if not isinstance(model, Module):
        raise TypeError(f"save: expected a fastconv.nn.Module, got {type(model).__name__}")
    from . import __version__
    meta = {"format": _FORMAT, "fastconv_version": __version__,
            "architecture": json.dumps(architecture(model), separators=(",", ":"))}
    clash = sorted(set(metadata or {}) & set(meta))
    if clash:
        raise ValueError(f"save: metadata keys {clash} are reserved by fastconv")
    save_safetensors(model.state_dict(), path, {**(metadata or {}), **meta})


def load(path, model: Module | None = None) -> Module:
    """Reads a file written by save(): rebuilds the model from its architecture (or fills `model`) and loads the
    weights with strict key and shape checks."""
    tensors, meta = load_safetensors(path)
    p = os.fspath(path)
    if model is None:
        if meta.get("format") != _FORMAT or "architecture" not in meta:
            raise ValueError(f"fastconv.load: {p}: no fastconv architecture in the file's metadata (plain "
                             f"safetensors weights?); pass model=... to load the weights into a model")
        try:
            spec = json.loads(meta["architecture"])
        except json.JSONDecodeError as e:
            raise ValueError(f"fastconv.load: {p}: the architecture metadata is not valid JSON ({e})") from None
        try:
            model = build_from_architecture(spec, p)
        except ValueError as e:
            raise ValueError(f"fastconv.load: {e}") from None
    try:
        model.load_state_dict(tensors, strict=True)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"fastconv.load: {p}: the weights do not match the model: {e}") from None
    return model
