"""Optimizers with torch.optim's names, arguments and exact update formulas.

They do not run on their own: `fastconv.compile(model, ..., optimizer=opt)` hands the parameter groups and
hyperparameters to the C++ training-program builder, which appends one update node per trainable parameter after
the backward pass (ops sgd_update / adam_update / rmsprop_update / adadelta_update / adagrad_update in
cpp/src/ops/optim.cpp). The optimizer's state
lives in C++ (`_C.OptimizerState`, one per optimizer, shared by every program it drives): the step counter, one
learning-rate tensor per param group, and the per-parameter slots (momentum buffers, Adam moments). `opt.state` and
`opt.state_dict()` show NumPy views of them. Changing `param_groups[i]["lr"]` (by hand or through lr_scheduler) is
written into the group's learning-rate tensor before the next step, without recompiling.
"""
from __future__ import annotations

import sys
import numpy as np

from . import _C

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "lr_scheduler"]


class Optimizer:
    _kind = ""  # the C++ optimizer ("sgd", "adam", ...): which update op and which state slots
    _dynamic = ("lr",)  # hyper-parameters read at run time; the rest are baked into the compiled step

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self._cstate = _C.OptimizerState()
        self._lr_written: list = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for g in params:
            self.add_param_group(g)

    def add_param_group(self, group: dict) -> None:
        group = dict(group)
        ps = group["params"]
        ps = [ps] if isinstance(ps, np.ndarray) else list(ps)
        for p in ps:
            if not isinstance(p, np.ndarray) or p.dtype != np.float32 or not p.flags.c_contiguous:
                raise TypeError(f"{type(self).__name__}: parameters must be float32 C-contiguous arrays "
                                f"(fastconv.nn.Parameter), got {type(p).__name__}"
                                f"{'' if not isinstance(p, np.ndarray) else ' of dtype ' + str(p.dtype)}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in ps):
            raise ValueError("some parameters appear in more than one parameter group")
        for k, v in self.defaults.items():
            group.setdefault(k, v)
        group["params"] = ps
        group.setdefault("initial_lr", group["lr"])
        self._validate(group)
        self.param_groups.append(group)
        self._lr_written.append(None)

    def _validate(self, g: dict) -> None:
        if not g["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {g['lr']}")
        if g.get("weight_decay", 0.0) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {g['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the .grad of every parameter (eager backward() accumulates into it, as torch's does; compiled
        steps compute fresh gradients inside the step and need no clearing)."""
        from .nn.module import _zero_grads
        _zero_grads((p for g in self.param_groups for p in g["params"]), set_to_none)

    def step(self, closure=None):
        """One update of every parameter that has a .grad (from an eager backward()), by the same C++ update ops
        a compiled training step runs; parameters without .grad are left alone, as in torch."""
        from . import _lazy
        loss = None
        if closure is not None:
            from ._grad_mode import enable_grad
            with enable_grad():
                loss = closure()
        ps = [p for g in self.param_groups for p in g["params"] if getattr(p, "grad", None) is not None]
        if ps:
            _lazy.run_updates(self, ps, [p.grad.numpy() for p in ps])
        return loss

    # ---- compiled-step support ------------------------------------------------------------------------------------
    def signature(self) -> tuple:
        """What the compiled update nodes depend on besides lr (a change means recompiling)."""
        return tuple(tuple(sorted((k, repr(v)) for k, v in g.items() if k not in ("params", "lr", "initial_lr")))
                     for g in self.param_groups)

    def _hyper(self, group: dict) -> dict:
        """The group's hyperparameters as the C++ optimizer reads them (torch's names)."""
        return {k: (tuple(float(x) for x in v) if isinstance(v, (tuple, list)) else v) for k, v in group.items()
                if k not in ("params", "lr", "initial_lr")}

    def _keys(self) -> dict[int, str]:
        """id(param) -> its key in the C++ state: the parameter's index over all groups (torch's state_dict ids)."""
        return {id(p): str(i) for i, p in enumerate(p for g in self.param_groups for p in g["params"])}

    def _spec_groups(self, bound: dict[int, int]) -> list[dict]:
        """The param groups for the C++ builder: bound maps id(param) to its graph value id; parameters that are
        not bound (frozen, or unused by the model) are left out."""
        keys = self._keys()
        return [{"params": [(bound[id(p)], keys[id(p)]) for p in g["params"] if id(p) in bound],
                 "hyper": self._hyper(g)} for g in self.param_groups]

    def _sync(self) -> None:
        """Called by a compiled train step right before it runs: writes learning rates that changed."""
        for i, g in enumerate(self.param_groups):
            lr = float(g["lr"])
            if self._lr_written[i] != lr:
                self._cstate.set_lr(i, lr)
                self._lr_written[i] = lr

    @property
    def state(self) -> dict:
        """{id(parameter): {slot name: array}} (views of the C++ state: momentum buffers, Adam moments, ...) for the
        parameters a compiled step has updated or load_state_dict has filled. Keyed by id() because NumPy arrays
        are not hashable (torch keys by the tensor)."""
        slots = self._cstate.slots()
        params = [p for g in self.param_groups for p in g["params"]]
        return {id(params[int(k)]): v for k, v in slots.items() if int(k) < len(params)}

    # ---- torch-style state dicts ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        keys = self._keys()
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [int(keys[id(p)]) for p in g["params"]]}
                  for g in self.param_groups]
        step = np.array(float(self._cstate.steps), np.float32)
        state = {int(k): {"step": step.copy(), **{n: a.copy() for n, a in v.items()}}
                 for k, v in self._cstate.slots().items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        params = [p for g in self.param_groups for p in g["params"]]
        for g, sg in zip(self.param_groups, groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                                 "optimizer's group")
            g.update({k: v for k, v in sg.items() if k != "params"})
        for idx, st in state_dict["state"].items():
            p = params[int(idx)]
            for n, a in st.items():
                a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
                if n == "step":
                    self._cstate.steps = int(float(a))
                else:
                    dst = self._cstate.slot(str(int(idx)), n, p)
                    if dst.shape != a.shape:
                        raise ValueError(f"load_state_dict: state '{n}' of parameter {idx} has shape {a.shape}, "
                                         f"the parameter has shape {dst.shape}")
                    dst[...] = a

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    _kind = "sgd"

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=bool(maximize)))


class Adam(Optimizer):
    _kind = "adam"

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False) -> None:
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))


class AdamW(Adam):
    _kind = "adamw"

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    _kind = "rmsprop"

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False) -> None:
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered))


class Adadelta(Optimizer):
    """torch.optim.Adadelta (foreach, capturable and differentiable are not taken: they change nothing here)."""
    _kind = "adadelta"

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0, *,
                 maximize: bool = False) -> None:
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=bool(maximize)))


class Adagrad(Optimizer):
    """torch.optim.Adagrad (dense gradients; foreach, differentiable and fused are not taken). The state's sum
    starts at initial_accumulator_value on the first compiled step; before it, state_dict() has no entries."""
    _kind = "adagrad"

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *, maximize: bool = False) -> None:
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=bool(maximize)))


from . import lr_scheduler  # noqa: E402  (torch.optim.lr_scheduler's place)

sys.modules[__name__ + ".lr_scheduler"] = lr_scheduler
