"""Independent compact PyTorch StyleGAN2 (rosinality state-dict layout), written for the tests.

Written from the paper and the rosinality / NVlabs module structure (not copied). It differs from
the Flax port on purpose where the maths allows: modulated convs use per-sample weights with a
grouped convolution (rosinality ``fused=True``), and FIR resampling is zero insertion + F.pad +
depthwise F.conv2d in NCHW. Extras for NVlabs checkpoints: ``conv_clamp`` and ``mbstd_group``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

SQRT2 = math.sqrt(2.0)


def fir_kernel(k=(1, 3, 3, 1)):
    k = torch.tensor(k, dtype=torch.float32)
    k = torch.outer(k, k)
    return k / k.sum()


def upfirdn(x, kernel, up=1, down=1, pad=(0, 0)):
    """NCHW upfirdn: zero-insert, pad/crop, convolve (flipped filter), keep every down-th pixel."""
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    p0, p1 = pad
    x = F.pad(x, [p0, p1, p0, p1])  # negative values crop
    f = torch.flip(kernel, [0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, f, stride=down, groups=c)


def lrelu(x, bias=None, clamp=None):
    if bias is not None:
        x = x + bias.view(1, -1, *([1] * (x.ndim - 2)))
    x = F.leaky_relu(x, 0.2) * SQRT2
    return x if clamp is None else x.clamp(-clamp, clamp)


class EqualLinear(nn.Module):
    def __init__(self, i, o, bias_init=0.0, lr_mul=1.0, activation=None):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i) / lr_mul)
        self.bias = nn.Parameter(torch.full((o,), float(bias_init)))
        self.scale, self.lr_mul, self.activation = lr_mul / math.sqrt(i), lr_mul, activation

    def forward(self, x):
        out = x @ (self.weight * self.scale).t()
        if self.activation:
            return lrelu(out, self.bias * self.lr_mul)
        return out + self.bias * self.lr_mul


class ModulatedConv2d(nn.Module):
    def __init__(self, i, o, k, style_dim, demodulate=True, upsample=False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, o, i, k, k))
        self.modulation = EqualLinear(style_dim, i, bias_init=1)
        self.scale, self.k, self.demodulate, self.upsample = 1 / math.sqrt(i * k * k), k, demodulate, upsample
        if upsample:
            self.blur = Blur(pad=(1, 1), gain=4)  # p = 4 - 2 - 2 = 0 -> (1, 1)

    def forward(self, x, style):
        n, i, h, w = x.shape
        s = self.modulation(style)
        wt = self.scale * self.weight * s.view(n, 1, i, 1, 1)  # [N, O, I, k, k]
        if self.demodulate:
            wt = wt * torch.rsqrt(wt.square().sum([2, 3, 4]) + 1e-8).view(n, -1, 1, 1, 1)
        o = wt.shape[1]
        x = x.reshape(1, n * i, h, w)
        if self.upsample:
            wt = wt.transpose(1, 2).reshape(n * i, o, self.k, self.k)
            out = F.conv_transpose2d(x, wt, stride=2, groups=n)
            return self.blur(out.view(n, o, *out.shape[2:]))
        out = F.conv2d(x, wt.reshape(n * o, i, self.k, self.k), padding=self.k // 2, groups=n)
        return out.view(n, o, *out.shape[2:])


class Blur(nn.Module):
    def __init__(self, pad, gain=1.0):
        super().__init__()
        self.register_buffer("kernel", fir_kernel() * gain)
        self.pad = pad

    def forward(self, x):
        return upfirdn(x, self.kernel, pad=self.pad)


class Upsample(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("kernel", fir_kernel() * 4)

    def forward(self, x):
        return upfirdn(x, self.kernel, up=2, pad=(2, 1))


class NoiseInjection(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x, noise):
        return x if noise is None else x + self.weight * noise


class FusedLeakyReLU(nn.Module):
    def __init__(self, c, clamp=None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(c))
        self.clamp = clamp

    def forward(self, x):
        return lrelu(x, self.bias, self.clamp)


class ConstantInput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, c, 4, 4))

    def forward(self, n):
        return self.input.repeat(n, 1, 1, 1)


class StyledConv(nn.Module):
    def __init__(self, i, o, style_dim, upsample=False, clamp=None):
        super().__init__()
        self.conv = ModulatedConv2d(i, o, 3, style_dim, upsample=upsample)
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(o, clamp)

    def forward(self, x, style, noise):
        return self.activate(self.noise(self.conv(x, style), noise))


class ToRGB(nn.Module):
    def __init__(self, i, style_dim, upsample=True, clamp=None):
        super().__init__()
        if upsample:
            self.upsample = Upsample()
        self.conv = ModulatedConv2d(i, 3, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        self.clamp = clamp

    def forward(self, x, style, skip=None):
        out = self.conv(x, style) + self.bias
        if self.clamp is not None:
            out = out.clamp(-self.clamp, self.clamp)
        return out if skip is None else out + self.upsample(skip)
