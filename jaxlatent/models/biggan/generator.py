"""BigGAN generator of ajbrock/BigGAN-PyTorch (``BigGAN.Generator``), eval mode, NHWC.

References:
  Brock, Donahue, Simonyan. "Large Scale GAN Training for High Fidelity Natural Image
  Synthesis", ICLR 2019, Sec. 3 and Appendix B (hierarchical z, shared class embedding).

The generator is called with the *embedded* class vector ``y = shared(class)``, as in
``Generator.forward(z, y)``, so the 128-d embedding can be optimised directly (BigGAN-AM).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlatent.models.biggan.layers import BN, Attention, GBlock, Table, conv

MULTS = {  # (in_channels, out_channels) multipliers of G_arch per resolution.
    32: ([4, 4, 4], [4, 4, 4]),
    64: ([16, 16, 8, 4], [16, 8, 4, 2]),
    128: ([16, 16, 8, 4, 2], [16, 8, 4, 2, 1]),
    256: ([16, 16, 8, 8, 4, 2], [16, 8, 8, 4, 2, 1]),
    512: ([16, 16, 8, 8, 4, 2, 1], [16, 8, 8, 4, 2, 1, 1]),
}
# BigGAN.py builds output_layer's layers.bn without eps= (default 1e-5), whatever BN_eps is.
OUTPUT_BN_EPS = 1e-5


def g_arch(ch: int, resolution: int, attention: str) -> list[tuple[int, int, bool]]:
    """Per block ``(in_channels, out_channels, attention_after)`` of ``BigGAN.G_arch``."""
    ins, outs = MULTS[resolution]
    attn = {int(a) for a in attention.split("_") if a}
    return [(ch * i, ch * o, 8 * 2**k in attn) for k, (i, o) in enumerate(zip(ins, outs))]


class Generator(nn.Module):
    """BigGAN-PyTorch generator with shared embedding and (optionally) hierarchical z.

    Attributes:
      resolution: output side (32..512).
      G_ch: channel multiplier.
      dim_z: latent size before the even split into ``num_blocks + 1`` chunks.
      shared_dim: size of the class embedding ``y``.
      attention: resolutions with self-attention, ``"64"`` or ``"32_64"``.
      hier: hierarchical z (a chunk per block concatenated to ``y``).
      n_classes: rows of the shared embedding table.
      bn_eps: epsilon of the class-conditional batch norms in the blocks (``BN_eps``); the output
        batch norm always uses `OUTPUT_BN_EPS`, as upstream ``BigGAN.py`` builds it without
        ``eps=`` (``layers.bn`` default), also for TF-Hub-layout files (``BN_eps=1e-4``).
      bottom_width: side of the first feature map.
    """

    resolution: int = 128
    G_ch: int = 96
    dim_z: int = 120
    shared_dim: int = 128
    attention: str = "64"
    hier: bool = True
    n_classes: int = 1000
    bn_eps: float = 1e-5
    bottom_width: int = 4

    @property
    def z_chunk_size(self) -> int:
        slots = len(MULTS[self.resolution][0]) + 1
        return self.dim_z // slots if self.hier else 0

    @property
    def z_size(self) -> int:
        """Length of z the generator consumes (``dim_z`` rounded down to whole chunks)."""
        return self.z_chunk_size * (len(MULTS[self.resolution][0]) + 1) if self.hier else self.dim_z

    @nn.compact
    def __call__(self, z: jax.Array, y: jax.Array) -> jax.Array:
        """Generates images.

        Args:
          z: float32 ``[N, z_size]``.
          y: float32 ``[N, shared_dim]`` embedded class vectors (e.g. `embed_classes`).

        Returns:
          float32 ``[N, resolution, resolution, 3]`` in [-1, 1].
        """
        Table(self.n_classes, self.shared_dim, name="shared")()
        arch = g_arch(self.G_ch, self.resolution, self.attention)
        if self.hier:
            chunks = jnp.split(z, len(arch) + 1, axis=1)
            z, ys = chunks[0], [jnp.concatenate([y, c], axis=1) for c in chunks[1:]]
        else:
            ys = [y] * len(arch)
        bw = self.bottom_width
        h = nn.Dense(arch[0][0] * bw * bw, name="linear")(z)
        h = h.reshape(z.shape[0], -1, bw, bw).transpose(0, 2, 3, 1)  # torch view is NCHW
        for index, (c_in, c_out, attn) in enumerate(arch):
            h = GBlock(c_in, c_out, True, self.bn_eps, name=f"blocks_{index}_0")(h, ys[index])
            if attn:
                h = Attention(c_out, name=f"blocks_{index}_1")(h)
        h = nn.relu(BN(arch[-1][1], OUTPUT_BN_EPS, name="output_layer_0")(h))
        return jnp.tanh(conv(3, 3, "output_layer_2")(h))
