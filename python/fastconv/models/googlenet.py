"""GoogLeNet / Inception v1 (Szegedy et al. 2014) in torchvision's exact layout, plus the paper's Inception module.

Keys: conv1/conv2/conv3 (BasicConv2d: .conv without bias, .bn with eps=1e-3), inception3a..inception5b with
branch1, branch2.0/.1, branch3.0/.1, branch4.1 (branch4.0 is the 3x3/1 max pool), aux1/aux2 (InceptionAux: conv,
fc1, fc2) and fc. 6,624,904 parameters at 1000 classes without the auxiliary classifiers, 13,004,888 with them;
a torchvision state_dict loads unchanged. As in torchvision, the "5x5" branch uses 3x3 kernels (a known quirk of
the reference implementation that its pretrained weights depend on).

In training mode with aux_logits=True the forward returns (logits, aux2, aux1) (torchvision's GoogLeNetOutputs
order; a plain tuple so compiled graphs can return it); in eval mode, or without aux_logits, only the logits.
`googlenet_loss` combines them: CE(logits) + 0.3 * (CE(aux1) + CE(aux2)) (the course sums the intermediate losses
into the objective; 0.3 is the paper's weight).

`Inception(..., original=True)` is the paper's module: convolutions with bias and ReLU (no batch norm) and a real
5x5 kernel in the third branch. The course's module (192 -> 256 channels: 64 | 96->128 | 16->32 | pool->32) has
163,696 parameters in that form: 12,352 + (18,528 + 110,720) + (3,088 + 12,832) + 6,176.

Sizes: the stem and three ceil-mode pools take 32x32 to 2x2 at inception4a..4e and 1x1 at inception5; the
auxiliary heads adaptive-pool their input to 4x4, so 32x32 and larger inputs work (the minimum is 16x16).

`width_mult` (not torchvision's; default 1.0, the exact layout above) scales every channel count -- the stem, each
Inception branch, the auxiliary heads' 128-map convolution and 1024-wide hidden layer -- to
max(1, round(c * width_mult)) (halves rounded up), keeping the layers and state_dict keys: e.g. width_mult=0.125
gives 8, 8, 24 stem maps and a 128-channel inception5b, for tests and small data.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ..nn import _checks
from ._registry import check_common, register, trunc_normal_

__all__ = ["GoogLeNet", "Inception", "InceptionAux", "BasicConv2d", "googlenet", "googlenet_loss"]


class BasicConv2d(nn.Module):
    """Conv (no bias) + BatchNorm2d(eps=1e-3) + ReLU; with batch_norm=False a biased conv + ReLU (the paper's)."""

    def __init__(self, in_channels: int, out_channels: int, batch_norm: bool = True, **kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=not batch_norm, **kwargs)
        if batch_norm:
            self.bn = nn.BatchNorm2d(out_channels, eps=0.001)
        else:
            self.bn = None

    def forward(self, x):
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x)


class Inception(nn.Module):
    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int, original: bool = False) -> None:
        super().__init__()
        check_common("Inception", None, in_channels, ch1x1=ch1x1, ch3x3red=ch3x3red, ch3x3=ch3x3,
                     ch5x5red=ch5x5red, ch5x5=ch5x5, pool_proj=pool_proj)
        bn = not _checks.bool_arg("Inception", "original", original)
        k5 = 5 if original else 3
        self.branch1 = BasicConv2d(in_channels, ch1x1, bn, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, bn, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, bn, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, bn, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, bn, kernel_size=k5, padding=k5 // 2))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, bn, kernel_size=1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x):
        return F.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7, conv_channels: int = 128,
                 hidden: int = 1024) -> None:
        super().__init__()
        check_common("InceptionAux", num_classes, in_channels, dropout, conv_channels=conv_channels, hidden=hidden)
        self.conv = BasicConv2d(in_channels, conv_channels, kernel_size=1)
        self.fc1 = nn.Linear(conv_channels * 16, hidden)  # the 4x4 pooled maps, flattened
        self.fc2 = nn.Linear(hidden, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4)))
        x = F.relu(self.fc1(F.flatten(x, 1)))
        return self.fc2(self.dropout(x))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = True,
                 init_weights: bool = True, dropout: float = 0.2, dropout_aux: float = 0.7,
                 width_mult: float = 1.0) -> None:
        super().__init__()
        check_common("GoogLeNet", num_classes, in_channels, dropout)
        _checks.prob_arg("GoogLeNet", "dropout_aux", dropout_aux)
        self.aux_logits = aux_logits = _checks.bool_arg("GoogLeNet", "aux_logits", aux_logits)
        init_weights = _checks.bool_arg("GoogLeNet", "init_weights", init_weights)
        m = _checks.float_arg("GoogLeNet", "width_mult", width_mult, 0.0, lo_open=True)

        def w(c: int) -> int:
            return max(1, int(c * m + 0.5))

        def inception(cin: int, *branches: int) -> Inception:
            return Inception(cin, *(w(c) for c in branches))

        self.conv1 = BasicConv2d(in_channels, w(64), kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(w(64), w(64), kernel_size=1)
        self.conv3 = BasicConv2d(w(64), w(192), kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = inception(w(192), 64, 96, 128, 16, 32, 32)
        self.inception3b = inception(self.inception3a.out_channels, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = inception(self.inception3b.out_channels, 192, 96, 208, 16, 48, 64)
        self.inception4b = inception(self.inception4a.out_channels, 160, 112, 224, 24, 64, 64)
        self.inception4c = inception(self.inception4b.out_channels, 128, 128, 256, 24, 64, 64)
        self.inception4d = inception(self.inception4c.out_channels, 112, 144, 288, 32, 64, 64)
        self.inception4e = inception(self.inception4d.out_channels, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = inception(self.inception4e.out_channels, 256, 160, 320, 32, 128, 128)
        self.inception5b = inception(self.inception5a.out_channels, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1 = InceptionAux(self.inception4a.out_channels, num_classes, dropout_aux, w(128), w(1024))
            self.aux2 = InceptionAux(self.inception4d.out_channels, num_classes, dropout_aux, w(128), w(1024))
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(self.inception5b.out_channels, num_classes)
        if init_weights:  # torchvision's initialisation
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight[...] = 1
                    m.bias[...] = 0

    def forward(self, x):
        if min(x.shape[-2:]) < 16:
            raise ValueError(f"GoogLeNet: input {tuple(x.shape[-2:])} is too small (at least 16x16)")
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux = self.training and self.aux1 is not None
        aux1 = self.aux1(x) if aux else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if aux else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x)))
        x = self.fc(self.dropout(F.flatten(x, 1)))
        return (x, aux2, aux1) if aux else x


@register
def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = True, **kw) -> GoogLeNet:
    """GoogLeNet (torchvision's layout). kw: init_weights, dropout, dropout_aux, width_mult (module docstring)."""
    return GoogLeNet(num_classes, in_channels, aux_logits, **kw)


def googlenet_loss(outputs, target, aux_weight: float = 0.3):
    """CE(logits, target) + aux_weight * (CE(aux1, target) + CE(aux2, target)) for the training-mode tuple
    (logits, aux2, aux1); plain CE(logits, target) for a single logits array (eval mode or no aux heads)."""
    if isinstance(outputs, (tuple, list)):
        logits, aux2, aux1 = outputs
        loss = F.cross_entropy(logits, target)
        if aux1 is not None and aux2 is not None:
            loss = loss + (F.cross_entropy(aux1, target) + F.cross_entropy(aux2, target)) * aux_weight
        return loss
    return F.cross_entropy(outputs, target)
