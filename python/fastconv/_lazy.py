"""The eager training loop's engine: ops on fastconv Tensors record a step lazily; backward() compiles and runs it.

`out = model(x); loss = criterion(out, y); loss.backward()` runs no kernel until a value is needed. Each op whose
inputs include a Tensor (and, with gradients enabled, a trainable Parameter or a lazy Tensor) appends a node to the
thread's open LazyTrace instead of running. backward() appends the backward pass in C++ (build_training, the same
builder as fastconv.compile), compiles forward + backward with planned memory and fusion, runs it once and fills
`.grad`. Reading a value before that (`out.item()`) runs the recorded forward.

Programs are cached by the recorded graph's text (ops, attributes, shapes) and the identity of the arrays bound into
it (parameters and buffers, zero-copy), so the second and later steps cost the recording plus one C++ call. Batch
data (Tensors and NumPy arrays the engine does not own) are graph inputs, fed at each run.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from . import _C
from ._trace import Symbol, TraceContext, _convert_input, _input_dtype

_local = threading.local()
_programs: "OrderedDict[tuple, object]" = OrderedDict()  # key -> _C.Executable, least recently used first
_programs_lock = threading.Lock()
MAX_PROGRAMS = 32


def _cached(key: tuple, build):
    with _programs_lock:
        exe = _programs.get(key)
        if exe is not None:
            _programs.move_to_end(key)
            return exe
    exe = build()
    with _programs_lock:
        _programs[key] = exe
        while len(_programs) > MAX_PROGRAMS:
            _programs.popitem(last=False)
    return exe


class LazyTrace:
    """One recorded step: a graph, the arrays fed to its inputs, and the arrays bound into it."""

    def __init__(self) -> None:
        self.ctx = TraceContext()
        self.graph = self.ctx.graph
        self.inputs: list[tuple[int, np.ndarray, str]] = []  # (value id, array, dtype) fed at each run
        self.bound: dict[int, int] = {}  # id(object) -> value id, for everything already in the graph
        self.params: list[tuple[object, int, bool]] = []  # (array or leaf Tensor, value id, trainable)
        self.keep: list = []  # the objects behind self.bound's ids must outlive the trace
        self.tensors: list[weakref.ref] = []  # lazy Tensors made by this trace
        self.closed = False  # backward() ran: the graph holds a backward pass now
        self.ran_forward = False
        self.snapshot: list[tuple[np.ndarray, np.ndarray]] | None = None  # buffers before a forward-only run

    # ---- recording -------------------------------------------------------------------------------------------------
    def value(self, x) -> int:
        from ._tensor import Tensor
        if isinstance(x, Tensor):
            if x._lazy is not None and x._lazy[0] is self:
                return x._lazy[1]
            hit = self.bound.get(id(x))
            if hit is not None:
                return hit
            arr = x._value()
            if x.requires_grad and x._lazy is None:  # a leaf asking for its gradient: bound, so backward reaches it
                return self._bind(x, np.ascontiguousarray(arr, np.float32), True, x)
            return self._input(x, arr)
        if isinstance(x, Symbol):
            if x.ctx is not self.ctx:
                raise ValueError("fastconv: a traced Symbol was mixed with eager Tensors of another step")
            return x.id
        if isinstance(x, np.ndarray):
            hit = self.bound.get(id(x))
            if hit is not None:
                return hit
            trainable = bool(getattr(x, "requires_grad", False)) and x.dtype == np.float32
            if trainable or _C.storage_version(x) is not None:  # parameters and buffers: bound without a copy
                if x.flags.c_contiguous and x.flags.writeable:
                    return self._bind(x, x, trainable, x)
            return self._input(x, x)
        # Python numbers and lists: inputs too (a graph constant's value is not part of the cache key)
        arr = np.asarray(x)
        return self._input(arr, arr.astype(np.float32) if arr.dtype.kind == "f" else arr)

    def _bind(self, key_obj, arr: np.ndarray, trainable: bool, owner) -> int:
        vid = self.ctx.param(f"p{len(self.params)}", arr, requires_grad=trainable).id
        self.bound[id(key_obj)] = vid
        self.keep.append(key_obj)
        self.params.append((owner, vid, trainable))
        return vid

    def _input(self, key_obj, arr) -> int:
        arr = np.asarray(arr)
        dtype = _input_dtype(arr)
        vid = self.graph.input(f"in{len(self.inputs)}", list(arr.shape), dtype)
        self.bound[id(key_obj)] = vid
        self.keep.append(key_obj)
        self.inputs.append((vid, arr, dtype))
        return vid

    def add(self, name: str, inputs, attrs: dict, multi: bool, scope: str):
        from ._tensor import Tensor
        ids = [self.value(x) for x in inputs]
        outs = []
        for vid in self.graph.add(name, ids, attrs, scope):
            t = Tensor._from_lazy(self, vid)
            self.tensors.append(weakref.ref(t))
            outs.append(t)
        return tuple(outs) if multi else outs[0]

    def alive(self) -> list:
        out = [t for t in (r() for r in self.tensors) if t is not None and t._arr is None]
        self.tensors = [weakref.ref(t) for t in out]
        return out

    # ---- running ---------------------------------------------------------------------------------------------------
    def _key(self, kind: str, outputs) -> tuple:
        return (kind, self.graph.dump(), tuple(id(o) for o, _, _ in self.params), tuple(outputs))

    def _feed(self) -> dict:
        return {vid: _convert_input(a, dt) for vid, a, dt in self.inputs}

    def _buffers(self) -> list[np.ndarray]:
        return [o for o, _, trainable in self.params if not trainable and isinstance(o, np.ndarray)]

    def forward(self, wanted) -> None:
        """Runs the recorded forward for every lazy Tensor still alive (wanted among them) and stores their values."""
        ts = self.alive()
        if wanted not in ts:
            ts.append(wanted)
        ids = [t._lazy[1] for t in ts]
        if not self.ran_forward:  # the backward run will update the running statistics once, from these values
            self.snapshot = [(b, b.copy()) for b in self._buffers()]
        exe = _cached(self._key("forward", ids), lambda: _C.Executable(self.graph, ids, "cpu", True, True))
        
        for t, v in zip(ts, exe.call(self._feed(), ids)):
            t._arr = v
        self.ran_forward = True

    def backward(self, loss, gradient=None) -> None:
        if self.closed:
            raise RuntimeError("Trying to backward through the graph a second time: this step already ran its "
                               "backward pass (record the forward again, as in torch after the graph is freed)")
        shape = tuple(self.graph.shape(loss._lazy[1]))
        if int(np.prod(shape, dtype=np.int64)) != 1:
            if gradient is None:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; backward() got shape "
                                   f"{list(shape)}: reduce it (.sum(), .mean()) or pass gradient=")
            loss = (loss * gradient).sum()
        elif gradient is not None and float(np.asarray(gradient).reshape(-1)[0]) != 1.0:
            loss = loss * float(np.asarray(gradient).reshape(-1)[0])
        wrt = [(o, vid) for o, vid, trainable in self.params if trainable]
        if not wrt:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: no "
                               "trainable parameter or requires_grad Tensor reaches this value")
        if self.snapshot:  # a forward-only run already updated them: this run updates them once
            for b, saved in self.snapshot:
                np.copyto(b, saved)
        lid = loss._lazy[1]
        rest = [t for t in self.alive() if t is not loss]
        key = self._key("backward", [lid] + [t._lazy[1] for t in rest])
        grads_box: list = []

        def build():
            spec = dict(loss=lid, optimizer="", groups=[dict(params=[(vid, str(i)) for i, (_, vid) in
                                                                     enumerate(wrt)], hyper={})])
            grads_box.extend(_C.build_training(self.graph, spec)["grads"])
            outs = [lid] + grads_box + [t._lazy[1] for t in rest]
            # the output ids include the gradients build_training appended, which a cache hit does not redo
            return _C.Executable(self.graph, outs, "cpu", True, True), outs

        exe, outs = _cached(key, build)
        vals = exe.call(self._feed(), outs)
        self.closed = True
        loss._arr = vals[0]
        for (o, _), g in zip(wrt, vals[1:1 + len(wrt)]):
            _accumulate(o, g)
        for t, v in zip(rest, vals[1 + len(wrt):]):
            t._arr = v
        self.keep = []
        if getattr(_local, "trace", None) is self:
            _local.trace = None


def _accumulate(owner, g: np.ndarray) -> None:
    from ._tensor import Tensor
    cur = getattr(owner, "grad", None)
    if cur is None:
        owner.grad = Tensor(g)
    else:
        np.add(cur._value(), g, out=cur._value())


def current_trace() -> LazyTrace:
    """The thread's open trace, or a new one when there is none or when nothing of the open one is still used."""
    tr = getattr(_local, "trace", None)
    if tr is None or tr.closed or not tr.alive():
        tr = _local.trace = LazyTrace()
    return tr


