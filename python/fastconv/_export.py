"""The traced graphs fastconv.save writes (metadata 'fastconv.graph', docs/model_format.md) so that the C++ Model
(fastconv/model.h, _C.Model) rebuilds the network without Python: the eval program at the compiled input shape,
and for a model compiled with a loss and an optimizer the training program (forward, loss) and optimizer state."""
from __future__ import annotations

import warnings

from . import _C


def _output_names(n: int) -> list[str]:
    return ["output"] if n == 1 else [f"output{i}" for i in range(n)]


def graph_document(model, input_shape=None) -> tuple[str, dict] | None:
    """(the fastconv.graph JSON text, {reserved tensor name: array}) for a Compiled model or a Module (traced at
    input_shape, or at the shape it was last compiled with); None when there is no shape to trace at or the module
    cannot be traced (the file then holds weights and architecture only)."""
    from .compile import Compiled
    if isinstance(model, Compiled):
        compiled = model
    else:
        shape = input_shape if input_shape is not None else getattr(model, "_fc_input_shape", None)
        if shape is None:
            return None
        try:
            compiled = Compiled(model, shape)
        except Exception as e:  # noqa: BLE001 - untraceable modules still save their weights and architecture
            if input_shape is not None:
                warnings.warn(f"fastconv.save: the model could not be traced at input_shape={tuple(shape)} "
                              f"({type(e).__name__}: {e}); the file has no graph for C++ (fastconv._C.Model)",
                              stacklevel=3)
            return None
    with compiled._lock:
        prog = compiled._program("eval", compiled.input_shape)
        train = None
        if compiled.loss_fn is not None and compiled.optimizer is not None:
            tshape, tdtype = compiled._default_target(compiled.input_shape)
            if tshape is not None:
                tp = compiled._program("train", compiled.input_shape, tshape, tdtype)
                compiled.optimizer._sync()  # the learning rates the next step would use
                train = dict(graph=tp.ctx.graph, num_nodes=tp.num_nodes, x=tp.x_id, y=tp.y_id, spec=tp.spec,
                             state=compiled.optimizer._cstate)
    outputs = list(zip(_output_names(len(prog.outs)), prog.outs))
    # a device-compiled model's graphs hold device copies; the host arrays (kept current after every step) are saved
    return _C.serialize_graphs(prog.ctx.graph, prog.x_id, outputs, compiled.model.state_dict(), train,
                               compiled._device_params or None)
