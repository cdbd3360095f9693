"""Op benchmarks, fastconv vs PyTorch CPU (and NumPy for SGEMM), side by side in one process.

    python bench/bench_ops.py [--threads N] [--repeats R] [--json out.json] [--only sgemm,conv]

SGEMM: GFLOP/s of fastconv's own SGEMM vs NumPy's matmul (OpenBLAS) on the same float32 arrays.
Conv layers: forward+backward (input and weight gradients) of VGG and ResNet conv layer shapes at batch 8.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import (add_malloc_option, apply_malloc_option, interleaved_medians, machine, median_time,  # noqa: E402
                    save_json, table)

import fastconv as fc  # noqa: E402
import fastconv.functional as F  # noqa: E402

SGEMM_SHAPES = [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048),
                (64, 3136, 576), (256, 784, 2304), (512, 196, 4608)]

# (name, C_in, C_out, H=W, kernel, stride, padding) at batch 8.
CONV_LAYERS = [
    ("vgg conv1_2", 64, 64, 56, 3, 1, 1), ("vgg conv2_2", 128, 128, 28, 3, 1, 1),
    ("vgg conv3_2", 256, 256, 14, 3, 1, 1), ("vgg conv4_2", 512, 512, 7, 3, 1, 1),
    ("resnet 3x3/64", 64, 64, 56, 3, 1, 1), ("resnet 3x3/128 s2", 64, 128, 56, 3, 2, 1),
    ("resnet 1x1/256", 64, 256, 56, 1, 1, 0), ("resnet 1x1/64", 256, 64, 56, 1, 1, 0),
    ("resnet 1x1/512 s2", 256, 512, 56, 1, 2, 0), ("resnet 7x7 stem", 3, 64, 112, 7, 2, 3),
]


def bench_sgemm(repeats: int) -> list[dict]:
    rows = []
    rng = np.random.default_rng(0)
    for m, n, k in SGEMM_SHAPES:
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        flop = 2.0 * m * n * k
        t_fc = median_time(lambda: fc._C.sgemm(a, b), repeats)
        t_np = median_time(lambda: a @ b, repeats)
        rows.append({"shape MxNxK": f"{m}x{n}x{k}", "fastconv GFLOP/s": flop / t_fc / 1e9,
                     "numpy GFLOP/s": flop / t_np / 1e9, "fastconv/numpy": t_np / t_fc})
    return rows


def bench_conv(repeats: int) -> list[dict]:
    """Per layer: forward alone, and forward+backward (grads of input and weight); backward = the difference,
    measured the same way for both frameworks."""
    import torch

    rows = []
    rng = np.random.default_rng(0)
    for name, cin, cout, hw, k, s, p in CONV_LAYERS:
        x = rng.standard_normal((8, cin, hw, hw), dtype=np.float32)
        w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(np.float32)
        step = fc.value_and_grad(lambda x, w: F.conv2d(x, w, stride=s, padding=p).sum(), argnums=(0, 1))
        fwd = fc.trace(lambda x, w: F.conv2d(x, w, stride=s, padding=p), x, w)
        algo = fwd.exe.schedule().split("<", 1)[1].split(">", 1)[0]
        tx = torch.tensor(x, requires_grad=True)
        tw = torch.tensor(w, requires_grad=True)

        def torch_step():
            tx.grad = tw.grad = None
            torch.nn.functional.conv2d(tx, tw, stride=s, padding=p).sum().backward()

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, stride=s, padding=p)

        t = interleaved_medians({"f_fc": lambda: fwd.run([x, w]), "f_pt": torch_fwd, "t_fc": lambda: step(x, w),
                                 "t_pt": torch_step}, repeats=max(1, repeats // 3), rounds=3)
        f_fc, f_pt, t_fc, t_pt = t["f_fc"], t["f_pt"], t["t_fc"], t["t_pt"]
        rows.append({"layer": name, "shape": f"{cin}->{cout} {hw}x{hw} k{k} s{s}", "algo": algo,
                     "fwd speedup": f_pt / f_fc, "fastconv fwd+bwd ms": t_fc * 1e3, "torch fwd+bwd ms": t_pt * 1e3,
                     "fwd+bwd speedup": t_pt / t_fc,
                     "bwd speedup": max(t_pt - f_pt, 1e-9) / max(t_fc - f_fc, 1e-9)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--json", default=None)
    ap.add_argument("--only", default="sgemm,conv")
    add_malloc_option(ap)
    args = ap.parse_args()
    apply_malloc_option(args.malloc)
    import torch

    threads = args.threads or fc.get_num_threads()
    fc.set_num_threads(threads)
    torch.set_num_threads(threads)
    info = machine()
    print("machine:", info)
    out = {"machine": info}
    only = set(args.only.split(","))
    if "sgemm" in only:
        out["sgemm"] = bench_sgemm(args.repeats)
        print("\nSGEMM (float32), fastconv vs NumPy\n" + table(
            out["sgemm"], ["shape MxNxK", "fastconv GFLOP/s", "numpy GFLOP/s", "fastconv/numpy"]))
    if "conv" in only:
        out["conv"] = bench_conv(args.repeats)
        if out["conv"]:
            print("\nconv2d forward+backward, batch 8, fastconv vs PyTorch CPU\n" + table(
                out["conv"], ["layer", "shape", "algo", "fwd speedup", "fastconv fwd+bwd ms", "torch fwd+bwd ms",
                              "fwd+bwd speedup", "bwd speedup"]))
    save_json(args.json, out)


if __name__ == "__main__":
    main()
