"""Constructor validation of every nn layer and zoo model: a bad argument is a TypeError (wrong kind) or ValueError
(out of range) whose message names the class, the argument and the value; and the initialisers finish for any
arguments (trunc_normal_ with [a, b] far in a tail used to loop forever)."""
from __future__ import annotations

import math

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
from fastconv.nn import init

# (constructor, args, kwargs, exception, words the message must contain: class, argument, value)
BAD = [
    (nn.Conv2d, (1, -3, 3), {}, ValueError, ["Conv2d", "out_channels", "-3"]),
    (nn.Conv2d, (0, 3, 3), {}, ValueError, ["Conv2d", "in_channels", "0"]),
    (nn.Conv2d, (1, 8, 0), {}, ValueError, ["Conv2d", "kernel_size", "0"]),
    (nn.Conv2d, (1, 8, (3, 3, 3)), {}, ValueError, ["Conv2d", "kernel_size", "(3, 3, 3)"]),
    (nn.Conv2d, (1, 8, 3.5), {}, TypeError, ["Conv2d", "kernel_size", "3.5"]),
    (nn.Conv2d, (1, 8, 3), dict(stride=0), ValueError, ["Conv2d", "stride", "0"]),
    (nn.Conv2d, (1, 8, 3), dict(padding=-1), ValueError, ["Conv2d", "padding", "-1"]),
    (nn.Conv2d, (1, 8, 3), dict(padding="half"), ValueError, ["Conv2d", "padding", "half"]),
    (nn.Conv2d, (1, 8, 3), dict(dilation=0), ValueError, ["Conv2d", "dilation", "0"]),
    (nn.Conv2d, (2, 8, 3), dict(groups=0), ValueError, ["Conv2d", "groups", "0"]),
    (nn.Conv2d, (3, 8, 3), dict(groups=2), ValueError, ["Conv2d", "in_channels", "groups"]),
    (nn.Conv2d, (1, 8, 3), dict(padding_mode="mirror"), ValueError, ["Conv2d", "padding_mode", "mirror"]),
    (nn.Conv2d, (1, 8, 3), dict(bias="yes"), TypeError, ["Conv2d", "bias", "yes"]),
    (nn.Conv2d, (1, 2 ** 64, 3), {}, ValueError, ["Conv2d", "out_channels", str(2 ** 64)]),
    (nn.Conv2d, (True, 8, 3), {}, TypeError, ["Conv2d", "in_channels", "True"]),
    (nn.Conv1d, (1, 8, 3), dict(stride=(1, 1)), ValueError, ["Conv1d", "stride", "(1, 1)"]),
    (nn.Conv3d, (1, 8, 3), dict(padding="same", stride=2), ValueError, ["Conv3d", "padding='same'", "(2, 2, 2)"]),
    (nn.ConvTranspose2d, (1, 8, 3), dict(stride=2, output_padding=2), ValueError,
     ["ConvTranspose2d", "output_padding", "(2, 2)"]),
    (nn.ConvTranspose2d, (1, 8, 3), dict(padding_mode="reflect"), ValueError,
     ["ConvTranspose2d", "padding_mode", "reflect"]),
    (nn.Linear, (0, 10), {}, ValueError, ["Linear", "in_features", "0"]),
    (nn.Linear, (10, -1), {}, ValueError, ["Linear", "out_features", "-1"]),
    (nn.Linear, (10, "3"), {}, TypeError, ["Linear", "out_features", "'3'"]),
    (nn.Linear, (2 ** 31, 2 ** 31), {}, ValueError, ["Linear", "elements"]),
    (nn.BatchNorm2d, (0,), {}, ValueError, ["BatchNorm2d", "num_features", "0"]),
    (nn.BatchNorm2d, (4,), dict(eps=0), ValueError, ["BatchNorm2d", "eps", "0"]),
    (nn.BatchNorm2d, (4,), dict(eps=float("nan")), ValueError, ["BatchNorm2d", "eps", "nan"]),
    (nn.BatchNorm1d, (4,), dict(momentum=1.5), ValueError, ["BatchNorm1d", "momentum", "1.5"]),
    (nn.BatchNorm3d, (4,), dict(affine="no"), TypeError, ["BatchNorm3d", "affine", "no"]),
    (nn.GroupNorm, (0, 4), {}, ValueError, ["GroupNorm", "num_groups", "0"]),
    (nn.GroupNorm, (3, 4), {}, ValueError, ["GroupNorm", "num_channels", "num_groups"]),
    (nn.GroupNorm, (2, 4), dict(eps=-1e-5), ValueError, ["GroupNorm", "eps", "-1e-05"]),
    (nn.LayerNorm, ((),), {}, ValueError, ["LayerNorm", "normalized_shape"]),
    (nn.LayerNorm, ((4, 0),), {}, ValueError, ["LayerNorm", "normalized_shape", "0"]),
    (nn.LayerNorm, (4,), dict(eps=float("inf")), ValueError, ["LayerNorm", "eps", "inf"]),
    (nn.LocalResponseNorm, (0,), {}, ValueError, ["LocalResponseNorm", "size", "0"]),
    (nn.Dropout, (1.5,), {}, ValueError, ["Dropout", "'p'", "1.5"]),
    (nn.Dropout2d, (-0.1,), {}, ValueError, ["Dropout2d", "'p'", "-0.1"]),
    (nn.Dropout, ("half",), {}, TypeError, ["Dropout", "'p'", "half"]),
    (nn.LeakyReLU, (float("nan"),), {}, ValueError, ["LeakyReLU", "negative_slope", "nan"]),
    (nn.ELU, ("1",), {}, TypeError, ["ELU", "alpha", "'1'"]),
    (nn.Softmax, (1.5,), {}, TypeError, ["Softmax", "dim", "1.5"]),
    (nn.MaxPool2d, (0,), {}, ValueError, ["MaxPool2d", "kernel_size", "0"]),
    (nn.MaxPool2d, (2,), dict(stride=-1), ValueError, ["MaxPool2d", "stride", "-1"]),
    (nn.MaxPool2d, (2,), dict(padding=2), ValueError, ["MaxPool2d", "padding", "half"]),
    (nn.MaxPool2d, (2,), dict(dilation=0), ValueError, ["MaxPool2d", "dilation", "0"]),
    (nn.MinPool2d, (2,), dict(ceil_mode="true"), TypeError, ["MinPool2d", "ceil_mode", "true"]),
    (nn.AvgPool2d, (2,), dict(divisor_override=0), ValueError, ["AvgPool2d", "divisor_override", "0"]),
    (nn.AdaptiveAvgPool2d, (0,), {}, ValueError, ["AdaptiveAvgPool2d", "output_size", "0"]),
    (nn.AdaptiveMaxPool2d, ((2, 2, 2),), {}, ValueError, ["AdaptiveMaxPool2d", "output_size", "(2, 2, 2)"]),
    (nn.MaxUnpool2d, (0,), {}, ValueError, ["MaxUnpool2d", "kernel_size", "0"]),
    (nn.Upsample, (), {}, ValueError, ["Upsample", "size", "scale_factor"]),
    (nn.Upsample, (), dict(scale_factor=-2), ValueError, ["Upsample", "scale_factor", "-2"]),
    (nn.Upsample, (), dict(size=4, mode="cubic"), ValueError, ["Upsample", "mode", "cubic"]),
    (nn.Flatten, (1.0,), {}, TypeError, ["Flatten", "start_dim", "1.0"]),
    (nn.Unflatten, (1, 4), {}, TypeError, ["Unflatten", "unflattened_size", "4"]),
    (fc.models.resnet18, (), dict(num_classes=0), ValueError, ["ResNet", "num_classes", "0"]),
    (fc.models.resnet18, (), dict(in_channels=-1), ValueError, ["ResNet", "in_channels", "-1"]),
    (fc.models.ResNet, (), dict(layers=(2, 2)), ValueError, ["ResNet", "layers", "(2, 2)"]),
    (fc.models.ResNet, (), dict(layers=(2, 0, 2, 2)), ValueError, ["ResNet", "layers", "0"]),
    (fc.models.ResNet, (), dict(block="wide"), ValueError, ["ResNet", "block", "wide"]),
    (fc.models.BasicBlock, (64, 0), {}, ValueError, ["BasicBlock", "planes", "0"]),
    (fc.models.BasicBlock, (64, 64), dict(downsample=3), TypeError, ["BasicBlock", "downsample", "int"]),
    (fc.models.vgg11, (), dict(num_classes=-5), ValueError, ["VGG", "num_classes", "-5"]),
    (fc.models.vgg11, (), dict(dropout=2.0), ValueError, ["VGG", "dropout", "2.0"]),
    (fc.models.vgg11, (), dict(hidden=0), ValueError, ["VGG", "hidden", "0"]),
    (fc.models.VGG, ("Z",), {}, ValueError, ["VGG", "cfg", "'Z'"]),
    (fc.models.VGG, ([64, "M", -1],), {}, ValueError, ["VGG", "cfg", "-1"]),
    (fc.models.alexnet, (), dict(num_classes=0), ValueError, ["AlexNet", "num_classes", "0"]),
    (fc.models.alexnet, (), dict(lrn="yes"), TypeError, ["AlexNet", "lrn", "yes"]),
    (fc.models.googlenet, (), dict(dropout_aux=-1), ValueError, ["GoogLeNet", "dropout_aux", "-1"]),
    (fc.models.Inception, (192, 64, 96, 128, 16, 32, 0), {}, ValueError, ["Inception", "pool_proj", "0"]),
    (fc.models.lenet5, (), dict(in_channels=0), ValueError, ["LeNet5", "in_channels", "0"]),
    (fc.models.unet, (), dict(depth=0), ValueError, ["UNet", "depth", "0"]),
    (fc.models.unet, (), dict(depth=40), ValueError, ["UNet", "depth", "40"]),
    (fc.models.fcn, (), dict(base=0), ValueError, ["FCN", "base", "0"]),
    (fc.models.siamese_net, (0,), {}, ValueError, ["EmbeddingNet", "embedding_dim", "0"]),
    (fc.models.TripletNet, ("net",), {}, TypeError, ["TripletNet", "embedding_net", "str"]),
    (fc.models.localization_net, (), dict(num_classes=1.5), TypeError, ["LocalizationNet", "num_classes", "1.5"]),
]


