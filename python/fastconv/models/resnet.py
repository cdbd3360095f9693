"""ResNet-18/34/50/101/152 (He et al. 2015) in torchvision's exact layout, with the paper's three shortcut options.

Keys: conv1, bn1, layer1..layer4 (blocks layerK.i with conv1/bn1/conv2/bn2[/conv3/bn3] and, where the shortcut is a
projection, downsample.0 = 1x1 convolution, downsample.1 = BatchNorm2d), fc. Parameter counts at 1000 classes with
the default shortcut 'B': resnet18 11,689,512, resnet34 21,797,672, resnet50 25,557,032, resnet101 44,549,160,
resnet152 60,192,808. A torchvision state_dict loads unchanged.

Shortcut options (the paper's Sec. 4.1, the course notes' options A/B/C):
  'A'  identity everywhere; where the dimensions grow, the input is subsampled with the block's stride and
       zero channels are appended (no parameters, no downsample module);
  'B'  projections (1x1 conv + BN) only where the dimensions change, identity elsewhere (torchvision's choice);
  'C'  every block has a projection shortcut.
The stem (7x7/2 convolution and 3x3/2 max pool) and four stages take 32x32 inputs to 1x1 before the adaptive average
pool, so 32x32 and larger inputs work.

`widths` (not torchvision's; default (64, 128, 256, 512)) sets the four stages' planes (a bottleneck stage outputs
4x its planes) and the stem's maps (widths[0]), keeping the layers and state_dict keys: e.g.
resnet50(10, widths=(8, 16, 32, 64)) is ResNet-50's 3-4-6-3 bottleneck layout, 8x narrower, for tests and small data.
Every constructor passes it on (resnet18(widths=...), ...).
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from ..nn import init
from ..nn import _checks
from ._registry import check_common, register, widths_arg

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]

_SHORTCUTS = ("A", "B", "C")


def conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False)


def conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=1, stride=stride, bias=False)


def zero_pad_shortcut(x, out_channels: int, stride: int):
    """Option A: x subsampled by `stride` (a 1x1 average pool takes every stride-th pixel) with zero channels
    appended up to `out_channels`."""
    if stride != 1:
        x = F.avg_pool2d(x, 1, stride)
    n, c, h, w = x.shape
    if out_channels > c:
        zeros = np.zeros((n, out_channels - c, h, w), np.float32)  # a graph constant when traced
        x = F.cat([x, zeros], 1)
    return x


def _check_block(owner, inplanes, planes, stride, downsample, pad_shortcut) -> None:
    name = type(owner).__name__
    check_common(name, inplanes=inplanes, planes=planes, stride=stride)
    _checks.bool_arg(name, "pad_shortcut", pad_shortcut)
    if downsample is not None and not isinstance(downsample, nn.Module):
        raise TypeError(f"{name}: argument 'downsample' must be a fastconv.nn.Module or None, got "
                        f"{type(downsample).__name__}")


class _Block(nn.Module):
    expansion = 1

    def _shortcut(self, x):
        if self.downsample is not None:
            return self.downsample(x)
        if self.pad_shortcut:
            return zero_pad_shortcut(x, self.out_channels, self.stride)
        return x


class BasicBlock(_Block):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 pad_shortcut: bool = False) -> None:
        super().__init__()
        _check_block(self, inplanes, planes, stride, downsample, pad_shortcut)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride, self.out_channels, self.pad_shortcut = stride, planes, pad_shortcut

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self._shortcut(x))


class Bottleneck(_Block):
    """torchvision's ResNet v1.5 bottleneck: the stride sits on the 3x3 convolution."""
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 pad_shortcut: bool = False) -> None:
        super().__init__()
        _check_block(self, inplanes, planes, stride, downsample, pad_shortcut)
        width = planes
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride, self.out_channels, self.pad_shortcut = stride, planes * self.expansion, pad_shortcut

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + self._shortcut(x))


_BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


