"""fastconv.distributed: data-parallel training under mpirun (tests/dist_worker.py), faults, the sampler."""
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import fastconv as fc
import fastconv.distributed as dist
import fastconv.nn as nn
from fastconv.io import read_metadata

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "dist_worker.py")
# CI installs OpenMPI and sets FASTCONV_EXPECT_MPI=1: there a missing mpirun or plugin fails instead of skipping.
_have = shutil.which("mpirun") is not None and dist.is_available()
if os.environ.get("FASTCONV_EXPECT_MPI") == "1" and not _have:
    raise RuntimeError("FASTCONV_EXPECT_MPI=1 but mpirun or fastconv's MPI plugin (lib/libfastconv_mpi.so) is missing")
needs_mpi = pytest.mark.skipif(not _have, reason="needs mpirun and fastconv built with MPI (libopenmpi-dev)")


def _env():
    # the workers import the same fastconv as the tests (installed, or a development tree on PYTHONPATH)
    pkg_root = os.path.dirname(os.path.dirname(os.path.abspath(fc.__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([pkg_root, os.environ.get("PYTHONPATH", "")]),
               OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_btl="self,vader,tcp",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    for k in [k for k in env if k.startswith(("OMPI_COMM_WORLD", "PMIX_", "PMI_"))]:
        del env[k]  # a test run itself under mpirun must not look launched to its children
    return env


def _run(args, np_=None, timeout=120):
    cmd = ([shutil.which("mpirun"), "-np", str(np_), "--oversubscribe"] if np_ else []) + [sys.executable, WORKER] + args
    t = time.monotonic()
    p = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=timeout)
    return p, time.monotonic() - t


@needs_mpi
def test_two_ranks_with_half_batches_reach_the_weights_of_one_process(tmp_path):
    one, two = str(tmp_path / "one.npy"), str(tmp_path / "two.npy")
    p1, _ = _run([one])
    assert p1.returncode == 0, p1.stderr
    p2, _ = _run([two], np_=2)
    assert p2.returncode == 0, p2.stdout + p2.stderr
    a, b, b1 = np.load(one), np.load(two), np.load(two + ".rank1.npy")
    assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 1e-5
    np.testing.assert_array_equal(b, b1)  # every rank holds the same weights
    # 20 steps x several buckets + rank 0's parameter broadcasts went through the communicator on both ranks
    assert "rank 0/2: done" in p2.stdout and "rank 1/2: done" in p2.stdout
    # and the run really trained: the weights moved from the initial ones
    assert np.abs(a).sum() > 0


@needs_mpi
def test_fit_shards_the_data_over_the_ranks_and_only_rank_0_reports(tmp_path):
    one, two = str(tmp_path / "one.npy"), str(tmp_path / "two.npy")
    p1, _ = _run([one, "--fit"])
    assert p1.returncode == 0, p1.stderr
    p2, _ = _run([two, "--fit"], np_=2)
    assert p2.returncode == 0, p2.stdout + p2.stderr
    a, b = np.load(one), np.load(two)
    # one process with batch 8 over the shared order = two ranks with batch 4, each its every-other sample
    assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 1e-5
    np.testing.assert_array_equal(b, np.load(two + ".rank1.npy"))
    assert p1.stderr.count("Epoch 1/2") == 1 and p2.stderr.count("Epoch 1/2") == 1  # rank 0 only


@needs_mpi
def test_a_hung_rank_is_named_within_the_timeout(tmp_path):
    p, took = _run([str(tmp_path / "w.npy"), "--fault", "hang", "--timeout", "3"], np_=2, timeout=90)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert "did not complete within 3 s" in out and "rank 1 has not reached it" in out, out[-3000:]
    assert took < 60  # the job ended (MPI_Abort) instead of waiting for the sleeping rank


@needs_mpi
def test_a_killed_rank_ends_the_job_naming_it(tmp_path):
    p, took = _run([str(tmp_path / "w.npy"), "--fault", "kill", "--timeout", "5"], np_=2, timeout=90)
    assert p.returncode != 0
    assert "rank 1" in p.stdout + p.stderr
    assert took < 60


def _collectives(stdout, r=0):
    return int(stdout.split(f"rank {r}/")[1].split(" done, ")[1].split()[0])


@needs_mpi
def test_sync_batch_norm_two_ranks_with_half_batches_reach_the_weights_of_one_process(tmp_path):
    one, two, plain = (str(tmp_path / f) for f in ("one.npy", "two.npy", "plain.npy"))
    p1, _ = _run([one, "--bn", "sync"])  # one rank: SyncBatchNorm is BatchNorm, statistics of the batch of 8
    assert p1.returncode == 0, p1.stderr
    p2, _ = _run([two, "--bn", "sync"], np_=2)
    assert p2.returncode == 0, p2.stdout + p2.stderr
    p3, _ = _run([plain, "--bn", "plain"], np_=2)
    assert p3.returncode == 0, p3.stdout + p3.stderr
    a, b, c = np.load(one), np.load(two), np.load(plain)  # parameters, then running means and variances
    assert np.linalg.norm(a - b) / np.linalg.norm(a) <= 1e-5
    np.testing.assert_array_equal(b, np.load(two + ".rank1.npy"))  # running statistics included
    # per-rank statistics of batches of 4 train another model: the test would see a missing synchronisation
    assert np.linalg.norm(a - c) / np.linalg.norm(a) > 1e-2
    # per step and batch norm: two sums in the forward pass, one in the backward pass (2 layers, 20 steps)
    assert _collectives(p2.stdout) - _collectives(p3.stdout) == 20 * 2 * 3


@needs_mpi
def test_cli_train_nproc_2_trains_like_one_process_and_only_rank_0_reports(tmp_path):
    args = [sys.executable, "-m", "fastconv", "train", "--data", "shapes", "--image-size", "8", "--epochs", "1",
            "--batch-size", "500", "--optimizer", "sgd", "--lr", "0.005"]  # 3000 images: 6 steps of 500
    run = lambda extra: subprocess.run(args + extra, env=_env(), capture_output=True, text=True, timeout=120)  # noqa: E731
    one = run(["--out", str(tmp_path / "one")])
    assert one.returncode == 0, one.stdout + one.stderr
    two = run(["--out", str(tmp_path / "two"), "--nproc", "2", "--sync-bn"])
    assert two.returncode == 0, two.stdout + two.stderr
    assert "starting 2 processes" in two.stdout and "batch 500 (250 per process x 2 processes, SyncBatchNorm)" in two.stdout
    for line in ("fastconv train: smallcnn", "test accuracy:", "saved "):  # rank 0 only
        assert two.stdout.count(line) == 1, two.stdout
    assert two.stderr.count("Epoch 1/1") == 1
    a, b = (fc.load(str(tmp_path / d / "model.safetensors")).state_dict() for d in ("one", "two"))
    assert list(a) == list(b)
    u, v = (np.concatenate([np.ravel(s[k]).astype(np.float64) for k in s if "num_batches" not in k]) for s in (a, b))
    # --batch-size is the global batch: the same 6 steps as one process. Not 1e-5 here: on this data a rounding
    # change alone (FASTCONV_ALGO=norm=ref, one process) moves the weights by 1.7e-5 after 6 steps (max-pool
    # near-ties); per-rank statistics (no --sync-bn) move them by 9e-4
    assert np.linalg.norm(u - v) / np.linalg.norm(u) <= 1e-4
    with open(tmp_path / "two" / "history.json") as f:
        assert len(json.load(f)["history"]["loss"]) == 1


@needs_mpi
def test_a_checkpoint_of_either_world_size_resumes_on_the_other(tmp_path):
    f = lambda name: str(tmp_path / name)  # noqa: E731
    runs = [(["--save-ckpt", f("c1")], None, "u1"), (["--save-ckpt", f("c2")], 2, "u2"),  # uninterrupted
            (["--resume", f("c2")], None, "r1"), (["--resume", f("c1")], 2, "r2"), (["--resume", f("c2")], 2, "s2")]
    for args, np_, out in runs:
        p, _ = _run([f(out + ".npy"), "--bn", "sync"] + args, np_=np_)
        assert p.returncode == 0, p.stdout + p.stderr
    w = {out: np.load(f(out + ".npy")) for _, _, out in runs}
    rel = lambda a, b: np.linalg.norm(w[a] - w[b]) / np.linalg.norm(w[a])  # noqa: E731
    # written by rank 0 of 2 ranks, finished by one process (and the reverse): the uninterrupted run at the world
    # size that finished it, to the 1e-5 within which the two world sizes agree anyway
    assert rel("u1", "r1") <= 1e-5 and rel("u2", "r2") <= 1e-5
    np.testing.assert_array_equal(w["u2"], w["s2"])  # same world size: bit for bit (weights, statistics, momentum)
    np.testing.assert_array_equal(w["r2"], np.load(f("r2.npy") + ".rank1.npy"))
    assert json.loads(read_metadata(f("c2"))["checkpoint"])["info"] == {"next_step": 10, "world_size": 2}
    assert rel("u1", "u2") > 0  # the two world sizes really differ in rounding: the resumed runs' own check
    # is against their own world size's run


@needs_mpi
def test_cli_nproc_refuses_a_global_batch_the_processes_cannot_share(tmp_path):
    p = subprocess.run([sys.executable, "-m", "fastconv", "train", "--nproc", "2", "--batch-size", "5", "--data",
                        "shapes", "--out", str(tmp_path / "o")], env=_env(), capture_output=True, text=True,
                       timeout=120)
    assert p.returncode != 0
    assert "--batch-size 5 is the global batch: it must be a multiple of the 2 processes" in p.stderr, p.stderr
    assert not (tmp_path / "o").exists()


def _bn_net(sync):
    fc.manual_seed(4)
    m = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2))
    return nn.SyncBatchNorm.convert_sync_batchnorm(m) if sync else m


