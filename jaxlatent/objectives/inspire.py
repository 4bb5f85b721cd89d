"""Inspirational generation criteria (Riviere et al., 2019, §3.3), as one pure objective.

For a generated image x = G(z) and a target (inspiration) I, both ``[H, W, 3]`` in [-1, 1]::

    C_L = (1/N_p) Σ_p ‖x_p − I_p‖²                                        (eq. 2, pixel)
    C_S = Σ_i ‖μ(φ_i(x)) − μ(φ_i(I))‖² + Σ_i ‖σ²(φ_i(x)) − σ²(φ_i(I))‖    (eq. 3, "paper" form)
    C_S = mean_k (v(x)_k − v(I)_k)²,  v = [μ_1, σ²_1, μ_2, σ²_2, …]       ("code" form)
    C_v = ((1/N)‖z‖² − 1)²                                               (eq. 4, latent norm)
    C_R = −D(x)[0]                                                       (eq. 5, realism)
    C   = λ_L C_L + λ_S C_S + λ_R C_R + λ_v C_v                           (eq. 6)

μ, σ² are per-channel spatial means and variances (E[x²] − E[x]²) of the feature maps φ_i. The
"code" form is pytorch_GAN_zoo's (``diff.mean(dim=1)`` over the concatenated 2560-d vector of
``LossTexture``), the "paper" form eq. 3 (the variance term a plain norm, not squared). Weights
per Table 1 (`WEIGHT_PRESETS`, λ_v = 1); the official ``-R`` default is `CODE_REALISM`.

The feature maps come from a caller's ``feature_maps(params, images [N, H, W, 3] in [-1, 1]) ->
[maps [N, h, w, c], ...]`` (VGG19 at 128 px, or the embedded feature network; see
`jaxlatent.methods.inspire_setup`), so the target's statistics are computed once per problem
(`target_stats`) and passed in ``ctx["target_stats"]``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import jax
import jax.numpy as jnp

from jaxlatent.objectives.base import latent_norm_penalty

WEIGHT_PRESETS = {  # Table 1 (I:225-230) and "VGG no R" (Table 3a); λ_v = 1 for all (I:251)
    "l2": dict(pixel=50.0, style=0.0, realism=0.0, latent_norm=1.0),
    "l2_vgg": dict(pixel=50.0, style=1.0, realism=0.1, latent_norm=1.0),
    "vgg": dict(pixel=0.0, style=1.0, realism=0.1, latent_norm=1.0),
    "vgg_no_r": dict(pixel=0.0, style=1.0, realism=0.0, latent_norm=1.0),
}
CODE_REALISM = 0.03  # pytorch_GAN_zoo `-R` default
VGG_LAYERS = {  # Appendix A (first ReLU after pools 1-3) vs the code's `--layers 3 4 5`
    "paper": ("relu2_1", "relu3_1", "relu4_1"),
    "code": ("relu3_1", "relu4_1", "relu5_1"),
}
STYLE_FORMS = ("paper", "code")
CLASS_MODES = ("continuous", "fixed")
TERMS = ("pixel", "style", "realism", "latent_norm")


def pixel_l2(image: jax.Array, target: jax.Array) -> jax.Array:
    """Eq. 2: mean over the H·W pixels of the squared RGB distance. ``[H, W, 3]`` each."""
    return jnp.mean(jnp.sum((image - target) ** 2, axis=-1))


def channel_stats(maps: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``[h, w, c]`` feature maps -> (spatial mean ``[c]``, E[x²] − E[x]² ``[c]``)."""
    mean = jnp.mean(maps, axis=(0, 1))
    return mean, jnp.mean(maps * maps, axis=(0, 1)) - mean * mean


