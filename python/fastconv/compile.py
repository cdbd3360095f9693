"""fastconv.compile: a model traced once per input shape into one static graph (forward, loss, backward, optimizer
updates), planned into one arena and run as a flat schedule of kernels; each train step is one call into C++.

    net = fc.compile(model, (32, 1, 8, 8), loss="cross_entropy", optimizer=fc.optim.Adam(model.parameters()))
    loss = net.train_step(x, y)      # float
    logits = net.predict(x)          # eval mode (batch norm uses running stats, dropout off)
    net.peak_bytes                   # the arena size, known before anything runs
"""
from __future__ import annotations

import numbers
import threading
from collections import OrderedDict
from typing import Any, Callable, Sequence

import numpy as np

from . import _C
from . import functional as F
from ._trace import Symbol, TraceContext
from .nn.module import Module, binder_for

__all__ = ["compile", "Compiled", "resolve_loss", "memory_report"]

_LOSSES = {
    "cross_entropy": (lambda out, y: F.cross_entropy(out, y), "int64"),
    "categorical_crossentropy": (lambda out, y: F.cross_entropy(out, y), "int64"),
    "sparse_categorical_crossentropy": (lambda out, y: F.cross_entropy(out, y), "int64"),
    "nll": (lambda out, y: F.nll_loss(out, y), "int64"),
    "mse": (lambda out, y: F.mse_loss(out, y), "float32"),
    "mean_squared_error": (lambda out, y: F.mse_loss(out, y), "float32"),
    "l1": (lambda out, y: F.l1_loss(out, y), "float32"),
    "bce": (lambda out, y: F.binary_cross_entropy(out, y), "float32"),
    "bce_with_logits": (lambda out, y: F.binary_cross_entropy_with_logits(out, y), "float32"),
}


def resolve_loss(loss) -> tuple[Callable | None, str | None]:
    """(callable(output, target) -> scalar, the target dtype it expects or None when unknown)."""
    if loss is None:
        return None, None
    if isinstance(loss, str):
        key = loss.lower()
        if key not in _LOSSES:
            raise ValueError(f"compile: unknown loss {loss!r}; expected one of {sorted(_LOSSES)} or a callable "
                             f"loss(output, target) built from fastconv.functional")
        return _LOSSES[key]
    if callable(loss):
        # loss modules (nn.CrossEntropyLoss(), ...) say which target dtype they take
        return loss, getattr(loss, "target_dtype", None)
    raise TypeError(f"compile: loss must be a string or a callable(output, target), got {type(loss).__name__}")


def _flatten(out) -> list[Symbol]:
    if isinstance(out, Symbol):
        return [out]
    if isinstance(out, (list, tuple)):
        return [s for o in out for s in _flatten(o)]
    if isinstance(out, dict):
        return [s for o in out.values() for s in _flatten(o)]
    raise TypeError(f"compile: the model returned {type(out).__name__}; forward must return traced values (the "
                    f"results of fastconv ops) or tuples of them")


def _rebuild(out, it):
    if isinstance(out, Symbol):
        return next(it)
    if isinstance(out, (list, tuple)):
        return type(out)(_rebuild(o, it) for o in out)
    return {k: _rebuild(o, it) for k, o in out.items()}


class _Program:
    """One traced graph for fixed shapes and its executable."""

    def __init__(self, ctx: TraceContext, exe, x_id: int, y_id: int | None, flat: list[Symbol], loss_id: int | None,
                 tree: Any, grads: dict[str, int] | None = None, spec: dict | None = None,
                 num_nodes: int | None = None) -> None:
        self.ctx, self.exe, self.x_id, self.y_id = ctx, exe, x_id, y_id
        self.outs = [s.id for s in flat]
        self.out_shapes = [s.shape for s in flat]
        self.loss_id, self.tree, self.grads = loss_id, tree, grads or {}
        # train programs, for fastconv.save's graph document: the spec given to build_training and the node count
        # before it appended backward and updates (the file holds the forward pass and loss only)
        self.spec, self.num_nodes = spec, num_nodes


