"""lpips v0.1 ``LPIPS(net, version="0.1")`` in eval mode, written out for tests."""

import torch
from torch import nn

from .tv_alexnet import AlexNet
from .tv_vgg import VGG

SLICES = {"alex": [(0, 2), (2, 5), (5, 8), (8, 10), (10, 12)],
          "vgg": [(0, 4), (4, 9), (9, 16), (16, 23), (23, 30)]}


class ScalingLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("shift", torch.Tensor([-.030, -.088, -.188])[None, :, None, None])
        self.register_buffer("scale", torch.Tensor([.458, .448, .450])[None, :, None, None])

    def forward(self, x):
        return (x - self.shift) / self.scale


class NetLinLayer(nn.Module):
    def __init__(self, c_in):
        super().__init__()
        self.model = nn.Sequential(nn.Dropout(), nn.Conv2d(c_in, 1, 1, stride=1, padding=0,
                                                           bias=False))

    def forward(self, x):
        return self.model(x)


def normalize_tensor(x, eps=1e-10):
    return x / (torch.sqrt(torch.sum(x**2, dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """``backbone`` is the torchvision-layout net; only its ``features`` are used."""

    def __init__(self, net="alex", width=1.0):
        super().__init__()
        self.scaling_layer = ScalingLayer()
        self.backbone = AlexNet(width) if net == "alex" else VGG("vgg16", width)
        self.slices = SLICES[net]
        chns = [self.backbone.features[b - 2].out_channels for _, b in self.slices]
        self.lins = nn.ModuleList([NetLinLayer(c) for c in chns])

    def head_state_dict(self):
        return {f"lin{i}.{k}": v for i, lin in enumerate(self.lins)
                for k, v in lin.state_dict().items()}

    def taps(self, x):
        h, out = self.scaling_layer(x), []
        for a, b in self.slices:
            for layer in self.backbone.features[a:b]:
                h = layer(h)
            out.append(h)
        return out

    def forward(self, in0, in1):
        res = []
        for f0, f1, lin in zip(self.taps(in0), self.taps(in1), self.lins):
            d = (normalize_tensor(f0) - normalize_tensor(f1)) ** 2
            res.append(lin(d).mean([2, 3], keepdim=True))
        return sum(res), res
