"""QDGS objective and measures on the embedded shapes domain, without CLIP.

QDGS (Chang et al., AAAI 2024) scores images with CLIP prompts; the embedded domain has no CLIP
weights, so its quality and measures come from embedded networks that are independent of the
evaluation classifier:

- quality loss = −log p(f(G(z))) / D under the feature flow (typical images score well) plus a
  realism penalty that is zero inside the range of real shapes and grows for near-empty or
  scattered images (`realism_penalty`: the role of QDGS's negative prompts "An empty image." /
  "Splatters of colors."), turned into QDGS's f = 100 − 50·loss by
  `jaxlatent.search.qd.qdgs.make_eval_fns`;
- measure 1, colour: Σ w·(R − B) / Σ w over pixels weighted by their darkness w = 1 − mean(RGB)
  (red shapes ≈ +0.47, blue ≈ −0.78; no network);
- measure 2, shape: squareness h_4 − h_3, the difference of the 4-fold and 3-fold angular
  harmonics of the foreground (`shape_measure`; no network, exact on rendered shapes:
  triangles ≈ −0.66, squares ≈ +0.43, blobs near 0).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxlatent.data import shapes


def colour_measure(image):
    """[H, W, 3] in [0, 1] -> redness of the foreground in about [-0.8, 0.5]."""
    weight = 1.0 - jnp.mean(image, axis=-1)
    return jnp.sum(weight * (image[..., 0] - image[..., 2])) / (jnp.sum(weight) + 1e-6)


def _foreground(image):
    """Darkness weight w = clip(1 − mean(RGB), 0, 1): ≈ 0.6–0.7 on a shape, 0 on white."""
    return jnp.clip(1.0 - jnp.mean(image, axis=-1), 0.0, 1.0)


def angular_harmonic(image, n: int):
    """Rotation- and scale-invariant strength of the n-fold symmetry of the foreground.

    h_n = |Σ w·(p − c)ⁿ| / Σ w·|p − c|ⁿ with pixel positions p as complex numbers, c the
    foreground centroid and w the darkness weight. An equilateral triangle has only harmonics that
    are multiples of 3 (h_4 = 0) and a square only multiples of 4 (h_3 = 0); a disc has neither.

    Args:
      image: [H, W, 3] in [0, 1], dark shape on white.
      n: harmonic order.

    Returns:
      scalar in [0, 1].
    """
    w = _foreground(image)
    centres = jnp.arange(image.shape[0], dtype=jnp.float32) + 0.5
    x, y = jnp.meshgrid(centres, centres)
    total = jnp.sum(w) + 1e-6
    z = (x - jnp.sum(w * x) / total) + 1j * (y - jnp.sum(w * y) / total)
    return jnp.abs(jnp.sum(w * z**n)) / (jnp.sum(w * jnp.abs(z) ** n) + 1e-6)


def shape_measure(image):
    """Squareness h_4 − h_3 of the foreground: rendered squares ≈ +0.43, triangles ≈ −0.66.

    The counterpart of QDGS's prompt pair ("A triangle with 3 edges." vs "A square or diamond
    with 4 edges."): a signed difference between a 4-edge and a 3-edge score; ≥ 0 means square.
    """
    return angular_harmonic(image, 4) - angular_harmonic(image, 3)


def shape_measure_accuracy(key, n: int = 1000) -> float:
    """Share of ``n`` balanced rendered shapes that `shape_measure` puts on their side of 0."""
    images, labels = shapes.sample_jit(key, n, 0.5)
    square = jax.jit(jax.vmap(shape_measure))(images) >= 0
    return float(jnp.mean(square == (labels.shape == shapes.SQUARE)))


def foreground_stats(image):
    """``(mass, compactness)`` of the foreground: Σw and the normalised polar moment J / mass².

    Compactness is smallest for a disc and grows for elongated or scattered ("splatter") mass.
    """
    w = _foreground(image)
    centres = jnp.arange(image.shape[0], dtype=jnp.float32) + 0.5
    x, y = jnp.meshgrid(centres, centres)
    mass = jnp.sum(w) + 1e-6
    cx, cy = jnp.sum(w * x) / mass, jnp.sum(w * y) / mass
    polar = jnp.sum(w * ((x - cx) ** 2 + (y - cy) ** 2))
    return mass, polar / mass**2


def fit_realism_bounds(key, n: int = 1000) -> dict:
    """The smallest foreground mass and the largest compactness over ``n`` rendered shapes."""
    images, _ = shapes.sample_jit(key, n, 0.5)
    mass, compact = jax.jit(jax.vmap(foreground_stats))(images)
    return {"min_mass": jnp.min(mass), "max_compactness": jnp.max(compact)}


def realism_penalty(image, bounds):
    """Zero inside the real range; a squared log-hinge outside it.

    Our counterpart of QDGS's negative prompts ("An empty image.", then "Splatters of colors.",
    paper appendix B): log(min_mass / mass)₊² + log(compactness / max_compactness)₊².
    """
    mass, compact = foreground_stats(image)
    empty = jax.nn.relu(jnp.log(bounds["min_mass"]) - jnp.log(mass))
    splatter = jax.nn.relu(jnp.log(compact) - jnp.log(bounds["max_compactness"]))
    return empty**2 + splatter**2


def make_objective(generate, extract, log_prob, realism_weight: float = 1.0):
    """``objective(z, ctx) -> (−log p / D + w·realism, {"measures": [colour, squareness]})``.

    ``ctx["realism_bounds"]`` comes from `fit_realism_bounds`; ``realism_weight`` 0 turns it off.
    """

    def objective(z, ctx, *, key=None):
        del key
        image = generate(ctx, z[None])
        f = extract(ctx, image)
        value = -log_prob(ctx, f)[0] / f.shape[-1]
        if realism_weight:
            value = value + realism_weight * realism_penalty(image[0], ctx["realism_bounds"])
        measures = jnp.stack([colour_measure(image[0]), shape_measure(image[0])])
        return value, {"measures": measures}

    return objective
