"""The hostile-input battery: every case of cases.py and cases_model.py runs in its own interpreter with a timeout
and is classified

    CLEAR    the expected exception type, and every required word (argument, value) in the message
    UNCLEAR  an exception of another type, or a message missing a required word
    SILENT   no exception where one was expected (or the case's own check failed)
    CRASH    the interpreter died (signal, abort, or exited without reporting)
    HANG     it ran past its timeout

    python tests/reliability/battery.py [-j N] [-k SUBSTRING] [--json out.json]

Cases marked `lead` wait for the engine-core work; they are listed apart and never counted as passing.
"""
from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from cases import C, Case  # noqa: E402
import cases_model  # noqa: E402,F401  (registers its cases in C)

MARK = "@@BATTERY@@"

PRELUDE_DEFS = r'''
import contextlib, io, json, os, struct, sys, tempfile
import numpy as np
import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from fastconv.io import save_safetensors

x = np.ones((1, 1, 4, 4), np.float32)
w = np.ones((1, 1, 3, 3), np.float32)
x1 = np.ones((1, 1, 4), np.float32)


class CLIFailed(Exception):
    """The CLI exited non-zero; the message is what it printed on stderr."""


def crafted(arch, tensors=None, raw=None, extra=None, name="m.safetensors"):
    p = os.path.join(TMP, name)
    meta = {"format": "fastconv", "architecture": raw if raw is not None else json.dumps(arch)}
    meta.update(extra or {})
    save_safetensors({} if tensors is None else tensors, p, meta)
    return p


def raw_file(data, name="r.safetensors"):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


def header_file(header, data=b"", name="h.safetensors"):
    hj = json.dumps(header).encode()
    return raw_file(struct.pack("<Q", len(hj)) + hj + data, name)


def cli(*args):
    from fastconv.cli import main
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            rc = main([str(a) for a in args])
        except SystemExit as e:
            rc = e.code
    if rc:
        if "Traceback" in err.getvalue():
            raise RuntimeError("traceback printed: " + err.getvalue()[-500:])
        raise CLIFailed(err.getvalue().strip())
    return rc
'''

PRELUDE = PRELUDE_DEFS + '''
TMP = tempfile.mkdtemp(prefix="fc-battery-")
os.chdir(TMP)
'''

CHILD = PRELUDE + r'''
_code = sys.stdin.read()
try:
    exec(compile(_code, "<case>", "exec"))
except BaseException as e:  # noqa: BLE001 - reporting it is the point
    _r = {"raised": type(e).__name__, "message": str(e)[:4000], "mro": [k.__name__ for k in type(e).__mro__]}
else:
    _r = {"raised": None}
sys.stdout.write("\n@@BATTERY@@" + json.dumps(_r) + "\n")
sys.stdout.flush()
os._exit(0)  # no interpreter teardown: a case's leftovers cannot turn a result into a crash
'''


@dataclass
class Result:
    case: Case
    verdict: str
    detail: str
    seconds: float


def classify(c: Case, rc: int | None, out: str, err: str) -> tuple[str, str]:
    if rc is None:
        return "HANG", f"no result after {c.timeout:.0f} s"
    line = next((ln for ln in reversed(out.splitlines()) if ln.startswith(MARK)), None)
    if rc != 0 or line is None:
        how = f"killed by signal {-rc}" if rc < 0 else f"exit status {rc}"
        return "CRASH", f"{how}; stderr: {err.strip()[-300:]}"
    r = json.loads(line[len(MARK):])
    if c.exc is None:  # a valid input that once crashed or hung: it must simply work
        if r["raised"] is None:
            return "CLEAR", "returned"
        return ("SILENT" if r["raised"] == "AssertionError" else "UNCLEAR"), f"{r['raised']}: {r['message']}"
    if r["raised"] is None:
        return "SILENT", "no exception"
    msg = f"{r['raised']}: {r['message']}"
    if not set(r["mro"]) & set(c.exc):  # the type or a subclass of it (ArchitectureError is a ValueError)
        return "UNCLEAR", f"expected {'/'.join(c.exc)}; got {msg}"
    missing = [wd for wd in c.words if wd not in r["message"]]
    if missing:
        return "UNCLEAR", f"message lacks {missing}: {msg}"
    return "CLEAR", msg


def _default_python_dir() -> str:
    """The folder holding the fastconv this interpreter would import (an installed wheel in CI, ./python in a
    development tree): the cases must test that package, not a source tree without its built extension."""
    import importlib.util
    spec = importlib.util.find_spec("fastconv")
    if spec is None or not spec.origin:
        return os.path.join(ROOT, "python")
    return os.path.dirname(os.path.dirname(spec.origin))


