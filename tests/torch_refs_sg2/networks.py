"""Test-only PyTorch StyleGAN2 Generator / Discriminator (rosinality layout, narrow channels)."""

from __future__ import annotations

import math

import torch
from torch import nn

from tests.torch_refs_sg2.model import (
    Blur, ConstantInput, EqualLinear, FusedLeakyReLU, StyledConv, ToRGB,
)


class PixelNorm(nn.Module):
    def forward(self, x):
        return x * torch.rsqrt(x.square().mean(1, keepdim=True) + 1e-8)


class Generator(nn.Module):
    """``channels``: {res: width}. ``forward`` returns (image, {name: activation})."""

    def __init__(self, size, style_dim, n_mlp, channels, lr_mlp=0.01, conv_clamp=None):
        super().__init__()
        self.size, self.style_dim = size, style_dim
        self.style = nn.Sequential(PixelNorm(), *[
            EqualLinear(style_dim, style_dim, lr_mul=lr_mlp, activation=True) for _ in range(n_mlp)
        ])
        log = int(math.log2(size))
        self.input = ConstantInput(channels[4])
        self.conv1 = StyledConv(channels[4], channels[4], style_dim, clamp=conv_clamp)
        self.to_rgb1 = ToRGB(channels[4], style_dim, upsample=False, clamp=conv_clamp)
        self.convs, self.to_rgbs, self.noises = nn.ModuleList(), nn.ModuleList(), nn.Module()
        self.num_layers = 2 * log - 3
        for i in range(self.num_layers):
            r = 2 ** ((i + 5) // 2)
            self.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, r, r))
        c_in = channels[4]
        for k in range(3, log + 1):
            c = channels[2**k]
            self.convs.append(StyledConv(c_in, c, style_dim, upsample=True, clamp=conv_clamp))
            self.convs.append(StyledConv(c, c, style_dim, clamp=conv_clamp))
            self.to_rgbs.append(ToRGB(c, style_dim, clamp=conv_clamp))
            c_in = c
        self.n_latent = 2 * log - 2

    def forward(self, ws, noise=None):
        """ws: [N, n_latent, style_dim] (W+); noise: list of [N|1, 1, r, r] or None for buffers."""
        if noise is None:
            noise = [getattr(self.noises, f"noise_{i}") for i in range(self.num_layers)]
        acts = {}
        out = self.conv1(self.input(ws.shape[0]), ws[:, 0], noise[0])
        skip = self.to_rgb1(out, ws[:, 1])
        acts["conv1"], acts["to_rgb1"] = out, skip
        for j, to_rgb in enumerate(self.to_rgbs):
            i = 2 * j + 1
            out = self.convs[2 * j](out, ws[:, i], noise[i])
            acts[f"convs_{2 * j}"] = out
            out = self.convs[2 * j + 1](out, ws[:, i + 1], noise[i + 1])
            acts[f"convs_{2 * j + 1}"] = out
            skip = to_rgb(out, ws[:, i + 2], skip)
            acts[f"to_rgbs_{j}"] = skip
        return skip, acts


class ConvLayer(nn.Sequential):
    def __init__(self, i, o, k, downsample=False, bias=True, activate=True, clamp=None):
        mods = []
        if downsample:
            p = 2 + (k - 1)
            mods.append(Blur(pad=((p + 1) // 2, p // 2)))
        mods.append(EqualConv2d(i, o, k, stride=2 if downsample else 1,
                                padding=0 if downsample else k // 2, bias=bias and not activate))
        if activate:
            mods.append(FusedLeakyReLU(o, clamp))
        super().__init__(*mods)


class EqualConv2d(nn.Module):
    def __init__(self, i, o, k, stride=1, padding=0, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i, k, k))
        self.bias = nn.Parameter(torch.zeros(o)) if bias else None
        self.scale, self.stride, self.padding = 1 / math.sqrt(i * k * k), stride, padding

    def forward(self, x):
        return nn.functional.conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)


class ResBlock(nn.Module):
    def __init__(self, i, o, clamp=None):
        super().__init__()
        self.conv1 = ConvLayer(i, i, 3, clamp=clamp)
        self.conv2 = ConvLayer(i, o, 3, downsample=True, clamp=clamp)
        self.skip = ConvLayer(i, o, 1, downsample=True, activate=False, bias=False)

    def forward(self, x):
        return (self.conv2(self.conv1(x)) + self.skip(x)) / math.sqrt(2)


class Discriminator(nn.Module):
    """``forward`` returns (score [N, 1], {name: activation})."""

    def __init__(self, size, channels, mbstd_group=4, conv_clamp=None):
        super().__init__()
        log = int(math.log2(size))
        convs = [ConvLayer(3, channels[size], 1, clamp=conv_clamp)]
        for k in range(log, 2, -1):
            convs.append(ResBlock(channels[2**k], channels[2 ** (k - 1)], clamp=conv_clamp))
        self.convs = nn.Sequential(*convs)
        self.mbstd_group = mbstd_group
        c4 = channels[4]
        self.final_conv = ConvLayer(c4 + 1, c4, 3, clamp=conv_clamp)
        self.final_linear = nn.Sequential(EqualLinear(c4 * 16, c4, activation=True),
                                          EqualLinear(c4, 1))

    def forward(self, x):
        acts = {}
        for k, block in enumerate(self.convs):
            x = block(x)
            acts[f"convs_{k}"] = x
        n, c, h, w = x.shape
        g = n if self.mbstd_group is None else min(n, self.mbstd_group)
        y = x.view(g, -1, 1, c, h, w)
        y = torch.sqrt(y.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        x = torch.cat([x, y.repeat(g, 1, h, w)], 1)
        x = self.final_conv(x)
        acts["final_conv"] = x
        return self.final_linear(x.reshape(n, -1)), acts
