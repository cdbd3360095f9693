"""Structural mutations of a traced-graph document (docs/model_format.md): what the graph fuzz target and its
pytest replay apply to real documents. The C++ loader is not coverage-instrumented (atheris sees Python only), so
byte flips alone would rarely get past the JSON syntax; these edits keep the text JSON and aim at the loader's
checks: ids, shapes, dtypes, kinds, op names, attribute types, optimizer state.

`choose(n)` returns an int in [0, n): random.Random.randrange in tests, a FuzzedDataProvider under atheris."""
from __future__ import annotations

import copy
import json
from typing import Any, Callable

# Values a field may be replaced with: boundaries, wrong types, and names the loader knows.
POOL: list[Any] = [None, True, False, 0, 1, -1, 2, 3, 7, 2 ** 31, 2 ** 62, -2 ** 62, 2 ** 63 - 1, 0.5, -0.0, 1e308,
                   "", "x", "inf", "nan", "float32", "int64", "uint8", "float64", "bool", "param", "input", "const",
                   "computed", "conv2d", "reshape", "linear", "batch_norm", "dropout", "adam", "sgd", "step",
                   "0.weight", "fastconv.optim.step", "fastconv.const.0", [], {}, [0], [1, 1], [-1, 4], [2 ** 40] * 3,
                   {"int": 1}, {"ints": [1, 1]}, {"float": "inf"}, {"str": "x"}, {"bool": True}, {"floats": []}]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, path + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, path + (i,))
    return out


def _get(doc: Any, path: tuple) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def mutate(doc: dict, choose: Callable[[int], int], edits: int = 3) -> dict:
    """A copy of `doc` with `edits` structural edits: replace a field (from POOL or another subtree of the
    document), delete an object member or array element, duplicate an array element, or nudge an integer."""
    doc = copy.deepcopy(doc)
    for _ in range(edits):
        paths = _paths(doc)[1:]  # never the root itself
        if not paths:
            break
        path = paths[choose(len(paths))]
        parent, key = _get(doc, path[:-1]), path[-1]
        kind = choose(5)
        if kind == 0:
            parent[key] = copy.deepcopy(POOL[choose(len(POOL))])
        elif kind == 1:
            parent[key] = copy.deepcopy(_get(doc, paths[choose(len(paths))]))
        elif kind == 2:
            del parent[key]
        elif kind == 3 and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif isinstance(parent[key], int) and not isinstance(parent[key], bool):
            parent[key] += (-1, 1, 16, -16)[choose(4)]
        else:
            parent[key] = copy.deepcopy(POOL[choose(len(POOL))])
    return doc


def dumps(doc: dict) -> str:
    return json.dumps(doc, separators=(",", ":"))
