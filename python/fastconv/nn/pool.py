"""Pooling, unpooling and upsampling layers (torch.nn names and arguments)."""
from __future__ import annotations

from .. import functional as F
from . import _checks
from .module import Module

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "MinPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "MaxUnpool2d",
           "MaxUnpool3d", "LPPool1d", "LPPool2d", "LPPool3d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"]


def _size(owner, name: str, value, lo: int, n: int = 2):
    """Checks an int-or-n-tuple argument and returns it in the form given (torch's reprs print it as given)."""
    t = _checks.ints_arg(owner, name, value, n, lo)
    return tuple(t) if isinstance(value, (list, tuple)) else t[0]


def _window(owner, kernel_size, stride, padding, dilation=1, n: int = 2):
    k = _size(owner, "kernel_size", kernel_size, 1, n)
    s = _size(owner, "stride", stride, 1, n) if (stride is not None and stride != []) else k
    p = _size(owner, "padding", padding, 0, n)
    d = _size(owner, "dilation", dilation, 1, n)
    kt, pt = _checks.ints_arg(owner, "kernel_size", k, n), _checks.ints_arg(owner, "padding", p, n)
    if any(pi > ki // 2 for pi, ki in zip(pt, kt)):
        raise ValueError(f"{type(owner).__name__}: argument 'padding' must be at most half of kernel_size, got "
                         f"padding={p} and kernel_size={k}")
    return k, s, p, d


class _PoolNd(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = _window(self, kernel_size, stride, padding,
                                                                             dilation, self.dims)
        self.return_indices = _checks.bool_arg(self, "return_indices", return_indices)
        self.ceil_mode = _checks.bool_arg(self, "ceil_mode", ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_PoolNd):
    def forward(self, input):
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool1d(_PoolNd):
    dims = 1

    def forward(self, input):
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MaxPool3d(_PoolNd):
    dims = 3

    def forward(self, input):
        return F.max_pool3d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class MinPool2d(_PoolNd):
    """The minimum over each window (course notes' min pooling; max pooling of -x)."""

    def forward(self, input):
        return F.min_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            ceil_mode=self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(Module):
    dims = 2

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override=None) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, _ = _window(self, kernel_size, stride, padding, 1, self.dims)
        self.ceil_mode = _checks.bool_arg(self, "ceil_mode", ceil_mode)
        self.count_include_pad = _checks.bool_arg(self, "count_include_pad", count_include_pad)
        if divisor_override is not None and _checks.int_arg(self, "divisor_override", divisor_override, None) == 0:
            raise ValueError(f"{type(self).__name__}: argument 'divisor_override' must be non-zero (or None), got 0")
        self.divisor_override = divisor_override

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input):
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


class AvgPool1d(AvgPool2d):
    dims = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch keeps AvgPool1d's sizes as 1-tuples (its repr prints kernel_size=(3,))
        self.kernel_size, self.stride, self.padding = (_checks.ints_arg(self, n, v, 1, lo=None) for n, v in
                                                       (("kernel_size", self.kernel_size), ("stride", self.stride),
                                                        ("padding", self.padding)))

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


class AvgPool3d(AvgPool2d):
    dims = 3

    def forward(self, input):
        return F.avg_pool3d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)


def _output_size(owner, value, n: int = 2):
    """An int or an n-tuple of positive ints or None (None keeps that input size)."""
    items = list(value) if isinstance(value, (list, tuple)) else [value] * n
    if len(items) != n:
        raise ValueError(f"{type(owner).__name__}: argument 'output_size' must be an int or a {n}-tuple, got "
                         f"{value!r}")
    for v in items:
        if v is not None:
            _checks.int_arg(owner, "output_size", v, 1)
    return value


class AdaptiveAvgPool2d(Module):
    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = _output_size(self, output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input):
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(Module):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = _output_size(self, output_size)
        self.return_indices = _checks.bool_arg(self, "return_indices", return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input):
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class _AdaptiveNd(Module):
    dims, fn = 1, None

    def __init__(self, output_size) -> None:
        super().__init__()
        if self.dims == 1 and output_size is None:
            raise ValueError(f"{type(self).__name__}: argument 'output_size' must be a positive int, got None")
        self.output_size = _output_size(self, output_size, self.dims)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"

    def forward(self, input):
        return type(self).fn(input, self.output_size)


