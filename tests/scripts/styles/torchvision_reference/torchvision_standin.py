"""The parts of torchvision that train.py uses, for machines where torchvision is not installed
(arrl's fixtures run with torch alone): ImageFolder over synthetic images (a class is a smooth
random colour pattern, plus noise; "train" and "val" folders differ in their samples), a small
ResNet under the name resnet18, InterpolationMode, RandomChoice and split_normalization_params.
Not part of the style."""
import enum
import random
import types

import torch
from torch import nn
import torch.nn.functional as F


class InterpolationMode(enum.Enum):
    NEAREST = "nearest"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"


class ImageFolder(torch.utils.data.Dataset):
    """Ten classes of 3x20x20 images; 64 per class in train/, 32 in val/."""

    def __init__(self, root, transform=None):
        self.classes = [f"class{i}" for i in range(10)]
        per_class = 32 if root.rstrip("/").endswith("val") else 64
        g = torch.Generator().manual_seed(5)
        patterns = F.interpolate(torch.rand(10, 3, 4, 4, generator=g), size=(20, 20), mode="bilinear")
        g.manual_seed(per_class)
        self.targets = torch.arange(10).repeat_interleave(per_class)
        noise = torch.rand(len(self.targets), 3, 20, 20, generator=g)
        self.images = (0.3 * patterns[self.targets] + 0.7 * noise).clamp(0, 1)
        self.transform = transform

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image = self.images[index]
        return (self.transform(image) if self.transform else image), int(self.targets[index])


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


def resnet18(pretrained=False, num_classes=1000):
    """A ResNet of two basic blocks (16 and 32 channels): torchvision's resnet18, shrunk."""
    assert not pretrained, "no pretrained weights here"
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         BasicBlock(16, 16), BasicBlock(16, 32, stride=2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, num_classes))


def split_normalization_params(model, norm_classes=None):
    norm_classes = norm_classes or (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm)
    norm_params, other_params = [], []
    for module in model.modules():
        if next(module.children(), None):
            other_params.extend(p for p in module.parameters(recurse=False) if p.requires_grad)
        elif isinstance(module, norm_classes):
            norm_params.extend(p for p in module.parameters() if p.requires_grad)
        else:
            other_params.extend(p for p in module.parameters() if p.requires_grad)
    return norm_params, other_params


class RandomChoice:
    def __init__(self, transforms):
        self.transforms = transforms

    def __call__(self, *args):
        return random.choice(self.transforms)(*args)


datasets = types.SimpleNamespace(ImageFolder=ImageFolder)
models = types.SimpleNamespace(resnet18=resnet18)
ops = types.SimpleNamespace(_utils=types.SimpleNamespace(split_normalization_params=split_normalization_params))
transforms = types.SimpleNamespace(RandomChoice=RandomChoice)
