"""Checkpoint -> kill -> resume gives the same weights as an uninterrupted run (bit for bit): a child process trains,
writes fastconv.io.save_checkpoint and is killed with SIGKILL; a fresh start loads the checkpoint (model rebuilt
from the file, optimizer given back its state and step) and finishes the run. bench/soak.py does the same at
scale. Dropout is left out on purpose: its masks follow the compiled step's run counter, which restarts with a new
compile (docs/reliability.md)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastconv as fc
from fastconv.io import load_checkpoint, save_checkpoint


RUN = textwrap.dedent("""
    import numpy as np, fastconv as fc, fastconv.nn as nn

    def build():
        fc.manual_seed(11)
        return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                             nn.Flatten(), nn.Linear(8 * 4 * 4, 5))

    def batch(i):
        r = np.random.default_rng(1000 + i)
        return r.standard_normal((8, 1, 8, 8)).astype(np.float32), r.integers(0, 5, 8)

    def steps(net, opt, start, stop):
        c = fc.compile(net, (8, 1, 8, 8), loss="cross_entropy", optimizer=opt)
        for i in range(start, stop):
            c.train_step(*batch(i))
""")


def _ns():
    ns: dict = {}
    exec(RUN, ns)
    return ns


@pytest.mark.parametrize("opt_name", ["Adam", "SGD"])
def test_checkpoint_kill_resume_matches_an_uninterrupted_run(tmp_path, opt_name):
    ns = _ns()
    make_opt = (lambda ps: fc.optim.Adam(ps, lr=3e-3, weight_decay=1e-4)) if opt_name == "Adam" else \
        (lambda ps: fc.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True))
    full = ns["build"]()
    ns["steps"](full, make_opt(full.parameters()), 0, 8)

    ck = tmp_path / "ck.safetensors"
    child = RUN + textwrap.dedent(f"""
        import os, signal
        from fastconv.io import save_checkpoint
        net = build()
        opt = fc.optim.{opt_name}(net.parameters(), **{{"Adam": dict(lr=3e-3, weight_decay=1e-4),
                                                      "SGD": dict(lr=0.05, momentum=0.9, nesterov=True)}}["{opt_name}"])
        steps(net, opt, 0, 4)
        save_checkpoint({str(ck)!r}, net, opt, info={{"next_step": 4}})
        os.kill(os.getpid(), signal.SIGKILL)  # no clean exit: whatever is not on disk is lost
    """)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(fc.__file__)) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr

    model, info = load_checkpoint(ck)
    assert info == {"next_step": 4}
    opt = make_opt(model.parameters())
    load_checkpoint(ck, model=model, optimizer=opt)
    assert opt._step == 4
    ns["steps"](model, opt, info["next_step"], 8)

    a, b = full.state_dict(), model.state_dict()
    assert list(a) == list(b)
    different = [k for k in a if not np.array_equal(a[k], b[k])]
    assert different == [], different


def test_checkpoint_errors_name_the_file(tmp_path):
    ns = _ns()
    net = ns["build"]()
    p = tmp_path / "plain.safetensors"
    fc.save(net, p)
    with pytest.raises(ValueError, match=r"plain\.safetensors: no training checkpoint"):
        load_checkpoint(p)
    q = tmp_path / "ck.safetensors"
    save_checkpoint(q, net, fc.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(ValueError, match=r"ck\.safetensors: the checkpoint holds 'SGD' state, not Adam"):
        load_checkpoint(q, optimizer=fc.optim.Adam(net.parameters()))
    with pytest.raises(TypeError, match="save_checkpoint: expected a fastconv.nn.Module"):
        save_checkpoint(q, "net")
