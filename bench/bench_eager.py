"""The eager training loop against PyTorch, and its tracing overhead (issue 15).

    PYTHONPATH=python python bench/bench_eager.py [--repeats 5] [--threads 2]

1. The PyTorch-example scripts of tests/eager_scripts.py (MNIST-style, CIFAR ResNet, triplet), each run with
   torch's imports and with fastconv's in this one process, alternating, from the same weights and data: the median
   wall time of the training loop over `repeats` runs after a warm-up run. Ratio = torch time / fastconv time
   (> 1: fastconv faster).
2. ResNet-18 (batch 16, 3x64x64, SGD momentum): one eager step (zero_grad, forward, loss, backward, step) against one
   compiled train_step of the same model, and the recording alone (forward + loss recorded, program looked up, no
   run). Overhead = recording time / eager step time; the issue's target is <= 5%.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))


def _loop_time(name, lib, ns):
    import eager_scripts as S
    t = time.perf_counter()
    S.run(name, lib, ns)
    return time.perf_counter() - t


def scripts(repeats: int) -> list[tuple[str, float, float]]:
    import eager_scripts as S
    rng = np.random.default_rng(0)
    data = {
        "mnist": dict(X=rng.standard_normal((320, 1, 16, 16)).astype(np.float32), Y=rng.integers(0, 10, 320),
                      Xt=rng.standard_normal((64, 1, 16, 16)).astype(np.float32), Yt=rng.integers(0, 10, 64),
                      epochs=1, save_path=os.devnull),
        "resnet": dict(X=rng.standard_normal((160, 3, 16, 16)).astype(np.float32), Y=rng.integers(0, 10, 160),
                       epochs=1),
        "triplet": dict(**{k: rng.standard_normal((160, 1, 28, 28)).astype(np.float32) for k in "APN"}, epochs=1),
    }
    rows = []
    for name, ns in data.items():
        ns = dict(ns, W0=S.initial_weights(name))
        times = {"torch": [], "fastconv": []}
        for lib in times:  # warm-up: first compilation, torch's first-call setup
            _loop_time(name, lib, ns)
        for _ in range(repeats):
            for lib in times:
                times[lib].append(_loop_time(name, lib, ns))
        t, f = statistics.median(times["torch"]), statistics.median(times["fastconv"])
        rows.append((name, t, f))
        print(f"{name:8s} torch {t * 1e3:8.1f} ms   fastconv {f * 1e3:8.1f} ms   ratio {t / f:5.2f}", flush=True)
    return rows


def overhead(repeats: int, steps: int = 5) -> tuple[float, float, float]:
    import fastconv as fc
    import fastconv.nn.functional as F
    from fastconv import _lazy
    from fastconv.models import resnet18
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 3, 64, 64)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    fc.manual_seed(0)
    model = resnet18(num_classes=10)
    opt = fc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    net = fc.compile(model, x.shape, loss="cross_entropy", optimizer=opt)
    xt, yt = fc.from_numpy(x), fc.from_numpy(y)

    def eager():
        opt.zero_grad()
        loss = F.cross_entropy(model(xt), yt)
        loss.backward()
        opt.step()

    def record():  # what an eager step adds to the compiled one: the recording and the cache lookup
        tr = _lazy.current_trace()
        F.cross_entropy(model(xt), yt)
        tr._key("backward", [])
        _lazy._local.trace = None

    def timed(f):
        f()
        out = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(steps):
                f()
            out.append((time.perf_counter() - t) / steps)
        return statistics.median(out)

    res = {}
    for _ in range(2):  # alternate, keep the better of two rounds each
        for k, f in (("compiled", lambda: net.train_step(x, y)), ("eager", eager), ("record", record)):
            res[k] = min(res.get(k, 1e9), timed(f))
    print(f"ResNet-18 b16 64x64: compiled step {res['compiled'] * 1e3:.1f} ms, eager step {res['eager'] * 1e3:.1f} "
          f"ms, recording {res['record'] * 1e3:.2f} ms = {100 * res['record'] / res['eager']:.1f}% of the eager "
          f"step", flush=True)
    return res["compiled"], res["eager"], res["record"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--skip-scripts", action="store_true")
    a = ap.parse_args()
    import torch

    import fastconv as fc
    torch.set_num_threads(a.threads)
    fc.set_num_threads(a.threads)
    print(f"threads {a.threads}, torch {torch.__version__}, fastconv {fc.__version__}, isa {fc.get_isa()}")
    if not a.skip_scripts:
        scripts(a.repeats)
    overhead(a.repeats)


if __name__ == "__main__":
    main()