def _lazy_of(x):
    """The open trace a Tensor belongs to (after backward() its value is all that is left of it)."""
    lazy = getattr(x, "_lazy", None)
    return lazy[0] if lazy is not None and not lazy[0].closed else None


def dispatch(name: str, inputs, attrs: dict, multi: bool, scope: str):
    """op() for inputs that include fastconv Tensors: recorded (gradients wanted) or run now (no_grad, no param)."""
    from ._grad_mode import is_grad_enabled
    from ._tensor import Tensor
    trace = next((t for t in map(_lazy_of, inputs) if t is not None), None)
    if is_grad_enabled():
        if trace is None and any(_wants_grad(x) for x in inputs):
            trace = current_trace()
        if trace is not None:
            return trace.add(name, inputs, attrs, multi, scope)
    arrays = [x._value() if isinstance(x, Tensor) else x for x in inputs]
    outs = [Tensor(a) for a in _C.run_op(name, arrays, attrs)]
    return tuple(outs) if multi else outs[0]


def _wants_grad(x) -> bool:
    return bool(getattr(x, "requires_grad", False)) and isinstance(getattr(x, "dtype", None), np.dtype) and \
        x.dtype == np.float32


def run_updates(opt, params: list, grads: list) -> None:
    """optimizer.step() for the eager loop: one compiled program of the optimizer's C++ update nodes, fed the
    gradients (cached per optimizer and parameter set)."""
    key = ("updates", id(opt), tuple(id(p) for p in params), opt.signature())

    def build():
        g = _C.Graph()
        bound = {id(p): g.param(f"p{i}", p, True) for i, p in enumerate(params)}
        groups = opt._spec_groups(bound)
        shapes = {bound[id(p)]: p.shape for p in params}
        gin = [g.input(f"g{vid}", list(shapes[vid]), "float32") for grp in groups for vid, _ in grp["params"]]
        spec = dict(loss=gin[0], optimizer=opt._kind, groups=groups, given_grads=gin)
        _C.build_training(g, spec, opt._cstate)
        order = {vid: i for i, vid in enumerate(v for grp in groups for v, _ in grp["params"])}
        feed = [(gin[order[bound[id(p)]]], i) for i, p in enumerate(params)]
        return _C.Executable(g, [], "cpu", True, True), feed, opt  # opt: its id stays this optimizer's

    exe, feed, _ = _cached(key, build)
    opt._sync()
    exe.call({vid: np.ascontiguousarray(grads[i], np.float32) for vid, i in feed}, [])
