"""torch's import paths and habits that are not one op: fastconv.nn.functional, loss modules in fc.compile."""
import importlib
import subprocess
import sys

import fastconv as fc
import fastconv.functional


def test_nn_functional_is_functional():
    import fastconv.nn.functional as F1
    from fastconv.nn import functional as F2
    from fastconv.nn.functional import relu
    assert F1 is fastconv.functional and F2 is fastconv.functional and fc.nn.functional is fc.functional
    assert relu is fastconv.functional.relu
    assert importlib.import_module("fastconv.nn.functional") is fastconv.functional


def test_nn_functional_import_in_a_fresh_interpreter():
    # The first import of the package through the nn path (no earlier `import fastconv.functional`).
    code = "import fastconv.nn.functional as F, fastconv; assert F is fastconv.functional; print(F.relu.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "relu"
