"""StyleGAN2 generator (config-e/f "skip" architecture) as one Flax module, rosinality layout.

Variables (torch key -> Flax path):
  params:  style.{i} -> style_{i};  input.input -> input/input;  conv1, to_rgb1;
           convs.{j} -> convs_{j};  to_rgbs.{j} -> to_rgbs_{j}
  buffers: noises.noise_{l} -> noises/noise_{l} [1, r, r, 1];  w_avg [w_dim] (rosinality
           ``latent_avg`` / NVlabs ``mapping.w_avg``).

References:
  Karras et al., "Analyzing and Improving the Image Quality of StyleGAN", CVPR 2020, Fig. 7 (skip
  generator). rosinality/stylegan2-pytorch model.py (Generator, StyledConv, ToRGB).
"""

from __future__ import annotations

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.stylegan2 import layers, mapping
from jaxlatent.models.stylegan2.presets import log2


class StyledConv(nn.Module):
    """Modulated conv -> noise -> bias + lrelu * sqrt(2) (-> NVlabs clamp)."""

    in_channel: int
    out_channel: int
    style_dim: int
    upsample: bool = False
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, style: jax.Array, noise: jax.Array | None) -> jax.Array:
        x = layers.ModulatedConv2d(self.in_channel, self.out_channel, 3, self.style_dim,
                                   upsample=self.upsample, name="conv")(x, style)
        x = layers.NoiseInjection(name="noise")(x, noise)
        x = layers.FusedLeakyReLU(self.out_channel, name="activate")(x)
        return layers.clamp(x, self.conv_clamp)


class ToRGB(nn.Module):
    """1x1 modulated conv without demodulation + bias, added to the upsampled skip image."""

    in_channel: int
    style_dim: int
    conv_clamp: float | None = None

    @nn.compact
    def __call__(self, x: jax.Array, style: jax.Array, skip: jax.Array | None = None) -> jax.Array:
        out = layers.ModulatedConv2d(self.in_channel, 3, 1, self.style_dim, demodulate=False,
                                     name="conv")(x, style)
        out = layers.clamp(out + self.param("bias", nn.initializers.zeros, (3,)), self.conv_clamp)
        return out if skip is None else out + layers.upsample(skip)


class NoiseBuffers(nn.Module):
    """Constant noise maps ``noise_{l}`` [1, r, r, 1] in the ``buffers`` collection."""

    size: int

    @nn.compact
    def __call__(self) -> list[jax.Array]:
        out = []
        for i, res in enumerate(noise_resolutions(self.size)):
            init = lambda r=res: jax.random.normal(self.make_rng("params"), (1, r, r, 1))
            out.append(self.variable("buffers", f"noise_{i}", init).value)
        return out


def noise_resolutions(size: int) -> list[int]:
    """Resolution of each noise input: 4, then 8, 8, 16, 16, ..., size, size."""
    return [2 ** ((i + 5) // 2) for i in range(2 * log2(size) - 3)]


class Generator(nn.Module):
    """StyleGAN2 generator: ``map`` (Z -> W), ``synthesize`` (W+ -> image), ``__call__`` (both).

    Attributes mirror `presets.generator_config`; ``channels`` is a tuple of widths for
    resolutions 4, 8, ..., size.
    """

    size: int
    style_dim: int
    n_mlp: int
    channels: tuple[int, ...]
    z_dim: int
    lr_mlp: float = 0.01
    conv_clamp: float | None = None

    def setup(self):
        ins = [self.z_dim] + [self.style_dim] * (self.n_mlp - 1)
        self.style = {str(i + 1): layers.EqualLinear(d, self.style_dim, lr_mul=self.lr_mlp,
                                                     activation=True)
                      for i, d in enumerate(ins)}
        ch, sd, clamp = self.channels, self.style_dim, self.conv_clamp
        self.input = layers.ConstantInput(ch[0])
        self.conv1 = StyledConv(ch[0], ch[0], sd, conv_clamp=clamp)
        self.to_rgb1 = ToRGB(ch[0], sd, conv_clamp=clamp)
        convs, to_rgbs = [], []
        for c_in, c_out in zip(ch[:-1], ch[1:]):
            convs.append(StyledConv(c_in, c_out, sd, upsample=True, conv_clamp=clamp))
            convs.append(StyledConv(c_out, c_out, sd, conv_clamp=clamp))
            to_rgbs.append(ToRGB(c_out, sd, conv_clamp=clamp))
        self.convs, self.to_rgbs = convs, to_rgbs
        self.noises = NoiseBuffers(self.size)
        self.w_avg = self.variable("buffers", "w_avg", jnp.zeros, (self.style_dim,))

    @property
    def num_ws(self) -> int:
        return 2 * log2(self.size) - 2

    def map(self, z: jax.Array) -> jax.Array:
        """Mapping network, Z [N, z_dim] -> W [N, w_dim]."""
        x = mapping.pixel_norm(z)
        for i in range(1, self.n_mlp + 1):
            x = self.style[str(i)](x)
        return x

    def synthesize(self, ws: jax.Array, noise: Any = "const", key: jax.Array | None = None):
        """Synthesis network, W+ [N, num_ws, w_dim] -> image [N, size, size, 3] (~[-1, 1]).

        Args:
          ws: per-layer styles.
          noise: "const" (checkpoint buffers), "random" (needs ``key``), "none", or a sequence of
            arrays, one per layer, broadcastable to [N, r, r, 1] (see `noise_resolutions`).
          key: PRNG key for ``noise="random"``.
        """
        noises = self.resolve_noise(noise, ws.shape[0], key)
        out = self.input(ws.shape[0])
        out = self.conv1(out, ws[:, 0], noises[0])
        skip = self.to_rgb1(out, ws[:, 1])
        for j, to_rgb in enumerate(self.to_rgbs):
            i = 2 * j + 1
            out = self.convs[2 * j](out, ws[:, i], noises[i])
            out = self.convs[2 * j + 1](out, ws[:, i + 1], noises[i + 1])
            skip = to_rgb(out, ws[:, i + 2], skip)
        return skip

    def resolve_noise(self, noise: Any, batch: int, key: jax.Array | None) -> Sequence[Any]:
        consts = self.noises()
        shapes = [(batch, r, r, 1) for r in noise_resolutions(self.size)]
        if isinstance(noise, str):
            if noise == "const":
                return consts
            if noise == "none":
                return [None] * len(shapes)
            if noise == "random":
                if key is None:
                    raise ValueError("noise='random' needs a PRNG key (key=...)")
                keys = jax.random.split(key, len(shapes))
                return [jax.random.normal(k, s) for k, s in zip(keys, shapes)]
            raise ValueError(f"noise must be 'const', 'random', 'none' or arrays, got {noise!r}")
        if len(noise) != len(shapes):
            raise ValueError(f"expected {len(shapes)} noise arrays, got {len(noise)}")
        return list(noise)

    def __call__(self, latents: jax.Array, space: str = "z", truncation: Any = 1.0,
                 truncation_cutoff: int | None = None, noise: Any = "const",
                 key: jax.Array | None = None, w_std: jax.Array | None = None) -> jax.Array:
        """Latents of ``space`` -> image [N, size, size, 3]; see `mapping.to_wplus`."""
        w_avg = self.w_avg.value
        ws = mapping.to_wplus(latents, space, self.map, self.num_ws, w_avg, w_std)
        ws = mapping.truncate(ws, w_avg, truncation, truncation_cutoff)
        return self.synthesize(ws, noise, key)
