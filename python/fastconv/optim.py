"""Optimizers with torch.optim's names, arguments and exact update formulas.

They do not run on their own: `fastconv.compile(model, ..., optimizer=opt)` appends one update node per trainable
parameter after the backward pass (ops sgd_update / adam_update / rmsprop_update in cpp/src/ops/optim.cpp). The
nodes update the parameter arrays and the state arrays held here in place. Each param group owns a 2-element
float32 array [lr, step] bound into the graph; `step()` bookkeeping writes it before every compiled step, so changing
`param_groups[i]["lr"]` (by hand or through lr_scheduler) takes effect without recompiling.
"""
from __future__ import annotations

import sys
import numpy as np

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "lr_scheduler"]


class Optimizer:
    _op = ""
    _dynamic = ("lr",)  # hyper-parameters read at run time; the rest are baked into the compiled step

    def __init__(self, params, defaults: dict) -> None:
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict[int, dict[str, np.ndarray]] = {}
        self._step = 0
        self._hyper: list[np.ndarray] = []
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
        self._hyper.append(np.zeros(2, np.float32))

    def _validate(self, g: dict) -> None:
        if not g["lr"] >= 0.0:
            raise ValueError(f"Invalid learning rate: {g['lr']}")
        if g.get("weight_decay", 0.0) < 0.0:
            raise ValueError(f"Invalid weight_decay value: {g['weight_decay']}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Compiled steps compute fresh gradients every step: there is nothing to clear."""

    # ---- compiled-step support ------------------------------------------------------------------------------------
    def signature(self) -> tuple:
        """What the compiled update nodes depend on besides lr (a change means recompiling)."""
        return tuple(tuple(sorted((k, repr(v)) for k, v in g.items() if k not in ("params", "lr", "initial_lr")))
                     for g in self.param_groups)

    def _slots(self, group: dict) -> list[str]:
        raise NotImplementedError

    def _attrs(self, group: dict) -> dict:
        raise NotImplementedError

    def _state_arrays(self, p: np.ndarray, group: dict) -> list[np.ndarray]:
        st = self.state.setdefault(id(p), {})
        out = []
        for name in self._slots(group):
            if name not in st:
                st[name] = np.zeros_like(np.asarray(p), dtype=np.float32, order="C")
            out.append(st[name])
        return out

    def append_updates(self, ctx, items: list, clip_coef=None) -> None:
        """Adds update nodes to traced graph `ctx` for items = [(param array, param value id, grad value id, name)];
        `clip_coef` is the value id of the gradient-clipping coefficient, or None."""
        by_id = {id(p): (pid, gid, name) for p, pid, gid, name in items}
        for gi, group in enumerate(self.param_groups):
            members = [(p, by_id[id(p)]) for p in group["params"] if id(p) in by_id]
            if not members:
                continue
            hyper = ctx.param(f"optimizer.param_groups.{gi}.hyper", self._hyper[gi], requires_grad=False).id
            attrs = dict(self._attrs(group), clipped=clip_coef is not None)
            for p, (pid, gid, name) in members:
                states = [ctx.param(f"{name}.{slot}", arr, requires_grad=False).id
                          for slot, arr in zip(self._slots(group), self._state_arrays(p, group))]
                ins = [pid, gid, hyper] + states + ([clip_coef] if clip_coef is not None else [])
                ctx.graph.add(self._op, ins, attrs, f"optimizer:{name}")

    def _before_step(self) -> None:
        """Called by a compiled train step right before it runs: publishes lr and the step number."""
        self._step += 1
        for g, h in zip(self.param_groups, self._hyper):
            h[0] = g["lr"]
            h[1] = self._step

    # ---- torch-style state dicts ----------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        index, k = {}, 0
        groups = []
        for g in self.param_groups:
            ids = []
            for p in g["params"]:
                index[id(p)] = k
                ids.append(k)
                k += 1
            groups.append({**{kk: v for kk, v in g.items() if kk != "params"}, "params": ids})
        state = {}
        for pid, st in self.state.items():
            if pid in index:
                state[index[pid]] = {"step": np.array(float(self._step), np.float32), **{n: a.copy() for n, a in
                                                                                           st.items()}}
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
            mine = self.state.setdefault(id(p), {})
            for n, a in st.items():
                a = a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)
                if n == "step":
                    self._step = int(float(a))
                elif n in mine:
                    mine[n][...] = a
                else:
                    mine[n] = np.array(a, np.float32, order="C")

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(g):
                if k != "params":
                    lines.append(f"    {k}: {g[k]}")
        return "\n".join(lines) + "\n)"


class SGD(Optimizer):
    _op = "sgd_update"

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False) -> None:
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if maximize:
            raise NotImplementedError("SGD: maximize=True is not supported")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _slots(self, g):
        return ["momentum_buffer"] if g["momentum"] != 0 else []

    def _attrs(self, g):
        return dict(momentum=float(g["momentum"]), dampening=float(g["dampening"]),
                    weight_decay=float(g["weight_decay"]), nesterov=bool(g["nesterov"]))


class Adam(Optimizer):
    _op = "adam_update"
    _decoupled = False

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0,
                 amsgrad: bool = False) -> None:
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {b}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))

    def _slots(self, g):
        return ["exp_avg", "exp_avg_sq"] + (["max_exp_avg_sq"] if g["amsgrad"] else [])

    def _attrs(self, g):
        return dict(beta1=float(g["betas"][0]), beta2=float(g["betas"][1]), eps=float(g["eps"]),
                    weight_decay=float(g["weight_decay"]), amsgrad=bool(g["amsgrad"]), decoupled=self._decoupled)


class AdamW(Adam):
    _decoupled = True

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, weight_decay: float = 1e-2,
                 amsgrad: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(Optimizer):
    _op = "rmsprop_update"

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

    def _slots(self, g):
        return ["square_avg"] + (["momentum_buffer"] if g["momentum"] > 0 else []) + \
            (["grad_avg"] if g["centered"] else [])

    def _attrs(self, g):
        return dict(alpha=float(g["alpha"]), eps=float(g["eps"]), weight_decay=float(g["weight_decay"]),
                    momentum=float(g["momentum"]), centered=bool(g["centered"]))


from . import lr_scheduler  # noqa: E402  (torch.optim.lr_scheduler's place)

sys.modules[__name__ + ".lr_scheduler"] = lr_scheduler
