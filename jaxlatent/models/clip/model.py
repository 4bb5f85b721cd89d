"""OpenAI CLIP (ViT image tower + causal text transformer), Flax linen, NHWC, float32.

Module and parameter names mirror OpenAI's state dict: torch
``visual.transformer.resblocks.3.attn.in_proj_weight`` is
``params/visual/transformer/resblocks_3/attn/in_proj/kernel`` here (transposed), ``ln_*.weight``
is ``scale``, ``token_embedding.weight`` is ``token_embedding/embedding``, and the raw parameters
(``class_embedding``, ``positional_embedding``, ``proj``, ``text_projection``, ``logit_scale``)
keep their names.

References:
  Radford et al., "Learning Transferable Visual Models From Natural Language Supervision",
  ICML 2021 (github.com/openai/CLIP, ``clip/model.py``).
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


class CLIPConfig(NamedTuple):
    """Hyper-parameters, named as in OpenAI's ``CLIP.__init__`` (heads default to width // 64)."""

    embed_dim: int = 512
    image_resolution: int = 224
    vision_layers: int = 12
    vision_width: int = 768
    vision_patch_size: int = 32
    context_length: int = 77
    vocab_size: int = 49408
    transformer_width: int = 512
    transformer_heads: int = 8
    transformer_layers: int = 12

    @property
    def vision_heads(self) -> int:
        return self.vision_width // 64


VIT_B32 = CLIPConfig()


def layer_norm(name: str) -> nn.LayerNorm:
    """torch ``nn.LayerNorm`` numerics: eps 1e-5, two-pass variance."""
    return nn.LayerNorm(epsilon=1e-5, use_fast_variance=False, name=name)


def quick_gelu(x):
    """x * sigmoid(1.702 x), CLIP's activation."""
    return x * jax.nn.sigmoid(1.702 * x)


class MultiheadAttention(nn.Module):
    """torch ``nn.MultiheadAttention`` (fused ``in_proj``, scaled dot product, ``out_proj``)."""

    num_heads: int

    @nn.compact
    def __call__(self, x, mask=None):
        b, length, d = x.shape
        dh = d // self.num_heads
        q, k, v = jnp.split(nn.Dense(3 * d, name="in_proj")(x), 3, axis=-1)
        q, k, v = (t.reshape(b, length, self.num_heads, dh) for t in (q, k, v))
        logits = jnp.einsum("bqhd,bkhd->bhqk", q * dh**-0.5, k)
        if mask is not None:
            logits = logits + mask
        out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, axis=-1), v)
        return nn.Dense(d, name="out_proj")(out.reshape(b, length, d))


class MLP(nn.Module):
    """``mlp.c_fc`` -> QuickGELU -> ``mlp.c_proj``."""

    @nn.compact
    def __call__(self, x):
        d = x.shape[-1]
        return nn.Dense(d, name="c_proj")(quick_gelu(nn.Dense(4 * d, name="c_fc")(x)))


class ResidualAttentionBlock(nn.Module):
    """Pre-LN transformer block: x + attn(ln_1(x)), then x + mlp(ln_2(x))."""

    num_heads: int

    @nn.compact
    def __call__(self, x, mask=None):
        x = x + MultiheadAttention(self.num_heads, name="attn")(layer_norm("ln_1")(x), mask)
        return x + MLP(name="mlp")(layer_norm("ln_2")(x))


class Transformer(nn.Module):
    """``resblocks.N`` stack; ``x``: ``[B, L, width]`` (batch-first, unlike torch's LND)."""

    layers: int
    num_heads: int

    @nn.compact
    def __call__(self, x, mask=None):
        for i in range(self.layers):
            x = ResidualAttentionBlock(self.num_heads, name=f"resblocks_{i}")(x, mask)
        return x


