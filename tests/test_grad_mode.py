"""fc.no_grad / enable_grad / inference_mode / set_grad_enabled: torch's semantics for the mode flag (nesting,
decorators, restoring on exceptions, per thread), checked side by side with torch's own."""
import threading

import pytest

import fastconv as fc
from conftest import torch


def both():
    return fc.is_grad_enabled(), torch.is_grad_enabled()


def test_nesting_matches_torch():
    assert both() == (True, True)
    with fc.no_grad(), torch.no_grad():
        assert both() == (False, False)
        with fc.enable_grad(), torch.enable_grad():
            assert both() == (True, True)
        with fc.inference_mode(False), torch.inference_mode(False):
            assert fc.is_grad_enabled() is False  # inference_mode(False) leaves the mode alone
        assert both() == (False, False)
    assert both() == (True, True)
    with fc.inference_mode():
        assert not fc.is_grad_enabled()
    with fc.set_grad_enabled(False):
        assert not fc.is_grad_enabled()
    assert fc.is_grad_enabled()
    fc.set_grad_enabled(False)
    assert not fc.is_grad_enabled()
    fc.set_grad_enabled(True)
    assert fc.is_grad_enabled()


def test_decorators_and_exceptions():
    @fc.no_grad()
    def evaluate():
        return fc.is_grad_enabled()

    @fc.set_grad_enabled(False)
    def also():
        return fc.is_grad_enabled()

    assert evaluate() is False and also() is False and fc.is_grad_enabled()
    with pytest.raises(ZeroDivisionError):
        with fc.no_grad():
            1 / 0
    assert fc.is_grad_enabled()
    with pytest.raises(TypeError, match=r"set_grad_enabled: argument 'mode' must be a bool, got int 1"):
        fc.set_grad_enabled(1)


def test_mode_is_per_thread():
    seen = []
    with fc.no_grad():
        t = threading.Thread(target=lambda: seen.append(fc.is_grad_enabled()))
        t.start()
        t.join()
        assert not fc.is_grad_enabled()
    assert seen == [True]
