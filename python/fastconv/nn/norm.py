"""Normalisation layers (torch.nn names, arguments, buffers and state_dict keys)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from .._trace import Symbol, op
from ..functional._util import as_float
from . import _checks, init
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "GroupNorm", "LayerNorm", "LocalResponseNorm"]


def _affine_params(m: Module, affine: bool, bias: bool, shape: tuple) -> None:
    if affine:
        m.weight = Parameter(np.ones(shape, np.float32))
        if bias:
            m.bias = Parameter(np.zeros(shape, np.float32))
        else:
            m.register_parameter("bias", None)
    else:
        m.register_parameter("weight", None)
        m.register_parameter("bias", None)


class _BatchNorm(Module):
    _ranks: tuple = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = _checks.int_arg(self, "num_features", num_features, 1)
        self.use_bias = _checks.bool_arg(self, "bias", bias)
        self.eps = _checks.float_arg(self, "eps", eps, 0.0, lo_open=True)
        self.momentum = None if momentum is None else _checks.float_arg(self, "momentum", momentum, 0.0, 1.0)
        self.affine = _checks.bool_arg(self, "affine", affine)
        self.track_running_stats = _checks.bool_arg(self, "track_running_stats", track_running_stats)
        affine, bias, track_running_stats = self.affine, self.use_bias, self.track_running_stats
        n = self.num_features
        _checks.reserve(f"{type(self).__name__}({n})", (n * (affine + (affine and bias) + 2 * track_running_stats),))
        _affine_params(self, affine, bias, (num_features,))
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros((num_features,), np.float32))
            self.register_buffer("running_var", np.ones((num_features,), np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self._buffers["running_mean"][...] = 0
            self._buffers["running_var"][...] = 1
            self._buffers["num_batches_tracked"][...] = 0
            from .. import _C
            _C.bump_versions([self._buffers[k] for k in ("running_mean", "running_var", "num_batches_tracked")])

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self._parameters["weight"])
            if self._parameters.get("bias") is not None:
                init.zeros_(self._parameters["bias"])

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.use_bias and self.affine}, track_running_stats={self.track_running_stats}")

    def forward(self, input):
        name = type(self).__name__
        if len(input.shape) not in self._ranks:
            want = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{name}: expected {want} input (got {len(input.shape)}D input)")
        if input.shape[1] != self.num_features:
            raise ValueError(f"{name}: input has {input.shape[1]} channels (shape {tuple(input.shape)}) but the "
                             f"layer was built for num_features={self.num_features}")
        factor = 0.0 if self.momentum is None else self.momentum
        traced = isinstance(input, Symbol)
        if self.training and self.track_running_stats:
            nbt = self._buffers["num_batches_tracked"]
            if traced:
                if self.momentum is None:
                    raise NotImplementedError(f"{name}: momentum=None (cumulative average) is supported in eager "
                                              f"mode only; give a number to compile the model")
                op("counter_increment", [self.num_batches_tracked])  # counted by the step itself, in place
            else:
                nbt += 1
                if self.momentum is None:
                    factor = 1.0 / float(nbt)
        bn_training = self.training or (self._buffers["running_mean"] is None)
        use_stats = not self.training or self.track_running_stats
        return self._batch_norm(input, self.running_mean if use_stats else None,
                                self.running_var if use_stats else None, self.weight, self.bias, bn_training, factor,
                                self.eps)

    def _batch_norm(self, *args):
        return F.batch_norm(*args)


class BatchNorm1d(_BatchNorm):
    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    _ranks = (4,)


class BatchNorm3d(_BatchNorm):
    _ranks = (5,)


class SyncBatchNorm(_BatchNorm):
    """torch.nn.SyncBatchNorm: batch norm whose training statistics are those of the global batch, every rank's
    batch together (fastconv.distributed), so that N ranks with batch B/N train as one process with batch B. The
    per-channel sums are added over the ranks in the forward pass (mean, then variance: two passes) and in the
    backward pass; weight and bias gradients stay per rank for DistributedDataParallel to average. In evaluation
    mode, or in a world of one rank, it is BatchNorm exactly. Input [N, C, *] of 2 to 5 dimensions."""
    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm: process groups are not supported (argument 'process_group' "
                                      "must be None: the statistics are synchronised over all ranks)")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def _batch_norm(self, input, running_mean, running_var, weight, bias, training, momentum, eps):
        from .. import distributed as dist
        from ..functional import norm as FN
        sync = self.training and training and dist.is_initialized() and dist.world_size() > 1
        return FN._batch_norm("sync_batch_norm" if sync else "batch_norm", input, running_mean, running_var, weight,
                             bias, training, momentum, eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """torch's: `module` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm that shares its parameters
        and buffers (and training mode); a batch norm module given itself comes back converted."""
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm.convert_sync_batchnorm: argument 'process_group' must be None")
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      bias=module.use_bias)
            for d in ("_parameters", "_buffers"):
                out.__dict__[d].clear()
                out.__dict__[d].update(module.__dict__[d])
            out.__dict__["_non_persistent"] = set(module.__dict__["_non_persistent"])
            object.__setattr__(out, "training", module.training)
        for name, child in list(module.named_children()):
            out.add_module(name, cls.convert_sync_batchnorm(child))
        return out


class GroupNorm(Module):
    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_groups = _checks.int_arg(self, "num_groups", num_groups, 1)
        self.num_channels = _checks.int_arg(self, "num_channels", num_channels, 1)
        if self.num_channels % self.num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.eps = _checks.float_arg(self, "eps", eps, 0.0, lo_open=True)
        self.affine = _checks.bool_arg(self, "affine", affine)
        self.use_bias = _checks.bool_arg(self, "bias", bias)
        _checks.reserve(f"GroupNorm({self.num_groups}, {self.num_channels})",
                        (self.num_channels * (self.affine + (self.affine and self.use_bias)),))
        _affine_params(self, self.affine, self.use_bias, (self.num_channels,))

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self.use_bias and self.affine}"

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, (list, tuple)):
            if not normalized_shape:
                raise ValueError("LayerNorm: argument 'normalized_shape' must hold at least one size, got ()")
            shape = tuple(_checks.int_arg(self, "normalized_shape", s, 1) for s in normalized_shape)
        else:
            shape = (_checks.int_arg(self, "normalized_shape", normalized_shape, 1),)
        self.normalized_shape = shape
        self.eps = _checks.float_arg(self, "eps", eps, 0.0, lo_open=True)
        self.elementwise_affine = elementwise_affine = _checks.bool_arg(self, "elementwise_affine",
                                                                        elementwise_affine)
        bias = _checks.bool_arg(self, "bias", bias)
        _checks.reserve(f"LayerNorm({shape})", *[shape] * (elementwise_affine + (elementwise_affine and bias)))
        if elementwise_affine:
            self.weight = Parameter(np.ones(shape, np.float32))
            if bias:
                self.bias = Parameter(np.zeros(shape, np.float32))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class LocalResponseNorm(Module):
    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size = _checks.int_arg(self, "size", size, 1)
        self.alpha = _checks.float_arg(self, "alpha", alpha)
        self.beta = _checks.float_arg(self, "beta", beta)
        self.k = _checks.float_arg(self, "k", k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)


class _InstanceNorm(Module):
    _rank = 4  # the batched rank; one less is an unbatched sample

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = _checks.int_arg(self, "num_features", num_features, 1)
        self.use_bias = _checks.bool_arg(self, "bias", bias)
        self.eps = _checks.float_arg(self, "eps", eps, 0.0, lo_open=True)
        self.momentum = _checks.float_arg(self, "momentum", momentum, 0.0, 1.0)
        self.affine = _checks.bool_arg(self, "affine", affine)
        self.track_running_stats = _checks.bool_arg(self, "track_running_stats", track_running_stats)
        n = self.num_features
        _checks.reserve(f"{type(self).__name__}({n})", (n * (self.affine * (1 + self.use_bias) + 2 * self.track_running_stats),))
        _affine_params(self, self.affine, self.use_bias, (n,))
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros((n,), np.float32))
            self.register_buffer("running_var", np.ones((n,), np.float32))
            self.register_buffer("num_batches_tracked", np.zeros((), np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")

    def forward(self, input):
        shape = tuple(input.shape)
        if len(shape) not in (self._rank - 1, self._rank):
            raise ValueError(f"{type(self).__name__}: expected a {self._rank - 1}-D (unbatched) or {self._rank}-D "
                             f"input, got shape {list(shape)}")
        x = input if len(shape) == self._rank else F.reshape(as_float(input, type(self).__name__), (1,) + shape)
        if self.affine and x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected input with {self.num_features} channels (num_features), "
                             f"got {x.shape[1]} (input shape {list(shape)})")
        y = F.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            self.training or not self.track_running_stats, self.momentum, self.eps)
        return y if len(shape) == self._rank else F.reshape(y, shape)


class InstanceNorm1d(_InstanceNorm):
    _rank = 3


class InstanceNorm2d(_InstanceNorm):
    _rank = 4


class InstanceNorm3d(_InstanceNorm):
    _rank = 5
