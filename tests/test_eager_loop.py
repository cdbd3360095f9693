"""The eager training loop (issue 15): PyTorch-style scripts run with only their imports changed to fastconv and
follow PyTorch's loss curve from the same weights and data; backward() fills .grad, optimizer.step() updates.

The reference is PyTorch itself (CPU, float32), running the same script text with torch's imports."""
import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
import fastconv.nn.functional as F

torch = pytest.importorskip("torch")
import eager_scripts as S  # noqa: E402


def _data(seed, n, shape, classes):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n,) + shape).astype(np.float32), rng.integers(0, classes, n)


def _both(name, ns):
    w0 = S.initial_weights(name)
    t = S.run(name, "torch", dict(ns, W0=w0))
    f = S.run(name, "fastconv", dict(ns, W0=w0))
    assert len(f["log"]) == len(t["log"]) >= 20
    np.testing.assert_allclose(f["log"], t["log"], rtol=1e-4)
    assert abs(t["log"][-1] - t["log"][0]) > 1e-3  # the weights moved: a curve, not a constant
    return t, f


def _state(model):
    return {k: np.asarray(v.detach().numpy() if hasattr(v, "detach") else v) for k, v in model.state_dict().items()}


def _close_states(a, b, rtol):
    assert a.keys() == b.keys()
    for k in a:
        scale = max(1.0, float(np.abs(a[k]).max())) if a[k].size else 1.0
        assert np.abs(a[k].astype(np.float64) - b[k]).max() <= rtol * scale, k


def test_mnist_example_follows_torch(tmp_path):
    X, Y = _data(0, 160, (1, 16, 16), 10)
    Xt, Yt = _data(1, 64, (1, 16, 16), 10)
    ns = dict(X=X, Y=Y, Xt=Xt, Yt=Yt, epochs=2)
    t, f = _both("mnist", dict(ns, save_path=str(tmp_path / "t.pt")) | {})
    # test(): summed loss and the argmax/eq/view_as/sum/item count, after each epoch
    for (tl, tc), (fl, fcnt) in zip(t["results"], f["results"]):
        assert fcnt == tc
        assert abs(fl - tl) <= 1e-4 * abs(tl)
    _close_states(_state(t["model"]), _state(f["model"]), 1e-4)


def test_mnist_example_saves_a_state_dict_that_loads_back(tmp_path):
    X, Y = _data(0, 32, (1, 16, 16), 10)
    Xt, Yt = _data(1, 32, (1, 16, 16), 10)
    path = tmp_path / "mnist_cnn.pt"
    f = S.run("mnist", "fastconv", dict(X=X, Y=Y, Xt=Xt, Yt=Yt, epochs=1, save_path=str(path),
                                         W0=S.initial_weights("mnist")))
    model = f["Net"]()
    model.load_state_dict(fc.load(str(path)))
    for k, v in _state(f["model"]).items():
        np.testing.assert_array_equal(_state(model)[k], v)


def test_cifar_resnet_loop_follows_torch():
    X, Y = _data(2, 160, (3, 16, 16), 10)
    t, f = _both("resnet", dict(X=X, Y=Y, epochs=1))
    tr, fr = t["results"][0], f["results"][0]
    assert fr[1:] == tr[1:]  # correct, total from outputs.max(1) and predicted.eq(targets)
    # batch-norm running statistics were updated once per step, as torch's
    _close_states(_state(t["net"]), _state(f["net"]), 1e-3)


def test_triplet_loop_follows_torch():
    rng = np.random.default_rng(3)
    A, P, N = (rng.standard_normal((160, 1, 28, 28)).astype(np.float32) for _ in range(3))
    _both("triplet", dict(A=A, P=P, N=N, epochs=1))


class _Small(nn.Module):
    def __init__(self, p=0.0):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.drop = nn.Dropout(p)
        self.fc = nn.Linear(4 * 5 * 5, 3)

    def forward(self, x):
        return self.fc(self.drop(F.relu(self.bn(self.conv(x)))).flatten(1))


def _xy(seed=0, n=4):
    rng = np.random.default_rng(seed)
    return fc.from_numpy(rng.standard_normal((n, 2, 5, 5)).astype(np.float32)), fc.tensor(rng.integers(0, 3, n))


def test_backward_fills_grad_as_the_compiled_gradients():
    fc.manual_seed(0)
    m = _Small()
    x, y = _xy()
    want_loss, want = fc.compile(m, (4, 2, 5, 5), loss="cross_entropy").loss_and_grads(x.numpy(), y.numpy())
    m.load_state_dict(m.state_dict())  # the compiled run moved the running stats; the eager step reads them anew
    loss = F.cross_entropy(m(x), y)
    assert isinstance(loss, fc.Tensor)
    loss.backward()
    assert abs(loss.item() - want_loss) <= 1e-6 * abs(want_loss)
    for name, p in m.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), want[name], rtol=1e-5, atol=1e-7)


