"""ONNX export and import.

    fc.onnx.export(model, (1, 3, 224, 224), "net.onnx")     # fastconv model -> ONNX file (runs in onnxruntime)
    net = fc.onnx.load("net.onnx")                          # ONNX file -> fastconv Module (predicts, trains, saves)

The `onnx` package is imported only inside these functions (`pip install fastconv[onnx]`), never by
`import fastconv`. See docs/onnx.md.
"""
from __future__ import annotations

from ._errors import OnnxExportError, OnnxImportError

from ._module import OnnxModule

__all__ = ["export", "load", "OnnxModule", "OnnxExportError", "OnnxImportError"]


def export(model, input_shape, path=None, opset: int = 17, dynamic_batch: bool = True, fold_bn: bool = False,
           input_name: str = "input", output_names=None):
    """Traces `model` in eval mode for inputs of `input_shape` and writes it as an ONNX model to `path` (returns the
    onnx.ModelProto too). Initializers carry the state_dict names. `dynamic_batch`: the batch dimension is symbolic
    ("N"). `fold_bn`: batch norms that directly follow a convolution are folded into its weight and bias."""
    from ._export import export as _export
    return _export(model, input_shape, path, opset=opset, dynamic_batch=dynamic_batch, fold_bn=fold_bn,
                   input_name=input_name, output_names=output_names)


def load(model):
    """An ONNX model (a path, bytes or onnx.ModelProto) as a fastconv Module, in eval mode. Initializers feeding
    data inputs become Parameters (under their ONNX names, dotted names as submodule paths), BatchNormalization's
    statistics running buffers; shape computations fold while tracing. Unsupported ops or attributes raise
    OnnxImportError naming the node, the op and the attribute. Reading a file never executes code from it."""
    from ._import import load as _load
    return _load(model)
