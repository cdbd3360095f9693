"""torch's gradient-mode switches: no_grad, enable_grad, inference_mode, set_grad_enabled, is_grad_enabled.

Each is a context manager and a decorator; the mode is per thread, as torch's. Eager fastconv ops record no graph
today (gradients come from value_and_grad, compile and train_step), so the mode changes no result yet: a PyTorch
script's `with no_grad():` evaluation runs as written; the eager training loop (issue 15, not built yet) is meant to
read is_grad_enabled() to decide what to record.
"""
from __future__ import annotations

import functools
import threading

__all__ = ["no_grad", "enable_grad", "inference_mode", "set_grad_enabled", "is_grad_enabled"]

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "enabled", True)


def _set(enabled: bool) -> None:
    _state.enabled = bool(enabled)


class set_grad_enabled:
    """set_grad_enabled(False) switches gradients off at once (as torch) and, used with `with`, restores the previous
    mode on exit."""

    def __init__(self, mode: bool) -> None:
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: argument 'mode' must be a bool, got {type(mode).__name__} {mode!r}")
        self.prev = is_grad_enabled()
        self.mode = mode
        _set(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        _set(self.prev)

    def __call__(self, fn):
        mode = self.mode
        _set(self.prev)  # used as a decorator: the mode applies inside the calls, not from now on

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class _Mode:
    mode = True

    def __init__(self, *args) -> None:
        # inference_mode(False) means "leave gradients as they are"; no_grad() and enable_grad() take no arguments
        self.active = bool(args[0]) if args else True
        if len(args) > 1:
            raise TypeError(f"{type(self).__name__} takes at most one argument")
        self.prev = None

    def __enter__(self):
        self.prev = is_grad_enabled()
        if self.active:
            _set(self.mode)
        return self

    def __exit__(self, *exc) -> None:
        _set(self.prev)

    def __call__(self, fn):
        active, mode = self.active, self.mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = is_grad_enabled()  # per call: the decorator object is shared by every call and thread
            if active:
                _set(mode)
            try:
                return fn(*args, **kwargs)
            finally:
                _set(prev)
        return wrapper


class no_grad(_Mode):
    mode = False

    def __init__(self) -> None:
        super().__init__()


class enable_grad(_Mode):
    mode = True

    def __init__(self) -> None:
        super().__init__()


class inference_mode(_Mode):
    mode = False

    def __init__(self, mode: bool = True) -> None:
        super().__init__(mode)
