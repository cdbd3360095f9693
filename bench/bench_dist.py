"""Data-parallel scaling on one machine: P processes x 1 thread (fastconv.distributed over MPI, each rank batch
B/P) against 1 process x P threads (batch B), the same model, data and global batch, in one run of this script.

Each configuration runs `--steps` timed train steps after warm-up (median step time). For the distributed run it
also reports how long the ranks' MPI thread spent in the gradient allreduces (comm) and how long the steps were
blocked waiting for them (allreduce_wait kernels, from the step profile): comm - blocked is the communication the
backward pass hid. ratio = 1-process time / P-process time (> 1: data parallel is faster). --sync-bn adds a
third run, the P processes with the model's batch norms converted to SyncBatchNorm: sync_ms its step, sync_bn_ms
the time of its sync_batch_norm kernels (their compute and their blocking collectives).

    PYTHONPATH=python python3 bench/bench_dist.py [--model resnet18] [--batch 16] [--size 64] [--procs 2]
        [--steps 10] [--sync-bn] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import machine, save_json, table  # noqa: E402


def worker(a) -> None:
    import fastconv as fc
    import fastconv.distributed as dist
    import fastconv.models as M
    fc.set_num_threads(a.threads)
    dist.init("auto")
    r, w = dist.rank(), dist.world_size()
    fc.manual_seed(0)
    model = M.get(a.model, num_classes=10)
    if a.sync:
        model = fc.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if a.ddp:
        model = dist.DistributedDataParallel(model)
    net = fc.compile(model, (a.batch // w, 3, a.size, a.size), loss="cross_entropy",
                     optimizer=fc.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    rng = np.random.default_rng(r)
    x = rng.standard_normal((a.batch // w, 3, a.size, a.size)).astype(np.float32)
    y = rng.integers(0, 10, a.batch // w)
    for _ in range(3):
        net.train_step(x, y)
    c0 = dist._C.dist_comm_seconds()
    times = []
    for _ in range(a.steps):
        t = time.perf_counter()
        net.train_step(x, y)
        times.append(time.perf_counter() - t)
    comm = (dist._C.dist_comm_seconds() - c0) / a.steps
    prof = net.profile(x, y, steps=3, warmup=0)
    blocked = sum(k.ms for k in prof.kernels if k.op == "allreduce_wait") / 1e3
    sync_bn = sum(k.ms for k in prof.kernels if k.op.startswith("sync_batch_norm")) / 1e3
    if r == 0:
        print(json.dumps(dict(step_ms=1e3 * float(np.median(times)), comm_ms=1e3 * comm, blocked_ms=1e3 * blocked,
                              sync_bn_ms=1e3 * sync_bn, buckets=net.schedule().count("allreduce_wait"))), flush=True)


def run(cmd: list[str]) -> dict:
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet18")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--sync-bn", action="store_true", help="also time the P processes with SyncBatchNorm")
    ap.add_argument("--json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--sync", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    me = [sys.executable, os.path.abspath(__file__), "--worker", "--model", a.model, "--batch", str(a.batch),
          "--size", str(a.size), "--steps", str(a.steps)]
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise SystemExit("bench_dist: needs mpirun (apt-get install openmpi-bin libopenmpi-dev)")
    res: dict[str, list[dict]] = {"single": [], "ddp": [], "sync": []}
    ranks = [mpirun, "-np", str(a.procs), "--oversubscribe", "--bind-to", "core"] + me + ["--threads", "1", "--ddp"]
    for _ in range(a.rounds):  # interleaved
        res["single"].append(run(me + ["--threads", str(a.procs)]))
        res["ddp"].append(run(ranks))
        if a.sync_bn:
            res["sync"].append(run(ranks + ["--sync"]))
    med = lambda k, key: float(np.median([r[key] for r in res[k]]))  # noqa: E731
    row = dict(model=a.model, batch=a.batch, size=a.size, procs=a.procs,
               single_ms=round(med("single", "step_ms"), 1), ddp_ms=round(med("ddp", "step_ms"), 1),
               ratio=round(med("single", "step_ms") / med("ddp", "step_ms"), 3),
               comm_ms=round(med("ddp", "comm_ms"), 1), blocked_ms=round(med("ddp", "blocked_ms"), 1),
               buckets=res["ddp"][0]["buckets"])
    if a.sync_bn:
        row.update(sync_ms=round(med("sync", "step_ms"), 1), sync_bn_ms=round(med("sync", "sync_bn_ms"), 1))
    print(table([row], list(row)))
    save_json(a.json, dict(machine=machine(), rows=[row]))


if __name__ == "__main__":
    main()
