"""fastconv.models vs PyTorch: ResNet-18, VGG-11 and GoogLeNet written out here in torch with torchvision's exact
module structure and key names (torchvision itself is not installed; nothing is downloaded), randomly initialised,
their state_dicts loaded into fastconv.models (torch tensors straight into load_state_dict), and the logits compared
in eval mode against the torch model run in float64. ResNet-18 gradients are compared too (train mode)."""
from __future__ import annotations

import numpy as np
import pytest

import fastconv as fc
import fastconv.models as M

from conftest import rel_err, torch

tnn, TF = torch.nn, torch.nn.functional


# ---- torchvision's layouts, written out -----------------------------------------------------------------------------
class TBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TResNet18(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(64, 2)
        self.layer2 = self._make_layer(128, 2, 2)
        self.layer3 = self._make_layer(256, 2, 2)
        self.layer4 = self._make_layer(512, 2, 2)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        ds = None
        if stride != 1 or self.inplanes != planes:
            ds = tnn.Sequential(tnn.Conv2d(self.inplanes, planes, 1, stride, bias=False), tnn.BatchNorm2d(planes))
        layers = [TBasicBlock(self.inplanes, planes, stride, ds)]
        self.inplanes = planes
        layers += [TBasicBlock(planes, planes) for _ in range(1, blocks)]
        return tnn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TVGG11(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        layers, c = [], 3
        for v in [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
            else:
                layers += [tnn.Conv2d(c, v, 3, padding=1), tnn.ReLU(inplace=True)]
                c = v
        self.features = tnn.Sequential(*layers)
        self.avgpool = tnn.AdaptiveAvgPool2d((7, 7))
        self.classifier = tnn.Sequential(tnn.Linear(512 * 7 * 7, 4096), tnn.ReLU(True), tnn.Dropout(),
                                         tnn.Linear(4096, 4096), tnn.ReLU(True), tnn.Dropout(),
                                         tnn.Linear(4096, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class TBasicConv2d(tnn.Module):
    def __init__(self, cin, cout, **kw):
        super().__init__()
        self.conv = tnn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = tnn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return TF.relu(self.bn(self.conv(x)))


class TInception(tnn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = TBasicConv2d(cin, c1, kernel_size=1)
        self.branch2 = tnn.Sequential(TBasicConv2d(cin, c3r, kernel_size=1),
                                      TBasicConv2d(c3r, c3, kernel_size=3, padding=1))
        self.branch3 = tnn.Sequential(TBasicConv2d(cin, c5r, kernel_size=1),  # torchvision's 3x3 "5x5" branch
                                      TBasicConv2d(c5r, c5, kernel_size=3, padding=1))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1, ceil_mode=True), TBasicConv2d(cin, pp, kernel_size=1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TInceptionAux(tnn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv = TBasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = tnn.Linear(2048, 1024)
        self.fc2 = tnn.Linear(1024, num_classes)
        self.dropout = tnn.Dropout(0.7)

    def forward(self, x):
        x = torch.flatten(self.conv(TF.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(TF.relu(self.fc1(x))))


class TGoogLeNet(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = TBasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = TBasicConv2d(64, 64, kernel_size=1)
        self.conv3 = TBasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = TInception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = TInception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = tnn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = TInception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = TInception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = TInception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = TInception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = TInception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = tnn.MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = TInception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = TInception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = TInceptionAux(512, num_classes)
        self.aux2 = TInceptionAux(528, num_classes)
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.dropout = tnn.Dropout(0.2)
        self.fc = tnn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        a1 = self.aux1(x) if self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        a2 = self.aux2(x) if self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.avgpool(self.inception5b(self.inception5a(x)))
        x = self.fc(self.dropout(torch.flatten(x, 1)))
        return (x, a2, a1) if self.training else x


# ---- helpers --------------------------------------------------------------------------------------------------------
def randomize_bn(model: tnn.Module, seed: int = 0) -> tnn.Module:
    """Non-trivial batch-norm statistics and affine parameters, so the eval-mode normalisation is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, tnn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
    return model


def transfer(tmodel: tnn.Module, fmodel):
    sd = tmodel.state_dict()
    assert list(sd.keys()) == list(fmodel.state_dict().keys())  # same keys, same order
    fmodel.load_state_dict(sd)  # torch tensors go in as they are
    return fmodel


def compare_eval(tmodel, fmodel, shape, seed=0, tol=1e-4):
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    tmodel.eval()
    fmodel.eval()
    with torch.no_grad():
        ref = tmodel.double()(torch.tensor(x, dtype=torch.float64))
    out = fmodel(x)
    assert out.shape == tuple(ref.shape)
    assert rel_err(out, ref) < tol, rel_err(out, ref)
    assert np.array_equal(out.argmax(1), ref.numpy().argmax(1))


# ---- tests ----------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def resnet_pair():
    torch.manual_seed(0)
    t = randomize_bn(TResNet18())
    return t, transfer(t, M.resnet18())


def test_resnet18_logits_match_torch_64(resnet_pair):
    t, f = resnet_pair
    compare_eval(t, f, (2, 3, 64, 64))


def test_resnet18_logits_match_torch_224_batch1(resnet_pair):
    t, f = resnet_pair
    compare_eval(t, f, (1, 3, 224, 224), seed=1)


def test_resnet18_gradients_match_torch_train_mode():
    """Loss and every parameter gradient of a train-mode step (batch-norm batch statistics) vs torch float64."""
    torch.manual_seed(1)
    t = randomize_bn(TResNet18(num_classes=10)).double().train()
    f = transfer(t, M.resnet18(num_classes=10)).train()
    rng = np.random.default_rng(2)
    # 64x64 so that layer4's batch norm sees 4x2x2 values: at 32x32 it normalises over 4 numbers, which amplifies
    # float32 rounding past 1e-4 (a conditioning effect that torch float32 shows as well).
    x = rng.standard_normal((4, 3, 64, 64)).astype(np.float32)
    y = rng.integers(0, 10, (4,))
    net = fc.compile(f, x.shape, loss="cross_entropy")
    loss, grads = net.loss_and_grads(x, y)
    ref = TF.cross_entropy(t(torch.tensor(x, dtype=torch.float64)), torch.tensor(y))
    ref.backward()
    assert rel_err(loss, ref) < 1e-4
    tgrads = dict(t.named_parameters())
    assert set(grads) == set(tgrads)
    for k, g in grads.items():
        assert rel_err(g, tgrads[k].grad) < 1e-4, k


def test_vgg11_logits_match_torch_64():
    torch.manual_seed(2)
    t = TVGG11()
    f = transfer(t, M.vgg11(init_weights=False))
    compare_eval(t, f, (2, 3, 64, 64), seed=3)


def test_googlenet_logits_match_torch_64():
    torch.manual_seed(3)
    t = randomize_bn(TGoogLeNet())
    f = transfer(t, M.googlenet())
    compare_eval(t, f, (2, 3, 64, 64), seed=4)
    # train mode: the same three outputs, in the same order, when dropout is off (batch 4: train-mode batch norm
    # over a 2x2 map of 2 images is too ill-conditioned for a 1e-4 float32 comparison)
    f.train()
    t.train()
    for m in list(f.modules()):
        if type(m).__name__ == "Dropout":
            m.p = 0.0
    for m in t.modules():
        if isinstance(m, tnn.Dropout):
            m.p = 0.0
    x = np.random.default_rng(5).standard_normal((4, 3, 64, 64)).astype(np.float32)
    outs = f(x)
    refs = t(torch.tensor(x, dtype=torch.float64))
    assert len(outs) == 3
    for o, r in zip(outs, refs):
        assert rel_err(o, r) < 1e-4
