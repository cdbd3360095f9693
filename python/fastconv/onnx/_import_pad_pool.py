"""ONNX Pad and LpPool on the data path, composed from fastconv.functional (pad, pow, avg_pool, relu): each
composition is exact in the arithmetic ONNX defines and differentiable. Handlers take (module, attributes, inputs,
outputs) as in _import_ops, and get its helpers passed in (need, static, spatial, padding) so that the modules do not
import each other."""
from __future__ import annotations

import numpy as np

from .. import functional as F

# ONNX's pad modes as fastconv.functional.pad's (torch's names).
_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def pad(m, a, ins, outs, need, static):
    """Pad (opset 2..25): pads as an attribute (< 11) or a constant input ([begins..., ends...] over `axes`, every
    axis by default), a constant constant_value, negative pads crop."""
    x = ins[0][0]
    r = len(x.shape)
    mode = a.get("mode", "constant")
    need(mode in _PAD_MODES, "mode", f"'{mode}' is not a Pad mode (constant, reflect, edge, wrap)")
    if m._graph["opset"] < 11:
        pads, value, axes = [int(v) for v in a.get("pads", [])], float(a.get("value", 0.0)), None
    else:
        pads = [int(v) for v in np.asarray(static(ins[1], "pads")).reshape(-1)]
        value = 0.0
        if len(ins) > 2 and ins[2][0] is not None:
            cv = np.asarray(static(ins[2], "constant_value")).reshape(-1)
            need(cv.size == 1, "constant_value", f"must be one value, got {cv.size}")
            value = float(cv[0])
        axes = None
        if len(ins) > 3 and ins[3][0] is not None:
            axes = [int(v) for v in np.asarray(static(ins[3], "axes")).reshape(-1)]
    axes = list(range(r)) if axes is None else axes
    need(all(-r <= ax < r for ax in axes) and len({ax % r for ax in axes}) == len(axes), "axes",
         f"{axes} must be distinct axes of a rank-{r} input")
    need(len(pads) == 2 * len(axes), "pads", f"needs {2 * len(axes)} values for {len(axes)} axes, got {pads}")
    full = [0] * (2 * r)
    for i, ax in enumerate(axes):
        full[ax % r], full[r + ax % r] = pads[i], pads[len(axes) + i]
    if not any(full):
        return [ins[0]]
    first = next(i for i in range(r) if full[i] or full[r + i])
    spec = []  # torch's order: (before, after) from the last axis back to the first one padded
    for i in range(r - 1, first - 1, -1):
        spec += [full[i], full[r + i]]
    fm = _PAD_MODES[mode]
    return [(F.pad(x, tuple(spec), fm, value if fm == "constant" else None), False)]


def lp_pool(m, a, ins, outs, need, spatial, padding):
    """LpPool: (sum over the window of |x| ** p) ** (1 / p), zero padding counted (it adds nothing), dilations,
    ceil_mode; the window sum is an average pool with divisor 1. |x| is 2 relu(x) - x (exact) except for even
    integer p, where x ** p already is |x| ** p."""
    x = ins[0][0]
    k = tuple(int(v) for v in a["kernel_shape"])
    nd = len(k)
    need(1 <= nd <= 3, "kernel_shape", f"{nd}-D pooling is not supported (1-D to 3-D)")
    p = float(a.get("p", 2))
    need(p > 0 and np.isfinite(p), "p", f"must be a positive number, got {p}")
    ax = x if (p == int(p) and int(p) % 2 == 0) else F.relu(x) * 2.0 - x
    s = F.pow(ax, p) if p != 1.0 else ax
    from ..functional.pool import _avg_pool  # (the public avg_pool1d has no divisor_override)
    y = _avg_pool(f"avg_pool{nd}d", s, k, spatial(a, "strides", nd), padding(a, nd), bool(a.get("ceil_mode", 0)),
                  True, 1, spatial(a, "dilations", nd))
    return [(F.pow(y, 1.0 / p) if p != 1.0 else y, False)]
