"""Examples run as written: each script under examples/ (Python) exits 0."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastconv

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_example_runs(script, tmp_path):
    # The scripts must import the same fastconv as the tests (installed, or a development tree on PYTHONPATH).
    pkg_root = str(Path(fastconv.__file__).resolve().parent.parent)
    env = dict(os.environ, MPLBACKEND="Agg", FASTCONV_EXAMPLE_OUT=str(tmp_path),
               PYTHONPATH=os.pathsep.join([pkg_root, os.environ.get("PYTHONPATH", "")]))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, f"{script.name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    assert r.stdout.strip(), f"{script.name} printed nothing"
