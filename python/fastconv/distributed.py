"""fastconv.distributed: data-parallel training over processes (MPI on CPUs), torch.distributed's habits.

    import fastconv as fc, fastconv.distributed as dist
    dist.init()                                   # under `mpirun -np N python train.py`
    model = dist.DistributedDataParallel(Net())   # rank 0's weights everywhere
    net = fc.compile(model, (B // dist.world_size(), 1, 28, 28), loss="cross_entropy", optimizer=...)
    sampler = dist.DistributedSampler(dataset)    # each rank its shard
    for epoch in range(E): sampler.set_epoch(epoch); ...net.train_step(x, y)...

A compiled training step of a DistributedDataParallel model averages every gradient over the ranks before
clipping and updates: allreduce nodes in the training graph, one per bucket of about bucket_cap_mb, started as
soon as the backward pass has produced the bucket and waited for just before its updates, so the sums travel
while the backward pass goes on. Batch norm keeps per-rank statistics (torch's default; fastconv.nn.SyncBatchNorm
computes them over all ranks' batches). A collective that waits longer than `timeout` seconds for another rank
fails with an error naming it, and the job ends (docs/distributed.md).
"""
from __future__ import annotations

import atexit
import math
import numbers
import os

import numpy as np

from . import _C
from .nn.module import Module

__all__ = ["init", "is_initialized", "is_available", "backend", "rank", "world_size", "barrier", "all_reduce",
           "broadcast", "finalize", "DistributedDataParallel", "DistributedSampler", "launched_by_mpi"]

_LAUNCH_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MPI_LOCALNRANKS")
DEFAULT_TIMEOUT = 300.0


def _plugin_path() -> str:
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib", "libfastconv_mpi.so")


def is_available() -> bool:
    """Whether this fastconv has its MPI backend (built when CMake found MPI)."""
    return os.path.exists(_plugin_path())


def launched_by_mpi() -> bool:
    """Whether this process was started by mpirun/mpiexec/srun (their environment variables say so)."""
    return any(v in os.environ for v in _LAUNCH_VARS)


def init(backend: str = "auto", timeout: float = DEFAULT_TIMEOUT) -> None:
    """Joins the job: backend 'mpi', 'local' (one rank, no MPI) or 'auto' ('mpi' under mpirun, else 'local').
    timeout: seconds any collective may wait for the other ranks before it fails naming them."""
    if not isinstance(backend, str):
        raise TypeError(f"fastconv.distributed.init: argument 'backend' must be a string, got {backend!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
        raise ValueError(f"fastconv.distributed.init: argument 'timeout' must be a positive number of seconds, "
                         f"got {timeout!r}")
    if backend == "auto":
        backend = "mpi" if launched_by_mpi() else "local"
    first = not _C.dist_initialized()
    _C.dist_init(backend, float(timeout), _plugin_path())
    if first:
        atexit.register(_C.dist_finalize)


def is_initialized() -> bool:
    return bool(_C.dist_initialized())


def backend() -> str:
    return _C.dist_backend()


def rank() -> int:
    """This process's rank (0 before init)."""
    return int(_C.dist_rank())


def world_size() -> int:
    """How many processes take part (1 before init)."""
    return int(_C.dist_world_size())


def _need(who: str) -> None:
    if not _C.dist_initialized():
        raise RuntimeError(f"fastconv.distributed.{who}: call fastconv.distributed.init() first")


def barrier() -> None:
    _need("barrier")
    _C.dist_barrier()


def _inplace_array(a, who: str) -> np.ndarray:
    if not isinstance(a, np.ndarray) or a.dtype != np.float32 or not a.flags.c_contiguous or not a.flags.writeable:
        raise TypeError(f"fastconv.distributed.{who}: expected a writable C-contiguous float32 NumPy array (updated "
                        f"in place), got {type(a).__name__} {getattr(a, 'dtype', '')}")
    return a


def all_reduce(a: np.ndarray, op: str = "sum") -> np.ndarray:
    """In place over all ranks: op 'sum' or 'mean' (torch's ReduceOp.SUM / AVG). Returns a."""
    _need("all_reduce")
    if op not in ("sum", "mean"):
        raise ValueError(f"fastconv.distributed.all_reduce: argument 'op' must be 'sum' or 'mean', got {op!r}")
    _C.dist_all_reduce_sum(_inplace_array(a, "all_reduce"))
    if op == "mean":
        a /= world_size()
    return a


def broadcast(a: np.ndarray, src: int = 0) -> np.ndarray:
    """In place: every rank gets rank src's values. Returns a."""
    _need("broadcast")
    _C.dist_broadcast(_inplace_array(a, "broadcast"), int(src))
    return a


def finalize() -> None:
    """Leaves the job (also done at exit)."""
    _C.dist_finalize()


class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel for compiled training: wraps `module` (state_dict keys gain the
    'module.' prefix, as torch's), copies rank 0's parameters and buffers to every rank, and makes fc.compile put
    gradient averaging into the training step, in buckets of about bucket_cap_mb MiB (torch's default 25)."""

    def __init__(self, module: Module, bucket_cap_mb: float = 25.0, broadcast_buffers: bool = True) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: argument 'module' must be a fastconv.nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, numbers.Real) or not bucket_cap_mb > 0:
            raise ValueError(f"DistributedDataParallel: argument 'bucket_cap_mb' must be a positive number, got "
                             f"{bucket_cap_mb!r}")
        _need("DistributedDataParallel")
        self.module = module
        object.__setattr__(self, "_fc_allreduce_bucket_bytes", max(1, int(bucket_cap_mb * 2 ** 20)))
        tensors = list(module.parameters()) + (list(module.buffers()) if broadcast_buffers else [])
        for t in tensors:
            if isinstance(t, np.ndarray) and t.dtype == np.float32 and t.size:
                _C.dist_broadcast(t, 0)

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)


class DistributedSampler:
    """torch.utils.data.distributed.DistributedSampler: rank `rank` of `num_replicas` gets every num_replicas-th
    index of one order shared by all ranks (a permutation seeded by seed + epoch when shuffling; call set_epoch
    each epoch), padded by repeating its start so that every rank gets the same count (or trimmed: drop_last)."""

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        self.num_replicas = world_size() if num_replicas is None else int(num_replicas)
        self.rank = globals()["rank"]() if rank is None else int(rank)
        if self.num_replicas < 1:
            raise ValueError(f"DistributedSampler: argument 'num_replicas' must be >= 1, got {num_replicas!r}")
        if not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"DistributedSampler: invalid rank {self.rank}, rank should be in the interval "
                             f"[0, {self.num_replicas - 1}]")
        self.dataset, self.shuffle, self.seed, self.drop_last = dataset, bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self):
        n = len(self.dataset)
        idx = (np.random.default_rng(self.seed + self.epoch).permutation(n) if self.shuffle else np.arange(n)).tolist()
        if self.drop_last:
            idx = idx[:self.total_size]
        else:
            pad = self.total_size - len(idx)
            idx += (idx * math.ceil(pad / max(len(idx), 1)))[:pad]
        return iter(idx[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples
