"""A data-parallel training run for tests/test_distributed.py, started under mpirun (or alone): a small conv net,
SGD with momentum, 20 steps on a global batch of 8 split over the ranks; rank 0 saves the final weights.

    python tests/dist_worker.py OUT.npy [--fault hang|kill] [--timeout S] [--bucket-mb MB] [--bn plain|sync]
                                [--save-ckpt CK] [--resume CK]

--bn puts batch norm after each convolution (BatchNorm2d, or converted to SyncBatchNorm); the saved vector then
also holds the running statistics. --save-ckpt: rank 0 writes fastconv.io.save_checkpoint of the unwrapped model
and the optimizer after step 10 (the run goes on); --resume: every rank loads such a file (whatever world size
wrote it) and runs the remaining steps.
"""
import argparse
import os
import signal
import time

import numpy as np

import fastconv as fc  # the one on PYTHONPATH: tests/test_distributed.py passes the tests' own
import fastconv.distributed as dist
import fastconv.nn as nn
from fastconv.io import load_checkpoint, save_checkpoint

STEPS, BATCH, CKPT_STEP = 20, 8, 10


class Net(nn.Module):
    def __init__(self, bn=False):
        super().__init__()
        self.c1 = nn.Conv2d(1, 4, 3, padding=1)
        self.c2 = nn.Conv2d(4, 6, 3, stride=2)
        self.fc = nn.Linear(6 * 3 * 3, 3)
        self.n1, self.n2 = (nn.BatchNorm2d(4), nn.BatchNorm2d(6)) if bn else (nn.Identity(), nn.Identity())

    def forward(self, x):
        x = fc.functional.relu(self.n2(self.c2(fc.functional.relu(self.n1(self.c1(x))))))
        return self.fc(x.reshape(x.shape[0], -1))


def state(model):
    return np.concatenate([p.ravel() for p in model.parameters()] +
                          [b.ravel() for b in model.buffers() if b.dtype == np.float32])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--fault", choices=["hang", "kill"])
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--bucket-mb", type=float, default=0.001)  # several buckets for this small net
    ap.add_argument("--fit", action="store_true", help="train with fc.fit (each rank its shard) instead")
    ap.add_argument("--bn", choices=["plain", "sync"])
    ap.add_argument("--save-ckpt")
    ap.add_argument("--resume")
    a = ap.parse_args()
    dist.init("auto", timeout=a.timeout)
    r, w = dist.rank(), dist.world_size()
    fc.manual_seed(100 + r)  # different weights per rank: DistributedDataParallel must start all from rank 0's
    if r == 0:
        fc.manual_seed(0)
    net = Net(bn=a.bn is not None)
    if a.bn == "sync":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
    start, inner = 0, net
    if a.resume:  # torch's habit: the file holds the unwrapped model, loaded before wrapping
        start = load_checkpoint(a.resume, model=net)[1]["next_step"]
    opt = fc.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    if a.resume:
        load_checkpoint(a.resume, model=net, optimizer=opt)
    model = dist.DistributedDataParallel(net, bucket_cap_mb=a.bucket_mb)
    if a.fit:
        return fit(a, model, r, w)
    net = fc.compile(model, (BATCH // w, 1, 7, 7), loss="cross_entropy", optimizer=opt)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((STEPS, BATCH, 1, 7, 7)).astype(np.float32)
    ys = rng.integers(0, 3, (STEPS, BATCH))
    part = slice(r * BATCH // w, (r + 1) * BATCH // w)
    for i in range(start, STEPS):
        if a.fault and r == 1 and i == 5:
            if a.fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(3600)
        net.train_step(xs[i, part], ys[i, part])
        if a.save_ckpt and i + 1 == CKPT_STEP:
            if r == 0:
                save_checkpoint(a.save_ckpt, inner, opt, info={"next_step": CKPT_STEP, "world_size": w})
            dist.barrier()
    weights = state(model)
    if r == 0:
        np.save(a.out, weights)
    else:  # every rank holds the same weights: compare with rank 0's through the communicator
        np.save(a.out + f".rank{r}.npy", weights)
    dist.barrier()
    print(f"rank {r}/{w}: done, {dist._C.dist_collectives_completed()} collectives", flush=True)


def fit(a, model, r, w):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((40, 1, 7, 7)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    fc.fit(model, x, y, batch_size=BATCH // w, epochs=2, seed=5, verbose=2,
           optimizer=fc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    weights = state(model)
    np.save(a.out if r == 0 else a.out + f".rank{r}.npy", weights)
    dist.barrier()


if __name__ == "__main__":
    main()
