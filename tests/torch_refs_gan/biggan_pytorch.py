"""Eval-mode BigGAN-PyTorch generator (ajbrock/BigGAN-PyTorch layout) in plain torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

MULTS = {32: ([4, 4, 4], [4, 4, 4]), 64: ([16, 16, 8, 4], [16, 8, 4, 2]),
         128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
         256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
         512: ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1])}


class _SN:
    """Spectral norm with buffers u0 [1, out] and sv0 [1]; eval: one power step, u not updated."""

    def _init_sn(self, out: int, eps: float) -> None:
        self.sn_eps = eps
        self.register_buffer("u0", torch.randn(1, out))
        self.register_buffer("sv0", torch.ones(1))

    def sn_weight(self) -> torch.Tensor:
        w = self.weight.view(self.weight.shape[0], -1)
        v = F.normalize(self.u0 @ w, eps=self.sn_eps)
        u = F.normalize(v @ w.t(), eps=self.sn_eps)
        sigma = (v @ w.t() @ u.t()).squeeze()
        return self.weight / sigma


class SNConv2d(nn.Conv2d, _SN):
    def __init__(self, cin, cout, k=3, bias=True, eps=1e-6):
        nn.Conv2d.__init__(self, cin, cout, k, padding=k // 2, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.conv2d(x, self.sn_weight(), self.bias, padding=self.padding)


class SNLinear(nn.Linear, _SN):
    def __init__(self, cin, cout, bias=True, eps=1e-6):
        nn.Linear.__init__(self, cin, cout, bias=bias)
        self._init_sn(cout, eps)

    def forward(self, x):
        return F.linear(x, self.sn_weight(), self.bias)


class CCBN(nn.Module):
    def __init__(self, c, cond, eps):
        super().__init__()
        self.gain, self.bias = SNLinear(cond, c, bias=False), SNLinear(cond, c, bias=False)
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(c))
        self.register_buffer("stored_var", torch.ones(c))

    def forward(self, x, y):
        out = F.batch_norm(x, self.stored_mean, self.stored_var, None, None, False, 0.1, self.eps)
        return out * (1 + self.gain(y))[:, :, None, None] + self.bias(y)[:, :, None, None]


class BN(nn.Module):
    def __init__(self, c, eps):
        super().__init__()
        self.gain, self.bias = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c))
        self.eps = eps
        self.register_buffer("stored_mean", torch.zeros(c))
        self.register_buffer("stored_var", torch.ones(c))

    def forward(self, x):
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, False,
                            0.1, self.eps)


class GBlock(nn.Module):
    def __init__(self, cin, cout, cond, eps):
        super().__init__()
        self.conv1, self.conv2 = SNConv2d(cin, cout), SNConv2d(cout, cout)
        self.conv_sc = SNConv2d(cin, cout, 1)
        self.bn1, self.bn2 = CCBN(cin, cond, eps), CCBN(cout, cond, eps)

    def forward(self, x, y):
        h = F.interpolate(F.relu(self.bn1(x, y)), scale_factor=2)
        x = F.interpolate(x, scale_factor=2)
        h = self.conv2(F.relu(self.bn2(self.conv1(h), y)))
        return h + self.conv_sc(x)


class Attention(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.ch = ch
        self.theta = SNConv2d(ch, ch // 8, 1, bias=False)
        self.phi = SNConv2d(ch, ch // 8, 1, bias=False)
        self.g = SNConv2d(ch, ch // 2, 1, bias=False)
        self.o = SNConv2d(ch // 2, ch, 1, bias=False)
        self.gamma = nn.Parameter(torch.tensor(0.0))

    def forward(self, x):
        n, c, h, w = x.shape
        theta = self.theta(x).view(n, c // 8, h * w)
        phi = F.max_pool2d(self.phi(x), 2).view(n, c // 8, h * w // 4)
        g = F.max_pool2d(self.g(x), 2).view(n, c // 2, h * w // 4)
        beta = torch.softmax(theta.transpose(1, 2) @ phi, -1)
        return self.gamma * self.o((g @ beta.transpose(1, 2)).view(n, c // 2, h, w)) + x


class Generator(nn.Module):
    """``Generator(z, y)`` with shared embedding and hierarchical z; ``blocks[i] = [GBlock, Attn?]``."""

    def __init__(self, resolution=128, G_ch=96, dim_z=120, shared_dim=128, attention="64",
                 n_classes=1000, bn_eps=1e-5, sn_eps=1e-6):
        super().__init__()
        ins, outs = [G_ch * m for m in MULTS[resolution][0]], [G_ch * m for m in MULTS[resolution][1]]
        self.chunk = dim_z // (len(ins) + 1)
        cond = shared_dim + self.chunk
        self.shared = nn.Embedding(n_classes, shared_dim)
        self.linear = SNLinear(self.chunk, ins[0] * 16, eps=sn_eps)
        attn = {int(a) for a in attention.split("_")}
        self.blocks = nn.ModuleList()
        for i, (a, b) in enumerate(zip(ins, outs)):
            mods = [GBlock(a, b, cond, bn_eps)] + ([Attention(b)] if 8 * 2**i in attn else [])
            self.blocks.append(nn.ModuleList(mods))
        # upstream BigGAN.py: layers.bn(...) without eps=, i.e. 1e-5 whatever bn_eps is
        self.output_layer = nn.Sequential(BN(outs[-1], 1e-5), nn.ReLU(),
                                          SNConv2d(outs[-1], 3, eps=sn_eps))

    def forward(self, z, y, taps=None):
        zs = torch.split(z, self.chunk, 1)
        ys = [torch.cat([y, c], 1) for c in zs[1:]]
        h = self.linear(zs[0]).view(z.shape[0], -1, 4, 4)
        for i, blocklist in enumerate(self.blocks):
            h = blocklist[0](h, ys[i])
            if len(blocklist) > 1:
                h = blocklist[1](h)
            if taps is not None:
                taps.append(h)
        return torch.tanh(self.output_layer(h))
