"""Where a compiled step spends its time: per-kernel wall times measured inside the C++ executor.

    prof = compiled.profile(x, y, steps=10)   # a train step when y is given, else inference
    print(prof)                               # kernels grouped by op and algorithm, slowest first
    prof.table(by="step")                     # one row per scheduled kernel, with its layer
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelTime:
    step: int
    op: str
    algo: str
    scope: str
    ms: float  # mean per run


class Profile:
    def __init__(self, rows: list[dict], runs: int, kind: str):
        self.runs = runs
        self.kind = kind
        self.kernels = [KernelTime(r["step"], r["op"], r["algo"], r["scope"], r["total_ms"] / max(1, r["calls"]))
                        for r in rows]

    @property
    def total_ms(self) -> float:
        """Mean time of one run summed over kernels (excludes Python and input binding)."""
        return sum(k.ms for k in self.kernels)

    def by_op(self) -> list[tuple[str, float, int]]:
        """(op <algo>, mean ms per run, kernel count), slowest first."""
        acc: dict[str, list] = defaultdict(lambda: [0.0, 0])
        for k in self.kernels:
            key = f"{k.op} <{k.algo}>" if k.algo else k.op
            acc[key][0] += k.ms
            acc[key][1] += 1
        return sorted(((key, v[0], v[1]) for key, v in acc.items()), key=lambda t: -t[1])

    def table(self, by: str = "op", top: int | None = None) -> str:
        if by not in ("op", "step"):
            raise ValueError(f"Profile.table: by must be 'op' or 'step', got {by!r}")
        total = self.total_ms or 1.0
        lines = [f"{self.kind} step profile: {self.total_ms:.2f} ms per run in kernels (mean of {self.runs} runs)"]
        if by == "op":
            rows = self.by_op()[:top]
            lines.append(f"{'op <algorithm>':<44}{'count':>6}{'ms':>10}{'%':>7}")
            lines += [f"{key:<44}{n:>6}{ms:>10.3f}{100 * ms / total:>7.1f}" for key, ms, n in rows]
        else:
            ks = sorted(self.kernels, key=lambda k: -k.ms)[:top] if top else self.kernels
            lines.append(f"{'#':>4}  {'op <algorithm>':<40}{'layer':<28}{'ms':>9}{'%':>7}")
            for k in ks:
                key = f"{k.op} <{k.algo}>" if k.algo else k.op
                lines.append(f"{k.step:>4}  {key:<40}{k.scope[:27]:<28}{k.ms:>9.3f}{100 * k.ms / total:>7.1f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table("op")

    def __repr__(self) -> str:
        return f"Profile({self.kind}, {len(self.kernels)} kernels, {self.total_ms:.2f} ms per run)"
