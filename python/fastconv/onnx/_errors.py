"""Errors of fastconv.onnx: ValueError subclasses whose messages name the node, the op and the attribute."""
from __future__ import annotations


class OnnxImportError(ValueError):
    """An ONNX model (or one of its nodes) that fastconv.onnx.load cannot represent."""


class OnnxExportError(ValueError):
    """A fastconv graph node that fastconv.onnx.export cannot write as ONNX."""


def node_error(node, msg: str, attr: str | None = None, value=None) -> OnnxImportError:
    """'node 'conv1' (Conv): attribute 'auto_pad'='FOO': msg'."""
    where = f"node '{node.name}' ({node.op})" if node is not None else "model"
    if attr is not None:
        where += f": attribute '{attr}'" + ("" if value is None else f"={value!r}")
    return OnnxImportError(f"fastconv.onnx: {where}: {msg}")