def test_sync_batch_norm_in_a_world_of_one_is_batch_norm():
    dist.init("local")
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((5, 2, 6, 6)).astype(np.float32), rng.integers(0, 2, 5)
    plain, synced = _bn_net(False), _bn_net(True)
    assert type(synced[1]).__name__ == "SyncBatchNorm" and list(synced.state_dict()) == list(plain.state_dict())
    nets = [fc.compile(m, x.shape, loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
            for m in (plain, synced)]
    assert "sync_batch_norm" not in nets[1].schedule()
    for _ in range(3):
        la, lb = (n.train_step(x, y) for n in nets)
        assert la == lb
    for k, v in plain.state_dict().items():
        np.testing.assert_array_equal(v, synced.state_dict()[k], err_msg=k)
    plain.eval(), synced.eval()
    np.testing.assert_array_equal(plain(x), synced(x))


@pytest.mark.parametrize("layer", ["conv2d", "linear"])
def test_sync_batch_norm_kernels_match_torch(monkeypatch, layer):
    # the synchronised op itself (forced: a world of one would use batch_norm), against torch's BatchNorm2d/1d on
    # [N, C, H, W] and [N, C]: forward output, input and parameter gradients through the layer before it, running
    # statistics
    torch = pytest.importorskip("torch")
    dist.init("local")
    monkeypatch.setattr(dist, "world_size", lambda: 2)
    rng = np.random.default_rng(5)
    conv = layer == "conv2d"
    x = (rng.standard_normal((4, 2, 6, 6) if conv else (7, 5)) * 3 + 1).astype(np.float32)
    t = rng.standard_normal((4, 3, 4, 4) if conv else (7, 3))
    fc.manual_seed(4)
    m = nn.Sequential(nn.Conv2d(2, 3, 3) if conv else nn.Linear(5, 3), nn.SyncBatchNorm(3, momentum=0.3))
    m[1].weight[...] = [0.5, 1.5, -2.0]
    m[1].bias[...] = [0.1, -0.2, 0.3]
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3) if conv else torch.nn.Linear(5, 3),
                             (torch.nn.BatchNorm2d if conv else torch.nn.BatchNorm1d)(3, momentum=0.3)).double()
    tm.load_state_dict({k: torch.from_numpy(np.array(v, np.float64)) for k, v in m.state_dict().items()})
    net = fc.compile(m, x.shape, loss="mse", optimizer=fc.optim.SGD(m.parameters(), lr=0.5))
    assert "sync_batch_norm_backward" in net.schedule()
    loss = net.train_step(x, t.astype(np.float32))
    tl = torch.nn.functional.mse_loss(tm(torch.from_numpy(x.astype(np.float64))), torch.from_numpy(t))
    tl.backward()
    with torch.no_grad():
        for p in tm.parameters():
            p -= 0.5 * p.grad
    assert abs(loss - tl.item()) <= 1e-5 * abs(tl.item())
    for k, v in tm.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        ours = np.asarray(m.state_dict()[k], np.float64)
        assert np.linalg.norm(ours - v.numpy()) <= 1e-5 * np.linalg.norm(v.numpy()), k