PYTHON_DIR = _default_python_dir()  # --python-dir runs the battery against another tree's package


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=PYTHON_DIR + os.pathsep + os.environ.get("PYTHONPATH", ""),
                MPLBACKEND="Agg", FASTCONV_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")


def run_case(c: Case) -> Result:
    """One case in a fresh interpreter (--spawn)."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, "-c", CHILD], input=c.code, capture_output=True, text=True,
                           timeout=c.timeout, env=_env())
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        rc, out, err = None, "", ""
    verdict, detail = classify(c, rc, out, err)
    return Result(c, verdict, detail, time.perf_counter() - t0)


def run_forked(cases: list, jobs: int) -> list:
    """Every case in a child forked from one server that imported fastconv once (forkserver.py)."""
    payload = json.dumps([[c.id, c.code, c.timeout] for c in cases])
    p = subprocess.run([sys.executable, os.path.join(HERE, "forkserver.py"), str(jobs)], input=payload,
                       capture_output=True, text=True, env=_env(), timeout=sum(c.timeout for c in cases) + 60)
    line = next((ln for ln in p.stdout.splitlines() if ln.startswith("@@RESULTS@@")), None)
    if line is None:
        raise RuntimeError(f"battery: the fork server failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    out = []
    for c, (rc, o, e, secs) in zip(cases, json.loads(line[len("@@RESULTS@@"):])):
        verdict, detail = classify(c, rc, o, e)
        out.append(Result(c, verdict, detail, secs))
    return out


def run_battery(cases=None, jobs: int | None = None, spawn: bool = False) -> list:
    cases = list(C if cases is None else cases)
    ids = [c.id for c in cases]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise ValueError(f"battery: duplicate case ids {dup}")
    jobs = jobs or max(2, os.cpu_count() or 2)
    if not spawn and hasattr(os, "fork"):
        return run_forked(cases, jobs)
    with cf.ThreadPoolExecutor(max_workers=jobs) as pool:  # each worker waits on its own interpreter
        return list(pool.map(run_case, cases))


def summary(results: list[Result]) -> dict:
    counted = [r for r in results if not r.case.lead]
    kinds = ("CLEAR", "UNCLEAR", "SILENT", "CRASH", "HANG")
    return {"cases": len(results), "counted": len(counted),
            **{k: sum(r.verdict == k for r in counted) for k in kinds},
            "lead": {k: sum(r.verdict == k for r in results if r.case.lead) for k in kinds}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-j", "--jobs", type=int, default=None)
    ap.add_argument("-k", default="", help="run only cases whose id contains this")
    ap.add_argument("--json", default=None, help="write every result to this file")
    ap.add_argument("-v", action="store_true", help="print every case, not only the failing ones")
    ap.add_argument("--spawn", action="store_true", help="a fresh interpreter per case instead of forked children")
    ap.add_argument("--python-dir", default=None, help="the fastconv package's parent folder (default: ./python)")
    a = ap.parse_args(argv)
    if a.python_dir:
        global PYTHON_DIR
        PYTHON_DIR = os.path.abspath(a.python_dir)
    cases = [c for c in C if a.k in c.id]
    t0 = time.perf_counter()
    res = run_battery(cases, a.jobs, a.spawn)
    for r in res:
        if a.v or r.verdict != "CLEAR":
            tag = f"{r.verdict}{' (lead)' if r.case.lead else ''}"
            print(f"{tag:16} {r.case.id:45} {r.seconds:5.1f}s  {r.detail[:200]}")
    s = summary(res)
    print(f"\n{s['cases']} cases in {time.perf_counter() - t0:.0f} s; counted {s['counted']}: " +
          ", ".join(f"{k} {s[k]}" for k in ("CLEAR", "UNCLEAR", "SILENT", "CRASH", "HANG")) +
          f"; waiting for the lead's work: {sum(s['lead'].values())} " +
          "(" + ", ".join(f"{k} {v}" for k, v in s["lead"].items() if v) + ")")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"summary": s, "results": [dict(id=r.case.id, verdict=r.verdict, lead=r.case.lead,
                                                      seconds=round(r.seconds, 2), detail=r.detail)
                                                 for r in res]}, f, indent=1)
    return 0 if s["counted"] == s["CLEAR"] else 1


if __name__ == "__main__":
    sys.exit(main())
