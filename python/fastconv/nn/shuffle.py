"""Rearranging layers: PixelShuffle / PixelUnshuffle, ChannelShuffle, Unfold / Fold (torch.nn names, arguments and
reprs; sizes are kept in the form given, as torch prints them)."""
from __future__ import annotations

from .. import functional as F
from . import _checks
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle", "Unfold", "Fold"]


class PixelShuffle(Module):
    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = _checks.int_arg(self, "upscale_factor", upscale_factor, 1)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)


class PixelUnshuffle(Module):
    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = _checks.int_arg(self, "downscale_factor", downscale_factor, 1)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"

    def forward(self, input):
        return F.pixel_unshuffle(input, self.downscale_factor)


class ChannelShuffle(Module):
    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = _checks.int_arg(self, "groups", groups, 1)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"

    def forward(self, input):
        return F.channel_shuffle(input, self.groups)


def _size(owner, name: str, value, lo: int):
    t = _checks.ints_arg(owner, name, value, 2, lo)
    return tuple(t) if isinstance(value, (list, tuple)) else t[0]


class Unfold(Module):
    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = _size(self, "kernel_size", kernel_size, 1)
        self.dilation = _size(self, "dilation", dilation, 1)
        self.padding = _size(self, "padding", padding, 0)
        self.stride = _size(self, "stride", stride, 1)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)


class Fold(Unfold):
    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = _size(self, "output_size", output_size, 1)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, " + super().extra_repr()

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding, self.stride)