def test_convert_sync_batchnorm_shares_parameters_and_buffers():
    m = nn.Sequential(nn.BatchNorm1d(3), nn.Sequential(nn.Linear(3, 3), nn.BatchNorm2d(3, affine=False)))
    m[0].running_mean[...] = 2.0
    m[1].eval()
    c = nn.SyncBatchNorm.convert_sync_batchnorm(m)
    assert c is m and isinstance(c[0], nn.SyncBatchNorm) and isinstance(c[1][1], nn.SyncBatchNorm)
    assert c[0].weight is not None and c[0].running_mean is not None
    assert np.shares_memory(c[0].running_mean, np.asarray(m.state_dict()["0.running_mean"]))
    assert c[1][1].weight is None and not c[1][1].training and c[0].training
    assert list(c.state_dict()) == ["0.weight", "0.bias", "0.running_mean", "0.running_var",
                                    "0.num_batches_tracked", "1.0.weight", "1.0.bias", "1.1.running_mean",
                                    "1.1.running_var", "1.1.num_batches_tracked"]
    bn = nn.BatchNorm2d(4, eps=1e-3, momentum=0.2)
    s = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert isinstance(s, nn.SyncBatchNorm) and s.eps == 1e-3 and s.momentum == 0.2 and s.weight is bn.weight
    with pytest.raises(NotImplementedError, match="process_group"):
        nn.SyncBatchNorm(3, process_group=object())