class VisionTransformer(nn.Module):
    """CLIP image tower; ``images``: normalised float32 ``[B, R, R, 3]`` -> ``[B, embed_dim]``."""

    config: CLIPConfig

    @nn.compact
    def __call__(self, images):
        c = self.config
        w, p = c.vision_width, c.vision_patch_size
        x = nn.Conv(w, (p, p), (p, p), padding="VALID", use_bias=False, name="conv1")(images)
        b = x.shape[0]
        x = x.reshape(b, -1, w)  # row-major over the patch grid, as torch's reshape+permute
        init = nn.initializers.normal(w**-0.5)
        cls = self.param("class_embedding", init, (w,))
        grid = c.image_resolution // p
        pos = self.param("positional_embedding", init, (grid * grid + 1, w))
        x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, w)), x], axis=1) + pos
        x = layer_norm("ln_pre")(x)
        x = Transformer(c.vision_layers, c.vision_heads, name="transformer")(x)
        x = layer_norm("ln_post")(x[:, 0, :])
        return x @ self.param("proj", init, (w, c.embed_dim))


class CLIP(nn.Module):
    """Both towers; `encode_image`, `encode_text`; ``__call__`` gives ``logits_per_image``."""

    config: CLIPConfig

    def setup(self):
        c = self.config
        self.visual = VisionTransformer(c)
        self.transformer = Transformer(c.transformer_layers, c.transformer_heads)
        self.token_embedding = nn.Embed(c.vocab_size, c.transformer_width)
        self.positional_embedding = self.param(
            "positional_embedding", nn.initializers.normal(0.01),
            (c.context_length, c.transformer_width))
        self.ln_final = layer_norm("ln_final")
        self.text_projection = self.param(
            "text_projection", nn.initializers.normal(c.transformer_width**-0.5),
            (c.transformer_width, c.embed_dim))
        self.logit_scale = self.param(
            "logit_scale", lambda _: jnp.asarray(np.log(1 / 0.07), jnp.float32))

    def encode_image(self, images):
        """Normalised float32 ``[B, R, R, 3]`` -> ``[B, embed_dim]`` (not unit length)."""
        return self.visual(images)

    def encode_text(self, tokens):
        """int ``[B, L]`` token ids (L <= context_length) -> ``[B, embed_dim]``.

        Features are taken at the end-of-text token, located as ``argmax(tokens)`` (the EOT id is
        the largest in the vocabulary), as in OpenAI's code. With the causal mask, inputs cut
        after the EOT token give the same features as the zero-padded 77-token input.
        """
        length = tokens.shape[1]
        x = self.token_embedding(tokens) + self.positional_embedding[:length]
        mask = jnp.triu(jnp.full((length, length), -jnp.inf, jnp.float32), 1)
        x = self.ln_final(self.transformer(x, mask))
        x = x[jnp.arange(x.shape[0]), jnp.argmax(tokens, axis=-1)]
        return x @ self.text_projection

    def __call__(self, images, tokens):
        """``logits_per_image`` ``[B_img, B_txt]`` = exp(logit_scale) * cosine similarities."""
        img = self.encode_image(images)
        txt = self.encode_text(tokens)
        img = img / jnp.linalg.norm(img, axis=-1, keepdims=True)
        txt = txt / jnp.linalg.norm(txt, axis=-1, keepdims=True)
        return jnp.exp(self.logit_scale) * img @ txt.T


def preprocess(images: jax.Array, size: int = 224) -> jax.Array:
    """Resize (shorter side, bicubic, antialiased), centre crop, CLIP mean/std normalisation.

    This is OpenAI's ``Resize(size, BICUBIC) + CenterCrop(size) + Normalize`` carried out in
    float (``jax.image.resize('bicubic', antialias=True)`` matches PIL's bicubic to ~2e-5 in float
    mode; PIL on uint8 also quantises). Images already at ``size`` x ``size`` are only normalised.

    Args:
      images: float32 ``[B, H, W, 3]`` in [0, 1].
      size: the model's ``image_resolution``.

    Returns:
      float32 ``[B, size, size, 3]``.
    """
    b, h, w, c = images.shape
    if (h, w) != (size, size):
        # torchvision Resize(int): short side -> size, long side truncated; CenterCrop rounds.
        nh, nw = (size, int(size * w / h)) if h <= w else (int(size * h / w), size)
        images = jax.image.resize(images, (b, nh, nw, c), method="bicubic", antialias=True)
        top, left = int(round((nh - size) / 2)), int(round((nw - size) / 2))
        images = images[:, top:top + size, left:left + size]
    return (images - jnp.asarray(MEAN)) / jnp.asarray(STD)
