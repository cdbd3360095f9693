"""AlexNet: torchvision's layout by default, the original paper's (Krizhevsky et al. 2012) on request.

Default (torchvision's `alexnet`, 61,100,840 parameters at 1000 classes): features.0/3/6/8/10 convolutions with
64, 192, 384, 256, 256 maps, max pools at features.2/5/12, avgpool = AdaptiveAvgPool2d((6, 6)), classifier.1/4/6
linear layers with dropout at classifier.0/3. A torchvision state_dict loads as is.

`original=True` uses the paper's widths (96, 256, 384, 384, 256 maps; 62,378,344 parameters at 1000 classes) and,
with `grouped=True`, its two-GPU split of conv2/4/5 into groups=2 (60,965,224 parameters). `lrn=True` inserts the
paper's LocalResponseNorm after the ReLU of the first two convolutions (before their pooling), which shifts the
features.N indices after it. The paper (and the course notes' inter-channel LRN) divide by
(k + alpha * sum of squares)^beta with k=2, n=5, alpha=1e-4, beta=0.75; torch's LocalResponseNorm divides alpha by
n, so the layer is built with alpha = 5e-4 to compute the paper's formula.

Minimum input: 63x63 (three 3x3/2 max pools after a stride-4 convolution). `small_input=True` makes the first
convolution stride 1 with padding 5 (same weights, so the same state_dict and parameter count) so that 32x32 inputs
work: 32 -> pools 15, 7, 3 -> avgpool 6x6.

Narrow variants (not torchvision's; for tests and small data): `widths` gives the five convolutions' map counts
(default None: torchvision's 64, 192, 384, 256, 256, or the paper's with original=True, which it cannot be combined
with) and `hidden` the two hidden classifier layers' width (default 4096). The layer layout and state_dict keys stay
the same, e.g. alexnet(10, small_input=True, widths=(8, 16, 16, 16, 16), hidden=32) for 32x32 images.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn import _checks
from ._registry import check_common, register, widths_arg

__all__ = ["AlexNet", "alexnet", "PAPER_LRN"]

# The paper's LRN hyper-parameters in torch's convention (alpha already multiplied by size).
PAPER_LRN = dict(size=5, alpha=5e-4, beta=0.75, k=2.0)


class AlexNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, lrn: bool = False, original: bool = False,
                 grouped: bool = False, small_input: bool = False, dropout: float = 0.5, widths=None,
                 hidden: int = 4096) -> None:
        super().__init__()
        check_common("AlexNet", num_classes, in_channels, dropout, hidden=hidden)
        lrn, original, grouped, small_input = (_checks.bool_arg("AlexNet", k, v) for k, v in (
            ("lrn", lrn), ("original", original), ("grouped", grouped), ("small_input", small_input)))
        if grouped and not original:
            raise ValueError("AlexNet: grouped=True (the paper's two-GPU split) needs original=True (96-map widths)")
        if widths is None:
            c = (96, 256, 384, 384, 256) if original else (64, 192, 384, 256, 256)
        elif original:
            raise ValueError("AlexNet: give either widths or original=True (the paper's widths), not both")
        else:
            c = widths_arg("AlexNet", "widths", widths, 5, "the convolutions' map counts, or None")
        g = 2 if grouped else 1
        stride, pad = (1, 5) if small_input else (4, 2)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c[0], 11, stride=stride, padding=pad), nn.ReLU(inplace=True)]
        if lrn:
            layers.append(nn.LocalResponseNorm(**PAPER_LRN))
        layers += [nn.MaxPool2d(3, 2), nn.Conv2d(c[0], c[1], 5, padding=2, groups=g), nn.ReLU(inplace=True)]
        if lrn:
            layers.append(nn.LocalResponseNorm(**PAPER_LRN))
        layers += [nn.MaxPool2d(3, 2),
                   nn.Conv2d(c[1], c[2], 3, padding=1), nn.ReLU(inplace=True),
                   nn.Conv2d(c[2], c[3], 3, padding=1, groups=g), nn.ReLU(inplace=True),
                   nn.Conv2d(c[3], c[4], 3, padding=1, groups=g), nn.ReLU(inplace=True),
                   nn.MaxPool2d(3, 2)]
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(c[4] * 6 * 6, hidden), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, num_classes))

    def forward(self, x):
        h, w = x.shape[-2:]
        if min(h, w) < 63 and self.features[0].stride[0] == 4:
            raise ValueError(f"AlexNet: input {h}x{w} is too small (at least 63x63: a stride-4 convolution and three "
                             f"3x3/2 max pools); build it with small_input=True for 32x32 images")
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


@register
def alexnet(num_classes: int = 1000, in_channels: int = 3, lrn: bool = False, original: bool = False,
            grouped: bool = False, small_input: bool = False, dropout: float = 0.5, widths=None,
            hidden: int = 4096) -> AlexNet:
    """AlexNet (torchvision's layout; see the module docstring for lrn/original/grouped/small_input and the
    narrow variants' widths/hidden)."""
    return AlexNet(num_classes, in_channels, lrn, original, grouped, small_input, dropout, widths, hidden)
