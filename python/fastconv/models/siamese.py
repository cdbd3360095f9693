"""Siamese / triplet networks (the course's face-identification example): one embedding CNN shared by every input.

`siamese_net` builds the embedding network: conv-BN-ReLU stages with 2x2 max pooling (widths base, 2*base, 4*base),
a global average pool and a linear layer to `embedding_dim` numbers, so any input of at least 8x8 works.
`TripletNet(embedding)` applies it to anchor, positive and negative images and returns the three embeddings, ready
for F.triplet_margin_loss(a, p, n, margin) = mean(max(||a - p|| - ||a - n|| + margin, 0)) (torch's form, with
Euclidean distances; the course's variant squares them).

fastconv.compile feeds a model one input, so TripletNet also accepts a single batch of 3N images stacked as
[anchors; positives; negatives] and embeds them in one pass (batch-norm statistics are then taken over all 3N):

    net = TripletNet(siamese_net(64, in_channels=1))
    step = fc.compile(net, (3 * n, 1, 28, 28), loss=triplet_loss, optimizer=opt,
                      target_shape=(3 * n,), target_dtype="float32")
    step.train_step(np.concatenate([a, p, neg]), np.zeros(3 * n, np.float32))  # the target is unused
"""
from __future__ import annotations

from .. import functional as F
from .. import nn
from .._trace import op
from ._registry import check_common, register

__all__ = ["EmbeddingNet", "TripletNet", "siamese_net", "triplet_loss", "split_batch"]


class EmbeddingNet(nn.Module):
    def __init__(self, embedding_dim: int = 64, in_channels: int = 1, base: int = 32) -> None:
        super().__init__()
        check_common("EmbeddingNet", None, in_channels, embedding_dim=embedding_dim, base=base)
        w = (base, 2 * base, 4 * base)
        layers: list[nn.Module] = []
        c = in_channels
        for width in w:
            layers += [nn.Conv2d(c, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU(True),
                       nn.MaxPool2d(2)]
            c = width
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, embedding_dim)

    def forward(self, x):
        return self.fc(F.flatten(self.avgpool(self.features(x)), 1))


def split_batch(x, parts: int = 3) -> tuple:
    """x[0:n], x[n:2n], ... along the batch dimension (graph slices when traced)."""
    total = x.shape[0]
    if total % parts:
        raise ValueError(f"split_batch: a batch of {total} cannot be split into {parts} equal parts (stack "
                         f"anchors, positives and negatives: 3N rows)")
    n = total // parts
    return tuple(op("slice", [x], dict(dim=0, start=i * n, length=n)) for i in range(parts))


class TripletNet(nn.Module):
    def __init__(self, embedding_net: nn.Module) -> None:
        super().__init__()
        if not isinstance(embedding_net, nn.Module):
            raise TypeError(f"TripletNet: argument 'embedding_net' must be a fastconv.nn.Module, got "
                            f"{type(embedding_net).__name__}")
        self.embedding_net = embedding_net

    def forward(self, anchor, positive=None, negative=None):
        if positive is None and negative is None:
            return split_batch(self.embedding_net(anchor), 3)
        if positive is None or negative is None:
            raise ValueError("TripletNet: pass anchor, positive and negative, or one stacked batch of 3N images")
        return self.embedding_net(anchor), self.embedding_net(positive), self.embedding_net(negative)

    def get_embedding(self, x):
        return self.embedding_net(x)


def triplet_loss(outputs, target=None, margin: float = 1.0):
    """F.triplet_margin_loss over TripletNet's (anchor, positive, negative) embeddings; `target` is ignored (it is
    there so the function can be fastconv.compile's loss)."""
    a, p, n = outputs
    return F.triplet_margin_loss(a, p, n, margin=margin)


@register
def siamese_net(embedding_dim: int = 64, in_channels: int = 1, base: int = 32) -> EmbeddingNet:
    """The embedding CNN of a siamese/triplet network (wrap it in TripletNet to train on triplets)."""
    return EmbeddingNet(embedding_dim, in_channels, base)
