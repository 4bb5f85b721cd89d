"""DivRare evaluation, as the paper's Tables 1, 2 and 7 but on what this domain offers.

For a set of samples: rarity score (Han et al., k = 3; mean over in-manifold samples only, with
the in-manifold share reported beside it), improved precision and recall (k = 3) against the
real bank, diversity (mean pairwise feature distance), and, on the embedded domain, the share of
minority attribute pairs (blue triangles, red squares) as judged by the independent attribute
classifier.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np

from jaxlatent.methods import divrare_setup as setup
from jaxlatent.metrics import prdc, rarity


class Samples(NamedTuple):
    latents: np.ndarray  # [M, *latent]
    images: np.ndarray  # [M, H, W, 3]
    features: np.ndarray  # [M, D]
    group: np.ndarray  # [M] reference index (-1 for baseline samples)


def render(nets, latents) -> np.ndarray:
    kwargs = nets.generator.info.get("apply_kwargs", {})
    fn = jax.jit(lambda p, z: nets.generator.apply_fn(p, z, **kwargs))
    return setup.batched(lambda z: fn(nets.generator.params, z), np.asarray(latents), batch=100)


def _samples(nets, fns, ctx, latents, group) -> Samples:
    if len(latents) == 0:  # no start found an accepted sample
        res = nets.generator.info.get("resolution", 128)
        return Samples(np.asarray(latents), np.zeros((0, res, res, 3), np.float32),
                       np.zeros((0, 0), np.float32), np.asarray(group))
    images = render(nets, latents)
    features = setup.sample_features(fns[0], fns[1], ctx, latents)
    return Samples(np.asarray(latents), images, features, group)


def baseline_samples(nets, fns, ctx, key, n: int) -> Samples:
    """``n`` plain samples G(z), z ~ N(0, I)."""
    z = np.asarray(jax.random.normal(key, (n,) + setup.latent_shape(nets.generator)))
    return _samples(nets, fns, ctx, z, np.full(n, -1))


def kept_samples(state, nets, fns, ctx) -> Samples:
    """The accepted best latent of every start that found one (paper's keep rule)."""
    found = np.asarray(state.best_step) >= 0
    latents = np.asarray(state.best_latent)[found]
    group = np.nonzero(found)[0]
    return _samples(nets, fns, ctx, latents, group)


def pairwise_diversity(features: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs i < j."""
    f = np.asarray(features, np.float64)
    if len(f) < 2:
        return float("nan")
    d = np.sqrt(np.maximum(((f[:, None] - f[None]) ** 2).sum(-1), 0.0))
    return float(d[np.triu_indices(len(f), 1)].mean())


def minority_share(nets, images) -> float:
    """Share of images the classifier calls blue triangles or red squares."""
    if nets.classifier is None or len(images) == 0:
        return float("nan")
    from jaxlatent.models import shapes_classifier

    shape, colour = jax.jit(shapes_classifier.predict)(nets.classifier.params, images)
    return float(np.mean(np.asarray(shape) != np.asarray(colour)))


def evaluate(samples: Samples, banks, nets) -> dict:
    n = len(samples.features)
    if n == 0:
        return {"num_samples": 0}
    result = rarity.rarity_score(banks.manifold, samples.features)
    inside = np.asarray(result.inside)
    pr = prdc.improved_precision_recall(np.asarray(banks.manifold.features), samples.features, k=3)
    return {
        "num_samples": n,
        "in_manifold_share": float(inside.mean()),
        "rarity_mean_in_manifold": rarity.masked_mean(result),
        "precision": pr["precision"],
        "recall": pr["recall"],
        "diversity_mean_pairwise_feature_dist": pairwise_diversity(samples.features),
        "minority_share_classifier": minority_share(nets, samples.images),
    }


COLUMNS = [
    ("num_samples", "n", "{:d}"),
    ("rarity_mean_in_manifold", "rarity ↑", "{:.3f}"),
    ("in_manifold_share", "in manifold", "{:.2f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("diversity_mean_pairwise_feature_dist", "diversity ↑", "{:.3f}"),
    ("minority_share_classifier", "minority share ↑", "{:.3f}"),
]


def results_table(results: dict) -> str:
    """Markdown table of `evaluate` results, one row per variant."""
    lines = ["| samples | " + " | ".join(c[1] for c in COLUMNS) + " |",
             "|---|" + "---|" * len(COLUMNS)]
    for name, r in results.items():
        cells = [fmt.format(r[k]) if k in r else "–" for k, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def curves(rows: list[dict]) -> dict:
    """Per-step series for the curves figure (rarity averaged over in-manifold starts only)."""
    get = lambda k: [r.get(k, float("nan")) for r in rows]  # noqa: E731
    inside = np.asarray(get("inside"))
    rarity_in = np.where(inside > 0, np.asarray(get("rarity_masked")) / np.maximum(inside, 1e-12), np.nan)
    return {"loss": get("loss"), "log_p": get("logp"), "rarity (in manifold)": rarity_in.tolist(),
            "accept share": get("accept_frac")}


