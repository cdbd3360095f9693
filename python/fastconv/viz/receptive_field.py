"""Receptive fields of a chain of conv / pool layers, with the standard recurrences (e.g. Dang Ha The Hien, "A guide to
receptive field arithmetic"; Araujo et al., Distill 2019).

For layer l with kernel k, stride s, padding p and dilation d (effective kernel k' = d(k - 1) + 1), starting from the
input (r = 1, j = 1, start = 0.5, the centre of pixel 0 in pixel units):

    r_l     = r_{l-1} + (k' - 1) * j_{l-1}        receptive field size (input pixels)
    j_l     = j_{l-1} * s                         jump: input pixels between neighbouring outputs (effective stride)
    start_l = start_{l-1} + ((k' - 1)/2 - p) * j_{l-1}   centre of output 0's receptive field (input coordinates)

The course example (notes 003): a 3x3 conv gives 3, then a 4x4 conv 6, then 2x2 max-pooling (stride 2) 7.
Layers that do not mix neighbours (activations, batch norm, dropout) leave all three unchanged; Flatten, Linear
and adaptive / global pooling see the whole input ('global': r = the input size, when it is known).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Union

from ..nn.module import Module

__all__ = ["RFLayer", "receptive_field", "format_receptive_field"]

Pair = Union[int, tuple]


@dataclass
class RFLayer:
    name: str
    type: str
    kernel: Pair
    stride: Pair
    padding: Pair
    dilation: Pair
    rf: Pair            # receptive field size (input pixels)
    jump: Pair          # effective stride (input pixels between neighbouring outputs)
    start: Pair         # centre of the first output's receptive field, input coordinates (pixel centres at i + 0.5)
    size: Pair | None = None   # output size (when the input size is known)
    is_global: bool = False


def _two(v, what: str, where: str) -> tuple[int, int]:
    if isinstance(v, str):
        raise ValueError(f"receptive_field: {where}: {what}={v!r} is not a number (resolve padding='same'/'valid' "
                         f"to numbers first)")
    t = tuple(v) if isinstance(v, (tuple, list)) else (v, v)
    if len(t) == 1:
        t = (t[0], t[0])
    if len(t) != 2:
        raise ValueError(f"receptive_field: {where}: {what} must be an int or a pair, got {v!r}")
    return int(t[0]), int(t[1])


def _collapse(t):
    if t is None:
        return None
    return t[0] if t[0] == t[1] else tuple(t)


_NEUTRAL = ("ReLU", "LeakyReLU", "ELU", "Sigmoid", "Tanh", "Identity", "Dropout", "Dropout2d", "BatchNorm2d",
            "GroupNorm", "LocalResponseNorm", "Softmax", "LogSoftmax", "GELU", "ReLU6", "Hardtanh", "Softplus")
_GLOBAL = ("Flatten", "Linear", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "LayerNorm")


def _module_spec(name: str, m: Module):
    """(kind, kernel, stride, padding, dilation) for a module; kind 'window', 'neutral' or 'global'."""
    t = type(m).__name__
    from ..nn.conv import _ConvNd
    if isinstance(m, _ConvNd):
        if m._transposed:
            raise ValueError(f"receptive_field: layer '{name}' ({t}) upsamples; receptive fields of transposed "
                             f"convolutions are not supported")
        if m._dims != 2:
            raise ValueError(f"receptive_field: layer '{name}' ({t}) is not 2-D")
        pad = m.padding
        if pad == "valid":
            pad = 0
        elif pad == "same":
            pad = tuple((d * (k - 1)) // 2 for k, d in zip(m.kernel_size, m.dilation))
        return "window", m.kernel_size, m.stride, pad, m.dilation
    if t in ("MaxPool2d", "MinPool2d"):
        return "window", m.kernel_size, m.stride, m.padding, m.dilation
    if t == "AvgPool2d":
        return "window", m.kernel_size, m.stride, m.padding, 1
    if t in _GLOBAL:
        return "global", None, None, None, None
    if t in _NEUTRAL:
        return "neutral", 1, 1, 0, 1
    raise ValueError(f"receptive_field: layer '{name}' ({t}) is not supported; supported: Conv2d, MaxPool2d, "
                     f"MinPool2d, AvgPool2d, element-wise layers ({', '.join(_NEUTRAL[:6])}, ...), Flatten, Linear, "
                     f"adaptive pooling; or pass a list of (kernel, stride, padding, dilation)")


def _leaves(model: Module):
    for name, m in model.named_modules():
        if name and not any(True for _ in m.children()):
            yield name, m


def receptive_field(model_or_layers, input_size=None) -> list[RFLayer]:
    """Per layer: receptive field size, jump (effective stride) and start, plus the output size when input_size
    (an int or (H, W)) is given.

    model_or_layers: a fastconv.nn model whose leaf modules run in definition order (Sequential stacks; residual
    branches are not followed), or a list of layers, each (kernel, stride, padding, dilation) with the last ones
    optional (stride 1, padding 0, dilation 1), or a dict with those keys. Values are ints or (h, w) pairs; results
    are ints when both axes agree, else (h, w) tuples."""
    if isinstance(model_or_layers, Module):
        specs = [(name, type(m).__name__) + _module_spec(name, m) for name, m in _leaves(model_or_layers)]
    elif isinstance(model_or_layers, (list, tuple)):
        specs = []
        for i, l in enumerate(model_or_layers):
            if isinstance(l, dict):
                unknown = set(l) - {"kernel", "stride", "padding", "dilation", "name"}
                if unknown or "kernel" not in l:
                    raise ValueError(f"receptive_field: layer {i}: a dict needs 'kernel' and may have 'stride', "
                                     f"'padding', 'dilation', 'name'; got keys {sorted(l)}")
                specs.append((l.get("name", str(i)), "layer", "window", l["kernel"], l.get("stride", 1),
                              l.get("padding", 0), l.get("dilation", 1)))
                continue
            t = tuple(l) if isinstance(l, (tuple, list)) else (l,)
            if not 1 <= len(t) <= 4:
                raise ValueError(f"receptive_field: layer {i} must be (kernel, stride, padding, dilation), got {l!r}")
            t = t + (1, 0, 1)[len(t) - 1:]
            specs.append((str(i), "layer", "window") + t)
    else:
        raise TypeError(f"receptive_field: expected a fastconv.nn.Module or a list of (kernel, stride, padding, "
                        f"dilation), got {type(model_or_layers).__name__}")

    in_size = None if input_size is None else _two(input_size, "input_size", "input")
    size = None if in_size is None else list(in_size)
    rf, jump, start = [1, 1], [1, 1], [0.5, 0.5]
    rows: list[RFLayer] = []
    glob = False
    for name, tname, kind, k, s, p, d in specs:
        where = f"layer '{name}' ({tname})"
        if kind == "global" or glob:
            glob = True
            if in_size is not None:
                rf = list(in_size)
                start = [sz / 2 for sz in in_size]
            rows.append(RFLayer(name, tname, None, None, None, None, _collapse(rf) if in_size else None,
                                None, _collapse(start) if in_size else None, None, True))
            continue
        k, s, p, d = (_two(v, a, where) for v, a in ((k, "kernel"), (s, "stride"), (p, "padding"), (d, "dilation")))
        for ax in range(2):
            if k[ax] < 1 or s[ax] < 1 or d[ax] < 1 or p[ax] < 0:
                raise ValueError(f"receptive_field: {where}: need kernel, stride, dilation >= 1 and padding >= 0, "
                                 f"got kernel {k}, stride {s}, padding {p}, dilation {d}")
            eff = d[ax] * (k[ax] - 1) + 1
            if size is not None:
                out = (size[ax] + 2 * p[ax] - eff) // s[ax] + 1
                if out < 1:
                    raise ValueError(f"receptive_field: {where}: the (dilated) kernel {eff} does not fit the padded "
                                     f"input {size[ax] + 2 * p[ax]} (axis {ax})")
                size[ax] = out
            start[ax] = start[ax] + ((eff - 1) / 2 - p[ax]) * jump[ax]
            rf[ax] = rf[ax] + (eff - 1) * jump[ax]
            jump[ax] = jump[ax] * s[ax]
        rows.append(RFLayer(name, tname, _collapse(k), _collapse(s), _collapse(p), _collapse(d), _collapse(rf),
                            _collapse(jump), _collapse(start), _collapse(size)))
    return rows


def format_receptive_field(rows: Sequence[RFLayer]) -> str:
    """A text table of receptive_field's rows."""
    def f(v):
        if v is None:
            return "-"
        if isinstance(v, tuple):
            return "x".join(f(a) for a in v)
        return f"{v:g}" if isinstance(v, float) else str(v)

    head = ["layer", "type", "kernel", "stride", "pad", "dil", "out", "rf", "jump", "start"]
    body = [[r.name, r.type, f(r.kernel), f(r.stride), f(r.padding), f(r.dilation), f(r.size),
             "global" if r.is_global and r.rf is None else f(r.rf), f(r.jump), f(r.start)] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in [head] + body]
    return "\n".join(lines)
