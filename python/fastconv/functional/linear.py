"""The linear op family (torch.nn.functional names)."""
from __future__ import annotations

from ._util import as_float, op

__all__ = ["linear"]


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias over the last dimension of input."""
    inputs = [as_float(input, "linear"), as_float(weight, "linear", "weight")]
    if bias is not None:
        inputs.append(as_float(bias, "linear", "bias"))
    return op("linear", inputs)
