"""PyTorch's own module test inputs (torch.testing._internal.common_modules.module_db) replayed for every module
name fastconv.nn exports: the same constructor arguments (tensors as NumPy float32), torch's initial state copied in,
forward in train and eval mode, every output (incl. pooling indices) against torch's float64 result.

No case is skipped: every module_db entry whose class name we export is replayed. OUT_OF_SCOPE lists the
module_db names we do not export, with the reason, so a new export is replayed automatically and a new module_db
entry shows up here as unclassified."""
import numpy as np
import pytest

import fastconv.nn as nn
from conftest import torch

common_modules = pytest.importorskip("torch.testing._internal.common_modules")
MODULE_DB = {info.name[len("nn."):]: info for info in common_modules.module_db if info.name.startswith("nn.")}
OURS = sorted(n for n in MODULE_DB if n in nn.__all__)

_RECURRENT = "recurrent and attention layers: no sequence models in a CNN engine"
_LAZY = "lazy modules infer shapes at the first call; fastconv builds parameters at construction"
OUT_OF_SCOPE = {
    **{n: _RECURRENT for n in ("GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNCell", "MultiheadAttention",
                               "Transformer", "TransformerDecoderLayer", "TransformerEncoder",
                               "TransformerEncoderLayer")},
    **{n: _LAZY for n in ("LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d",
                          "LazyConvTranspose3d")},
    **{n: "not in issue 15's list (losses and activations outside CNN training)" for n in (
        "Bilinear", "CELU", "CTCLoss", "FractionalMaxPool2d", "FractionalMaxPool3d", "GLU", "GaussianNLLLoss",
        "Hardshrink", "HingeEmbeddingLoss", "KLDivLoss", "LinearCrossEntropyLoss", "LogSigmoid",
        "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "PoissonNLLLoss", "RMSNorm",
        "SoftMarginLoss", "Softmin", "Softshrink", "Softsign", "Tanhshrink")},
}


def to_np(v):
    if isinstance(v, torch.Tensor):
        a = v.detach().numpy()
        return a.astype(np.float32) if a.dtype.kind == "f" else a
    if isinstance(v, (list, tuple)):
        return type(v)(to_np(x) for x in v)
    if isinstance(v, dict):
        return {k: to_np(x) for k, x in v.items()}
    return v


def flat(o):
    return [y for x in o for y in flat(x)] if isinstance(o, (list, tuple)) else [o]


def close(out, ref) -> str | None:
    """None when out (float32) matches ref (float64), else what differs."""
    a, b = np.asarray(out, np.float64), ref.detach().numpy().astype(np.float64)
    if a.shape != b.shape:
        return f"shape {a.shape} != {b.shape}"
    nan = np.isnan(b)
    if not np.array_equal(np.isnan(a), nan):
        return "NaN positions differ"
    a, b = a[~nan], b[~nan]
    err, norm = np.linalg.norm(a - b), np.linalg.norm(b)
    return None if err <= 1e-5 * norm + 1e-6 else f"relative error {err / max(norm, 1e-300):.3g}"


def test_every_module_db_name_is_exported_or_classified():
    unclassified = sorted(set(MODULE_DB) - set(OURS) - set(OUT_OF_SCOPE))
    assert not unclassified, f"module_db names neither exported nor in OUT_OF_SCOPE: {unclassified}"
    assert not set(OURS) & set(OUT_OF_SCOPE), "an exported module is still listed as out of scope"
    assert len(OURS) >= 60


@pytest.mark.parametrize("name", OURS)
def test_module_db_inputs_match_torch(name):
    info = MODULE_DB[name]
    cls = getattr(nn, name)
    replayed, failures = 0, []
    for training in (True, False):
        torch.manual_seed(0)  # module_db draws its inputs from torch's global generator
        for i, mi in enumerate(info.module_inputs_func(info, device="cpu", dtype=torch.float64, requires_grad=False,
                                                       training=training)):
            if mi.forward_input is None:
                continue
            ca, ck = mi.constructor_input.args, mi.constructor_input.kwargs
            fa, fk = mi.forward_input.args, mi.forward_input.kwargs
            torch.manual_seed(1)
            ref_module = info.module_cls(*ca, **ck).to(torch.float64)
            ours = cls(*to_np(ca), **to_np(ck))
            # the initial state before torch's forward updates running statistics
            ours.load_state_dict({k: to_np(v) for k, v in ref_module.state_dict().items()})
            ref_module.train(training), ours.train(training)
            ref = flat(ref_module(*fa, **fk))
            out = flat(ours(*to_np(fa), **to_np(fk)))
            assert len(out) == len(ref), f"case {i}: {len(out)} outputs, torch {len(ref)}"
            for o, r in zip(out, ref):
                why = close(o, r)
                if why:
                    failures.append(f"{'train' if training else 'eval'} case {i} ({mi.desc}): {why}")
            replayed += 1
    assert replayed > 0
    assert not failures, "\n".join(failures)
