"""fastconv/nn.h against Python's fastconv.nn: a C++ program (tests/cpp_nn_graphs) builds models from the C++ layers
and prints their graphs; each must be exactly the graph Python's tracer records for the same layers, in eval mode
(predict) and in train mode with the loss, backward pass and optimizer updates appended (dropout seeds aside: each
side draws its own). The architecture it writes must rebuild in Python as the same layers, and its state_dict must
have Python's names, shapes and dtypes."""
import json
import re

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
from cpp_build import REPO, build, run


@pytest.fixture(scope="module")
def nn_graphs(tmp_path_factory):
    return build(REPO / "tests" / "cpp_nn_graphs", tmp_path_factory.mktemp("nn")) / "nn_graphs"


def _python(which):
    if which == "all_layers":
        m = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25), nn.Linear(4, 3))
        return m, (2, 1, 8, 8), "cross_entropy", fc.optim.SGD(m.parameters(), lr=0.1, momentum=0.9), {}
    if which == "variants":
        m = nn.Sequential(nn.Conv2d(3, 6, (3, 2), (2, 1), (1, 0), (1, 2), 3, False), nn.BatchNorm2d(6, 1e-3, 0.3),
                          nn.MaxPool2d((2, 1), (1, 1), (1, 0)), nn.AvgPool2d((3, 3), 1, 1, True, False),
                          nn.AdaptiveAvgPool2d((2, None)), nn.Flatten(2), nn.Flatten(), nn.Linear(60, 5, False),
                          nn.Dropout(0.5))
        opt = fc.optim.Adam(m.parameters(), 1e-3, (0.8, 0.9), 1e-7, 0.01)
        return m, (3, 3, 9, 7), "mse", opt, dict(clip_grad_norm=1.5)
    features = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU())
    m = nn.Sequential(features, nn.Flatten(), nn.Linear(48, 2))
    if which == "nested_adadelta":
        opt = fc.optim.Adadelta(m.parameters(), 0.5, 0.8, 1e-5, 0.01, maximize=True)
    elif which == "nested_adagrad":
        opt = fc.optim.Adagrad(m.parameters(), 0.02, 0.1, 0.01, 0.3, 1e-8, maximize=True)
    else:
        opt = fc.optim.RMSprop(m.parameters(), 0.01, 0.9, 1e-6, 0.0, 0.5, True)
    return m, (4, 2, 6, 6), "nll", opt, {}


def _norm(dump: str) -> str:
    return re.sub(r"seed=\d+", "seed=S", dump).strip()


@pytest.mark.parametrize("which", ["all_layers", "variants", "nested", "nested_adadelta", "nested_adagrad"])
def test_cpp_layers_record_pythons_graphs(nn_graphs, which):
    predict, train, arch, state = run(nn_graphs, which).stdout.split("----\n")
    m, shape, loss, opt, kw = _python(which)
    assert _norm(predict) == _norm(fc.compile(m, shape).graph_dump())
    assert _norm(train) == _norm(fc.compile(m, shape, loss=loss, optimizer=opt, **kw).graph_dump())
    # the architecture rebuilds as the same layers (repr shows every constructor argument)
    rebuilt = fc.io.build_from_architecture(json.loads(arch))
    assert repr(rebuilt) == repr(m)
    assert rebuilt.training == m.training
    want = [f"{k} [{', '.join(map(str, v.shape))}] {v.dtype}" for k, v in m.state_dict().items()]
    assert state.strip().splitlines() == want


def test_cpp_graph_differs_when_a_layer_differs(nn_graphs):
    """The comparison above can fail: a different Python layer gives a different graph."""
    predict = run(nn_graphs, "all_layers").stdout.split("----\n")[0]
    m = nn.Sequential(nn.Conv2d(1, 4, 3, 1, 1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.AvgPool2d(2),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.25), nn.Linear(4, 3, bias=False))
    assert _norm(predict) != _norm(fc.compile(m, (2, 1, 8, 8)).graph_dump())
