"""Load-time rewrites of an ONNX graph: a constant zero Pad of the spatial axes whose only reader is a Conv (or an
AveragePool counting the padding) becomes that node's pads (one op less); any other Pad stays a node and runs as
fastconv.functional.pad (_import_pad_pool)."""
from __future__ import annotations

import numpy as np

from ._errors import OnnxImportError


def _pad_spec(node, tensors, opset):
    """(pads over every axis as [begins..., ends...], constant value, mode) of a Pad node, or None if they are not
    constants."""
    _, _, ins, _, attrs = node
    mode = attrs.get("mode", "constant")
    if opset < 11:
        return list(attrs.get("pads", [])), float(attrs.get("value", 0.0)), mode, None
    if len(ins) < 2 or ins[1] not in tensors:
        return None
    value = 0.0
    if len(ins) > 2 and ins[2]:
        if ins[2] not in tensors:
            return None
        value = float(np.asarray(tensors[ins[2]]).reshape(-1)[0])
    axes = None
    if len(ins) > 3 and ins[3]:
        if ins[3] not in tensors:
            return None
        axes = [int(a) for a in np.asarray(tensors[ins[3]]).reshape(-1)]
    return [int(p) for p in np.asarray(tensors[ins[1]]).reshape(-1)], value, mode, axes


def fold_pads(nodes: list, tensors: dict, opset: int, outputs: list, where) -> list:
    readers: dict[str, list] = {}
    for n in nodes:
        for x in n[2]:
            readers.setdefault(x, []).append(n)
    drop = set()
    for k, n in enumerate(nodes):
        if n[0] != "Pad":
            continue
        spec = _pad_spec(n, tensors, opset)
        out = n[3][0]
        users = readers.get(out, [])
        if spec is None:
            pass  # stays a node: its pads, constant_value and axes must be constants
        else:
            pads, value, mode, axes = spec
            user = users[0] if len(users) == 1 else None
            if mode != "constant" or value != 0.0:
                pass  # stays a node: only zero constant padding folds (not another mode or value)
            elif out in outputs or user is None or user[2][0] != out:
                pass  # stays a node: its output must be read by one Conv or AveragePool alone
            elif user[0] not in ("Conv", "AveragePool") or \
                    (user[0] == "AveragePool" and not int(user[4].get("count_include_pad", 0))):
                pass  # stays a node: it feeds neither a Conv nor an AveragePool with count_include_pad=1
            elif user[4].get("auto_pad", "NOTSET") != "NOTSET":
                pass  # stays a node: the Conv/AveragePool it feeds uses auto_pad
            else:
                if "kernel_shape" in user[4]:
                    r = len(user[4]["kernel_shape"]) + 2
                elif len(user[2]) > 1 and user[2][1] in tensors:
                    r = np.ndim(tensors[user[2][1]])
                else:
                    r = len(pads) // 2
                if axes is not None:
                    full = [0] * (2 * r)
                    for i, a in enumerate(axes):
                        a = a + r if a < 0 else a
                        full[a], full[r + a] = pads[i], pads[len(axes) + i]
                    pads = full
                if len(pads) != 2 * r:
                    raise OnnxImportError(f"fastconv.onnx.load: {where(n)}: pads {pads} do not match the rank {r} "
                                          f"of the {user[0]} input")
                nd = r - 2
                if any(p < 0 for p in pads) or pads[0] or pads[1] or pads[r] or pads[r + 1]:
                    pass  # stays a node: only non-negative padding of the spatial axes folds
                else:
                    cur = list(user[4].get("pads", [0] * (2 * nd)))
                    user[4]["pads"] = [cur[i] + pads[2 + i] for i in range(nd)] + \
                                      [cur[nd + i] + pads[r + 2 + i] for i in range(nd)]
                    user[2][0] = n[2][0]
                    drop.add(k)
                    continue
        # (a Pad that does not fold stays a node: fastconv.functional.pad runs it)
    return [n for k, n in enumerate(nodes) if k not in drop]


def fold_constants(nodes: list, tensors: dict, constants: set, opset: int, where) -> list:
    """Static ops whose inputs are all constants (Constant nodes, integer initializers, earlier folds) run now, in
    NumPy, so that computed pads, shapes and scales are known tensors at load time (torch writes F.pad's pads as
    such a subgraph). Float initializers are not folded through: they may be parameters."""
    from ._import_static import SHAPE_ONLY, STATIC_OPS
    known = set(constants) | {k for k, v in tensors.items() if np.asarray(v).dtype.kind != "f"}
    kept = []
    for n in nodes:
        op_type, _, ins, outs, attrs = n
        fn = STATIC_OPS.get(op_type)
        if fn is None or op_type in SHAPE_ONLY or not all(x in known or not x for x in ins):
            kept.append(n)
            continue
        try:
            vals = fn(attrs, [tensors[x] if x else None for x in ins], opset)
        except Exception as e:  # noqa: BLE001 - the file's constants do not compute; say where
            raise OnnxImportError(f"fastconv.onnx.load: {where(n)}: constant folding failed: {e}") from None
        for o, v in zip(outs, vals):
            if o:
                tensors[o] = np.asarray(v)
                known.add(o)
                constants.add(o)
    return kept
