"""Inference, fastconv vs ONNX Runtime (CPU EP) on the same exported models, in one process with the same weights,
inputs and thread count.

Each zoo model is exported with fastconv.onnx.export (BN kept as BatchNormalization; ONNX Runtime fuses it itself
with its default graph optimisations) and run by an onnxruntime InferenceSession (intra_op_num_threads = --threads,
inter_op 1, ORT_ENABLE_ALL); fastconv runs the compiled model (fc.compile(...).predict) with set_num_threads. The
outputs are checked equal (rel <= 1e-4) before timing. Times are medians over interleaved rounds (common.py).
ratio = ONNX Runtime time / fastconv time (> 1: fastconv is faster).

    PYTHONPATH=python python3 bench/bench_onnx.py [--models resnet18,vgg11_bn,googlenet] [--batches 1,16]
        [--size 112] [--threads 2] [--repeats 5] [--rounds 2] [--json out.json]
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import interleaved_medians, machine, save_json, table  # noqa: E402

import fastconv as fc  # noqa: E402
import fastconv.models as M  # noqa: E402

MODELS = {"resnet18": dict(num_classes=1000), "vgg11_bn": dict(num_classes=1000, hidden=4096, avgpool_size=1),
          "googlenet": dict(num_classes=1000), "resnet50": dict(num_classes=1000)}


def main() -> None:
    import onnxruntime as ort
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,vgg11_bn,googlenet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--size", type=int, default=112)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--json")
    args = ap.parse_args()
    fc.set_num_threads(args.threads)
    rows = []
    for name in args.models.split(","):
        fc.manual_seed(0)
        model = M.get(name, **MODELS[name]).eval()
        proto = fc.onnx.export(model, (1, 3, args.size, args.size))
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
        for batch in (int(b) for b in args.batches.split(",")):
            x = np.random.default_rng(batch).standard_normal((batch, 3, args.size, args.size)).astype(np.float32)
            net = fc.compile(model, x.shape)
            a, b = net.predict(x), sess.run(None, {"input": x})[0]
            rel = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))
            assert rel <= 1e-4, (name, batch, rel)
            t = interleaved_medians({"fastconv": lambda: net.predict(x),
                                     "onnxruntime": lambda: sess.run(None, {"input": x})},
                                    repeats=args.repeats, rounds=args.rounds)
            rows.append(dict(model=name, batch=batch, size=args.size, threads=args.threads,
                             fastconv_ms=round(t["fastconv"] * 1e3, 2), ort_ms=round(t["onnxruntime"] * 1e3, 2),
                             ratio=round(t["onnxruntime"] / t["fastconv"], 3), max_rel=f"{rel:.1e}"))
            print(table(rows[-1:], list(rows[-1])), flush=True)
    print(table(rows, list(rows[0])))
    save_json(args.json, dict(machine=machine(), onnxruntime=ort.__version__, rows=rows))


if __name__ == "__main__":
    main()