class ResNet(nn.Module):
    def __init__(self, block: str = "basic", layers=(2, 2, 2, 2), num_classes: int = 1000, in_channels: int = 3,
                 shortcut: str = "B", zero_init_residual: bool = False, widths=(64, 128, 256, 512)) -> None:
        super().__init__()
        check_common("ResNet", num_classes, in_channels)
        if not isinstance(layers, (list, tuple)) or len(layers) != 4:
            raise ValueError(f"ResNet: argument 'layers' must list 4 block counts (one per stage), got {layers!r}")
        layers = [_checks.int_arg("ResNet", "layers", n, 1) for n in layers]
        zero_init_residual = _checks.bool_arg("ResNet", "zero_init_residual", zero_init_residual)
        widths = widths_arg("ResNet", "widths", widths, 4, "the stages' planes")
        if not isinstance(block, str) or block not in _BLOCKS:
            raise ValueError(f"ResNet: block must be 'basic' or 'bottleneck', got {block!r}")
        if not isinstance(shortcut, str) or shortcut.upper() not in _SHORTCUTS:
            raise ValueError(f"ResNet: shortcut must be 'A' (zero-padding identity), 'B' (projection where the "
                             f"dimensions change) or 'C' (all projections), got {shortcut!r}")
        self.block_type, self.shortcut = _BLOCKS[block], shortcut.upper()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(widths[0], layers[0])
        self.layer2 = self._make_layer(widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * self.block_type.expansion, num_classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        block, out = self.block_type, planes * self.block_type.expansion
        layers = []
        for i in range(blocks):
            s = stride if i == 0 else 1
            changes = s != 1 or self.inplanes != out
            downsample = None
            if self.shortcut == "C" or (self.shortcut == "B" and changes):
                downsample = nn.Sequential(conv1x1(self.inplanes, out, s), nn.BatchNorm2d(out))
            layers.append(block(self.inplanes, planes, s, downsample, self.shortcut == "A" and changes))
            self.inplanes = out
        return nn.Sequential(*layers)

    def forward(self, x):
        if len(x.shape) != 4:
            raise ValueError(f"ResNet: expected a 4-D [N, C, H, W] input, got shape {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x)
        return self.fc(F.flatten(x, 1))


def _resnet(block: str, layers, num_classes: int, in_channels: int, shortcut: str, **kw) -> ResNet:
    return ResNet(block, list(layers), num_classes, in_channels, shortcut, **kw)


@register
def resnet18(num_classes: int = 1000, in_channels: int = 3, shortcut: str = "B", **kw) -> ResNet:
    """ResNet-18 (basic blocks 2-2-2-2). shortcut: 'A', 'B' (default, torchvision) or 'C'."""
    return _resnet("basic", (2, 2, 2, 2), num_classes, in_channels, shortcut, **kw)


@register
def resnet34(num_classes: int = 1000, in_channels: int = 3, shortcut: str = "B", **kw) -> ResNet:
    """ResNet-34 (basic blocks 3-4-6-3)."""
    return _resnet("basic", (3, 4, 6, 3), num_classes, in_channels, shortcut, **kw)


@register
def resnet50(num_classes: int = 1000, in_channels: int = 3, shortcut: str = "B", **kw) -> ResNet:
    """ResNet-50 (bottleneck blocks 3-4-6-3). kw: zero_init_residual, widths (module docstring)."""
    return _resnet("bottleneck", (3, 4, 6, 3), num_classes, in_channels, shortcut, **kw)


@register
def resnet101(num_classes: int = 1000, in_channels: int = 3, shortcut: str = "B", **kw) -> ResNet:
    """ResNet-101 (bottleneck blocks 3-4-23-3)."""
    return _resnet("bottleneck", (3, 4, 23, 3), num_classes, in_channels, shortcut, **kw)


@register
def resnet152(num_classes: int = 1000, in_channels: int = 3, shortcut: str = "B", **kw) -> ResNet:
    """ResNet-152 (bottleneck blocks 3-8-36-3)."""
    return _resnet("bottleneck", (3, 8, 36, 3), num_classes, in_channels, shortcut, **kw)
