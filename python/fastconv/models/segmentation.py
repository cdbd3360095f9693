"""Segmentation networks: FCN (Long et al. 2015) and a small U-Net (Ronneberger et al. 2015). Both return
[N, num_classes, H, W] logits at the input resolution (train with F.cross_entropy against [N, H, W] labels).

FCN: a classification backbone made fully convolutional ("convolutionalization": the dense layers become 7x7 and
1x1 convolutions), class scores at stride 32, then transposed-convolution upsampling with skip connections:
  '32s': scores at stride 32 upsampled x32 in one step;
  '16s': x2, plus a 1x1 score of pool4 (stride 16), then x16;
  '8s' : as 16s, then x2, plus a 1x1 score of pool3 (stride 8), then x8.
The upsampling layers are ConvTranspose2d initialised to bilinear interpolation (as in the paper) and trainable;
inputs whose sides are not multiples of 32 work (each upsampling is told the exact size of the map it meets).
backbone='vgg16' uses torchvision's VGG-16 `features` layout (features.N keys) and a 4096-wide head (the paper's);
backbone='small' is a 5-stage conv-BN-ReLU network of widths base * (1, 2, 4, 8, 16) with a 2*16*base head.

U-Net: `depth` encoder stages of DoubleConv (3x3 conv-BN-ReLU twice) and 2x2 max pooling, a DoubleConv bottleneck,
and `depth` decoder stages of ConvTranspose2d(2, stride 2) upsampling, concatenation with the matching encoder
output and DoubleConv; a 1x1 convolution gives the class scores. Widths base * 2**i. Any input side of at least
2**depth works.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn import init
from ._registry import bilinear_kernel, check_common, register
from .vgg import CFGS, make_layers

__all__ = ["FCN", "UNet", "DoubleConv", "fcn", "unet"]


def _small_cfg(base: int) -> list:
    w = [base * m for m in (1, 2, 4, 8, 16)]
    return [w[0], "M", w[1], "M", w[2], w[2], "M", w[3], w[3], "M", w[4], w[4], "M"]


class FCN(nn.Module):
    def __init__(self, num_classes: int = 21, in_channels: int = 3, backbone: str = "small", variant: str = "16s",
                 base: int = 16, dropout: float = 0.5) -> None:
        super().__init__()
        check_common("FCN", num_classes, in_channels, dropout, base=base)
        if backbone not in ("small", "vgg16"):
            raise ValueError(f"FCN: backbone must be 'small' or 'vgg16', got {backbone!r}")
        if variant not in ("32s", "16s", "8s"):
            raise ValueError(f"FCN: variant must be '32s', '16s' or '8s', got {variant!r}")
        self.variant = variant
        cfg = CFGS["D"] if backbone == "vgg16" else _small_cfg(base)
        self.features = make_layers(cfg, batch_norm=backbone == "small", in_channels=in_channels)
        pools = [i for i, m in enumerate(self.features) if isinstance(m, nn.MaxPool2d)]
        self._taps = (pools[2], pools[3], pools[4])  # outputs of pool3 (stride 8), pool4 (16), pool5 (32)
        convs = [v for v in cfg if v != "M"]
        c3, c4, c5 = (_last_width(cfg, p) for p in (3, 4, 5))
        hidden = 4096 if backbone == "vgg16" else 2 * convs[-1]
        self.classifier = nn.Sequential(
            nn.Conv2d(c5, hidden, 7, padding=3), nn.ReLU(True), nn.Dropout2d(dropout),
            nn.Conv2d(hidden, hidden, 1), nn.ReLU(True), nn.Dropout2d(dropout),
            nn.Conv2d(hidden, num_classes, 1))
        nc = num_classes
        if variant == "32s":
            self.upscore = nn.ConvTranspose2d(nc, nc, 64, stride=32, padding=16, bias=False)
        else:
            self.score_pool4 = nn.Conv2d(c4, nc, 1)
            self.upscore2 = nn.ConvTranspose2d(nc, nc, 4, stride=2, padding=1, bias=False)
            if variant == "16s":
                self.upscore = nn.ConvTranspose2d(nc, nc, 32, stride=16, padding=8, bias=False)
            else:
                self.score_pool3 = nn.Conv2d(c3, nc, 1)
                self.upscore_pool4 = nn.ConvTranspose2d(nc, nc, 4, stride=2, padding=1, bias=False)
                self.upscore = nn.ConvTranspose2d(nc, nc, 16, stride=8, padding=4, bias=False)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight[...] = bilinear_kernel(nc, m.kernel_size[0])
        for name in ("score_pool4", "score_pool3"):  # the paper starts the skip scores at zero
            m = self._modules.get(name)
            if m is not None:
                init.zeros_(m.weight)
                init.zeros_(m.bias)

    def forward(self, x):
        h, w = x.shape[-2:]
        if min(h, w) < 32:
            raise ValueError(f"FCN: input {h}x{w} is too small: five 2x2 max pools need at least 32x32")
        taps = {}
        for i, m in enumerate(self.features):
            x = m(x)
            if i in self._taps:
                taps[i] = x
        p3, p4, _ = (taps[i] for i in self._taps)
        s = self.classifier(x)
        if self.variant != "32s":
            s = self.upscore2(s, output_size=p4.shape[-2:]) + self.score_pool4(p4)
            if self.variant == "8s":
                s = self.upscore_pool4(s, output_size=p3.shape[-2:]) + self.score_pool3(p3)
        return self.upscore(s, output_size=(h, w))


def _last_width(cfg: list, pool_no: int) -> int:
    """Channels entering the pool_no-th (1-based) max pool."""
    seen, c = 0, None
    for v in cfg:
        if v == "M":
            seen += 1
            if seen == pool_no:
                return int(c)
        else:
            c = v
    raise ValueError(f"configuration has fewer than {pool_no} pools")


class DoubleConv(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
            nn.ReLU(True))

    def forward(self, x):
        return self.block(x)


class UNet(nn.Module):
    def __init__(self, num_classes: int = 2, in_channels: int = 1, base: int = 16, depth: int = 4) -> None:
        super().__init__()
        check_common("UNet", num_classes, in_channels, base=base, depth=depth)
        if depth > 24:  # widths are base * 2**depth
            raise ValueError(f"UNet: argument 'depth' must be at most 24 (widths are base * 2**depth), got {depth}")
        self.depth = depth
        widths = [base * 2 ** i for i in range(depth + 1)]
        self.encoder = nn.ModuleList([DoubleConv(in_channels if i == 0 else widths[i - 1], widths[i])
                                      for i in range(depth)])
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = DoubleConv(widths[depth - 1], widths[depth])
        self.upsamples = nn.ModuleList([nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2)
                                        for i in reversed(range(depth))])
        self.decoder = nn.ModuleList([DoubleConv(2 * widths[i], widths[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        if min(x.shape[-2:]) < 2 ** self.depth:
            raise ValueError(f"UNet: input {tuple(x.shape[-2:])} is too small for depth={self.depth} (at least "
                             f"{2 ** self.depth} per side)")
        skips = []
        for enc in self.encoder:
            x = enc(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, dec, skip in zip(self.upsamples, self.decoder, reversed(skips)):
            x = up(x, output_size=skip.shape[-2:])
            x = dec(F.cat([skip, x], 1))
        return self.head(x)


@register
def fcn(num_classes: int = 21, in_channels: int = 3, backbone: str = "small", variant: str = "16s",
        **kw) -> FCN:
    """Fully convolutional network (FCN-32s/16s/8s) on a 'small' or 'vgg16' backbone. kw: base, dropout."""
    return FCN(num_classes, in_channels, backbone, variant, **kw)


@register
def unet(num_classes: int = 2, in_channels: int = 1, base: int = 16, depth: int = 4) -> UNet:
    """A small U-Net (conv-BN-ReLU blocks, max-pool down, ConvTranspose2d up, concatenated skips)."""
    return UNet(num_classes, in_channels, base, depth)