def test_grads_accumulate_until_zero_grad_and_step_skips_params_without_grad():
    fc.manual_seed(0)
    m = _Small()
    opt = fc.optim.SGD(m.parameters(), lr=0.1)
    x, y = _xy()
    F.cross_entropy(m(x), y).backward()
    g1 = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    F.cross_entropy(m(x), y).backward()  # second backward of a new recording: adds into .grad, as torch
    for n, p in m.named_parameters():
        if n != "bn.weight" and n != "bn.bias":  # batch norm's stats moved between the two (same batch stats)
            np.testing.assert_allclose(p.grad.numpy(), 2 * g1[n], rtol=1e-5, atol=1e-7)
    opt.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.fc.weight.grad = fc.ones(3, 100)
    before = {n: np.array(p) for n, p in m.named_parameters()}
    opt.step()
    np.testing.assert_allclose(np.asarray(m.fc.weight), before["fc.weight"] - 0.1, rtol=1e-6)
    for n, p in m.named_parameters():
        if n != "fc.weight":
            np.testing.assert_array_equal(np.asarray(p), before[n])  # no .grad: not updated


def test_second_backward_of_one_step_is_an_error():
    m = _Small()
    x, y = _xy()
    loss = F.cross_entropy(m(x), y)
    loss.backward()
    with pytest.raises(RuntimeError, match="does not require grad|second time"):
        loss.backward()


def test_no_grad_runs_now_and_cannot_backward():
    m = _Small().eval()
    x, _ = _xy()
    with fc.no_grad():
        out = m(x)
    assert isinstance(out, fc.Tensor) and out.is_leaf
    np.testing.assert_allclose(out.numpy(), fc.compile(m, x.shape).predict(x.numpy()), rtol=1e-5, atol=1e-6)
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.sum().backward()


