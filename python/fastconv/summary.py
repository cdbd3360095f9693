"""model.summary(input_shape): Keras's layer table (the classic tf.keras format: 65 columns, "Layer (type)",
"Output Shape", "Param #", thousands separators in the totals).

Layers are the modules that ran, in call order, named as Keras names layers (snake_case of the class plus _1, _2
... for repeats). Output shapes are NCHW with the batch dimension shown as None. As in Keras, batch-norm moving
statistics count as non-trainable parameters (a BatchNorm2d(32) row shows 128); frozen parameters
(requires_grad=False) are non-trainable too.
"""
from __future__ import annotations

import re
from typing import Callable, Sequence


from ._trace import Symbol, TraceContext
from .nn.module import Module, binder_for

__all__ = ["summary", "keras_name"]


def keras_name(cls_name: str) -> str:
    s = re.sub("(.)([A-Z][a-z0-9]+)", r"\1_\2", cls_name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", s).lower()


def _shape_str(out) -> str:
    if isinstance(out, Symbol):
        return "(" + ", ".join(["None"] + [str(d) for d in out.shape[1:]]) + ")"
    if isinstance(out, (list, tuple)):
        return "[" + ", ".join(_shape_str(o) for o in out) + "]"
    return "?"


def _print_row(fields: Sequence[str], positions: Sequence[int]) -> str:
    line = ""
    for i, f in enumerate(fields):
        if i > 0:
            line = line[:-1] + " "
        line += str(f)
        line = line[:positions[i]]
        line += " " * (positions[i] - len(line))
    return line


def _own_counts(m: Module) -> tuple[int, int]:
    train = sum(int(p.size) for p in m._parameters.values() if p is not None and p.requires_grad)
    frozen = sum(int(p.size) for p in m._parameters.values() if p is not None and not p.requires_grad)
    frozen += sum(int(b.size) for k, b in m._buffers.items()
                  if b is not None and b.dtype.kind == "f" and k not in m._non_persistent)
    return train, frozen


def summary(model: Module, input_shape: Sequence[int], print_fn: Callable[[str], None] | None = None,
            line_length: int = 65, positions: Sequence[float] = (0.45, 0.85, 1.0), batch_size: int = 1,
            name: str | None = None) -> str:
    """Prints (through print_fn, default print) and returns the table. input_shape excludes the batch dimension,
    as in Keras: summary(model, (3, 32, 32))."""
    shape = (int(batch_size),) + tuple(int(s) for s in input_shape)
    saved = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with TraceContext() as ctx:
            binder = binder_for(ctx, model)
            model(ctx.input("x", shape, "float32"))
    finally:
        for m, mode in saved:
            object.__setattr__(m, "training", mode)

    seen: dict[int, int] = {}
    rows, counters = [], {}
    for m, _path, out in binder.calls:
        if any(True for _ in m.children()) and not any(p is not None for p in m._parameters.values()):
            continue  # containers: their layers have rows of their own
        if id(m) in seen:
            rows[seen[id(m)]][1] = "multiple"
            continue
        base = keras_name(type(m).__name__)
        k = counters.get(base, 0)
        counters[base] = k + 1
        t, f = _own_counts(m)
        seen[id(m)] = len(rows)
        rows.append([f"{base}{'' if k == 0 else '_' + str(k)} ({type(m).__name__})", _shape_str(out), t + f])

    trainable = sum(int(p.size) for p in model.parameters() if p.requires_grad)
    non_trainable = sum(int(p.size) for p in model.parameters() if not p.requires_grad)
    for mod in model.modules():
        non_trainable += sum(int(b.size) for k, b in mod._buffers.items()
                             if b is not None and b.dtype.kind == "f" and k not in mod._non_persistent)

    pos = [int(line_length * p) for p in positions] if positions[-1] <= 1 else list(positions)
    # Keras cuts labels that do not fit ("adaptive_avg_pool2d (Adaptiv"); widen the columns instead, so the table
    # keeps Keras's exact layout whenever everything fits
    widths = [b - a for a, b in zip([0] + pos[:-1], pos)]
    for col in range(3):
        need = max([len(str(r[col])) + 1 for r in rows] + [widths[col]])
        widths[col] = need
    pos = [sum(widths[:i + 1]) for i in range(3)]
    line_length = max(line_length, pos[-1])
    lines = [f'Model: "{name or keras_name(type(model).__name__)}"', "_" * line_length,
             _print_row(["Layer (type)", "Output Shape", "Param #"], pos), "=" * line_length]
    for i, (label, shp, n) in enumerate(rows):
        lines.append(_print_row([label, shp, n], pos))
        lines.append("=" * line_length if i == len(rows) - 1 else "_" * line_length)
    if not rows:
        lines.append("=" * line_length)
    lines += [f"Total params: {trainable + non_trainable:,}", f"Trainable params: {trainable:,}",
              f"Non-trainable params: {non_trainable:,}", "_" * line_length]
    text = "\n".join(lines)
    (print_fn or print)(text)
    return text


