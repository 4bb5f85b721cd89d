"""QDGS objective and measures on the embedded shapes domain, without CLIP.

QDGS (Chang et al., AAAI 2024) scores images with CLIP prompts; the embedded domain has no CLIP
weights, so its quality and measures come from embedded networks that are independent of the
evaluation classifier:

- quality loss = −log p(f(G(z))) / D under the feature flow (typical images score well), turned
  into QDGS's f = 100 − 50·loss by `jaxlatent.search.qd.qdgs.make_eval_fns`;
- measure 1, colour: Σ w·(R − B) / Σ w over pixels weighted by their darkness w = 1 − mean(RGB)
  (red shapes ≈ +0.47, blue ≈ −0.78; no network);
- measure 2, shape: the probability "square" of a logistic probe on the 64-d features, fitted on
  labelled rendered shapes at set-up (`fit_shape_probe`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxlatent.data import shapes


def colour_measure(image):
    """[H, W, 3] in [0, 1] -> redness of the foreground in about [-0.8, 0.5]."""
    weight = 1.0 - jnp.mean(image, axis=-1)
    return jnp.sum(weight * (image[..., 0] - image[..., 2])) / (jnp.sum(weight) + 1e-6)


def fit_shape_probe(extract, ctx, key, n: int = 2000, steps: int = 300):
    """Logistic regression square-vs-triangle on features of ``n`` balanced rendered shapes."""
    images, labels = shapes.sample_jit(key, n, 0.5)
    feats = jax.jit(extract)(ctx, images)
    mu, sd = feats.mean(0), feats.std(0) + 1e-6
    x, y = (feats - mu) / sd, labels.shape.astype(jnp.float32)
    tx = optax.adam(0.05)
    w = {"w": jnp.zeros(x.shape[1]), "b": jnp.zeros(())}

    def loss(p):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(x @ p["w"] + p["b"], y))

    @jax.jit
    def fit(w):
        def body(carry, _):
            p, s = carry
            g = jax.grad(loss)(p)
            u, s = tx.update(g, s, p)
            return (optax.apply_updates(p, u), s), None
        return jax.lax.scan(body, (w, tx.init(w)), None, length=steps)[0][0]

    w = fit(w)
    accuracy = jnp.mean(((x @ w["w"] + w["b"]) > 0) == (y > 0.5))
    return {"w": w["w"] / sd, "b": w["b"] - jnp.sum(w["w"] * mu / sd)}, float(accuracy)


def make_objective(generate, extract, log_prob):
    """``objective(z, ctx) -> (−log p / D, {"measures": [colour, P(square)]})``."""

    def objective(z, ctx, *, key=None):
        del key
        image = generate(ctx, z[None])
        f = extract(ctx, image)
        value = -log_prob(ctx, f)[0] / f.shape[-1]
        square = jax.nn.sigmoid(f[0] @ ctx["probe"]["w"] + ctx["probe"]["b"])
        return value, {"measures": jnp.stack([colour_measure(image[0]), square])}

    return objective
