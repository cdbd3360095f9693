"""fastconv.save / fastconv.load for plain objects: state_dicts and nested dicts, lists and tuples of tensors and
numbers (torch.save's common use), in one safetensors file with no pickle.

Tensors are stored under their path ("state.0.momentum_buffer"); the nesting, the key types and the non-tensor
leaves are a JSON tree in the header's __metadata__ ("fastconv.tree"). Loading rebuilds that tree from JSON only:
no code named by the file is imported or run.
"""
from __future__ import annotations

import json
import numbers
import os

import numpy as np

FORMAT = "fastconv.tree"
_MAX_DEPTH = 32


def is_tree(obj) -> bool:
    return isinstance(obj, (dict, list, tuple))


def _encode(obj, path: str, tensors: dict, depth: int):
    if depth > _MAX_DEPTH:
        raise ValueError(f"save: nesting deeper than {_MAX_DEPTH} levels at '{path}'")
    if isinstance(obj, np.ndarray) or (hasattr(obj, "detach") and hasattr(obj, "numpy")) or \
            type(obj).__name__ == "Tensor":
        name = path or "tensor"
        tensors[name] = np.asarray(obj.detach().cpu().numpy() if hasattr(obj, "cpu") else obj)
        return {"t": name}
    if obj is None or isinstance(obj, (bool, str)):
        return {"v": obj}
    if isinstance(obj, numbers.Integral):
        return {"i": int(obj)}
    if isinstance(obj, numbers.Real):
        return {"f": repr(float(obj))}  # repr round-trips, and keeps inf/nan out of strict JSON
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, numbers.Integral)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__} {k!r} at '{path}'")
            kind = "s" if isinstance(k, str) else "i"
            items.append([kind, str(k) if kind == "s" else int(k), _encode(v, f"{path}.{k}" if path else str(k),
                                                                              tensors, depth + 1)])
        return {"d": items}
    if isinstance(obj, (list, tuple)):
        return {"l" if isinstance(obj, list) else "u":
                [_encode(v, f"{path}.{i}" if path else str(i), tensors, depth + 1) for i, v in enumerate(obj)]}
    raise TypeError(f"save: cannot store a {type(obj).__name__} at '{path or '<root>'}' (tensors, arrays, numbers, "
                    f"strings, None, and dicts/lists/tuples of them are stored; save a model with fastconv.save(model))")


def save(obj, path) -> None:
    from .io import save_safetensors
    tensors: dict = {}
    tree = _encode(obj, "", tensors, 0)
    save_safetensors(tensors, path, {"format": FORMAT, FORMAT: json.dumps(tree, separators=(",", ":"))})


def load(path, tensors: dict, meta: dict):
    from ._tensor import Tensor
    p = os.fspath(path)

    def bad(msg):
        return ValueError(f"fastconv.load: {p}: {msg}")

    try:
        tree = json.loads(meta[FORMAT])
    except (KeyError, ValueError) as e:
        raise bad(f"the {FORMAT} metadata is not valid JSON ({e})") from None
    used = set()

    def dec(node, depth):
        if depth > _MAX_DEPTH or not isinstance(node, dict) or len(node) != 1:
            raise bad("malformed tree metadata")
        (kind, v), = node.items()
        if kind == "t":
            if v not in tensors:
                raise bad(f"the tree names tensor {v!r}, which the file does not hold")
            used.add(v)
            return Tensor(tensors[v])
        if kind == "v" and (v is None or isinstance(v, (bool, str))):
            return v
        if kind == "i" and isinstance(v, int):
            return v
        if kind == "f" and isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                raise bad(f"bad number {v!r:.40}") from None
        if kind == "d" and isinstance(v, list):
            out = {}
            for item in v:
                if not (isinstance(item, list) and len(item) == 3 and item[0] in ("s", "i")):
                    raise bad("malformed dict entry in the tree metadata")
                k = str(item[1]) if item[0] == "s" else item[1]
                if item[0] == "i" and not isinstance(k, int):
                    raise bad("malformed int key in the tree metadata")
                out[k] = dec(item[2], depth + 1)
            return out
        if kind in ("l", "u") and isinstance(v, list):
            items = [dec(x, depth + 1) for x in v]
            return items if kind == "l" else tuple(items)
        raise bad(f"unknown node {kind!r} in the tree metadata")

    return dec(tree, 0)
