"""VGG-11/13/16/19 with and without batch norm (Simonyan & Zisserman 2014) in torchvision's exact layout.

features.N is the flat list of 3x3/padding-1 convolutions ([+ BatchNorm2d] + ReLU) and 2x2 max pools, avgpool is
AdaptiveAvgPool2d((7, 7)) and classifier.0/3/6 are the 25088->4096->4096->classes linear layers (ReLU + dropout in
between), so torchvision state_dicts load unchanged. Parameter counts at 1000 classes: vgg11 132,863,336,
vgg13 133,047,848, vgg16 138,357,544, vgg19 143,667,240 (batch norm adds 4 per conv channel, 2 of them buffers:
vgg16_bn 138,365,992 parameters).

Small inputs: five pools take 32x32 to 1x1, which the adaptive average pool replicates to 7x7, as in torchvision.
For CIFAR-sized training the two non-torchvision arguments shrink the head: `hidden` (classifier width, default 4096)
and `avgpool_size` (default 7; 1 makes the classifier read the 512 channels directly).
"""
from __future__ import annotations


from .. import functional as F
from .. import nn
from ..nn import init
from ..nn import _checks
from ._registry import check_common, register

__all__ = ["VGG", "CFGS", "make_layers", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn",
           "vgg19_bn"]

CFGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}
_DEPTH = {11: "A", 13: "B", 16: "D", 19: "E"}


def _cfg(cfg) -> list:
    """A configuration name ('A', 'B', 'D', 'E') or a list of positive widths and 'M' (max pool) entries."""
    if isinstance(cfg, str):
        if cfg not in CFGS:
            raise ValueError(f"VGG: argument 'cfg' must be one of {sorted(CFGS)} or a list of widths and 'M', "
                             f"got {cfg!r}")
        return CFGS[cfg]
    if not isinstance(cfg, (list, tuple)) or not any(v != "M" for v in cfg):
        raise ValueError(f"VGG: argument 'cfg' must be a list of widths and 'M' with at least one width, got {cfg!r}")
    for v in cfg:
        if v != "M":
            _checks.int_arg("VGG", "cfg", v, 1)
    return list(cfg)


def make_layers(cfg: list, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(c, int(v), kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(int(v)))
        layers.append(nn.ReLU(inplace=True))
        c = int(v)
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, cfg="D", batch_norm: bool = False, num_classes: int = 1000, in_channels: int = 3,
                 init_weights: bool = True, dropout: float = 0.5, hidden: int = 4096, avgpool_size: int = 7) -> None:
        super().__init__()
        check_common("VGG", num_classes, in_channels, dropout, hidden=hidden, avgpool_size=avgpool_size)
        layers = _cfg(cfg)
        batch_norm = _checks.bool_arg("VGG", "batch_norm", batch_norm)
        init_weights = _checks.bool_arg("VGG", "init_weights", init_weights)
        self.features = make_layers(layers, batch_norm, in_channels)
        last = [v for v in layers if v != "M"][-1]
        self.avgpool = nn.AdaptiveAvgPool2d((avgpool_size, avgpool_size))
        self.classifier = nn.Sequential(
            nn.Linear(int(last) * avgpool_size * avgpool_size, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes))
        if init_weights:  # torchvision's initialisation
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        init.zeros_(m.bias)
                elif isinstance(m, nn.BatchNorm2d):
                    init.ones_(m.weight)
                    init.zeros_(m.bias)
                elif isinstance(m, nn.Linear):
                    init.normal_(m.weight, 0, 0.01)
                    init.zeros_(m.bias)

    def forward(self, x):
        n_pools = sum(isinstance(m, nn.MaxPool2d) for m in self.features)
        if min(x.shape[-2:]) < 2 ** n_pools:
            raise ValueError(f"VGG: input {tuple(x.shape[-2:])} is too small: {n_pools} 2x2 max pools need at least "
                             f"{2 ** n_pools}x{2 ** n_pools}")
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


def _vgg(depth: int, bn: bool, num_classes: int, in_channels: int, **kw) -> VGG:
    return VGG(_DEPTH[depth], bn, num_classes, in_channels, **kw)


@register
def vgg11(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-11 (configuration A). kw: init_weights, dropout, hidden, avgpool_size."""
    return _vgg(11, False, num_classes, in_channels, **kw)


@register
def vgg13(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg(13, False, num_classes, in_channels, **kw)


@register
def vgg16(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg(16, False, num_classes, in_channels, **kw)


@register
def vgg19(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg(19, False, num_classes, in_channels, **kw)


@register
def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    """VGG-11 with batch normalization after every convolution."""
    return _vgg(11, True, num_classes, in_channels, **kw)


@register
def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    return _vgg(13, True, num_classes, in_channels, **kw)


@register
def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    return _vgg(16, True, num_classes, in_channels, **kw)


@register
def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, **kw) -> VGG:
    return _vgg(19, True, num_classes, in_channels, **kw)


