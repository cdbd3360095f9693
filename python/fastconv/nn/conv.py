"""Convolution layers (torch.nn names, constructor arguments and default initialisation)."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from . import _checks, init
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]


class _ConvNd(Module):
    _dims = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", output_padding=0,
                 device=None, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._dims
        self.in_channels = _checks.int_arg(name, "in_channels", in_channels, 1)
        self.out_channels = _checks.int_arg(name, "out_channels", out_channels, 1)
        self.groups = _checks.int_arg(name, "groups", groups, 1)
        if self.in_channels % self.groups != 0:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if self.out_channels % self.groups != 0:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        self.padding_mode = _checks.choice_arg(name, "padding_mode", padding_mode,
                                               ("zeros", "reflect", "replicate", "circular"))
        self.kernel_size = _checks.ints_arg(name, "kernel_size", kernel_size, n, 1)
        self.stride = _checks.ints_arg(name, "stride", stride, n, 1)
        if isinstance(padding, str):
            if self._transposed:
                raise ValueError(f"{name}: argument 'padding' must be ints for a transposed convolution, got "
                                 f"{padding!r}")
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: argument 'padding' must be 'same', 'valid' or ints, got {padding!r}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                                 f"(stride={self.stride})")
            self.padding = padding
        else:
            self.padding = _checks.ints_arg(name, "padding", padding, n, 0)
        self.dilation = _checks.ints_arg(name, "dilation", dilation, n, 1)
        self.output_padding = _checks.ints_arg(name, "output_padding", output_padding, n, 0)
        if self._transposed:
            for op_, s, d in zip(self.output_padding, self.stride, self.dilation):
                if op_ >= max(s, d):  # torch checks this only when it runs; the layer could never run
                    raise ValueError(f"{name}: argument 'output_padding' {self.output_padding} must be smaller than "
                                     f"either stride {self.stride} or dilation {self.dilation}")
        has_bias = _checks.bool_arg(name, "bias", bias)
        if self._transposed:
            shape = (self.in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        _checks.reserve(f"{name}({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size})",
                        shape, *([(self.out_channels,)] if has_bias else []))
        self.weight = Parameter(np.empty(shape, np.float32))
        if has_bias:
            self.bias = Parameter(np.empty((self.out_channels,), np.float32))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self._dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self._dims:
            s += f", dilation={self.dilation}"
        if self._transposed and self.output_padding != (0,) * self._dims:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def _padded(self, x):
        """Non-zero padding modes pad explicitly first (as torch does), then convolve without padding."""
        if self.padding_mode == "zeros" or isinstance(self.padding, str):
            return x, self.padding
        pads = []
        for p in reversed(self.padding):
            pads += [p, p]
        return F.pad(x, tuple(pads), mode=self.padding_mode), (0,) * self._dims


class Conv1d(_ConvNd):
    _dims = 1

    def forward(self, input):
        x, pad = self._padded(input)
        return F.conv1d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class Conv2d(_ConvNd):
    _dims = 2

    def forward(self, input):
        x, pad = self._padded(input)
        return F.conv2d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class Conv3d(_ConvNd):
    _dims = 3

    def forward(self, input):
        x, pad = self._padded(input)
        return F.conv3d(x, self.weight, self.bias, self.stride, pad, self.dilation, self.groups)


class _ConvTransposeNd(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f"{type(self).__name__}: argument 'padding_mode' must be 'zeros' (the only mode "
                             f"transposed convolutions support), got {padding_mode!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, output_padding)

    def _call(self, fn, input, output_size=None):
        op = self.output_padding
        if output_size is not None:
            op = self._output_padding(input, output_size)
        return fn(input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation)

    def _output_padding(self, input, output_size) -> tuple:
        n = self._dims
        size = list(output_size)[-n:]
        spatial = input.shape[-n:]
        out = []
        for d in range(n):
            base = (spatial[d] - 1) * self.stride[d] - 2 * self.padding[d] + \
                self.dilation[d] * (self.kernel_size[d] - 1) + 1
            extra = size[d] - base
            if not 0 <= extra < max(self.stride[d], self.dilation[d]):
                raise ValueError(f"{type(self).__name__}: requested output size {tuple(size)} is not reachable "
                                 f"from input spatial size {tuple(spatial)}")
            out.append(extra)
        return tuple(out)


class ConvTranspose1d(_ConvTransposeNd):
    _dims = 1

    def forward(self, input, output_size=None):
        return self._call(F.conv_transpose1d, input, output_size)


class ConvTranspose2d(_ConvTransposeNd):
    _dims = 2

    def forward(self, input, output_size=None):
        return self._call(F.conv_transpose2d, input, output_size)


class ConvTranspose3d(_ConvTransposeNd):
    _dims = 3

    def forward(self, input, output_size=None):
        return self._call(F.conv_transpose3d, input, output_size)
