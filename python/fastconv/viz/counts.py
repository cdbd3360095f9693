"""Per-layer cost of a model: output shape, parameters, multiply-adds, multiplications and FLOPs.

Counting rules (one forward pass, inference; the batch size is a factor of everything but parameters):

    layer            macs (multiply-adds)                      mults            flops
    conv (k, groups) N*C_out*H_out*W_out*(C_in/groups)*kh*kw   = macs           2*macs
    conv transpose   N*C_in*H_in*W_in*(C_out/groups)*kh*kw     = macs           2*macs
    linear           (rows)*in_features*out_features           = macs           2*macs
    max/min pool     0                                         0                outputs*(kh*kw - 1) comparisons
    avg pool         0                                         outputs          outputs*kh*kw (adds + 1 multiply)
    adaptive avg     0                                         outputs          inputs + outputs
    batch norm       elements (folded into one x*a + b)        elements         2*elements
    group/layer norm elements                                  elements         2*elements (statistics not counted)
    activations      0                                         0                elements (one op per element)
    reshapes, dropout (eval), identity: 0.

conv macs equal fastconv.conv_flops(input_shape, weight_shape, ...); bias additions are not counted (the usual
convention). Parameters are counted per layer as fastconv.summary counts them (batch-norm running statistics are
non-trainable parameters, as in Keras), so the column sums to summary's total.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from ..nn.module import Module
from ..summary import _own_counts
from ._graph import leaf_calls, trace_calls

__all__ = ["LayerCount", "layer_table", "format_layer_table"]


@dataclass
class LayerCount:
    name: str
    type: str
    input_shape: tuple
    output_shape: tuple
    params: int          # as summary counts them (trainable + non-trainable, incl. batch-norm running stats)
    trainable: int
    macs: int            # multiply-accumulate operations
    mults: int           # multiplications
    flops: int           # floating-point operations (see the module docstring)


def _shape(v) -> tuple:
    if isinstance(v, (tuple, list)):
        v = v[0]
    return tuple(int(s) for s in v.shape) if hasattr(v, "shape") else ()


def _counts(m: Module, xin: tuple, out: tuple) -> tuple[int, int, int]:
    t = type(m).__name__
    n_out = math.prod(out) if out else 0
    n_in = math.prod(xin) if xin else 0
    from ..nn.conv import _ConvNd
    if isinstance(m, _ConvNd):
        ksz = math.prod(m.kernel_size)
        if m._transposed:
            macs = n_in * (m.out_channels // m.groups) * ksz
        else:
            macs = n_out * (m.in_channels // m.groups) * ksz
        return macs, macs, 2 * macs
    if t == "Linear":
        macs = (n_in // max(m.in_features, 1)) * m.in_features * m.out_features
        return macs, macs, 2 * macs
    if t in ("MaxPool2d", "MinPool2d", "AvgPool2d"):
        k = m.kernel_size
        kk = math.prod(k) if isinstance(k, (tuple, list)) else int(k) ** 2
        if t == "AvgPool2d":
            return 0, n_out, n_out * kk
        return 0, 0, n_out * (kk - 1)
    if t == "AdaptiveAvgPool2d":
        return 0, n_out, n_in + n_out
    if t == "AdaptiveMaxPool2d":
        return 0, 0, n_in
    if t.startswith("BatchNorm") or t in ("GroupNorm", "LayerNorm", "LocalResponseNorm"):
        return n_out, n_out, 2 * n_out
    if t in ("ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "GELU", "ReLU6", "Hardtanh", "Softplus", "Softmax",
             "LogSoftmax", "Threshold"):
        return 0, 0, n_out
    return 0, 0, 0


def layer_table(model: Module, input_shape: Sequence[int], batch_size: int = 1) -> list[LayerCount]:
    """One LayerCount per layer that ran (leaf modules and modules owning parameters), in call order, for inputs
    of input_shape (C, H, W: no batch dimension, as summary) and the given batch size."""
    if not isinstance(model, Module):
        raise TypeError(f"layer_table: model must be a fastconv.nn.Module, got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"layer_table: batch_size must be a positive int, got {batch_size!r}")
    _, _, _, calls = trace_calls(model, (batch_size,) + tuple(int(s) for s in input_shape))
    rows, seen = [], set()
    for c in leaf_calls(calls):
        xin = _shape(c.inputs[0]) if c.inputs else ()
        out = _shape(c.output)
        macs, mults, flops = _counts(c.module, xin, out)
        t, f = _own_counts(c.module)
        if id(c.module) in seen:  # a shared module: its parameters are counted once, its work every call
            t = f = 0
        seen.add(id(c.module))
        rows.append(LayerCount(c.path, type(c.module).__name__, xin, out, t + f, t, macs, mults, flops))
    return rows


def _human(n: int) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.2f}{unit}"
    return str(n)


def format_layer_table(rows: Sequence[LayerCount], human: bool = False) -> str:
    """A text table with a totals line (human=True: 1.23M instead of 1,230,000)."""
    num = _human if human else (lambda v: f"{v:,}")
    head = ["layer", "type", "output", "params", "MACs", "mults", "FLOPs"]
    body = [[r.name, r.type, "x".join(str(s) for s in r.output_shape), num(r.params), num(r.macs), num(r.mults),
             num(r.flops)] for r in rows]
    body.append(["total", "", "", num(sum(r.params for r in rows)), num(sum(r.macs for r in rows)),
                 num(sum(r.mults for r in rows)), num(sum(r.flops for r in rows))])
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    right = {3, 4, 5, 6}
    lines = []
    for i, row in enumerate([head] + body):
        if i == len(body):
            lines.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
        lines.append("  ".join(x.rjust(w) if j in right else x.ljust(w)
                               for j, (x, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)

