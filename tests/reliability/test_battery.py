"""The hostile-input battery (battery.py) as a test: no case may crash, hang, pass silently or give an error that
does not name its argument. Cases waiting for the lead's engine-core work are reported, not counted."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import battery  # noqa: E402
from cases import Case  # noqa: E402


def test_the_harness_tells_the_outcomes_apart():
    probes = [
        Case("probe.clear", "raise ValueError('conv2d: padding -1')", ("ValueError",), ("padding",)),
        Case("probe.subclass", "from fastconv.io import ArchitectureError\nraise ArchitectureError('f: x')",
             ("ValueError",), ("x",)),
        Case("probe.wrong_type", "raise KeyError('padding')", ("ValueError",), ("padding",)),
        Case("probe.no_word", "raise ValueError('bad')", ("ValueError",), ("padding",)),
        Case("probe.silent", "pass", ("ValueError",), ()),
        Case("probe.check_failed", "assert 1 == 2", None, ()),
        Case("probe.segfault", "import ctypes; ctypes.string_at(0)", ("ValueError",), ()),
        Case("probe.abort", "os.abort()", ("ValueError",), ()),
        Case("probe.exit", "os._exit(3)", ("ValueError",), ()),
        Case("probe.hang", "while True: pass", ("ValueError",), (), timeout=2.0),
        Case("probe.returns", "y = F.relu(x)", None, ()),
    ]
    want = ["CLEAR", "CLEAR", "UNCLEAR", "UNCLEAR", "SILENT", "SILENT", "CRASH", "CRASH", "CRASH", "HANG", "CLEAR"]
    for spawn in (False, True):
        got = [r.verdict for r in battery.run_battery(probes, jobs=4, spawn=spawn)]
        assert got == want, (spawn, list(zip([p.id for p in probes], got)))


def test_battery_has_no_crash_hang_silent_or_unclear_case():
    results = battery.run_battery()
    s = battery.summary(results)
    bad = [f"{r.verdict:8} {r.case.id}: {r.detail[:300]}" for r in results if not r.case.lead and r.verdict != "CLEAR"]
    lead = [f"{r.verdict:8} {r.case.id}" for r in results if r.case.lead]
    print(f"\nbattery: {s}\nwaiting for the lead's work:\n  " + "\n  ".join(lead))
    assert s["counted"] >= 150
    assert not bad, "\n".join(bad)
    assert s["CRASH"] == s["HANG"] == s["SILENT"] == s["UNCLEAR"] == 0


@pytest.mark.parametrize("kind", ["functional", "layers", "compiled", "model files", "cli"])
def test_battery_covers_every_area(kind):
    prefixes = {"functional": ("conv", "max_pool", "interpolate", "cross_entropy", "softmax"),
                "layers": ("ctor.",), "compiled": ("compile.", "train_step.", "predict.", "fit."),
                "model files": ("load.",), "cli": ("cli.",)}[kind]
    n = sum(c.id.startswith(prefixes) for c in battery.C if not c.lead)
    assert n >= 8, (kind, n)
