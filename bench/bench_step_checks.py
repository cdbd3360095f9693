"""What the label check costs a compiled train_step (docs/reliability.md promises < 1%).

The same model is compiled twice in one process: once with cross_entropy reading the target straight from the
step's input (the executor range-checks it before the step) and once through a reshape of the target (a view: no
copy, same kernels, but the loss no longer reads a graph input, so nothing is checked). The two take turns, and
the ratio of their medians is the check's cost. Cases: a classifier (one label per sample) and a segmentation net
(one label per pixel, where the scan is longest).

    PYTHONPATH=python python3 bench/bench_step_checks.py [--repeats 20] [--rounds 5]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import interleaved_medians, machine, table  # noqa: E402

import fastconv as fc  # noqa: E402
import fastconv.functional as F  # noqa: E402
import fastconv.nn as nn  # noqa: E402


class Seg(nn.Module):
    def __init__(self, c=8, classes=5):
        super().__init__()
        self.a = nn.Conv2d(3, c, 3, padding=1)
        self.b = nn.Conv2d(c, classes, 1)

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


def cases():
    fc.manual_seed(0)
    rng = np.random.default_rng(0)
    cls = (lambda: nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                                 nn.Linear(16 * 16 * 16, 10)),
           rng.standard_normal((64, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, 64))
    seg = (Seg, rng.standard_normal((8, 3, 64, 64)).astype(np.float32), rng.integers(0, 5, (8, 64, 64)))
    return {"classifier 64x3x32x32": cls, "segmentation 8x3x64x64": seg}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    rows = []
    for name, (make, x, y) in cases().items():
        steps = {}
        for label, loss in [("checked", F.cross_entropy),
                            ("unchecked", lambda out, t: F.cross_entropy(out, t.reshape(t.shape)))]:
            m = make()
            c = fc.compile(m, x.shape, loss=loss, optimizer=fc.optim.SGD(m.parameters(), lr=1e-3),
                           target_shape=y.shape, target_dtype="int64")
            steps[label] = (lambda c=c: c.train_step(x, y))
        t = interleaved_medians(steps, repeats=a.repeats, rounds=a.rounds)
        rows.append({"case": name, "labels": y.size, "checked ms": f"{t['checked'] * 1e3:.3f}",
                     "unchecked ms": f"{t['unchecked'] * 1e3:.3f}",
                     "cost": f"{(t['checked'] / t['unchecked'] - 1) * 100:+.2f}%"})
    print(machine())
    print(table(rows, ["case", "labels", "checked ms", "unchecked ms", "cost"]))


if __name__ == "__main__":
    main()
