"""Adadelta and Adagrad: 10 compiled train steps of a small conv + linear network vs torch.optim on the same weights
and data (float32 both sides), the state_dict's keys and values vs torch's, and torch's argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn

from conftest import rel_err, torch

tnn, TF = torch.nn, torch.nn.functional
STEPS = 10


def build(M):
    return M.Sequential(M.Conv2d(2, 4, 3, padding=1), M.ReLU(), M.MaxPool2d(2), M.Flatten(), M.Linear(4 * 3 * 3, 5))


def twins():
    fc.manual_seed(3)
    ours = build(nn)
    theirs = build(tnn)
    theirs.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in ours.state_dict().items()})
    return ours, theirs


def train_both(name, kw, clip=None, steps=STEPS):
    ours, theirs = twins()
    opt = getattr(fc.optim, name)(ours.parameters(), **kw)
    topt = getattr(torch.optim, name)(theirs.parameters(), foreach=False, **kw)
    net = fc.compile(ours, (6, 2, 6, 6), loss="cross_entropy", optimizer=opt, clip_grad_norm=clip)
    r = np.random.default_rng(7)
    for _ in range(steps):
        x = r.standard_normal((6, 2, 6, 6)).astype(np.float32)
        y = r.integers(0, 5, 6)
        loss = net.train_step(x, y)
        topt.zero_grad()
        tl = TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        tl.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(theirs.parameters(), clip)
        topt.step()
        assert abs(loss - tl.item()) <= 1e-5 * max(1.0, abs(tl.item()))
    moved = 0.0
    for k, p in theirs.state_dict().items():
        assert rel_err(ours.state_dict()[k], p) <= 1e-5, k
    start, _ = twins()
    moved = max(rel_err(ours.state_dict()[k], v) for k, v in start.state_dict().items())
    assert moved > 1e-3  # the steps changed the weights: the comparison above is not of two untouched copies
    return opt, topt


CONFIGS = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5)),
    ("Adadelta", dict(lr=2.0, weight_decay=0.05)),
    ("Adadelta", dict(lr=1.0, rho=0.95, weight_decay=0.01, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.02, weight_decay=0.05, initial_accumulator_value=0.3)),
    ("Adagrad", dict(lr=0.03, lr_decay=0.05, initial_accumulator_value=0.1, eps=1e-6, maximize=True)),
    ("Adagrad", dict(lr=0.01, weight_decay=0.1, maximize=True)),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_train_steps_match_torch(name, kw):
    train_both(name, kw)


@pytest.mark.parametrize("name,kw", [("Adadelta", dict(lr=1.0, maximize=True)),
                                     ("Adagrad", dict(lr=0.05, lr_decay=0.2, initial_accumulator_value=0.1))])
def test_clipped_steps_match_torch(name, kw):
    train_both(name, kw, clip=0.3)


@pytest.mark.parametrize("name,kw,slots", [("Adadelta", dict(rho=0.7), {"square_avg", "acc_delta"}),
                                           ("Adagrad", dict(lr_decay=0.1, initial_accumulator_value=0.2), {"sum"})])
def test_state_dict_matches_torch(name, kw, slots):
    opt, topt = train_both(name, kw, steps=4)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert set(sd["state"]) == set(tsd["state"]) == set(range(4))
    for i, tst in tsd["state"].items():
        assert set(sd["state"][i]) == set(tst) == slots | {"step"}
        assert float(sd["state"][i]["step"]) == float(tst["step"]) == 4
        for n in slots:
            assert rel_err(sd["state"][i][n], tst[n]) <= 1e-5, (i, n)
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        for k, v in g.items():
            if k not in ("initial_lr",):
                assert tg[k] == v, k
    # and back: a fresh optimizer loaded from the state continues exactly as the first would
    ours, _ = twins()
    opt2 = getattr(fc.optim, name)(ours.parameters(), lr=123.0)
    opt2.load_state_dict(sd)
    assert opt2._cstate.steps == 4 and opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for n in slots:
        assert np.array_equal(opt2.state[id(ours[0].weight)][n], sd["state"][0][n])


def test_adagrad_continues_from_a_loaded_torch_state():
    # torch's state after 3 steps, loaded into a fresh optimizer whose weights are torch's: the next 3 steps agree
    # (the sum is read from the state, not restarted at initial_accumulator_value)
    kw = dict(lr=0.05, lr_decay=0.3, initial_accumulator_value=0.5)
    ours, theirs = twins()
    topt = torch.optim.Adagrad(theirs.parameters(), foreach=False, **kw)
    r = np.random.default_rng(11)
    data = [(r.standard_normal((6, 2, 6, 6)).astype(np.float32), r.integers(0, 5, 6)) for _ in range(6)]

    def tstep(x, y):
        topt.zero_grad()
        TF.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y)).backward()
        topt.step()
    for x, y in data[:3]:
        tstep(x, y)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    opt = fc.optim.Adagrad(ours.parameters(), **kw)
    opt.load_state_dict(topt.state_dict())
    net = fc.compile(ours, (6, 2, 6, 6), loss="cross_entropy", optimizer=opt)
    for x, y in data[3:]:
        net.train_step(x, y)
        tstep(x, y)
    for k, p in theirs.state_dict().items():
        assert rel_err(ours.state_dict()[k], p) <= 1e-5, k


@pytest.mark.parametrize("name,kw,msg", [
    ("Adadelta", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(rho=-0.1), "Invalid rho value: -0.1"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    ("Adadelta", dict(weight_decay=-1.0), "Invalid weight_decay value: -1.0"),
    ("Adagrad", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adagrad", dict(lr_decay=-0.5), "Invalid lr_decay value: -0.5"),
    ("Adagrad", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("Adagrad", dict(initial_accumulator_value=-0.5), "Invalid initial_accumulator_value value: -0.5"),
    ("Adagrad", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
])
def test_argument_errors_are_torchs(name, kw, msg):
    p = nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match=msg) as ours:
        getattr(fc.optim, name)([p], **kw)
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.nn.Parameter(torch.zeros(3))], **kw)
    assert str(ours.value) == str(theirs.value)


def test_defaults_are_torchs():
    p = nn.Parameter(np.zeros(3))
    tp = torch.nn.Parameter(torch.zeros(3))
    for name in ("Adadelta", "Adagrad"):
        ours = getattr(fc.optim, name)([p]).defaults
        theirs = getattr(torch.optim, name)([tp]).defaults
        assert ours == {k: v for k, v in theirs.items() if k in ours}, name
        assert set(theirs) - set(ours) <= {"foreach", "capturable", "differentiable", "fused"}, name


@pytest.mark.parametrize("name,kw", [("Adadelta", dict(lr=0.8, rho=0.85)),
                                     ("Adagrad", dict(lr=0.05, lr_decay=0.2, initial_accumulator_value=0.2))])
def test_checkpoint_resumes_as_if_uninterrupted(tmp_path, name, kw):
    r = np.random.default_rng(4)
    data = [(r.standard_normal((6, 2, 6, 6)).astype(np.float32), r.integers(0, 5, 6)) for _ in range(6)]
    runs = []
    for resume in (False, True):
        m, _ = twins()
        opt = getattr(fc.optim, name)(m.parameters(), **kw)
        net = fc.compile(m, (6, 2, 6, 6), loss="cross_entropy", optimizer=opt)
        for i, (x, y) in enumerate(data):
            if resume and i == 3:
                fc.io.save_checkpoint(tmp_path / "ck.safetensors", m, opt)
                m = build(nn)
                opt = getattr(fc.optim, name)(m.parameters(), lr=9.0)
                m, _ = fc.io.load_checkpoint(tmp_path / "ck.safetensors", model=m, optimizer=opt)
                net = fc.compile(m, (6, 2, 6, 6), loss="cross_entropy", optimizer=opt)
            net.train_step(x, y)
        runs.append(m.state_dict())
    for k, v in runs[0].items():
        assert np.array_equal(runs[1][k], v), k


def test_fit_knows_the_names():
    from fastconv.training import _make_optimizer
    m = build(nn)
    assert isinstance(_make_optimizer("adadelta", m), fc.optim.Adadelta)
    assert isinstance(_make_optimizer("Adagrad", m), fc.optim.Adagrad)
