"""Soak test (not in CI): a long compiled training run on a small CNN, watching memory and the loss, and a
checkpoint -> SIGKILL -> resume run compared bit for bit with an uninterrupted one.

    python bench/soak.py                       # 10,000 steps + a 2,000-step kill/resume comparison
    python bench/soak.py --steps 2000 --resume-steps 400 --rss-slack-mb 8

Checks (exit status 1 when one fails):
  - every loss is finite;
  - RSS after warm-up stays flat: the largest sample minus the sample at the end of warm-up is under
    --rss-slack-mb (a leak of one tensor per step would grow by megabytes per thousand steps);
  - a run killed with SIGKILL right after save_checkpoint and resumed in a fresh process ends with the same
    weights, buffers and optimizer state as an uninterrupted run of the same length.
The net has no dropout in the resume comparison: dropout masks follow the compiled step's run counter, which
restarts with a new compile (docs/reliability.md). The soak run itself uses dropout.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import fastconv as fc  # noqa: E402
import fastconv.nn as nn  # noqa: E402
from fastconv.io import load_checkpoint, save_checkpoint  # noqa: E402

BATCH = 32


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def build(dropout: bool) -> nn.Module:
    fc.manual_seed(2024)
    layers = [nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
              nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout2d(0.1))
    layers += [nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 2 * 2, 10)]
    return nn.Sequential(*layers)


def data():
    x, y = fc.data.load_digits("train", image_size=8, seed=0)
    return np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64)


def batch(x, y, i: int):
    """Batch i of a fixed shuffled order: the same for an uninterrupted and a resumed run."""
    order = np.random.default_rng(i // (len(x) // BATCH)).permutation(len(x))
    j = (i % (len(x) // BATCH)) * BATCH
    idx = order[j:j + BATCH]
    return x[idx], y[idx]


def train(net, opt, start: int, stop: int, x, y, watch=None):
    step = fc.compile(net, (BATCH,) + x.shape[1:], loss="cross_entropy", optimizer=opt)
    for i in range(start, stop):
        loss = step.train_step(*batch(x, y, i))
        if not np.isfinite(loss):
            raise FloatingPointError(f"soak: the loss became {loss} at step {i}")
        if watch:
            watch(i, loss)


def state(net, opt) -> dict:
    s = {k: np.array(v) for k, v in net.state_dict().items()}
    for idx, st in opt.state_dict()["state"].items():
        s.update({f"opt.{idx}.{k}": np.array(v) for k, v in st.items()})
    return s


def soak(steps: int, warmup: int, every: int, slack: float) -> bool:
    x, y = data()
    net = build(dropout=True)
    opt = fc.optim.Adam(net.parameters(), lr=1e-3)
    samples, losses, t0 = [], [], time.perf_counter()

    def watch(i, loss):
        losses.append(loss)
        if (i + 1) % every == 0:
            samples.append((i + 1, rss_mb()))
            print(f"  step {i + 1:6d}  loss {np.mean(losses[-every:]):.4f}  rss {samples[-1][1]:7.1f} MB", flush=True)

    train(net, opt, 0, steps, x, y, watch)
    base = next(m for s, m in samples if s >= warmup)
    growth = max(m for s, m in samples if s >= warmup) - base
    ok = growth <= slack
    print(f"soak: {steps} steps in {time.perf_counter() - t0:.0f} s, losses finite, loss {np.mean(losses[:100]):.3f}"
          f" -> {np.mean(losses[-100:]):.3f}; RSS after step {warmup}: {base:.1f} MB, growth {growth:+.2f} MB "
          f"(slack {slack} MB): {'ok' if ok else 'FAILED'}")
    return ok


def child(ck: str, stop: int) -> None:
    """Trains to `stop`, checkpoints, and dies without cleaning up."""
    x, y = data()
    net = build(dropout=False)
    opt = fc.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
    train(net, opt, 0, stop, x, y)
    save_checkpoint(ck, net, opt, info={"next_step": stop})
    os.kill(os.getpid(), signal.SIGKILL)


def kill_resume(steps: int) -> bool:
    x, y = data()
    half = steps // 2
    with tempfile.TemporaryDirectory() as d:
        ck = os.path.join(d, "ck.safetensors")
        r = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", ck, str(half)])
        if r.returncode != -signal.SIGKILL:
            print(f"kill/resume: the child exited with {r.returncode}, expected SIGKILL")
            return False
        net, info = load_checkpoint(ck)
        opt = fc.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        load_checkpoint(ck, model=net, optimizer=opt)
        train(net, opt, info["next_step"], steps, x, y)
    ref = build(dropout=False)
    ref_opt = fc.optim.Adam(ref.parameters(), lr=1e-3, weight_decay=1e-4)
    train(ref, ref_opt, 0, steps, x, y)
    a, b = state(ref, ref_opt), state(net, opt)
    diff = [k for k in a if k not in b or not np.array_equal(a[k], b[k])]
    print(f"kill/resume: {steps} steps, killed after {half}: "
          f"{'bit-identical to the uninterrupted run' if not diff else 'DIFFERENT in ' + json.dumps(diff[:8])}")
    return not diff


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return 3  # not reached
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=10_000)
    ap.add_argument("--warmup", type=int, default=1_000, help="steps before RSS must stay flat")
    ap.add_argument("--every", type=int, default=500, help="steps between RSS samples")
    ap.add_argument("--rss-slack-mb", type=float, default=4.0)
    ap.add_argument("--resume-steps", type=int, default=2_000)
    a = ap.parse_args()
    print(f"fastconv {fc.__version__}, {fc.get_isa()} kernels, {fc.get_num_threads()} threads")
    ok = soak(a.steps, min(a.warmup, a.steps), a.every, a.rss_slack_mb)
    ok = kill_resume(a.resume_steps) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
