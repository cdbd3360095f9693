"""Training scripts in the style of PyTorch's official examples, for the eager-loop tests and bench/bench_eager.py.

Each script is one body of code and two import headers: run with torch's imports it is a PyTorch script, run with
fastconv's it must behave the same (issue 15: "runs with only its imports changed"). The caller's namespace gives
the data (X, Y, ...), the initial weights W0 (a dict of NumPy arrays from the torch model) and `log` (a list the
script appends each step's loss to).
"""
from __future__ import annotations

import textwrap

TORCH = """
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.utils.data import DataLoader, TensorDataset
from torch.optim.lr_scheduler import StepLR
"""

FASTCONV = """
import fastconv as torch
import fastconv.nn as nn
import fastconv.nn.functional as F
import fastconv.optim as optim
from fastconv.utils.data import DataLoader, TensorDataset
from fastconv.optim.lr_scheduler import StepLR
"""

# pytorch/examples mnist/main.py (Adadelta, StepLR), smaller and without its dropout layers (their masks come from
# each library's own random stream).
MNIST = """
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, 1)
        self.conv2 = nn.Conv2d(8, 16, 3, 1)
        self.fc1 = nn.Linear(16 * 6 * 6, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(model, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        log.append(loss.item())


def test(model, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    results.append((test_loss, correct))

"""
MNIST_LOOP = """
model = Net()
model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in W0.items()})
train_loader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=16)
test_loader = DataLoader(TensorDataset(torch.from_numpy(Xt), torch.from_numpy(Yt)), batch_size=32)
optimizer = optim.Adadelta(model.parameters(), lr=1.0)
scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
for epoch in range(1, epochs + 1):
    train(model, train_loader, optimizer, epoch)
    test(model, test_loader)
    scheduler.step()
torch.save(model.state_dict(), save_path)
"""

# The CIFAR ResNet loop of the usual tutorials (kuangliu/pytorch-cifar's BasicBlock), two blocks wide enough to test.
RESNET = """
class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != self.expansion * planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride, bias=False),
                nn.BatchNorm2d(self.expansion * planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, num_classes=10):
        super(ResNet, self).__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = BasicBlock(16, 16, 1)
        self.layer2 = BasicBlock(16, 32, 2)
        self.linear = nn.Linear(32, num_classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = F.avg_pool2d(out, 8)
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out

"""
RESNET_LOOP = """
net = ResNet()
net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in W0.items()})
criterion = nn.CrossEntropyLoss()
optimizer = optim.SGD(net.parameters(), lr=0.02, momentum=0.9, weight_decay=5e-4)
trainloader = DataLoader(TensorDataset(torch.from_numpy(X), torch.from_numpy(Y)), batch_size=8)
for epoch in range(epochs):
    net.train()
    train_loss = 0
    correct = 0
    total = 0
    for batch_idx, (inputs, targets) in enumerate(trainloader):
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        train_loss += loss.item()
        _, predicted = outputs.max(1)
        total += targets.size(0)
        correct += predicted.eq(targets).sum().item()
        log.append(loss.item())
    results.append((train_loss, correct, total))
"""

# A triplet loop (the course's siamese networks): one embedding net applied to anchor, positive and negative.
TRIPLET = """
class EmbeddingNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.convnet = nn.Sequential(nn.Conv2d(1, 8, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2),
                                     nn.Conv2d(8, 16, 5), nn.PReLU(), nn.MaxPool2d(2, stride=2))
        self.fc = nn.Sequential(nn.Linear(16 * 4 * 4, 64), nn.PReLU(), nn.Linear(64, 8))

    def forward(self, x):
        output = self.convnet(x)
        output = output.view(output.size()[0], -1)
        output = self.fc(output)
        return output

"""
TRIPLET_LOOP = """
model = EmbeddingNet()
model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in W0.items()})
loss_fn = nn.TripletMarginLoss(margin=1.0)
optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loader = DataLoader(TensorDataset(torch.from_numpy(A), torch.from_numpy(P), torch.from_numpy(N)), batch_size=8)
for epoch in range(epochs):
    model.train()
    for anchor, positive, negative in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(anchor), model(positive), model(negative))
        loss.backward()
        optimizer.step()
        log.append(loss.item())
"""


SCRIPTS = {"mnist": (MNIST, MNIST_LOOP, "Net()"), "resnet": (RESNET, RESNET_LOOP, "ResNet()"),
           "triplet": (TRIPLET, TRIPLET_LOOP, "EmbeddingNet()")}


def run(name: str, lib: str, namespace: dict) -> dict:
    """Runs script `name` with `lib`'s imports ('torch' or 'fastconv') in a copy of namespace; returns it."""
    defs, loop, _ = SCRIPTS[name]
    ns = dict(namespace)
    ns.setdefault("log", [])
    ns.setdefault("results", [])
    code = textwrap.dedent(TORCH if lib == "torch" else FASTCONV) + textwrap.dedent(defs) + textwrap.dedent(loop)
    exec(compile(code, f"<{name} script, {lib}>", "exec"), ns)
    return ns


def initial_weights(name: str, seed: int = 0) -> dict:
    """The torch model's initial state_dict as NumPy arrays (the same start for both libraries)."""
    import torch
    defs, _, ctor = SCRIPTS[name]
    ns: dict = {}
    exec(compile(textwrap.dedent(TORCH) + textwrap.dedent(defs), f"<{name} defs>", "exec"), ns)
    torch.manual_seed(seed)
    model = eval(ctor, ns)
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