@pytest.mark.parametrize("ctor,args,kwargs,exc,words", BAD,
                         ids=[f"{c.__name__}-{i}" for i, (c, *_rest) in enumerate(BAD)])
def test_bad_constructor_arguments_name_class_argument_and_value(ctor, args, kwargs, exc, words):
    with pytest.raises(exc) as e:
        ctor(*args, **kwargs)
    msg = str(e.value)
    for w in words:
        assert w in msg, (w, msg)


def test_valid_arguments_keep_their_meaning():
    # bias/flags as 0/1, NumPy integers, None strides: accepted as PyTorch accepts them.
    c = nn.Conv2d(np.int64(2), 4, (3, 1), stride=np.int32(2), bias=0)
    assert c.bias is None and c.kernel_size == (3, 1) and c.stride == (2, 2)
    assert nn.MaxPool2d(3, stride=None).stride == 3 and nn.MaxPool2d([3, 2], padding=(1, 1)).kernel_size == (3, 2)
    assert nn.BatchNorm2d(3, momentum=None).momentum is None
    assert nn.Dropout(1).p == 1.0 and nn.LayerNorm([2, 3]).normalized_shape == (2, 3)


def test_trunc_normal_finishes_and_matches_the_truncated_distribution():
    stats = pytest.importorskip("scipy.stats")
    w = np.empty(200000, np.float32)
    fc.manual_seed(0)
    for mean, std, a, b in [(100.0, 1.0, -2.0, 2.0), (0.0, 1.0, -2.0, 2.0), (0.0, 1.0, 3.0, 4.0),
                            (0.0, 0.01, -2.0, 2.0), (-50.0, 2.0, 10.0, 11.0)]:
        init.trunc_normal_(w, mean, std, a, b)
        ref = stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)
        assert w.min() >= a and w.max() <= b
        assert abs(w.mean() - ref.mean()) < 5 * ref.std() / math.sqrt(w.size) + 1e-6, (mean, a, b)
        assert abs(w.std() - ref.std()) < 0.02 * ref.std() + 1e-6, (mean, a, b)
    init.trunc_normal_(w, 3.0, 0.0, -1.0, 1.0)  # no spread: the mean clamped to [a, b]
    assert np.all(w == 1.0)
    for bad in [dict(std=-1.0), dict(a=2.0, b=1.0), dict(mean=float("nan"))]:
        with pytest.raises(ValueError, match="trunc_normal_: argument"):
            init.trunc_normal_(w, **bad)


def test_initialisers_reject_bad_arguments_and_accept_empty_tensors():
    w = np.empty((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"uniform_: argument 'a' \(2.0\) must not be greater than 'b'"):
        init.uniform_(w, 2.0, 1.0)
    with pytest.raises(ValueError, match="normal_: argument 'std' must be a finite number >= 0.0, got -1"):
        init.normal_(w, 0.0, -1)
    e = np.empty((0, 0), np.float32)
    assert init.xavier_uniform_(e) is e and init.xavier_normal_(e) is e


def test_set_num_threads_range():
    with pytest.raises(ValueError, match=r"set_num_threads: argument 'n' must be an int between 1 and 1024, got "
                                         r"9223372036854775808"):
        fc.set_num_threads(2 ** 63)
    with pytest.raises(ValueError, match="got 0"):
        fc.set_num_threads(0)
