"""Progressive GAN generator/discriminator in the pytorch_GAN_zoo layout (eval numerics).

State-dict keys match ``models/networks/progressive_conv_net.py``: every layer is
``<name>.module.{weight,bias}`` and equalised learning rate multiplies the layer *output*
(bias included) by sqrt(2 / fan_in) at run time.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class Equalized(nn.Module):
    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        nn.init.normal_(module.weight)
        nn.init.zeros_(module.bias)
        self.scale = math.sqrt(2.0 / math.prod(module.weight.shape[1:]))

    def forward(self, x):
        return self.module(x) * self.scale


def conv(cin, cout, k):
    return Equalized(nn.Conv2d(cin, cout, k, padding=k // 2))


def linear(cin, cout):
    return Equalized(nn.Linear(cin, cout))


def pixel_norm(x):
    return x * torch.rsqrt((x**2).mean(dim=1, keepdim=True) + 1e-8)


def up(x):
    return F.interpolate(x, scale_factor=2, mode="nearest")


def minibatch_stddev(x, group=4):
    n, c, h, w = x.shape
    group = min(n, group)
    if n % group:
        group = n
    if group == 1:
        return torch.cat([x, x.new_zeros(n, 1, h, w)], 1)
    y = torch.sqrt(torch.var(x.view(-1, group, c, h, w), 1) + 1e-8)  # unbiased var
    y = y.view(n // group, -1).mean(1).repeat_interleave(group)
    return torch.cat([x, y.view(n, 1, 1, 1).expand(n, 1, h, w)], 1)


class GNet(nn.Module):
    def __init__(self, dim_latent, depth_scale0, depth_other_scales=(), dim_output=3, alpha=0.0,
                 leak=0.2):
        super().__init__()
        self.depth0, self.alpha, self.leak = depth_scale0, alpha, leak
        self.formatLayer = linear(dim_latent, 16 * depth_scale0)
        self.groupScale0 = nn.ModuleList([conv(depth_scale0, depth_scale0, 3)])
        self.toRGBLayers = nn.ModuleList([conv(depth_scale0, dim_output, 1)])
        self.scaleLayers = nn.ModuleList()
        last = depth_scale0
        for d in depth_other_scales:
            self.scaleLayers.append(nn.ModuleList([conv(last, d, 3), conv(d, d, 3)]))
            self.toRGBLayers.append(conv(d, dim_output, 1))
            last = d

    def act(self, x):
        return F.leaky_relu(x, self.leak)

    def forward(self, z, taps=None):
        x = self.act(self.formatLayer(pixel_norm(z))).view(z.shape[0], -1, 4, 4)
        x = pixel_norm(self.act(self.groupScale0[0](pixel_norm(x))))
        y = None
        n = len(self.scaleLayers)
        if self.alpha > 0 and n == 1:
            y = up(self.toRGBLayers[-2](x))
        for s, group in enumerate(self.scaleLayers):
            x = up(x)
            for layer in group:
                x = pixel_norm(self.act(layer(x)))
            if taps is not None:
                taps.append(x)
            if self.alpha > 0 and s == n - 2:
                y = up(self.toRGBLayers[-2](x))
        x = self.toRGBLayers[-1](x)
        return self.alpha * y + (1 - self.alpha) * x if self.alpha > 0 else x


class DNet(nn.Module):
    def __init__(self, depth_scale0, depth_other_scales=(), size_decision_layer=1,
                 mini_batch_std=True, dim_input=3, alpha=0.0, leak=0.2):
        super().__init__()
        self.alpha, self.leak, self.mbstd = alpha, leak, mini_batch_std
        self.fromRGBLayers = nn.ModuleList([conv(dim_input, depth_scale0, 1)])
        self.scaleLayers = nn.ModuleList()
        last = depth_scale0
        for d in depth_other_scales:
            self.scaleLayers.append(nn.ModuleList([conv(d, d, 3), conv(d, last, 3)]))
            self.fromRGBLayers.append(conv(dim_input, d, 1))
            last = d
        self.groupScaleZero = nn.ModuleList([conv(depth_scale0 + int(mini_batch_std),
                                                  depth_scale0, 3),
                                             linear(16 * depth_scale0, depth_scale0)])
        self.decisionLayer = linear(depth_scale0, size_decision_layer)

    def act(self, x):
        return F.leaky_relu(x, self.leak)

    def forward(self, x, taps=None):
        if self.alpha > 0 and len(self.fromRGBLayers) > 1:
            y = self.act(self.fromRGBLayers[-2](F.avg_pool2d(x, 2)))
        x = self.act(self.fromRGBLayers[-1](x))
        merge = self.alpha > 0 and len(self.scaleLayers) > 1
        for group in reversed(self.scaleLayers):
            for layer in group:
                x = self.act(layer(x))
            x = F.avg_pool2d(x, 2)
            if merge:
                merge = False
                x = self.alpha * y + (1 - self.alpha) * x
            if taps is not None:
                taps.append(x)
        if self.mbstd:
            x = minibatch_stddev(x)
        x = self.act(self.groupScaleZero[0](x))
        x = self.act(self.groupScaleZero[1](x.reshape(x.shape[0], -1)))
        return self.decisionLayer(x)


def build(dim_latent, depth_scale0, depth_other_scales=(), mini_batch_std=True,
          size_decision_layer=1, dim_output=3, alpha=0.0):
    """Returns ``(GNet, DNet)`` as ``ProgressiveGAN.getNetG/getNetD`` would build them."""
    g = GNet(dim_latent, depth_scale0, depth_other_scales, dim_output, alpha)
    d = DNet(depth_scale0, depth_other_scales, size_decision_layer, mini_batch_std, dim_output,
             alpha)
    return g, d
