"""model.summary: Keras's table format, reproducing the course notes' CIFAR-10 CNN and fully connected net."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn


def needs(*ops):
    have = set(fc._C.op_names())
    missing = [o for o in ops if o not in have]
    assert not missing, f"ops missing from this build: {missing}"


HEAD = ['_' * 65, "Layer (type)                 Output Shape              Param #   ", "=" * 65]


def row(name, shape, n):
    return f"{name:<29}{shape:<26}{n:<10}"


def table(model_name, rows, total, trainable, non_trainable):
    lines = [f'Model: "{model_name}"'] + HEAD
    for i, r in enumerate(rows):
        lines += [row(*r), "=" * 65 if i == len(rows) - 1 else "_" * 65]
    return "\n".join(lines + [f"Total params: {total}", f"Trainable params: {trainable}",
                              f"Non-trainable params: {non_trainable}", "_" * 65])


def test_cifar10_cnn_table_matches_course_notes():
    needs("conv2d", "max_pool2d", "linear")
    # Keras: Conv2D(32,(3,3),relu) MaxPooling2D(2) Conv2D(64) Conv2D(128) Flatten Dense(128,relu) Dense(10)
    model = nn.Sequential(nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                          nn.Conv2d(64, 128, 3), nn.ReLU(), nn.Flatten(), nn.Linear(15488, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    printed = []
    text = model.summary((3, 32, 32), print_fn=printed.append)
    assert printed == [text]
    assert text == table("sequential", [
        ("conv2d (Conv2d)", "(None, 32, 30, 30)", "896"),
        ("re_lu (ReLU)", "(None, 32, 30, 30)", "0"),
        ("max_pool2d (MaxPool2d)", "(None, 32, 15, 15)", "0"),
        ("conv2d_1 (Conv2d)", "(None, 64, 13, 13)", "18496"),
        ("re_lu_1 (ReLU)", "(None, 64, 13, 13)", "0"),
        ("conv2d_2 (Conv2d)", "(None, 128, 11, 11)", "73856"),
        ("re_lu_2 (ReLU)", "(None, 128, 11, 11)", "0"),
        ("flatten (Flatten)", "(None, 15488)", "0"),
        ("linear (Linear)", "(None, 128)", "1982592"),
        ("re_lu_3 (ReLU)", "(None, 128)", "0"),
        ("linear_1 (Linear)", "(None, 10)", "1290"),
    ], "2,077,130", "2,077,130", "0")


def test_fully_connected_net_table_matches_course_notes():
    needs("linear")
    dims = [32 * 32 * 3, 2048, 1024, 512, 128, 10]
    layers = []
    for a, b in zip(dims, dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    text = fc.summary(model, (3072,), print_fn=lambda s: None)
    rows = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        rows.append((f"linear{'_' + str(i) if i else ''} (Linear)", f"(None, {b})", str(a * b + b)))
        if i < 4:
            rows.append((f"re_lu{'_' + str(i) if i else ''} (ReLU)", f"(None, {b})", "0"))
    assert [r[2] for r in rows if r[2] != "0"] == ["6293504", "2098176", "524800", "65664", "1290"]
    assert text == table("sequential", rows, "8,983,434", "8,983,434", "0")


class VeryLongNamedConvolutionLayer(nn.Conv2d):
    pass


def test_non_trainable_counts_truncation_and_user_modules():
    needs("conv2d", "batch_norm")

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = VeryLongNamedConvolutionLayer(1, 4, 3, padding=1)
            self.body = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
            self.gain = nn.Parameter(np.ones(1))

        def forward(self, x):
            h = self.stem(x)
            return (self.body(h) + h) * self.gain

    m = Net()
    m.stem.requires_grad_(False)
    text = fc.summary(m, (1, 5, 5), print_fn=lambda s: None)
    lines = text.split("\n")
    # Keras would cut a long "name (Type)" at the column edge; the first column widens to hold it instead
    label = "very_long_named_convolution_layer (VeryLongNamedConvolutionLayer)"
    w = len(label) + 1
    wide = lambda a, b, c: f"{a:<{w}}{b:<26}{c:<10}"  # noqa: E731
    assert lines[4] == wide(label, "(None, 4, 5, 5)", "40")
    assert wide("conv2d (Conv2d)", "(None, 4, 5, 5)", "144") in lines
    assert wide("batch_norm2d (BatchNorm2d)", "(None, 4, 5, 5)", "16") in lines
    assert wide("net (Net)", "(None, 4, 5, 5)", "1") in lines
    # trainable: conv 144 + bn 8 + gain 1; non-trainable: frozen stem 40 + bn moving stats 8
    assert lines[-4:] == ["Total params: 201", "Trainable params: 153", "Non-trainable params: 48", "_" * (w + 36)]


def test_summary_restores_training_mode_and_names_shape_errors():
    needs("conv2d")
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU())
    m.train()
    fc.summary(m, (3, 8, 8), print_fn=lambda s: None)
    assert m.training and m[0].training
    with pytest.raises(ValueError, match="in layer '0'"):
        fc.summary(m, (2, 8, 8), print_fn=lambda s: None)


def test_long_layer_names_widen_the_table_instead_of_being_cut():
    m = fc.nn.Sequential(fc.nn.Conv2d(3, 8, 3), fc.nn.AdaptiveAvgPool2d(1), fc.nn.Flatten())
    text = fc.summary(m, (3, 16, 16), print_fn=lambda s: None)
    rows = text.splitlines()
    assert any(r.startswith("adaptive_avg_pool2d (AdaptiveAvgPool2d) ") for r in rows)
    width = len(rows[1])
    assert width > 65 and all(len(r) <= width for r in rows)
    header = next(r for r in rows if r.startswith("Layer (type)"))
    row = next(r for r in rows if r.startswith("adaptive"))
    assert row.index("(None, 8, 1, 1)") == header.index("Output Shape")  # columns stay aligned
