"""Object localisation (the course's bird/plane example): one CNN backbone with three heads.

localization_net(num_classes, in_channels) returns, for each image, (class_logits [N, num_classes],
boxes [N, 4] in (0, 1) through a sigmoid: the box (x, y, h, w) relative to the image size, objectness logits [N]).

localization_loss(outputs, targets, gamma=1.0, obj_weight=1.0): for a batch of N observations

    L = 1/N * sum_i [ o_i * CE(class_logits_i, c_i)
                      + gamma * o_i * 1/4 * sum_j (box_ij - b_ij)^2
                      + obj_weight * BCE(sigmoid(objectness_i), o_i) ]

where o_i = 1 when image i contains an object (c_i its class, b_i its box) and 0 otherwise. This is the course's
C_classification + gamma * (1 - y_1) * C_localization (mean squared error over the four box numbers, counted only
where an object is present, gamma = 1 by default), with the course's "nothing" class moved into its own objectness
output: o_i = 1 - y_1, and its probability of "nothing" is 1 - sigmoid(objectness). For images without an object the
class and the box are "do not care" values and contribute nothing.

Targets: a tuple (labels [N] int, boxes [N, 4], objectness [N]), or the packed float array
[N, num_classes + 5] = [one-hot class (all zero without an object) | box | objectness] that pack_targets builds;
fastconv.compile passes one target array, so compiled training uses the packed form:

    step = fc.compile(net, (n, 3, 64, 64), loss=localization_loss, optimizer=opt,
                      target_shape=(n, num_classes + 5), target_dtype="float32")
    step.train_step(x, pack_targets(labels, boxes, objectness, num_classes))
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .. import nn
from .._trace import Symbol, op
from ._registry import check_common, register

__all__ = ["LocalizationNet", "localization_net", "localization_loss", "pack_targets"]


class LocalizationNet(nn.Module):
    def __init__(self, num_classes: int = 2, in_channels: int = 3, base: int = 32) -> None:
        super().__init__()
        check_common("LocalizationNet", num_classes, in_channels, base=base)
        layers: list[nn.Module] = []
        c = in_channels
        for width in (base, 2 * base, 4 * base, 8 * base):
            layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                       nn.MaxPool2d(2)]
            c = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.classifier = nn.Linear(c, num_classes)
        self.box = nn.Sequential(nn.Linear(c, 4), nn.Sigmoid())
        self.objectness = nn.Linear(c, 1)
        self.num_classes = num_classes

    def forward(self, x):
        if min(x.shape[-2:]) < 16:
            raise ValueError(f"LocalizationNet: input {tuple(x.shape[-2:])} is too small (four 2x2 max pools need "
                             f"at least 16x16)")
        h = F.flatten(self.avgpool(self.features(x)), 1)
        return self.classifier(h), self.box(h), F.flatten(self.objectness(h), 0)


def pack_targets(labels, boxes, objectness, num_classes: int) -> np.ndarray:
    """[N, num_classes + 5] float32: one-hot labels (zeroed where objectness is 0) | boxes | objectness."""
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    obj = np.asarray(objectness, np.float32).reshape(-1)
    n = labels.shape[0]
    if boxes.shape[0] != n or obj.shape[0] != n:
        raise ValueError(f"pack_targets: labels ({n}), boxes ({boxes.shape[0]}) and objectness ({obj.shape[0]}) "
                         f"must have the same length")
    present = obj > 0.5
    if ((labels < 0) | (labels >= num_classes))[present].any():
        raise IndexError(f"pack_targets: class labels of images with an object must be in [0, {num_classes}), got "
                         f"{labels[present].min()}..{labels[present].max()}")
    out = np.zeros((n, num_classes + 5), np.float32)
    out[np.nonzero(present)[0], labels[present]] = 1.0
    out[:, num_classes:num_classes + 4] = boxes * present[:, None]
    out[:, num_classes + 4] = obj
    return out


def _col(y, start: int, length: int):
    return op("slice", [y], dict(dim=1, start=start, length=length))


def localization_loss(outputs, targets, gamma: float = 1.0, obj_weight: float = 1.0):
    """The combined loss in this module's docstring; targets packed ([N, C + 5]) or (labels, boxes, objectness)."""
    logits, boxes, obj = outputs
    n, c = logits.shape
    if isinstance(targets, (tuple, list)):
        targets = pack_targets(*targets, num_classes=c)
    if not isinstance(targets, Symbol):
        targets = np.ascontiguousarray(np.asarray(targets, np.float32))
    if tuple(targets.shape) != (n, c + 5):
        raise ValueError(f"localization_loss: packed targets must have shape [{n}, {c + 5}] "
                         f"(one-hot class | box | objectness), got {list(targets.shape)}")
    onehot, box_t = _col(targets, 0, c), _col(targets, c, 4)
    present = _col(targets, c + 4, 1)
    # Soft-target cross entropy: an all-zero row (no object) contributes 0, and 'mean' divides by N.
    loss = F.cross_entropy(logits, F.mul(onehot, present))
    d = F.mul(F.sub(boxes, box_t), present)
    loss = loss + F.sum(F.mul(d, d)) * (gamma / (4.0 * n))
    loss = loss + F.binary_cross_entropy_with_logits(obj, F.flatten(present, 0)) * obj_weight
    return loss


@register
def localization_net(num_classes: int = 2, in_channels: int = 3, base: int = 32) -> LocalizationNet:
    """A CNN with class, box (sigmoid) and objectness heads; train it with localization_loss."""
    return LocalizationNet(num_classes, in_channels, base)