def _shape_arg(shape, arg: str) -> tuple[int, ...]:
    """A shape argument: a sequence of ints (ValueError for a negative one; the graph's shape rules check the rest)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"compile: argument '{arg}' must be a sequence of ints, got {type(shape).__name__} "
                        f"{shape!r:.60}")
    dims = tuple(shape)
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (numbers.Integral, np.integer)):
            raise TypeError(f"compile: argument '{arg}' must be a sequence of ints, got {shape!r:.60} (element "
                            f"{d!r:.30} is {type(d).__name__})")
    return tuple(int(d) for d in dims)


def _device_arg(device, who: str = "compile") -> str:
    """'cpu', or 'cuda[:N]' when a CUDA device (or the CUDA emulator) is there; errors say why not."""
    name = str(device)
    if name == "cpu":
        return name
    kind, _, index = name.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ValueError(f"{who}: argument 'device' must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if not _C.cuda_compiled():
        raise RuntimeError(f"{who}: device={device!r}: this fastconv was built without CUDA (no nvcc at build "
                           f"time); use device='cpu'")
    count = _C.cuda_device_count()
    if count == 0:
        raise RuntimeError(f"{who}: device={device!r}: no CUDA device is visible (fastconv.cuda.is_available() "
                           f"is False); use device='cpu'")
    if int(index or 0) >= count:
        raise ValueError(f"{who}: device={device!r}: there are {count} CUDA device(s), 'cuda:0' to "
                         f"'cuda:{count - 1}'")
    return f"cuda:{int(index or 0)}"


_PRECISIONS = {"fp32": "fp32", "float32": "fp32", "tf32": "tf32", "bf16": "bf16", "bfloat16": "bf16"}


def _precision_arg(precision, device: str) -> str:
    """compile's precision (docs/cuda.md, "Precision"): 'fp32' (exact; the default), or on device='cuda' 'tf32' /
    'bf16', the GEMMs of linear and im2col convolutions on tensor cores with FP32 accumulation."""
    if not isinstance(precision, str) or precision not in _PRECISIONS:
        raise ValueError(f"compile: argument 'precision' is {precision!r}; expected 'fp32', 'tf32' or 'bf16'")
    p = _PRECISIONS[precision]
    if p != "fp32" and not device.startswith("cuda"):
        raise NotImplementedError(f"compile: precision={precision!r} needs device='cuda' (tensor-core GEMMs); on "
                                  f"device={device!r} only precision='fp32' is supported")
    return p


class Compiled:
    max_programs = 8  # programs kept per compiled model (one per input shape and kind); see _program

    def __init__(self, model: Module, input_shape: Sequence[int], loss=None, optimizer=None, device: str | None = None,
                 precision: str = "fp32", clip_grad_norm: float | None = None, clip_norm_type: float = 2.0,
                 target_shape: Sequence[int] | None = None, target_dtype: str | None = None,
                 plan_memory: bool = True, fuse: bool = True, backend: str | None = None,
                 algo: dict | None = None) -> None:
        if not isinstance(model, Module):
            raise TypeError(f"compile: model must be a fastconv.nn.Module, got {type(model).__name__}")
        device = _device_arg(model.device if device is None else device)  # model.to('cuda') sets the default
        precision = _precision_arg(precision, device)
        if clip_grad_norm is not None and not clip_grad_norm > 0:
            raise ValueError(f"compile: clip_grad_norm must be a positive number, got {clip_grad_norm}")
        self.model, self.optimizer, self.device, self.precision = model, optimizer, str(device), precision
        self.input_shape = _shape_arg(input_shape, "input_shape")
        # fastconv.save(model, path) traces the model at the shape it was last compiled with
        object.__setattr__(model, "_fc_input_shape", self.input_shape)
        self.loss_fn, loss_target_dtype = resolve_loss(loss)
        self.loss = loss
        self.target_dtype = target_dtype or loss_target_dtype
        self.target_shape = _shape_arg(target_shape, "target_shape") if target_shape is not None else None
        self.clip_grad_norm, self.clip_norm_type = clip_grad_norm, float(clip_norm_type)
        self.plan_memory = plan_memory
        if backend is not None and not isinstance(backend, str):
            raise TypeError(f"compile: backend must be a backend name (str) or None, got {type(backend).__name__}")
        if algo is not None and not (isinstance(algo, dict) and
                                     all(isinstance(k, str) and isinstance(v, (str, int)) for k, v in algo.items())):
            raise TypeError(f"compile: algo must be a dict of override -> algorithm name, e.g. {{'conv': 'ref'}}, "
                            f"got {algo!r}")
        self.backend = backend or ""
        self.algo = {k: str(v) for k, v in (algo or {}).items()}
        self.fuse = bool(fuse)
        # Device programs: one device copy of each parameter, buffer and optimizer slot, shared by every program of
        # this model (host address -> (device tensor, host tensor)). The host arrays stay the truth: they are copied
        # to the device before every call and back after every call that updates state (_exe_call).
        self._device_params: dict = {}
        # Programs by input shape (and mode), least recently used dropped first: each holds an arena, and a stream
        # of distinct batch sizes would otherwise grow memory without bound.
        self._cache: OrderedDict[tuple, _Program] = OrderedDict()
        self._lock = threading.RLock()  # the program cache and the learning rates written before each step
        self.last_output = None
        # Compile now for the declared shape so peak_bytes is known before anything runs.
        if self.loss_fn is not None and self.optimizer is not None:
            tshape, tdtype = self._default_target(self.input_shape)
            if tshape is not None:
                self._program("train", self.input_shape, tshape, tdtype)
        else:
            self._program("eval", self.input_shape)

    # ---- building ---------------------------------------------------------------------------------------------------
    def _default_target(self, x_shape) -> tuple:
        if self.target_shape is not None:
            return (x_shape[0],) + tuple(self.target_shape[1:]), self.target_dtype or "float32"
        shapes = self._program("eval", x_shape).out_shapes
        if self.target_dtype == "int64":  # class indices: the output shape without the class dimension
            return ((x_shape[0],) + tuple(shapes[0][2:]) if len(shapes) == 1 else (x_shape[0],)), "int64"
        if len(shapes) == 1:
            return shapes[0], self.target_dtype or "float32"
        return None, None

    def _modes_key(self) -> tuple:
        return tuple(m.training for m in self.model.modules())

    def _program(self, kind: str, x_shape, y_shape=None, y_dtype=None) -> _Program:
        # Replacing a parameter or buffer object (not just its values) or freezing one needs a new graph.
        grad_key = tuple((id(p), bool(getattr(p, "requires_grad", False))) for p in self.model.parameters()) + \
            tuple(id(b) for b in self.model.buffers())
        opt_key = self.optimizer.signature() if (kind == "train" and self.optimizer is not None) else None
        key = (kind, tuple(x_shape), tuple(y_shape or ()), y_dtype, grad_key, opt_key,
               self._modes_key() if kind == "forward" else None)
        prog = self._cache.get(key)
        if prog is None:
            prog = self._build(kind, tuple(x_shape), y_shape, y_dtype)
            while len(self._cache) >= self.max_programs:  # least recently used first
                self._cache.popitem(last=False)
            self._cache[key] = prog
        else:
            self._cache.move_to_end(key)
        return prog

    def _executable(self, graph, outputs):
        if self.device != "cpu":
            _C.params_to_device(graph, self.device, self._device_params)
        return _C.Executable(graph, outputs, self.device, self.plan_memory, self.fuse, self.backend, self.algo,
                             precision=self.precision)

    def _build(self, kind: str, x_shape, y_shape, y_dtype) -> _Program:
        """Traces the model (and for train/evalloss/grads the loss); the C++ builder appends the training program:
        backward, clipping and the optimizer's updates ("train"), or just the gradients ("grads")."""
        model = self.model
        saved = [(m, m.training) for m in model.modules()]
        if kind != "forward":
            model.train(kind in ("train", "grads"))
        try:
            with TraceContext() as ctx:
                if kind == "train":
                    ctx.step_state = self.optimizer._cstate  # dropout draws with the optimizer's step number
                binder = binder_for(ctx, model)
                x = ctx.input("x", x_shape, "float32")
                out = model(x)
                flat = _flatten(out)
                outs = [s.id for s in flat]
                if kind in ("eval", "forward"):
                    return _Program(ctx, self._executable(ctx.graph, outs), x.id, None, flat, None, out)
                y = ctx.input("y", y_shape, y_dtype)
                g = ctx.graph
                g.current_scope = "loss"
                loss = self.loss_fn(out, y)
                g.current_scope = ""
                if not isinstance(loss, Symbol) or loss.size != 1:
                    raise ValueError(f"compile: the loss must return a one-element traced value, got "
                                     f"{getattr(loss, 'shape', type(loss).__name__)}")
                if kind == "evalloss":
                    return _Program(ctx, self._executable(g, [loss.id] + outs), x.id, y.id, flat, loss.id, out)
                trainable = {id(arr): (name, sym.id) for name, arr, sym in binder.bound.values()
                             if isinstance(getattr(arr, "requires_grad", None), bool) and arr.requires_grad}
                if kind == "grads":  # every trainable parameter, no optimizer
                    spec = dict(loss=loss.id, optimizer="",
                                groups=[dict(params=[(v, n) for n, v in trainable.values()], hyper={})])
                    built = _C.build_training(g, spec)
                    grads = dict(zip((n for n, _ in trainable.values()), built["grads"]))
                    exe = self._executable(g, [loss.id] + list(grads.values()))
                    return _Program(ctx, exe, x.id, y.id, flat, loss.id, out, grads)
                bound = {k: v for k, (_, v) in trainable.items()}
                spec = dict(loss=loss.id, optimizer=self.optimizer._kind,
                            groups=self.optimizer._spec_groups(bound),
                            clip_grad_norm=self.clip_grad_norm, clip_norm_type=self.clip_norm_type)
                bucket = getattr(self.model, "_fc_allreduce_bucket_bytes", None)  # DistributedDataParallel
                if bucket:
                    spec["allreduce_bucket_bytes"] = int(bucket)
                num_nodes = g.num_nodes
                built = _C.build_training(g, spec, self.optimizer._cstate)
                names = {v: n for n, v in trainable.values()}
                ids = [pid for grp in spec["groups"] for pid, _ in grp["params"]]
                grads = {names[pid]: gid for pid, gid in zip(ids, built["grads"])}
                return _Program(ctx, self._executable(g, [loss.id] + outs), x.id, y.id, flat, loss.id, out, grads,
                                spec, num_nodes)
        finally:
            for m, mode in saved:
                object.__setattr__(m, "training", mode)

    # ---- running ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _x(x) -> np.ndarray:
        if hasattr(x, "detach") and hasattr(x, "numpy"):
            x = x.detach().cpu().numpy()
        x = np.asarray(x)
        if x.dtype.kind != "f":  # as torch's conv: an integer image is data to convert and scale, not an input
            raise TypeError(f"compiled model: input 'x' must be a floating-point array (float32), got dtype {x.dtype}"
                            + ("; convert and scale it first, e.g. x.astype(np.float32) / 255"
                               if x.dtype.kind in "iub" else ""))
        return np.ascontiguousarray(x, dtype=np.float32)

    def _exe_call(self, prog: _Program, inputs: dict, outputs: list) -> list:
        if self.device == "cpu":
            return prog.exe.call(inputs, outputs)
        _C.sync_params(self._device_params, True)
        vals = prog.exe.call(inputs, outputs)
        if prog.exe.stateful:  # updates, running statistics, the step counter
            _C.sync_params(self._device_params, False)
        return vals

    def _call(self, prog: _Program, inputs: dict, extra: list[int] = ()):
        """One step of `prog` (thread-safe in C++): (values of `extra` ids, the model outputs rebuilt)."""
        vals = self._exe_call(prog, inputs, list(extra) + prog.outs)
        return vals[:len(extra)], _rebuild(prog.tree, iter(vals[len(extra):]))

    def _run_inference(self, kind: str, x):
        x = self._x(x)
        with self._lock:
            prog = self._program(kind, x.shape)
        return self._call(prog, {prog.x_id: x})[1]

    def forward(self, x):
        """Runs the model in its current mode (model.train()/eval()) on a batch; returns NumPy arrays."""
        return self._run_inference("forward", x)

    __call__ = forward

    def predict(self, x, batch_size: int | None = None):
        """Inference (eval mode) on x; with batch_size, in chunks (each chunk shape is compiled once)."""
        x = self._x(x)
        if batch_size is not None and (not isinstance(batch_size, (int, np.integer)) or batch_size < 1):
            raise ValueError(f"predict: argument 'batch_size' must be a positive int or None, got {batch_size!r}")
        if batch_size is None or len(x) <= batch_size:
            return self._run_inference("eval", x)
        parts = [self._run_inference("eval", x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        if isinstance(parts[0], np.ndarray):
            return np.concatenate(parts)
        return type(parts[0])(np.concatenate(p) for p in zip(*parts))

    def _target(self, y, x_shape) -> tuple[np.ndarray, str]:
        if hasattr(y, "detach") and hasattr(y, "numpy"):
            y = y.detach().cpu().numpy()
        y = np.asarray(y)
        dtype = self.target_dtype or ("int64" if y.dtype.kind in "iub" else "float32")
        if dtype == "int64":
            if y.dtype.kind == "f":
                raise TypeError(f"train_step: loss {self.loss!r} expects integer class labels as targets, got "
                                f"dtype {y.dtype}")
            return np.ascontiguousarray(y, dtype=np.int64), "int64"
        return np.ascontiguousarray(y, dtype=np.float32), "float32"

    def _batch(self, x, y, op: str) -> tuple[np.ndarray, np.ndarray, str]:
        """x and targets y as the compiled programs take them, checked to hold the same number of samples."""
        x = self._x(x)
        y, ydt = self._target(y, x.shape)
        if len(y) != len(x):
            raise ValueError(f"{op}: x has {len(x)} samples but y has {len(y)}")
        return x, y, ydt

    def train_step(self, x, y) -> float:
        """One optimizer step on the batch (x, y); returns the loss. The model output is kept in .last_output."""
        if self.loss_fn is None or self.optimizer is None:
            raise ValueError("train_step: compile the model with loss=... and optimizer=... to train it")
        x, y, ydt = self._batch(x, y, "train_step")
        with self._lock:  # steps update shared state: one at a time, in call order
            prog = self._program("train", x.shape, y.shape, ydt)
            self.optimizer._sync()
            (loss,), self.last_output = self._call(prog, {prog.x_id: x, prog.y_id: y}, [prog.loss_id])
        return float(loss.reshape(-1)[0])

    def eval_step(self, x, y) -> tuple[float, Any]:
        """The loss and outputs on (x, y) in eval mode (nothing is updated)."""
        if self.loss_fn is None:
            raise ValueError("eval_step: compile the model with loss=... to evaluate a loss")
        x, y, ydt = self._batch(x, y, "eval_step")
        with self._lock:
            prog = self._program("evalloss", x.shape, y.shape, ydt)
        (loss,), out = self._call(prog, {prog.x_id: x, prog.y_id: y}, [prog.loss_id])
        return float(loss.reshape(-1)[0]), out

    def loss_and_grads(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        """The loss and the gradient of every trainable parameter (by state_dict name) on (x, y), without updating
        anything (a compiled graph with no optimizer nodes; batch-norm running stats are still updated)."""
        if self.loss_fn is None:
            raise ValueError("loss_and_grads: compile the model with loss=... to differentiate a loss")
        x, y, ydt = self._batch(x, y, "loss_and_grads")
        with self._lock:
            prog = self._program("grads", x.shape, y.shape, ydt)
        vals = self._exe_call(prog, {prog.x_id: x, prog.y_id: y}, [prog.loss_id] + list(prog.grads.values()))
        return float(vals[0].reshape(-1)[0]), dict(zip(prog.grads, vals[1:]))

    def weights_changed(self) -> None:
        """Call after writing parameters or buffers through raw NumPy views (p.view(np.ndarray), state_dict()
        arrays, buffers written with [...] =, memory shared with another library): constants folded from them
        (batch-norm folding) are recomputed at the next call. Writes through a Parameter, load_state_dict,
        fastconv.load and compiled training steps are seen without it (docs/inference.md)."""
        _C.bump_versions(list(self.model.parameters()) + [b for b in self.model.buffers()
                                                          if isinstance(b, np.ndarray)])
        with self._lock:
            for prog in self._cache.values():
                prog.exe.weights_changed()

    # ---- introspection ----------------------------------------------------------------------------------------------
    def _main(self) -> _Program:
        """The train program at the declared shape (built again if the cache dropped it), else inference."""
        with self._lock:
            for k, p in self._cache.items():
                if k[0] == "train" and k[1] == self.input_shape:
                    return p
            if self.loss_fn is not None and self.optimizer is not None:
                tshape, tdtype = self._default_target(self.input_shape)
                if tshape is not None:
                    return self._program("train", self.input_shape, tshape, tdtype)
            return self._program("eval", self.input_shape)

    @property
    def peak_bytes(self) -> int:
        """Arena size of the main program (the train step when compiled with a loss and optimizer, else
        inference) at the declared input shape."""
        return int(self._main().exe.peak_bytes)

    def schedule(self) -> str:
        """The flat schedule: one line per kernel with its algorithm, value shapes and layer."""
        return self._main().exe.schedule()

    def memory_report(self) -> dict:
        """Planned arena vs one-buffer-per-value, for memory benchmarks (e.g. ResNet-18 against PyTorch's peak)."""
        exe = self._main().exe
        return dict(peak_bytes=int(exe.peak_bytes), naive_bytes=int(exe.naive_bytes), buffers=len(exe.plan()),
                    inplace=int(exe.inplace_count), views=int(exe.alias_count),
                    saving=1.0 - exe.peak_bytes / max(1, exe.naive_bytes), fused=dict(exe.fuse_stats))

    def fuse_stats(self, kind: str = "main") -> dict:
        """How many patterns the fusion passes rewrote in the main program (kind='main'), the inference program
        (kind='eval') or the current-mode forward (kind='forward'): {bn_fold, conv_epilogue, conv_residual, bn_relu,
        bn_relu_backward, early_updates}."""
        if kind not in ("main", "eval", "forward"):
            raise ValueError(f"fuse_stats: kind must be 'main', 'eval' or 'forward', got {kind!r}")
        prog = self._main() if kind == "main" else self._program(kind, self.input_shape)
        return dict(prog.exe.fuse_stats)

    def profile(self, x, y=None, steps: int = 10, warmup: int = 2):
        """Runs `steps` timed steps (after `warmup` untimed ones) and returns a fastconv.profiler.Profile with the
        mean wall time of every scheduled kernel. With targets `y` it profiles train_step (which updates the
        parameters, as training would), else inference."""
        from .profiler import Profile
        if int(steps) < 1 or int(warmup) < 0:
            raise ValueError(f"profile: steps must be >= 1 and warmup >= 0, got steps={steps}, warmup={warmup}")
        if y is not None:
            if self.loss_fn is None or self.optimizer is None:
                raise ValueError("profile: profiling a train step (y given) needs a model compiled with loss=... and "
                                 "optimizer=...")
            xa, ya, ydt = self._batch(x, y, "profile")
            prog = self._program("train", xa.shape, ya.shape, ydt)
            run = lambda: self.train_step(xa, ya)  # noqa: E731
        else:
            xa = self._x(x)
            prog = self._program("eval", xa.shape)
            run = lambda: self._run_inference("eval", xa)  # noqa: E731
        for _ in range(int(warmup)):
            run()
        prog.exe.set_profiling(True)
        try:
            for _ in range(int(steps)):
                run()
        finally:
            prog.exe.set_profiling(False)
        rows = prog.exe.profile()
        return Profile(rows, int(steps), "train" if y is not None else "inference")

    def graph_dump(self) -> str:
        return self._main().ctx.graph.dump()

    def __repr__(self) -> str:
        return (f"Compiled({type(self.model).__name__}, input_shape={self.input_shape}, loss={self.loss!r}, "
                f"optimizer={type(self.optimizer).__name__ if self.optimizer else None}, "
                f"programs={len(self._cache)})")


def memory_report(model: Module, input_shape: Sequence[int], loss=None, optimizer=None, **kwargs) -> dict:
    """Compiles `model` (a train step when loss and optimizer are given) and reports its arena size next to the
    unplanned total: {peak_bytes, naive_bytes, buffers, inplace, views, saving}."""
    return Compiled(model, input_shape, loss=loss, optimizer=optimizer, **kwargs).memory_report()


def compile(model: Module, input_shape: Sequence[int], loss=None, optimizer=None, device: str | None = None,
            precision: str = "fp32", **kwargs) -> Compiled:  # noqa: A001 - the API's name
    """Traces and compiles `model` for inputs of `input_shape` (batch dimension included). See Compiled.

    precision: 'fp32' (the default: exact FP32 everywhere, no tensor cores; PyTorch by default runs cuDNN
    convolutions in TF32 on Ampere and later but matmuls in FP32), or on device='cuda' 'tf32' / 'bf16': the GEMMs
    of linear layers and of im2col convolutions on tensor cores, operands rounded to TF32 / BF16, FP32
    accumulation, with FP32 weights, activations and optimizer state (docs/cuda.md, "Precision")."""
    return Compiled(model, input_shape, loss=loss, optimizer=optimizer, device=device, precision=precision,
                    **kwargs)