class _Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x)


def test_local_backend_trains_like_no_wrapper():
    dist.init("local")
    assert dist.world_size() == 1 and dist.rank() == 0 and dist.backend() == "local"
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((6, 4)).astype(np.float32), rng.integers(0, 3, 6)
    fc.manual_seed(3)
    plain = _Tiny()
    fc.manual_seed(3)
    wrapped = dist.DistributedDataParallel(_Tiny(), bucket_cap_mb=1e-5)
    assert list(wrapped.state_dict()) == ["module.fc.weight", "module.fc.bias"]  # torch's keys
    nets = [fc.compile(m, x.shape, loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
            for m in (plain, wrapped)]
    for _ in range(3):
        la, lb = (n.train_step(x, y) for n in nets)
        assert la == lb
    assert nets[1].schedule().count("allreduce_wait") == 2 and "allreduce" not in nets[0].schedule()
    np.testing.assert_array_equal(plain.fc.weight, wrapped.module.fc.weight)
    a = np.arange(4, dtype=np.float32)
    np.testing.assert_array_equal(dist.all_reduce(a.copy(), op="mean"), a)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="backend"):
        dist.init("gloo")
    with pytest.raises(ValueError, match="timeout"):
        dist.init("local", timeout=0)
    with pytest.raises(ValueError, match="bucket_cap_mb"):
        dist.DistributedDataParallel(_Tiny(), bucket_cap_mb=0)
    with pytest.raises(TypeError, match="float32"):
        dist.init("local")
        dist.all_reduce(np.zeros(3))
    with pytest.raises(ValueError, match="rank"):
        dist.DistributedSampler(range(10), num_replicas=2, rank=2)


def test_ddp_before_init_says_what_to_do():
    code = ("import fastconv.distributed as d, fastconv.nn as nn\n"
            "try:\n    d.DistributedDataParallel(nn.Linear(2, 2))\nexcept RuntimeError as e:\n    print(e)\n")
    p = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True, timeout=60)
    assert "call fastconv.distributed.init() first" in p.stdout, p.stdout + p.stderr


@pytest.mark.parametrize("n,drop_last", [(10, False), (11, False), (11, True), (3, False)])
def test_sampler_shards_as_torch_without_shuffle(n, drop_last):
    torch = pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    for r in range(3):
        ours = dist.DistributedSampler(range(n), num_replicas=3, rank=r, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), num_replicas=3, rank=r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
    del torch


def test_sampler_shuffles_one_order_per_epoch_shared_by_the_ranks():
    shards = lambda e: [list(s) for s in  # noqa: E731
                        [dist.DistributedSampler(range(20), num_replicas=4, rank=r, seed=7) for r in range(4)]
                        if not s.set_epoch(e)]
    e0, e1 = shards(0), shards(1)
    assert sorted(sum(e0, [])) == list(range(20)) and sorted(sum(e1, [])) == list(range(20))  # disjoint, complete
    assert e0 != e1 and e0 == shards(0)  # reshuffled per epoch, the same on every call (shared seed)
