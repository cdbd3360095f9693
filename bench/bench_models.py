"""Whole-model training steps, fastconv vs PyTorch CPU, in one process with the same weights, data and threads.

One step = forward, cross-entropy loss, backward, SGD-momentum update. Models: ResNet-18 (torchvision structure,
fastconv.models.resnet18 when that module exists, else built here) and a VGG-11-style net (VGG-11 convs with
biases, no BN, a 2048-512-10 classifier for 64x64 inputs). fastconv runs fused and unfused (compile(fuse=...)).

Memory: fastconv's peak_bytes is its arena (every activation, saved tensor, gradient and kernel scratch of the
step; parameters, momentum buffers and the input batch live outside it). PyTorch's peak comes from its CPU memory
profiler (torch.profiler with profile_memory, record_shapes, with_stack and the memory timeline, which labels
every allocation): the maximum over the step of the bytes live in the categories activation, gradient,
temporary, autograd detail and unlabelled, i.e. everything except parameters, optimizer state and the inputs. The
ACTIVATION category alone is printed too.

    PYTHONPATH=python python3 bench/bench_models.py [--models resnet18,vgg11] [--batch 16] [--size 64]
        [--repeats 10] [--threads N] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import add_malloc_option, apply_malloc_option, machine, rotated, save_json, table  # noqa: E402

import fastconv as fc  # noqa: E402
import fastconv.functional as F  # noqa: E402
import fastconv.nn as fnn  # noqa: E402


# ---- models, written once against either framework's namespace (M = fastconv.nn or torch.nn) -------------------
def resnet18(M, Fn, num_classes=10):
    class BasicBlock(M.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = M.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.bn1 = M.BatchNorm2d(cout)
            self.relu = M.ReLU(inplace=True)
            self.conv2 = M.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.bn2 = M.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = M.Sequential(M.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                               M.BatchNorm2d(cout))

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            return self.relu(out + identity)

    class ResNet18(M.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = M.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
            self.bn1 = M.BatchNorm2d(64)
            self.relu = M.ReLU(inplace=True)
            self.maxpool = M.MaxPool2d(3, stride=2, padding=1)
            cin = 64
            for i, (c, s) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)]):
                setattr(self, f"layer{i + 1}", M.Sequential(BasicBlock(cin, c, s), BasicBlock(c, c, 1)))
                cin = c
            self.avgpool = M.AdaptiveAvgPool2d((1, 1))
            self.fc = M.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(Fn.flatten(self.avgpool(x), 1))

    return ResNet18()


def vgg11(M, Fn, num_classes=10, size=64):
    layers, cin = [], 3
    for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
        if v == "M":
            layers.append(M.MaxPool2d(2))
        else:
            layers += [M.Conv2d(cin, v, 3, padding=1), M.ReLU(inplace=True)]
            cin = v
    side = size // 32
    return M.Sequential(*layers, M.Flatten(), M.Linear(512 * side * side, 512), M.ReLU(inplace=True),
                        M.Linear(512, num_classes))


def fc_model(name, size):
    if name == "resnet18" and importlib.util.find_spec("fastconv.models") is not None:
        import fastconv.models as zoo
        if hasattr(zoo, "resnet18"):
            return zoo.resnet18(num_classes=10), "fastconv.models.resnet18"
    if name == "resnet18":
        return resnet18(fnn, F), "bench ResNet-18 (torchvision structure)"
    return vgg11(fnn, F, size=size), "bench VGG-11 style"


def torch_model(name, size):
    import torch
    return resnet18(torch.nn, torch) if name == "resnet18" else vgg11(torch.nn, None, size=size)


# ---- PyTorch's peak memory of one step ------------------------------------------------------------------------
def torch_peak(step) -> tuple[int, int]:
    """(peak bytes of everything but parameters / optimizer state / inputs, peak of the ACTIVATION category)."""
    from torch.profiler import ProfilerActivity, profile
    from torch.profiler._memory_profiler import _CATEGORY_TO_INDEX, Category, MemoryProfileTimeline

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, record_shapes=True, with_stack=True) as p:
        step()
    _, sizes = MemoryProfileTimeline(p._memory_profile())._coalesce_timeline("cpu")
    s = np.asarray(sizes, dtype=np.int64)
    col = {c: _CATEGORY_TO_INDEX[c] + 1 for c in _CATEGORY_TO_INDEX}
    keep = [col[c] for c in (Category.TEMPORARY, Category.ACTIVATION, Category.GRADIENT, Category.AUTOGRAD_DETAIL,
                             None)]
    return int(s[:, keep].sum(1).max()), int(s[:, col[Category.ACTIVATION]].max())


# ---- one model --------------------------------------------------------------------------------------------------
def alternating_medians(fns: dict, repeats: int, warmup: int = 1) -> dict:
    """Median seconds per fn, timing one call of each in turn per round, so load from other processes on a shared
    machine falls on all of them alike; the order rotates every round, so no fn always runs first or last."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    times = {k: [] for k in fns}
    for r in range(repeats):
        for k in rotated(list(fns), r):
            t0 = time.perf_counter()
            fns[k]()
            times[k].append(time.perf_counter() - t0)
    return {k: float(np.median(v)) for k, v in times.items()}


