"""LPIPS distance and LPIPS diversity (mean over pairs), on top of `jaxlatent.models.lpips`.

References:
  Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric",
  CVPR 2018 (Eq. 1); lpips 0.1.x, ``LPIPS(net="alex", version="0.1")`` in eval mode.

Inputs are NHWC float32 in **[-1, 1]** (the most common LPIPS bug is feeding [0, 1]; pass
``input_range="[0,1]"`` to have them mapped). No resizing happens here: resize deliberately with
`jaxlatent.preprocess` and record it. Record "LPIPS v0.1, <net>" with the results.

Gradients: the channel normalisation f / (||f|| + 1e-10) has a NaN gradient where every channel
of a tap is exactly 0 (as in torch); this is kept, not patched.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent.models.registry import Model


def lpips(model: Model, x0: jax.Array, x1: jax.Array, *, input_range: str = "[-1,1]"):
    """LPIPS distance per pair: float32 [N] for NHWC images x0, x1 [N, H, W, 3].

    Args:
      model: ``load_model("lpips_alex" | "lpips_vgg", path)``.
      input_range: ``"[-1,1]"`` (lpips convention) or ``"[0,1]"`` (mapped by 2x - 1).
    """
    if input_range not in ("[-1,1]", "[0,1]"):
        raise ValueError(f"input_range must be '[-1,1]' or '[0,1]', got {input_range!r}")
    return model.apply_fn(model.params, x0, x1, normalize=input_range == "[0,1]")


def all_pairs(n: int) -> np.ndarray:
    """Every unordered pair (i < j) of n items: int [n(n-1)/2, 2]."""
    return np.array(list(itertools.combinations(range(n), 2)), np.int32).reshape(-1, 2)


def random_pairs(key: jax.Array, n: int, n_pairs: int) -> jax.Array:
    """``n_pairs`` random pairs of distinct indices in [0, n): int32 [n_pairs, 2]."""
    k0, k1 = jax.random.split(key)
    i = jax.random.randint(k0, (n_pairs,), 0, n)
    j = (i + jax.random.randint(k1, (n_pairs,), 1, n)) % n  # j != i
    return jnp.stack([i, j], axis=1)


def lpips_diversity(model: Model, images: jax.Array, pairs=None, *,
                    input_range: str = "[-1,1]", batch: int = 64) -> dict:
    """Mean and std of LPIPS over pairs of one group of images (diversity; higher = more diverse).

    Args:
      images: float32 [N, H, W, 3].
      pairs: int [P, 2] (default `all_pairs(N)`; use `random_pairs` with a fixed key otherwise).
      batch: pairs per forward pass.
    Returns:
      ``{"mean", "std", "n_pairs", "net"}``.
    """
    pairs = all_pairs(images.shape[0]) if pairs is None else np.asarray(pairs)
    fn = jax.jit(lambda a, b: lpips(model, a, b, input_range=input_range))
    d = np.concatenate([np.asarray(fn(images[p[:, 0]], images[p[:, 1]]))
                        for p in np.array_split(pairs, max(1, -(-len(pairs) // batch)))])
    return {"mean": float(d.mean()), "std": float(d.std()), "n_pairs": len(d),
            "net": model.info.get("name", "lpips")}
