"""pixel_shuffle, pixel_unshuffle, channel_shuffle vs torch float64: forward and gradients (eager and compiled),
leading batch dims of any rank, and bad-input errors."""
import numpy as np
import pytest

import fastconv as fc
import fastconv.functional as F
from conftest import randn, rel_err, t64, torch

TF = torch.nn.functional


def grad_check(fn, tfn, x, seed):
    """d/dx sum(fn(x) * w) for a random w, vs torch."""
    tx = t64(x, True)
    ref = tfn(tx)
    w = randn(*ref.shape, seed=seed + 1)
    (ref * t64(w)).sum().backward()
    _, g = fc.value_and_grad(lambda a: (fn(a) * w).sum())(x)
    assert g.shape == x.shape and rel_err(g, tx.grad) <= 1e-6


@pytest.mark.parametrize("shape,r", [((2, 8, 3, 5), 2), ((1, 9, 2, 2), 3), ((4, 3, 3), 1), ((2, 2, 12, 2, 3), 2),
                                     ((0, 4, 2, 2), 2)])
def test_pixel_shuffle(shape, r):
    x = randn(*shape, seed=r)
    y = F.pixel_shuffle(x, r)
    ref = TF.pixel_shuffle(t64(x), r)
    assert y.shape == tuple(ref.shape) and rel_err(y, ref) == 0
    back = F.pixel_unshuffle(y, r)
    assert back.shape == x.shape and np.array_equal(back, x)
    if x.size:  # torch 2.13 returns an empty input's shape unchanged from pixel_unshuffle; we keep the shape rule
        assert rel_err(back, TF.pixel_unshuffle(ref, r)) == 0
    if x.size:
        grad_check(lambda a: F.pixel_shuffle(a, r), lambda t: TF.pixel_shuffle(t, r), x, r)
        grad_check(lambda a: F.pixel_unshuffle(a, r), lambda t: TF.pixel_unshuffle(t, r), np.asarray(y), r + 7)


@pytest.mark.parametrize("shape,g", [((2, 6, 4), 2), ((2, 6, 4), 3), ((1, 12, 2, 3), 4), ((3, 5, 2, 2, 2), 5),
                                     ((2, 4, 3), 1), ((2, 8, 1), 8)])
def test_channel_shuffle(shape, g):
    x = randn(*shape, seed=g)
    y = F.channel_shuffle(x, g)
    ref = TF.channel_shuffle(t64(x), g)
    assert rel_err(y, ref) == 0
    grad_check(lambda a: F.channel_shuffle(a, g), lambda t: TF.channel_shuffle(t, g), x, g)


def test_compiled():
    x = randn(2, 8, 4, 4, seed=3)
    f = fc.trace(lambda a: F.channel_shuffle(F.pixel_unshuffle(F.pixel_shuffle(a, 2), 2), 4), x)
    assert rel_err(f.run([x])[0], TF.channel_shuffle(t64(x), 4)) == 0


def test_errors():
    with pytest.raises(ValueError, match=r"pixel_shuffle: the channel dimension \(6, dim -3 of shape \[1, 6, 2, 2\]\) "
                                         r"must be divisible by upscale_factor\*\*2 = 4"):
        F.pixel_shuffle(randn(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: height and width \(3, 4 of shape \[1, 1, 3, 4\]\) must be "
                                         r"divisible by downscale_factor = 2"):
        F.pixel_unshuffle(randn(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match=r"pixel_shuffle: argument 'upscale_factor' must be positive, got 0"):
        F.pixel_shuffle(randn(1, 4, 2, 2), 0)
    with pytest.raises(ValueError, match=r"pixel_shuffle: expected an input with at least 3 dimensions"):
        F.pixel_shuffle(randn(4, 2), 1)
    with pytest.raises(ValueError, match=r"channel_shuffle: the number of channels \(6, shape \[1, 6, 2\]\) must be "
                                         r"divisible by groups = 4"):
        F.channel_shuffle(randn(1, 6, 2), 4)
    with pytest.raises(ValueError, match=r"channel_shuffle: expected an input with more than 2 dimensions"):
        F.channel_shuffle(randn(2, 6), 2)
    with pytest.raises(TypeError, match=r"pixel_shuffle: argument 'upscale_factor' must be an int, got float 2.0"):
        F.pixel_shuffle(randn(1, 4, 2, 2), 2.0)