def style_distance(stats: Sequence[tuple], target: Sequence[tuple], form: str) -> jax.Array:
    """C_S between per-layer ``(mean, var)`` statistics, in the "paper" (eq. 3) or "code" form."""
    if form == "paper":
        means = sum(jnp.sum((m - mt) ** 2) for (m, _), (mt, _) in zip(stats, target))
        variances = sum(jnp.sqrt(jnp.sum((v - vt) ** 2)) for (_, v), (_, vt) in zip(stats, target))
        return means + variances
    if form == "code":
        flat = lambda s: jnp.concatenate([x for pair in s for x in pair])  # noqa: E731
        return jnp.mean((flat(stats) - flat(target)) ** 2)
    raise ValueError(f"unknown style form {form!r}; known: {', '.join(STYLE_FORMS)}")


def target_stats(feature_maps: Callable, f_params, target: jax.Array) -> tuple:
    """Per-layer ``(mean [c], var [c])`` of one target ``[H, W, 3]`` in [-1, 1]."""
    return tuple(channel_stats(m[0]) for m in feature_maps(f_params, target[None]))


def check_weights(weights: dict) -> dict:
    """Weights with every term named; raises ValueError naming unknown or negative ones."""
    unknown = sorted(set(weights) - set(TERMS))
    if unknown:
        raise ValueError(f"unknown criterion weights {unknown}; known: {', '.join(TERMS)}")
    bad = {k: v for k, v in weights.items() if float(v) < 0}
    if bad:
        raise ValueError(f"criterion weights must be >= 0 (eq. 6: all λ > 0); got {bad}")
    return {k: float(weights.get(k, 0.0)) for k in TERMS}


def make_objective(generate: Callable, discriminate: Callable | None, feature_maps: Callable | None,
                   weights: dict, *, style_form: str = "code", class_mode: str = "continuous",
                   realism_column: int = 0):
    """``objective(latent, ctx) -> (C, aux)``: eq. 6 for one latent.

    Args:
      generate: ``(g_params, z [1, D]) -> [1, H, W, 3]`` in [-1, 1].
      discriminate: ``(d_params, x [1, H, W, 3]) -> [1, K]`` (None when λ_R = 0).
      feature_maps: see the module docstring (None when λ_S = 0).
      weights: λ per term (`TERMS`); a term of weight 0 is never computed.
      style_form: "paper" or "code" (`style_distance`).
      class_mode: "continuous" (the latent is [z, c], searched as one vector, §3.3.5 default)
        or "fixed" (the latent is z; ``ctx["class_code"] [C]`` is appended before G).
      realism_column: D's output column read as realism (0 for the zoo's AC-GAN D).

    ctx: ``g_params``, ``d_params``, ``f_params``, ``target [H, W, 3]``, ``target_stats``,
    ``class_code`` (fixed mode). aux: the raw value of every active term.
    """
    w = check_weights(weights)
    if class_mode not in CLASS_MODES:
        raise ValueError(f"unknown class mode {class_mode!r}; known: {', '.join(CLASS_MODES)}")
    if style_form not in STYLE_FORMS:
        raise ValueError(f"unknown style form {style_form!r}; known: {', '.join(STYLE_FORMS)}")
    for term, need in (("realism", discriminate), ("style", feature_maps)):
        if w[term] and need is None:
            raise ValueError(f"criterion weight {term}={w[term]} needs a "
                             f"{'discriminator' if term == 'realism' else 'feature network'}")

    def objective(latent, ctx, *, key=None):
        del key
        z = latent if class_mode == "continuous" else jnp.concatenate([latent, ctx["class_code"]])
        image = generate(ctx["g_params"], z[None])
        aux = {"latent_norm": latent_norm_penalty(latent, None)[0]}
        if w["pixel"]:
            aux["pixel"] = pixel_l2(image[0], ctx["target"])
        if w["style"]:
            stats = [channel_stats(m[0]) for m in feature_maps(ctx["f_params"], image)]
            aux["style"] = style_distance(stats, ctx["target_stats"], style_form)
        if w["realism"]:
            aux["realism"] = -discriminate(ctx["d_params"], image)[0, realism_column]
        total = sum(w[name] * value for name, value in aux.items())
        return total, aux

    return objective
