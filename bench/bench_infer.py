"""Inference latency: fastconv (Python, fc.compile(...).predict) vs ONNX Runtime (CPU EP) vs PyTorch eager, same
weights, inputs and thread count, in one process.

ONNX Runtime runs the model fastconv.onnx.export writes (intra_op_num_threads = --threads, inter_op 1,
ORT_ENABLE_ALL). PyTorch runs the torchvision-layout modules of tests/test_models_torch.py with fastconv's weights
loaded (ResNet-18 and GoogLeNet; the other models have no torch layout written out yet: "n/a"). Outputs are checked
equal (rel <= 1e-4 against fastconv) before timing; times are medians over interleaved rounds after warm-up
(common.py). ratio_X = X time / fastconv time (> 1: fastconv is faster).
The C++ API column (cpp_ms) times fastconv::Model::predict on the file fc.save writes, in the program
bench/bench_infer.cpp (CMake target fastconv_bench_infer, built with FASTCONV_BUILD_TESTS; --cpp-bin, default
build/dev/fastconv_bench_infer; "n/a" when absent). It runs in a process of its own, once per round between the
in-process rounds, and reports its own median over --repeats calls after warm-up; cpp_ms is the median of those.

    PYTHONPATH=python python3 bench/bench_infer.py [--models resnet18,resnet50,vgg16,googlenet] [--batches 1,16]
        [--size 224] [--threads 2] [--repeats 5] [--rounds 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import interleaved_medians, machine, save_json, table  # noqa: E402

import fastconv as fc  # noqa: E402
import fastconv.models as M  # noqa: E402

MODELS = {"resnet18": dict(num_classes=1000), "resnet50": dict(num_classes=1000),
          "vgg16": dict(num_classes=1000), "googlenet": dict(num_classes=1000)}


def torch_model(name: str, fmodel):
    """The torch twin of a zoo model with its weights, or None when there is no torch layout (or no torch)."""
    try:
        import torch
        sys.path.insert(0, os.path.join(HERE, "..", "tests"))
        import test_models_torch as T
    except Exception:  # noqa: BLE001 - torch is optional
        return None
    cls = {"resnet18": "TResNet18", "googlenet": "TGoogLeNet"}.get(name)
    if cls is None:
        return None
    t = getattr(T, cls)()
    sd = {k: torch.tensor(np.asarray(v)) for k, v in fmodel.state_dict().items()}
    if list(sd) != list(t.state_dict()):
        return None
    t.load_state_dict(sd)
    return t.eval()


def rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - np.asarray(b)).max() / max(np.abs(np.asarray(b)).max(), 1e-30))


def cpp_times(binary: str, model, x: np.ndarray, repeats: int, rounds: int, threads: int, shape_out, tmp: str):
    """(median ms over rounds, output) of fastconv::Model::predict in bench_infer.cpp."""
    mpath, xpath, ypath = (os.path.join(tmp, n) for n in ("model.fcm", "x.f32", "y.f32"))
    fc.save(model, mpath, input_shape=x.shape)
    x.tofile(xpath)
    meds = []
    for _ in range(rounds):
        out = subprocess.run([binary, mpath, xpath, *map(str, x.shape), str(repeats), str(threads), ypath],
                             check=True, capture_output=True, text=True).stdout
        meds.append(json.loads(out.strip().splitlines()[-1])["median_ms"])
    return float(np.median(meds)), np.fromfile(ypath, np.float32).reshape(shape_out)


def main(argv=None) -> dict:
    import onnxruntime as ort
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet18,resnet50,vgg16,googlenet")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json")
    ap.add_argument("--cpp-bin", default=os.path.join(HERE, "..", "build", "dev", "fastconv_bench_infer"))
    args = ap.parse_args(argv)
    cpp_bin = args.cpp_bin if os.path.isfile(args.cpp_bin) and os.access(args.cpp_bin, os.X_OK) else None
    fc.set_num_threads(args.threads)
    try:
        import torch
        torch.set_num_threads(args.threads)
    except ImportError:
        torch = None
    rows = []
    for name in args.models.split(","):
        fc.manual_seed(0)
        model = M.get(name, **MODELS[name]).eval()
        tmodel = torch_model(name, model)
        proto = fc.onnx.export(model, (1, 3, args.size, args.size))
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = args.threads, 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        sess = ort.InferenceSession(proto.SerializeToString(), so, providers=["CPUExecutionProvider"])
        for batch in (int(b) for b in args.batches.split(",")):
            x = np.random.default_rng(batch).standard_normal((batch, 3, args.size, args.size)).astype(np.float32)
            net = fc.compile(model, x.shape)
            ours = net.predict(x)
            fns = {"fastconv": lambda: net.predict(x), "onnxruntime": lambda: sess.run(None, {"input": x})}
            checks = {"onnxruntime": rel(sess.run(None, {"input": x})[0], ours)}
            if tmodel is not None:
                xt = torch.from_numpy(x)

                def run_torch():
                    with torch.no_grad():
                        return tmodel(xt)
                checks["torch"] = rel(run_torch().numpy(), ours)
                fns["torch"] = run_torch
            cpp_ms = "n/a"
            if cpp_bin is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    cpp_ms, cpp_out = cpp_times(cpp_bin, model, x, args.repeats, args.rounds, args.threads,
                                                ours.shape, tmp)
                checks["cpp"] = rel(cpp_out, ours)
            outputs_equal = all(v <= 1e-4 for v in checks.values())
            assert outputs_equal, (name, batch, checks)
            t = interleaved_medians(fns, repeats=args.repeats, rounds=args.rounds)
            row = dict(model=name, batch=batch, size=args.size, threads=args.threads,
                       fastconv_ms=round(t["fastconv"] * 1e3, 2), ort_ms=round(t["onnxruntime"] * 1e3, 2),
                       torch_ms=round(t["torch"] * 1e3, 2) if "torch" in t else "n/a",
                       cpp_ms=round(cpp_ms, 2) if cpp_ms != "n/a" else "n/a",
                       ratio_ort=round(t["onnxruntime"] / t["fastconv"], 3),
                       ratio_torch=round(t["torch"] / t["fastconv"], 3) if "torch" in t else "n/a",
                       ratio_cpp=round(cpp_ms / 1e3 / t["fastconv"], 3) if cpp_ms != "n/a" else "n/a",
                       outputs_equal=outputs_equal, max_rel=max(checks.values()),
                       folded_steps=int(net._program("eval", x.shape).exe.folded_steps))
            rows.append(row)
            print(table([row], list(row)), flush=True)
    print(table(rows, list(rows[0])))
    payload = dict(machine=machine(), onnxruntime=ort.__version__,
                   torch=getattr(torch, "__version__", None), rows=rows)
    save_json(args.json, payload)
    return payload


if __name__ == "__main__":
    main()
