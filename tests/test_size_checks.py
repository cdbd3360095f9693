"""Checked size arithmetic: arguments whose sizes would wrap int64, or describe tensors no machine could hold, are a
ValueError naming the op, the argument and its value, raised by the shape rule before anything allocates (these
calls used to segfault, hang or fail deep inside std::vector). Each case runs in a subprocess with a timeout, so a
regression shows up as a failed test rather than a crashed or stuck test run."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import fastconv as fc

PRELUDE = """
import numpy as np, fastconv as fc, fastconv.functional as F
x = np.ones((1, 1, 4, 4), np.float32); w = np.ones((1, 1, 3, 3), np.float32); x1 = np.ones((1, 1, 4), np.float32)
"""

# (call, exception type, words the message must contain)
CASES = [
    ("F.conv2d(x, w, padding=2**31 - 1)", "ValueError", ["conv2d", "padding", "2147483647", "2**60"]),
    ("F.conv2d(x, w, padding=2**62)", "ValueError", ["conv2d", "padding", "4611686018427387904"]),
    ("F.conv2d(x, w, dilation=2**62, padding=2**62)", "ValueError", ["conv2d", "dilation", "4611686018427387904"]),
    ("F.conv2d(x, w, stride=2**63)", "ValueError", ["stride", "9223372036854775808", "64 bits"]),
    ("F.conv2d(x, w, groups=-2**63 - 1)", "ValueError", ["groups", "-9223372036854775809"]),
    ("F.conv2d(x, w, stride=[1, 'a'])", "TypeError", ["stride", "'a'"]),
    ("F.conv_transpose2d(x, w, stride=2**62)", "ValueError", ["conv_transpose2d", "stride", "4611686018427387904"]),
    ("F.conv1d(x1, np.ones((1, 1, 3), np.float32), padding=2**61)", "ValueError", ["conv1d", "padding"]),
    ("F.adaptive_avg_pool2d(x, (2**31, 2**31))", "ValueError", ["adaptive_avg_pool2d", "output_size", "2147483648"]),
    ("F.adaptive_max_pool2d(x, (2**61, 1))", "ValueError", ["adaptive_max_pool2d", "output_size"]),
    ("F.max_pool2d(x, 2**40, padding=2**39)", "ValueError", ["max_pool2d", "kernel_size", "1099511627776"]),
    ("F.avg_pool2d(x, 2**40, padding=2**39)", "ValueError", ["avg_pool2d", "kernel_size", "1099511627776"]),
    ("F.max_pool2d(x, 3, dilation=2**62)", "ValueError", ["max_pool2d", "dilation", "4611686018427387904"]),
    ("F.max_pool2d(x, 2**62, stride=1, padding=2**61)", "ValueError", ["max_pool2d", "padding"]),
    ("F.max_unpool2d(x, np.zeros((1, 1, 4, 4), np.int64), 2, stride=2**62)", "ValueError",
     ["max_unpool2d", "stride", "4611686018427387904"]),
    ("F.interpolate(x, scale_factor=1e18)", "ValueError", ["interpolate", "scale_factor", "1e+18"]),
    ("F.interpolate(x, size=(2**31, 2**31))", "ValueError", ["interpolate", "size", "2147483648"]),
    ("fc._C.run_op('reshape', [np.zeros(0, np.float32)], {'shape': (2**40, 2**40, 0, -1)})", "ValueError",
     ["reshape", "shape", "1099511627776"]),
    ("fc._C.run_op('reshape', [np.zeros(0, np.float32)], {'shape': (2**32, 2**32)})", "ValueError",
     ["reshape", "shape", "4294967296"]),
    ("fc._C.run_op('slice', [np.zeros(4, np.float32)], {'dim': 0, 'start': 2**62, 'length': 2**62})", "IndexError",
     ["slice", "start", "4611686018427387904"]),
    ("fc._C.run_op('broadcast_to', [np.zeros(1, np.float32)], {'shape': (2**31, 2**31)})", "ValueError",
     ["broadcast_to", "shape", "2147483648"]),
    ("fc._C.run_op('max_pool2d_backward', [np.zeros((1, 1, 1, 1), np.float32), np.zeros((1, 1, 1, 1), np.int64)],"
     " {'input_shape': (1, 1, 2**40, 2**40)})", "ValueError", ["max_pool2d_backward", "input_shape"]),
    ("fc._C.run_op('conv2d_backward_data', [x, w], {'input_size': (4, 4), 'padding': 2**62})", "ValueError",
     ["conv2d_backward_data", "padding"]),
]


def run_case(code: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    script = PRELUDE + textwrap.dedent(f"""
        try:
            {code}
        except Exception as e:
            print("RAISED", type(e).__name__, str(e))
        else:
            print("NO ERROR")
    """)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fc.__file__)) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.parametrize("code,exc,words", CASES, ids=[c[0][:40] for c in CASES])
def test_huge_sizes_are_clear_errors(code, exc, words):
    r = run_case(code)
    assert r.returncode == 0, f"exit status {r.returncode} (crashed):\n{r.stderr[-2000:]}"
    out = r.stdout.strip().splitlines()[-1]
    assert out.startswith(f"RAISED {exc} "), out
    for w in words:
        assert w in out, (w, out)


def test_huge_padding_on_a_1d_pool_is_fast_and_exact():
    """A window that is mostly padding: the kernels jump to the first tap in the input instead of stepping through
    the padding one element at a time (2**39 steps before)."""
    import numpy as np

    import fastconv.functional as F

    x = np.arange(4, dtype=np.float32).reshape(1, 1, 4)
    y, idx = F.max_pool1d(x, 2 ** 40, padding=2 ** 39, return_indices=True)
    assert y.shape == (1, 1, 1) and float(y[0, 0, 0]) == 3.0 and int(idx[0, 0, 0]) == 3
    a = F.avg_pool1d(x, 2 ** 40, padding=2 ** 39)  # count_include_pad: the sum over the whole window's taps
    assert np.isclose(float(a[0, 0, 0]), 6.0 / 2 ** 40, rtol=1e-6)
    x2 = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    y2 = F.max_pool2d(x2, (2 ** 20, 1), padding=(2 ** 19, 0))
    assert y2.shape == (1, 1, 1, 4) and np.array_equal(y2[0, 0, 0], [12, 13, 14, 15])
