"""Spectral normalisation as explicit state (BigGAN-PyTorch ``layers.SN``, one power iteration).

Power-iteration vectors live next to the parameters (``{"u", "v"}`` per normalised kernel or
embedding), so a training step is a pure function: `sn_refresh` (no gradients), then `sn_apply`
inside the loss. `sn_fold` gives the eval-mode weights exactly as ``weights_convert/biggan.py``
folds a torch checkpoint. Reference: Miyato et al., "Spectral Normalization for GANs", ICLR 2018.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import traverse_util


def _normalize(x, eps=1e-8):
    return x / jnp.maximum(jnp.linalg.norm(x), eps)


def _sn_paths(params, skip=("shared",)):
    flat = traverse_util.flatten_dict(params)
    return {p: w for p, w in flat.items() if p[-1] in ("kernel", "embedding") and p[0] not in skip}


def _matrix(path, w):
    """torch's ``W.view(out, -1)`` up to a column permutation (which leaves σ unchanged)."""
    return w if path[-1] == "embedding" else w.reshape(-1, w.shape[-1]).T


def sn_init(params: Any, key: jax.Array) -> dict:
    """Power-iteration vectors ``{"u", "v"}`` per normalised weight (u ~ N(0, I) as in torch).

    ``v`` is zero until the first `sn_refresh`, which must precede `sn_apply`.
    """
    out = {}
    for i, (path, w) in enumerate(sorted(_sn_paths(params).items())):
        rows, cols = _matrix(path, w).shape
        out[path] = {"u": jax.random.normal(jax.random.fold_in(key, i), (rows,)),
                     "v": jnp.zeros((cols,))}
    return traverse_util.unflatten_dict(out)


def sn_refresh(params: Any, sn: dict) -> dict:
    """One power iteration without gradients: v = ‖uW‖⁻¹uW, u = ‖vWᵀ‖⁻¹vWᵀ (``layers.SN.W_``)."""
    flat, out = traverse_util.flatten_dict(sn, is_leaf=lambda _, x: "u" in x), {}
    weights = _sn_paths(params)
    for path, uv in flat.items():
        w = jax.lax.stop_gradient(_matrix(path, weights[path]))
        v = _normalize(uv["u"] @ w)
        out[path] = {"u": _normalize(v @ w.T), "v": v}
    return traverse_util.unflatten_dict(out)


def sn_apply(params: Any, sn: dict) -> Any:
    """W / σ with σ = v Wᵀ u from the stored vectors (gradients flow through W only)."""
    flat = traverse_util.flatten_dict(params)
    for path, uv in traverse_util.flatten_dict(sn, is_leaf=lambda _, x: "u" in x).items():
        sigma = uv["v"] @ _matrix(path, flat[path]).T @ uv["u"]
        flat[path] = flat[path] / sigma
    return traverse_util.unflatten_dict(flat)


def sn_fold(params: Any, sn: dict) -> Any:
    """Eval-mode weights: one non-updating iteration from the stored u, as the converter folds."""
    return sn_apply(params, sn_refresh(params, sn))

