"""Training steps and inference on the GPU, fastconv (device='cuda', our kernels, CUDA-Graph replay) vs PyTorch
CUDA (cuDNN/cuBLAS), in one process with the same weights and data, the two taking turns (interleaved_medians).
One step = forward, cross-entropy, backward, SGD-momentum update; fastconv's includes its copy of the model's
state to the device and back (compile(..., device='cuda') keeps the host arrays the truth). Times are medians of
wall time with the GPU synchronised after every call (PyTorch: torch.cuda.synchronize(); fastconv returns NumPy,
so its calls end synchronised). Needs a real GPU (the CUDA emulator's timings say nothing): bench/gpu_check.sh runs it.

    python3 bench/bench_cuda.py [--models resnet18,vgg11] [--batch 64] [--size 64] [--repeats 10] [--json out]

The models are bench_models.py's (the same structure in both frameworks, the same weights).
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_models import fc_model, torch_model  # noqa: E402
from common import interleaved_medians, machine, save_json, table  # noqa: E402

import fastconv as fc  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="resnet18,vgg11")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json")
    a = ap.parse_args()
    if not fc.cuda.is_available() or fc.cuda.is_emulated():
        print("bench_cuda: needs a real CUDA device (fastconv.cuda.is_available() and not is_emulated())")
        return 2
    import torch

    rows = []
    rng = np.random.default_rng(0)
    for name in a.models.split(","):
        fc.manual_seed(0)
        m, _ = fc_model(name, a.size)
        x = rng.standard_normal((a.batch, 3, a.size, a.size)).astype(np.float32)
        y = rng.integers(0, 10, a.batch)
        tm = torch_model(name, a.size)
        tm.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in m.state_dict().items()})
        tm = tm.cuda()
        topt = torch.optim.SGD(tm.parameters(), lr=0.01, momentum=0.9)
        xt, yt = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
        net = fc.compile(m, x.shape, loss="cross_entropy", optimizer=fc.optim.SGD(m.parameters(), lr=0.01,
                                                                                  momentum=0.9), device="cuda")
        infer = fc.compile(m, x.shape, device="cuda")

        def torch_step():
            topt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(tm(xt), yt).backward()
            topt.step()
            torch.cuda.synchronize()

        def torch_infer():
            with torch.no_grad():
                tm.eval()
                tm(xt)
                tm.train()
            torch.cuda.synchronize()

        t = interleaved_medians({"fc_step": lambda: net.train_step(x, y), "torch_step": torch_step,
                                 "fc_infer": lambda: infer.predict(x), "torch_infer": torch_infer},
                                repeats=a.repeats)
        rows.append({"model": name, "batch": a.batch, "fastconv step ms": 1e3 * t["fc_step"],
                     "torch step ms": 1e3 * t["torch_step"], "step speedup": t["torch_step"] / t["fc_step"],
                     "fastconv infer ms": 1e3 * t["fc_infer"], "torch infer ms": 1e3 * t["torch_infer"],
                     "infer speedup": t["torch_infer"] / t["fc_infer"]})
    info = machine()
    info["gpu"] = fc.cuda.get_device_name(0)
    print("machine:", info)
    print(table(rows, list(rows[0])))
    if a.json:
        save_json(a.json, {"machine": info, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
