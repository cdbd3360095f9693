"""Benchmark helpers: warm-up then the median of repeats, the machine description, and a result table.

fastconv and PyTorch are always measured in the same process, alternating, with the same thread count.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from typing import Callable


def median_time(fn: Callable[[], object], repeats: int = 10, warmup: int = 2, min_time: float = 0.0,
                settle: float = 0.3) -> float:
    """Median wall time of fn() in seconds over `repeats` runs after `warmup` runs.

    `settle` seconds of sleep come first: after a call, OpenBLAS (NumPy) and OpenMP (PyTorch) keep their worker
    threads spinning for a while, and on a small machine those spinning threads would steal the cores from whichever
    library is measured next. fastconv's pool sleeps at once, so without the pause the comparison is unfair to it.
    """
    time.sleep(settle)
    for _ in range(warmup):
        fn()
    times = []
    t_start = time.perf_counter()
    while len(times) < repeats or time.perf_counter() - t_start < min_time:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def rotated(keys: list, r: int) -> list:
    """keys starting at position r (mod len): round r's order, so that across rounds each one leads in turn (with
    a fixed order, the drift of a shared VM within a round fell on the same one every time)."""
    i = r % len(keys) if keys else 0
    return keys[i:] + keys[:i]


def interleaved_medians(fns: dict[str, Callable[[], object]], repeats: int = 10, rounds: int = 3,
                        settle: float = 0.3) -> dict[str, float]:
    """Median wall time (seconds) per fn over `rounds` rounds of `repeats` calls each, the fns taking turns round
    by round in a rotating order (each block after a `settle` pause and one untimed call). On a shared VM whose speed drifts by 1.5-2x
    over seconds, blocks measured minutes apart compare two different machines; taking turns spreads the drift
    over every fn alike."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for k in rotated(list(fns), r):
            fn = fns[k]
            time.sleep(settle)
            fn()
            for _ in range(repeats):
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


# glibc settings under which freed memory stays in the process: no block is mmap'ed (so none is unmapped on free)
# and the heap is never trimmed. PyTorch allocates fresh tensors every step; out of the box each large one is a new
# mapping whose pages fault in on first touch (~8,000 faults per conv fwd+bwd here), which under a hypervisor
# doubles PyTorch's time on some runs and not others, depending on glibc's adaptive threshold. Tuned, PyTorch runs
# at its best and steadily, which makes every speedup we report a conservative one.
TUNED_MALLOC = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(1 << 40)}


def add_malloc_option(ap) -> None:
    ap.add_argument("--malloc", choices=["tuned", "default"], default="tuned",
                    help="tuned (default): glibc keeps freed memory, PyTorch's tensors fault no pages and it runs at "
                         "its best; default: glibc as it comes (PyTorch's times then vary up to 2x between runs)")


def apply_malloc_option(choice: str) -> None:
    """Re-executes this script with TUNED_MALLOC in the environment (glibc reads it only at start-up)."""
    import sys

    if choice == "tuned" and any(os.environ.get(k) != v for k, v in TUNED_MALLOC.items()):
        os.execve(sys.executable, [sys.executable] + sys.argv, {**os.environ, **TUNED_MALLOC})


def machine() -> dict:
    info = {"python": platform.python_version(), "cores": os.cpu_count(),
            "malloc": "tuned" if all(os.environ.get(k) == v for k, v in TUNED_MALLOC.items()) else "default"}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except OSError:
        info["cpu"] = platform.processor()
    try:
        import fastconv

        info["fastconv_isa"] = fastconv.get_isa()
        info["fastconv_threads"] = fastconv.get_num_threads()
        info["gpu"] = fastconv.cuda.get_device_name(0) if fastconv.cuda.is_available() else None
    except Exception:  # the description must never stop a benchmark
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    return info


def table(rows: list[dict], cols: list[str]) -> str:
    """A Markdown table of rows (dicts) with the given columns."""
    fmt = lambda v: f"{v:.3g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def save_json(path: str | None, payload: dict) -> None:
    if path:
        with open(path, "w") as f:
            json.dump(payload, f, indent=2)