def bench_model(name, batch, size, repeats, lr=0.01, momentum=0.9):
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 3, size, size)).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    base, source = fc_model(name, size)
    state = {k: np.array(v, copy=True) for k, v in base.state_dict().items()}
    tmodel = torch_model(name, size)
    tmodel.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    tmodel.train()
    topt = torch.optim.SGD(tmodel.parameters(), lr=lr, momentum=momentum)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def tstep():
        topt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(tmodel(tx), ty)
        loss.backward()
        topt.step()
        return loss.detach()

    nets, info = {}, {}
    for fuse in (True, False):  # separate models: each compiled step updates its own weights and momentum
        m = base if fuse else fc_model(name, size)[0]
        m.load_state_dict(state)
        m.train()
        t0 = time.perf_counter()
        net = fc.compile(m, x.shape, loss="cross_entropy",
                         optimizer=fc.optim.SGD(m.parameters(), lr=lr, momentum=momentum), fuse=fuse)
        info[fuse] = dict(compile_s=time.perf_counter() - t0, loss=net.train_step(x, y), rep=net.memory_report())
        nets[fuse] = net
    t_loss = float(tstep())  # the first step from the shared weights: the three losses must agree
    sec = alternating_medians({"fused": lambda: nets[True].train_step(x, y),
                               "unfused": lambda: nets[False].train_step(x, y), "torch": tstep}, repeats)
    peak, act = torch_peak(tstep)
    rows = []
    for fuse in (True, False):
        rep = info[fuse]["rep"]
        s = sec["fused" if fuse else "unfused"]
        rows.append(dict(model=name, impl=f"fastconv {'fused' if fuse else 'unfused'}", steps_s=1.0 / s, ms=s * 1e3,
                         speed_vs_torch=sec["torch"] / s, peak_MiB=rep["peak_bytes"] / 2**20,
                         mem_vs_torch=rep["peak_bytes"] / peak, compile_s=info[fuse]["compile_s"],
                         fusions=sum(v for k, v in rep["fused"].items()
                                     if k not in ("conv_residual", "bn_add_relu", "early_updates"))))
    rows.append(dict(model=name, impl="torch", steps_s=1.0 / sec["torch"], ms=sec["torch"] * 1e3,
                     peak_MiB=peak / 2**20, act_MiB=act / 2**20))
    losses = {("fused" if k else "unfused"): v["loss"] for k, v in info.items()}
    agree = max(abs(v - t_loss) / max(1e-12, abs(t_loss)) for v in losses.values())
    return rows, dict(source=source, first_loss_torch=t_loss, first_loss_fastconv=losses, first_loss_rel_diff=agree)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="resnet18,vgg11")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None, help="both frameworks (default: fastconv's count)")
    ap.add_argument("--json", default=None)
    add_malloc_option(ap)
    a = ap.parse_args(argv)
    apply_malloc_option(a.malloc)
    import torch

    threads = a.threads or fc.get_num_threads()
    fc.set_num_threads(threads)
    torch.set_num_threads(threads)
    rows, notes = [], {}
    for name in a.models.split(","):
        r, n = bench_model(name.strip(), a.batch, a.size, a.repeats)
        rows += r
        notes[name] = n
    info = machine()
    print(f"machine: {info}")
    print(f"batch {a.batch}, {a.size}x{a.size}, 10 classes, SGD momentum 0.9, {threads} threads, median of "
          f"{a.repeats} steps after 1 warm-up, implementations timed in turn")
    for name, n in notes.items():
        print(f"{name}: {n['source']}; first-step loss torch {n['first_loss_torch']:.6f}, fastconv "
              f"{ {k: round(v, 6) for k, v in n['first_loss_fastconv'].items()} } "
              f"(rel diff {n['first_loss_rel_diff']:.1e})")
    print(table(rows, ["model", "impl", "steps_s", "ms", "speed_vs_torch", "peak_MiB", "act_MiB", "mem_vs_torch",
                       "fusions", "compile_s"]))
    save_json(a.json, dict(machine=info, rows=rows, notes=notes, batch=a.batch, size=a.size, threads=threads))


if __name__ == "__main__":
    main()
