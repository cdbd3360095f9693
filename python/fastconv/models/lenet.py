"""LeNet-5 (LeCun et al. 1998): the classic tanh / average-pooling network and a modern ReLU / max-pooling variant.

Layout (state_dict keys): features.0 conv 6@5x5, features.3 conv 16@5x5 (C3 fully connected to S2, as most
reimplementations do), avgpool, classifier.0 C5 (400->120), classifier.2 F6 (120->84), classifier.4 output.
The AdaptiveAvgPool2d((5, 5)) before the classifier is the identity at the classic 32x32 input and lets the network
run on any input of at least 16x16 (at 28x28 MNIST it stretches the 4x4 map to 5x5). With in_channels=1 and 10
classes the network has 61,706 parameters.
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from ._registry import check_common, register

__all__ = ["LeNet5", "lenet5", "lenet5_modern"]


class LeNet5(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 1, variant: str = "classic") -> None:
        super().__init__()
        check_common("LeNet5", num_classes, in_channels)
        if variant not in ("classic", "modern"):
            raise ValueError(f"LeNet5: variant must be 'classic' (tanh, average pooling) or 'modern' (ReLU, max "
                             f"pooling), got {variant!r}")
        self.variant = variant
        act = nn.Tanh if variant == "classic" else nn.ReLU
        pool = (lambda: nn.AvgPool2d(2)) if variant == "classic" else (lambda: nn.MaxPool2d(2))
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5), act(), pool(),
            nn.Conv2d(6, 16, 5), act(), pool())
        self.avgpool = nn.AdaptiveAvgPool2d((5, 5))
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(F.flatten(x, 1))


@register
def lenet5(num_classes: int = 10, in_channels: int = 1, variant: str = "classic") -> LeNet5:
    """LeNet-5; variant='classic' (tanh + average pooling, default) or 'modern' (ReLU + max pooling)."""
    return LeNet5(num_classes, in_channels, variant)


@register
def lenet5_modern(num_classes: int = 10, in_channels: int = 1) -> LeNet5:
    """LeNet-5 with ReLU and max pooling (same layers and parameter count as the classic one)."""
    return LeNet5(num_classes, in_channels, "modern")
