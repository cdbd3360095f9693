"""Tracing a model with every module call recorded (its inputs and outputs as graph values), so the viz tools can
read any layer's activation, take gradients with respect to it and count what each layer computes.

The recording works without a hook API on Module: for the duration of one trace every module of the model gets an
instance attribute `forward` wrapping the class's forward (Module.__call__ looks `forward` up on the instance), and
the wrappers are removed again afterwards, even when the trace fails.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from .. import _C
from .._trace import Symbol, TraceContext
from ..nn.module import Module, binder_for

__all__ = ["Call", "Program", "trace_calls", "leaf_calls", "resolve_layer", "as_batch", "eval_mode", "model_cache"]


@dataclass
class Call:
    path: str          # the module's name in model.named_modules() ("" for the model itself)
    module: Module
    inputs: tuple      # positional arguments (Symbols while tracing)
    output: Any


@contextlib.contextmanager
def eval_mode(model: Module, train: bool = False):
    """Runs the body with every module in eval mode (or train mode), restoring each module's own flag after."""
    saved = [(m, m.training) for m in model.modules()]
    model.train(train)
    try:
        yield
    finally:
        for m, mode in saved:
            object.__setattr__(m, "training", mode)


@contextlib.contextmanager
def _recording(model: Module, calls: list):
    names = {id(m): n for n, m in model.named_modules()}
    wrapped = []
    try:
        for m in model.modules():
            if "forward" in m.__dict__:  # already tapped (or user-patched): leave it alone
                continue
            orig = type(m).forward.__get__(m)

            def tapped(*args, _m=m, _orig=orig, **kwargs):
                out = _orig(*args, **kwargs)
                calls.append(Call(names.get(id(_m), type(_m).__name__), _m, args, out))
                return out

            object.__setattr__(m, "forward", tapped)
            wrapped.append(m)
        yield
    finally:
        for m in wrapped:
            m.__dict__.pop("forward", None)


def trace_calls(model: Module, x_shape: Sequence[int], train: bool = False):
    """Traces model on an input of x_shape; returns (ctx, x symbol, output, calls in completion order)."""
    calls: list[Call] = []
    with eval_mode(model, train), _recording(model, calls):
        with TraceContext() as ctx:
            binder_for(ctx, model)
            x = ctx.input("x", tuple(int(s) for s in x_shape), "float32")
            out = model(x)
    return ctx, x, out, calls


def leaf_calls(calls: Sequence[Call]) -> list[Call]:
    """Calls of modules with no children, and of modules that own parameters (they compute something)."""
    return [c for c in calls if c.path and (not any(True for _ in c.module.children())
                                            or any(p is not None for p in c.module._parameters.values()))]


def resolve_layer(calls: Sequence[Call], layer, fn: str) -> Call:
    """The (last) call of the module named `layer` (a dotted name or the Module object)."""
    hits = [c for c in calls if (c.module is layer if isinstance(layer, Module) else c.path == layer)]
    if not hits:
        names = [c.path for c in calls if c.path]
        shown = ", ".join(repr(n) for n in dict.fromkeys(names))
        what = type(layer).__name__ + " module" if isinstance(layer, Module) else repr(layer)
        raise ValueError(f"{fn}: no layer {what} ran in the model's forward; layers that ran: {shown}")
    return hits[-1]


def as_batch(x, fn: str, ndim: int = 4) -> np.ndarray:
    """x as a C-contiguous float32 batch; one unbatched sample (ndim - 1 dims) gets a batch axis of 1."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{fn}: input must be a numeric array, got dtype {a.dtype}")
    if a.ndim == ndim - 1:
        a = a[None]
    if a.ndim != ndim:
        raise ValueError(f"{fn}: input must be a batch (N, C, H, W) or one image (C, H, W), got shape {a.shape}")
    return np.ascontiguousarray(a, dtype=np.float32)


def model_cache(model: Module) -> dict:
    """Per-model cache of compiled programs, invalidated when parameters or buffers are replaced (not when their
    values change: graphs are bound to the arrays' memory)."""
    key = tuple(id(p) for p in model.parameters()) + tuple(id(b) for b in model.buffers())
    cache = model.__dict__.get("_fc_viz_cache")
    if cache is None or cache.get("__key__") != key:
        cache = {"__key__": key}
        model.__dict__["_fc_viz_cache"] = cache
    return cache


class Program:
    """A traced model compiled with extra outputs: run(x, **inputs) -> list of arrays."""

    def __init__(self, ctx: TraceContext, x: Symbol, outputs: Sequence[int], inputs: dict | None = None) -> None:
        self.ctx, self.x, self.outputs, self.inputs = ctx, x, list(outputs), dict(inputs or {})
        self.exe = _C.Executable(ctx.graph, self.outputs)

    def run(self, x: np.ndarray, **inputs) -> list[np.ndarray]:
        feeds = {self.x.id: x, **{self.inputs[k].id: v for k, v in inputs.items()}}
        return [np.array(o) for o in self.exe.call(feeds, self.outputs)]
