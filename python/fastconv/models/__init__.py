"""fastconv.models: the model zoo. Classic CNNs with torchvision's module structure and state_dict keys where
torchvision has the model (so its state_dicts load unchanged), plus the course's segmentation, siamese and
localisation networks. Every constructor takes num_classes and in_channels (siamese_net: embedding_dim).

    import fastconv.models as models
    net = models.resnet18(num_classes=10)            # or models.get("resnet18", num_classes=10)
    models.list_models()                             # every registered name
"""
from __future__ import annotations

from ._registry import count_parameters, get, list_models, register
from .alexnet import AlexNet, alexnet
from .googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux, googlenet, googlenet_loss
from .lenet import LeNet5, lenet5, lenet5_modern
from .localization import LocalizationNet, localization_loss, localization_net, pack_targets
from .resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from .segmentation import FCN, DoubleConv, UNet, fcn, unet
from .siamese import EmbeddingNet, TripletNet, siamese_net, split_batch, triplet_loss
from .vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

__all__ = ["get", "list_models", "register", "count_parameters",
           "LeNet5", "lenet5", "lenet5_modern", "AlexNet", "alexnet",
           "VGG", "vgg11", "vgg13", "vgg16", "vgg19", "vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn",
           "GoogLeNet", "Inception", "InceptionAux", "BasicConv2d", "googlenet", "googlenet_loss",
           "ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
           "FCN", "UNet", "DoubleConv", "fcn", "unet",
           "EmbeddingNet", "TripletNet", "siamese_net", "triplet_loss", "split_batch",
           "LocalizationNet", "localization_net", "localization_loss", "pack_targets"]
