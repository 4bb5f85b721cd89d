"""StyleGAN2 latent spaces: Z -> W mapping pieces, truncation, W+ and the QDGS q-space.

Latent spaces (batched):
  - ``"z"``: [N, z_dim] Gaussian input of the mapping network.
  - ``"w"``: [N, w_dim] mapping output, broadcast to every layer.
  - ``"w+"``: [N, num_ws, w_dim] one style per layer (rosinality ``input_is_latent`` 3-D).
  - ``"q"``: [N, num_ws, w_dim] normalised W+, w = q * sigma_w + w_avg (QDGS).

References:
  Karras et al., CVPR 2020 (truncation trick: w' = w_avg + psi (w - w_avg)).
  Chang et al., "Quality-Diversity Generation of Faces" / QDGS (q-space over StyleGAN2 W+).
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

SPACES = ("z", "w", "w+", "q")


def pixel_norm(z: jax.Array, eps: float = 1e-8) -> jax.Array:
    """z * rsqrt(mean(z^2) + eps) over the last axis (rosinality PixelNorm / NVlabs 2nd moment)."""
    return z * jax.lax.rsqrt(jnp.mean(jnp.square(z), axis=-1, keepdims=True) + eps)


def truncate(ws: jax.Array, w_avg: jax.Array, psi: Any = 1.0,
             cutoff: int | None = None) -> jax.Array:
    """Truncation trick on per-layer styles.

    Args:
      ws: [N, num_ws, w_dim].
      w_avg: [w_dim] mean of W.
      psi: scalar (Python float or traced); 1.0 is an exact no-op.
      cutoff: apply only to the first ``cutoff`` layers (NVlabs ``truncation_cutoff``).

    Returns:
      [N, num_ws, w_dim]: w_avg + psi (ws - w_avg) on the truncated layers.
    """
    if isinstance(psi, (int, float)) and psi == 1:
        return ws
    out = w_avg + psi * (ws - w_avg)
    if cutoff is None:
        return out
    layer = jnp.arange(ws.shape[1])[None, :, None]
    return jnp.where(layer < cutoff, out, ws)


def q_to_wplus(q: jax.Array, w_std: jax.Array, w_avg: jax.Array) -> jax.Array:
    """QDGS q-space to W+: w = q * sigma_w + w_avg.  q: [N, num_ws, w_dim]; w_std: [num_ws, w_dim]."""
    return q * w_std + w_avg


def wplus_to_q(ws: jax.Array, w_std: jax.Array, w_avg: jax.Array) -> jax.Array:
    """Inverse of `q_to_wplus`: q = (w - w_avg) / sigma_w."""
    return (ws - w_avg) / w_std


def to_wplus(latents: jax.Array, space: str, mapping: Callable[[jax.Array], jax.Array],
             num_ws: int, w_avg: jax.Array, w_std: jax.Array | None = None) -> jax.Array:
    """Brings latents of any supported space to W+ [N, num_ws, w_dim] (before truncation)."""
    if space == "z":
        latents = mapping(latents)
        space = "w"
    if space == "w":
        if latents.ndim != 2:
            raise ValueError(f"space 'w' expects [N, w_dim], got shape {latents.shape}")
        return jnp.broadcast_to(latents[:, None, :], (latents.shape[0], num_ws, latents.shape[1]))
    if space in ("w+", "q"):
        if latents.ndim != 3 or latents.shape[1] != num_ws:
            raise ValueError(f"space {space!r} expects [N, {num_ws}, w_dim], got {latents.shape}")
        if space == "q":
            if w_std is None:
                raise ValueError("space 'q' needs w_std (see stylegan2.estimate_w_std)")
            return q_to_wplus(latents, w_std, w_avg)
        return latents
    raise ValueError(f"unknown latent space {space!r}; expected one of {SPACES}")


def estimate_w_stats(mapping: Callable[[jax.Array], jax.Array], z_dim: int, num_ws: int,
                     key: jax.Array, n: int = 10_000, batch: int = 1000) -> tuple[jax.Array, jax.Array]:
    """Mean and per-(layer, dim) std of W+ = broadcast(mapping(z)), z ~ N(0, I), no truncation.

    The std uses ddof=1 (torch.std's default, as in QDGS). Every layer gets the same row because
    the mapping output is broadcast; the [num_ws, w_dim] shape is what q-space expects.

    Returns:
      (mean [w_dim], std [num_ws, w_dim]).
    """
    fn = jax.jit(mapping)
    chunks = [(jax.random.fold_in(key, i), min(batch, n - i)) for i in range(0, n, batch)]
    sample = lambda k, m: fn(jax.random.normal(k, (m, z_dim)))
    mean = sum(jnp.sum(sample(k, m), 0) for k, m in chunks) / n
    # Two passes over the same z's: no cancellation from sum-of-squares in float32.
    var = sum(jnp.sum(jnp.square(sample(k, m) - mean), 0) for k, m in chunks) / (n - 1)
    return mean, jnp.broadcast_to(jnp.sqrt(var), (num_ws, mean.shape[0]))