def test_value_read_before_backward_updates_batch_norm_stats_once():
    fc.manual_seed(1)
    a, b = _Small(), _Small()
    b.load_state_dict(a.state_dict())
    x, y = _xy(5)
    out = a(x)
    first = out.numpy().copy()  # runs the recorded forward (training mode: batch stats)
    F.cross_entropy(out, y).backward()
    F.cross_entropy(b(x), y).backward()
    np.testing.assert_array_equal(np.asarray(a.bn.running_mean), np.asarray(b.bn.running_mean))
    np.testing.assert_allclose(first, out.numpy(), rtol=1e-6, atol=1e-7)
    for pa, pb in zip(a.parameters(), b.parameters()):
        np.testing.assert_allclose(pa.grad.numpy(), pb.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_steps_reuse_one_compiled_program():
    from fastconv import _lazy
    m = _Small(p=0.5)
    opt = fc.optim.SGD(m.parameters(), lr=0.01)
    losses = []
    for i in range(4):
        x, y = _xy(i)
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if i == 1:
            n = len(_lazy._programs)
    assert len(_lazy._programs) == n  # steps 3 and 4 hit the cache: same graph text (dropout seeds by position)
    assert len(set(losses)) == 4


def test_dropout_masks_change_between_steps():
    m = nn.Sequential(nn.Linear(64, 64), nn.Dropout(0.5))
    x = fc.ones(2, 64)
    zeros = []
    for _ in range(2):
        out = m(x)
        out.sum().backward()
        zeros.append(out.numpy() == 0)
    assert 0.3 < zeros[0].mean() < 0.7 and (zeros[0] != zeros[1]).any()


def test_input_gradient_of_a_leaf_tensor_matches_torch():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    xa = rng.standard_normal((1, 2, 6, 6)).astype(np.float32)
    conv = nn.Conv2d(2, 3, 3)
    conv.weight[...] = w
    conv.bias[...] = 0
    x = fc.from_numpy(xa.copy()).requires_grad_()
    out = conv(x)
    out[0, 1].sum().backward()  # Grad-CAM style: one channel's score, differentiated through indexing
    tx = torch.from_numpy(xa.copy()).requires_grad_()
    torch.nn.functional.conv2d(tx, torch.from_numpy(w))[0, 1].sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_optimizers_follow_torch_in_the_eager_loop():
    rng = np.random.default_rng(6)
    xa = rng.standard_normal((8, 5)).astype(np.float32)
    ya = rng.integers(0, 3, 8)
    for make in (lambda ps, lib: lib.optim.Adam(ps, lr=0.01, weight_decay=0.01),
                 lambda ps, lib: lib.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                 lambda ps, lib: lib.optim.RMSprop(ps, lr=0.01, momentum=0.5),
                 lambda ps, lib: lib.optim.Adadelta(ps, lr=1.0, weight_decay=0.01),
                 lambda ps, lib: lib.optim.Adagrad(ps, lr=0.1, lr_decay=0.01)):
        tm = torch.nn.Linear(5, 3)
        fm = nn.Linear(5, 3)
        fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
        to, fo = make(tm.parameters(), torch), make(fm.parameters(), fc)
        for _ in range(5):
            to.zero_grad()
            torch.nn.functional.cross_entropy(tm(torch.from_numpy(xa)), torch.from_numpy(ya)).backward()
            to.step()
            fo.zero_grad()
            F.cross_entropy(fm(fc.from_numpy(xa)), fc.from_numpy(ya)).backward()
            fo.step()
        np.testing.assert_allclose(np.asarray(fm.weight), tm.weight.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_recorded_arithmetic_gives_torch_gradients():
    rng = np.random.default_rng(7)
    xa = rng.standard_normal((4, 5)).astype(np.float32)
    tm = torch.nn.Linear(5, 3)
    fm = nn.Linear(5, 3)
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})

    def loss(out, x):  # the arithmetic a hand-written loss uses: powers, scalars, views, sums, slices
        return ((out ** 2).mean() * 3 - out[:, 1:].sum() / 4 + (1 - out).view(-1)[2:5].sum() * 0.5
                + (out.unsqueeze(0).transpose(1, 2).flatten(1) * 2).mean())

    loss(tm(torch.from_numpy(xa)), None).backward()
    fl = loss(fm(fc.from_numpy(xa)), None)
    fl.backward()
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fm.bias.grad.numpy(), tm.bias.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_wide_convs_see_each_steps_new_weights():
    # convolutions with > 64 output channels cache their packed weights by weight version (docs/inference.md):
    # the eager loop's update program must bump the versions so the next recorded step packs the new weights
    rng = np.random.default_rng(8)
    xa = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    ya = rng.integers(0, 4, 2)
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 80, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(1280, 4))
    fm = nn.Sequential(nn.Conv2d(3, 80, 3), nn.ReLU(), nn.Flatten(), nn.Linear(1280, 4))
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    to, fo = torch.optim.SGD(tm.parameters(), lr=0.05), fc.optim.SGD(fm.parameters(), lr=0.05)
    for _ in range(3):
        to.zero_grad()
        tl = torch.nn.functional.cross_entropy(tm(torch.from_numpy(xa)), torch.from_numpy(ya))
        tl.backward()
        to.step()
        fo.zero_grad()
        fl = F.cross_entropy(fm(fc.from_numpy(xa)), fc.from_numpy(ya))
        fl.backward()
        fo.step()
        assert fl.item() == pytest.approx(tl.item(), rel=1e-5)
    with fc.no_grad():
        got = fm(fc.from_numpy(xa)).numpy()
    np.testing.assert_allclose(got, tm(torch.from_numpy(xa)).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_numbers_given_as_op_inputs_are_fed_each_step():
    # a program is reused when the recorded graph's text matches; values that are not in that text (numbers passed
    # as op inputs, not attributes) must be fed at each run, not frozen into the first step's program
    lin = nn.Linear(3, 2)
    x = fc.from_numpy(np.ones((1, 3), np.float32))
    got = []
    for c in (1.0, 5.0):
        out = F.mul(lin(x), c)  # mul's second operand arrives as a Python number
        out.sum().backward()
        got.append(out.numpy().copy())
    np.testing.assert_allclose(got[1], 5 * got[0], rtol=1e-6)


@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
def test_clip_grad_norm_between_backward_and_step_follows_torch(norm_type):
    rng = np.random.default_rng(9)
    xa = (rng.standard_normal((8, 5)) * 10).astype(np.float32)
    ya = rng.integers(0, 3, 8)
    tm = torch.nn.Linear(5, 3)
    fm = nn.Linear(5, 3)
    fm.load_state_dict({k: v.detach().numpy().copy() for k, v in tm.state_dict().items()})
    to, fo = torch.optim.SGD(tm.parameters(), lr=0.1), fc.optim.SGD(fm.parameters(), lr=0.1)
    for _ in range(3):
        to.zero_grad()
        torch.nn.functional.cross_entropy(tm(torch.from_numpy(xa)), torch.from_numpy(ya)).backward()
        tn = torch.nn.utils.clip_grad_norm_(tm.parameters(), 0.5, norm_type)
        to.step()
        fo.zero_grad()
        F.cross_entropy(fm(fc.from_numpy(xa)), fc.from_numpy(ya)).backward()
        fn = nn.utils.clip_grad_norm_(fm.parameters(), 0.5, norm_type)
        fo.step()
        assert fn.item() == pytest.approx(tn.item(), rel=1e-5) and tn.item() > 0.5  # it did clip
    np.testing.assert_allclose(np.asarray(fm.weight), tm.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
