"""Optimizers: N compiled steps vs torch.optim on identical weights and data (float32 on both sides, as the
optimizers' formulas are float32 in PyTorch too), learning-rate schedules vs torch's, clipping, frozen parameters."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn

from conftest import rel_err, torch


class Tiny(nn.Module):
    """A model built only from element-wise ops, so the optimizer tests do not depend on conv/linear kernels."""

    def __init__(self, d: int = 6, seed: int = 0) -> None:
        super().__init__()
        r = np.random.default_rng(seed)
        self.w1 = nn.Parameter(r.standard_normal((1, d)))
        self.b1 = nn.Parameter(r.standard_normal(d) * 0.1)
        self.w2 = nn.Parameter(r.standard_normal((1, d)))
        self.b2 = nn.Parameter(r.standard_normal(d) * 0.1)

    def forward(self, x):
        return F.relu(x * self.w1 + self.b1) * self.w2 + self.b2


def torch_tiny(m: Tiny):
    ps = {k: torch.nn.Parameter(torch.tensor(np.asarray(v))) for k, v in m.named_parameters()}

    def f(x):
        return torch.relu(x * ps["w1"] + ps["b1"]) * ps["w2"] + ps["b2"]
    return ps, f


def mse(o, y):
    d = o - y
    return (d * d).mean()


def batches(n: int, d: int = 6, seed: int = 1):
    r = np.random.default_rng(seed)
    return [(r.standard_normal((5, d)).astype(np.float32), r.standard_normal((5, d)).astype(np.float32))
            for _ in range(n)]


def run_both(make_fc, make_torch, steps: int = 6, clip=None, frozen=(), sched=None):
    m = Tiny()
    for k in frozen:
        getattr(m, k).requires_grad = False
    ps, f = torch_tiny(m)
    for k in frozen:
        ps[k].requires_grad_(False)
    opt = make_fc(list(m.parameters()))
    topt = make_torch(list(ps.values()))
    s = t_s = None
    if sched is not None:
        s, t_s = sched(opt), sched(topt)
    net = fc.compile(m, (5, 6), loss=mse, optimizer=opt, clip_grad_norm=clip)
    for x, y in batches(steps):
        loss = net.train_step(x, y)
        topt.zero_grad()
        tl = ((f(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        tl.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p for p in ps.values() if p.requires_grad], clip)
        topt.step()
        assert abs(loss - tl.item()) <= 1e-5 * max(1.0, abs(tl.item()))
        if s is not None:
            s.step()
            t_s.step()
    for k, p in m.named_parameters():
        assert rel_err(p, ps[k].detach()) <= 1e-5, k
    return m, opt


CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("AdamW", dict(lr=0.02)),
    ("AdamW", dict(lr=0.02, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.01, momentum=0.5)),
    ("RMSprop", dict(lr=0.005, centered=True, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, centered=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.02, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.05, lr_decay=0.2, initial_accumulator_value=0.1, weight_decay=0.01, maximize=True)),
]


@pytest.mark.parametrize("name,kw", CONFIGS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CONFIGS)])
def test_optimizer_matches_torch(name, kw):
    run_both(lambda p: getattr(fc.optim, name)(p, **kw), lambda p: getattr(torch.optim, name)(p, **kw))


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.05)),
                                     ("Adagrad", dict(lr=0.05, lr_decay=0.1, maximize=True))])
def test_clip_grad_norm_matches_torch(name, kw):
    run_both(lambda p: getattr(fc.optim, name)(p, **kw), lambda p: getattr(torch.optim, name)(p, **kw), clip=0.5)


def test_frozen_parameters_are_not_updated():
    m, _ = run_both(lambda p: fc.optim.SGD(p, lr=0.1, momentum=0.9),
                    lambda p: torch.optim.SGD([q for q in p if q.requires_grad], lr=0.1, momentum=0.9),
                    frozen=("w2", "b1"))
    assert np.array_equal(m.w2, Tiny().w2) and np.array_equal(m.b1, Tiny().b1)


SCHEDS = [
    lambda o: (fc.optim.lr_scheduler if hasattr(o, "_hyper") else torch.optim.lr_scheduler).StepLR(o, 2, gamma=0.5),
    lambda o: (fc.optim.lr_scheduler if hasattr(o, "_hyper") else torch.optim.lr_scheduler).CosineAnnealingLR(
        o, T_max=4, eta_min=0.001),
    lambda o: (fc.optim.lr_scheduler if hasattr(o, "_hyper") else torch.optim.lr_scheduler).LinearLR(
        o, start_factor=0.25, total_iters=3),
]


@pytest.mark.parametrize("k", range(len(SCHEDS)))
def test_lr_schedules_change_lr_without_recompiling(k):
    m, opt = run_both(lambda p: fc.optim.SGD(p, lr=0.1, momentum=0.5),
                      lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5), steps=7, sched=SCHEDS[k])


@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"])
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_scheduler_values_match_torch(name):
    args = dict(StepLR=dict(step_size=3, gamma=0.3), MultiStepLR=dict(milestones=[2, 5], gamma=0.5),
                ExponentialLR=dict(gamma=0.9), CosineAnnealingLR=dict(T_max=7, eta_min=0.01),
                LinearLR=dict(start_factor=0.1, end_factor=0.9, total_iters=4))[name]
    opt = fc.optim.SGD([nn.Parameter(np.zeros(2))], lr=0.2)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.2)
    s = getattr(fc.optim.lr_scheduler, name)(opt, **args)
    ts = getattr(torch.optim.lr_scheduler, name)(topt, **args)
    for _ in range(12):
        assert math.isclose(s.get_last_lr()[0], ts.get_last_lr()[0], rel_tol=1e-9, abs_tol=1e-12)
        s.step()
        ts.step()


def test_optimizer_errors_and_state_dict():
    p = nn.Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        fc.optim.SGD([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        fc.optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        fc.optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="empty parameter list"):
        fc.optim.Adam([])
    with pytest.raises(TypeError, match="float32"):
        fc.optim.Adam([np.zeros(3)])
    m, opt = run_both(lambda q: fc.optim.Adam(q, lr=0.01), lambda q: torch.optim.Adam(q, lr=0.01), steps=3)
    sd = opt.state_dict()
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"} and float(sd["state"][0]["step"]) == 3
    opt2 = fc.optim.Adam(list(m.parameters()), lr=0.5)
    opt2.load_state_dict(sd)
    assert opt2.param_groups[0]["lr"] == 0.01 and opt2._cstate.steps == 3
    assert np.array_equal(opt2.state[id(m.w1)]["exp_avg"], opt.state[id(m.w1)]["exp_avg"])


def test_param_groups_with_own_lr():
    m = Tiny()
    ps, f = torch_tiny(m)
    opt = fc.optim.SGD([{"params": [m.w1, m.b1], "lr": 0.2}, {"params": [m.w2, m.b2]}], lr=0.05, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ps["w1"], ps["b1"]], "lr": 0.2}, {"params": [ps["w2"], ps["b2"]]}],
                           lr=0.05, momentum=0.9)
    net = fc.compile(m, (5, 6), loss=mse, optimizer=opt)
    for x, y in batches(4):
        net.train_step(x, y)
        topt.zero_grad()
        ((f(torch.tensor(x)) - torch.tensor(y)) ** 2).mean().backward()
        topt.step()
    for k, p in m.named_parameters():
        assert rel_err(p, ps[k].detach()) <= 1e-5, k
