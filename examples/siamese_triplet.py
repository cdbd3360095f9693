"""A siamese embedding network trained with the triplet loss on the digits (notes 002: siamese networks, triplet
loss max(d(a, p) - d(a, n) + margin, 0)).

    python examples/siamese_triplet.py [OUT_DIR]

One network embeds anchor, positive (same class) and negative (other class) images -- the same weights for all
three, which is what makes it siamese. The three are stacked into one batch; the loss splits the embeddings back
apart. Afterwards images of one class lie close together: a nearest-neighbour classifier in the embedding space
recognises digits it never saw, and the same works for classes the net was not trained on.
"""
import os
import sys

import numpy as np

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from fastconv.data import load_digits

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("FASTCONV_EXAMPLE_OUT", "example-out")
os.makedirs(out_dir, exist_ok=True)

xtr, ytr = load_digits("train")
xte, yte = load_digits("test")
HELD_OUT = (8, 9)                       # classes never shown during training
seen = ~np.isin(ytr, HELD_OUT)
fc.manual_seed(0)
D, B = 16, 32
embed = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(64 * 2 * 2, D))

# selectors for the three thirds of a stacked batch: embedding (3B, D) -> (3, B, D) -> weighted sum over axis 0
SEL = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)


def triplet_loss(out, _unused_target):
    e = out.reshape(3, B, D)
    a, p, n = (F.sum(e * SEL[i], dim=0) for i in range(3))
    return F.triplet_margin_loss(a, p, n, margin=1.0)


net = fc.compile(embed, (3 * B, 1, 8, 8), loss=triplet_loss, optimizer=fc.optim.Adam(embed.parameters(), lr=2e-3))
rng = np.random.default_rng(0)
by_class = {c: np.flatnonzero((ytr == c) & seen) for c in range(10) if c not in HELD_OUT}
classes = np.array(sorted(by_class))


def knn_accuracy(mask_te):
    """1-nearest-neighbour accuracy of test images (mask) against all training images, in embedding space."""
    g = fc.predict(embed, xtr, batch_size=256)
    q = fc.predict(embed, xte[mask_te], batch_size=256)
    d = ((q[:, None, :] - g[None, :, :]) ** 2).sum(-1)
    return float((ytr[d.argmin(1)] == yte[mask_te]).mean())


unseen = np.isin(yte, HELD_OUT)
print(f"before training: 1-NN accuracy {knn_accuracy(~unseen):.3f} on trained classes, "
      f"{knn_accuracy(unseen):.3f} on held-out classes {HELD_OUT}")
dummy = np.zeros((3 * B, D), np.float32)
for step in range(400):
    ca = rng.choice(classes, B)
    cn = np.array([rng.choice(classes[classes != c]) for c in ca])
    a = np.array([rng.choice(by_class[c]) for c in ca])
    p = np.array([rng.choice(by_class[c]) for c in ca])
    n = np.array([rng.choice(by_class[c]) for c in cn])
    loss = net.train_step(xtr[np.concatenate([a, p, n])], dummy)
    if step % 100 == 0 or step == 399:
        print(f"step {step:3d}: triplet loss {loss:.4f}")
print(f"after training:  1-NN accuracy {knn_accuracy(~unseen):.3f} on trained classes, "
      f"{knn_accuracy(unseen):.3f} on held-out classes {HELD_OUT}")

emb = fc.predict(embed, xte, batch_size=256)
same = [np.linalg.norm(emb[i] - emb[j]) for i in range(60) for j in range(i + 1, 60) if yte[i] == yte[j]]
diff = [np.linalg.norm(emb[i] - emb[j]) for i in range(60) for j in range(i + 1, 60) if yte[i] != yte[j]]
print(f"mean distance: same digit {np.mean(same):.3f}, different digits {np.mean(diff):.3f}")
try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = emb - emb.mean(0)
    xy = c @ np.linalg.svd(c, full_matrices=False)[2][:2].T   # first two principal components
    fig, ax = plt.subplots(figsize=(5, 5))
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=yte, cmap="tab10", s=10)
    fig.colorbar(sc, ax=ax, label="digit")
    ax.set_title(f"test embeddings (PCA); {HELD_OUT} unseen in training")
    fig.savefig(os.path.join(out_dir, "embeddings.png"), dpi=90)
    print(f"wrote embeddings.png to {out_dir}")
except ImportError:
    print("matplotlib is not installed: no scatter plot")