class _AdaptiveMaxNd(_AdaptiveNd):
    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = _checks.bool_arg(self, "return_indices", return_indices)

    def forward(self, input):
        return type(self).fn(input, self.output_size, self.return_indices)


class AdaptiveAvgPool1d(_AdaptiveNd):
    dims, fn = 1, staticmethod(F.adaptive_avg_pool1d)


class AdaptiveAvgPool3d(_AdaptiveNd):
    dims, fn = 3, staticmethod(F.adaptive_avg_pool3d)


class AdaptiveMaxPool1d(_AdaptiveMaxNd):
    dims, fn = 1, staticmethod(F.adaptive_max_pool1d)


class AdaptiveMaxPool3d(_AdaptiveMaxNd):
    dims, fn = 3, staticmethod(F.adaptive_max_pool3d)


class MaxUnpool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = _checks.ints_arg(self, "kernel_size", kernel_size, 2, 1)
        self.stride = _checks.ints_arg(self, "stride", stride, 2, 1) if stride is not None else self.kernel_size
        self.padding = _checks.ints_arg(self, "padding", padding, 2, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return F.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bed_of_nails", "area")  # what interpolate computes


class Upsample(Module):
    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None) -> None:
        super().__init__()
        if (size is None) == (scale_factor is None):
            raise ValueError(f"{type(self).__name__}: give exactly one of 'size' and 'scale_factor', got "
                             f"size={size!r}, scale_factor={scale_factor!r}")
        if size is not None:
            for s in (size if isinstance(size, (list, tuple)) else [size]):
                _checks.int_arg(self, "size", s, 1)
        if scale_factor is not None:
            for f in (scale_factor if isinstance(scale_factor, (list, tuple)) else [scale_factor]):
                _checks.float_arg(self, "scale_factor", f, 0.0, lo_open=True)
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, (int, float)) else scale_factor
        self.mode = _checks.choice_arg(self, "mode", mode, _MODES)
        if align_corners is not None:
            _checks.bool_arg(self, "align_corners", align_corners)
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def extra_repr(self) -> str:
        s = f"size={self.size}" if self.scale_factor is None else f"scale_factor={self.scale_factor}"
        return s + f", mode='{self.mode}'"

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners)


class UpsamplingNearest2d(Upsample):
    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class MaxUnpool1d(Module):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = _checks.ints_arg(self, "kernel_size", kernel_size, 1, 1)
        self.stride = _checks.ints_arg(self, "stride", stride, 1, 1) if stride is not None else self.kernel_size
        self.padding = _checks.ints_arg(self, "padding", padding, 1, 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return F.max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class MaxUnpool3d(Module):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        # torch keeps MaxUnpool3d's sizes as 3-tuples
        self.kernel_size = tuple(_checks.ints_arg(self, "kernel_size", kernel_size, 3, 1))
        self.stride = tuple(_checks.ints_arg(self, "stride", stride, 3, 1)) if stride is not None else \
            self.kernel_size
        self.padding = tuple(_checks.ints_arg(self, "padding", padding, 3, 0))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, input, indices, output_size=None):
        return F.max_unpool3d(input, indices, self.kernel_size, self.stride, self.padding, output_size)


class LPPool2d(Module):
    """Power-average pooling, torch.nn.LPPool2d (see fastconv.functional.lp_pool2d)."""
    dims = 2

    def __init__(self, norm_type: float, kernel_size, stride=None, ceil_mode: bool = False) -> None:
        super().__init__()
        if isinstance(norm_type, bool) or not isinstance(norm_type, (int, float)) or norm_type == 0:
            raise ValueError(f"{type(self).__name__}: argument 'norm_type' must be a non-zero number, got "
                             f"{norm_type!r}")
        self.norm_type = norm_type
        self.kernel_size = _size(self, "kernel_size", kernel_size, 1, self.dims)
        self.stride = None if stride is None else _size(self, "stride", stride, 1, self.dims)
        self.ceil_mode = _checks.bool_arg(self, "ceil_mode", ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"ceil_mode={self.ceil_mode}")

    def forward(self, input):
        f = (F.lp_pool1d, F.lp_pool2d, F.lp_pool3d)[self.dims - 1]
        return f(input, self.norm_type, self.kernel_size, self.stride, self.ceil_mode)


class LPPool1d(LPPool2d):
    dims = 1


class LPPool3d(LPPool2d):
    dims = 3
