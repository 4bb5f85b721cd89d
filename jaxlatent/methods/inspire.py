"""Method ``inspire``: inspirational generation (Riviere et al., 2019), latents matching targets.

    python run.py --config=configs/inspire.py --workdir=runs/inspire

For every class mode of ``config.class_modes`` (continuous [z, c] / fixed one-hot class), one
search (`inspire_search.search`: all targets × starts as independent problems of one
`runner.run`) with ``config.search`` into ``<workdir>/<mode>/`` (metrics, checkpoints: a killed
run resumes there). Outputs in the workdir: ``latents.npz`` (best latents ``[T, S, D]``, best
criterion, every term at the best latents, targets, rendered images, per mode),
``<mode>.png`` (target | best image of each start), ``curves_<mode>.png`` (best criterion and
terms against iterations), ``summary.json`` (per-target losses by term and the official
"Barycenter" statistics of the normalised latents) and ``report.md``.
``config.table2 = True`` runs Table 2 instead (`jaxlatent.methods.inspire_table`).
"""

from __future__ import annotations

import jax
import numpy as np

from jaxlatent import outputs, plots
from jaxlatent.methods import inspire_search, inspire_setup, inspire_targets
from jaxlatent.workdir import Workdir


def load_targets(config, nets, key) -> inspire_targets.Targets:
    """Files of ``config.targets.images`` (comma-separated), else the generated kinds."""
    noise_dim, num_classes = inspire_setup.latent_dims(nets)
    size = int(nets.generator.info.get("resolution", 32))
    files = [p for p in str(config.targets.images).split(",") if p]
    if files:
        classes = [int(c) for c in str(config.targets.classes).split(",") if c] or [0] * len(files)
        if len(classes) != len(files):
            raise ValueError(f"targets.classes names {len(classes)} classes for {len(files)} "
                             "target images; give one per image or none")
        images = inspire_targets.load_image_files(files, size)
        return inspire_targets.Targets(images, ["file"] * len(files), np.asarray(classes), files)
    return inspire_targets.make_targets(key, tuple(config.targets.kinds),
                                        int(config.targets.per_kind), nets.generator, noise_dim,
                                        num_classes)


def run(config, workdir) -> dict:
    if config.get("table2", False):
        from jaxlatent.methods import inspire_table

        return inspire_table.run(config, workdir)
    key = jax.random.key(config.seed)
    k_targets, k_search = jax.random.split(key)
    nets = inspire_setup.load_networks(config)
    targets = load_targets(config, nets, k_targets)
    results, arrays = {}, {"targets": targets.images, "target_classes": targets.classes}
    for mode in config.class_modes:
        sub = Workdir(workdir.file(mode))
        res = inspire_search.search(config, nets, targets, config.search, mode, k_search, sub,
                                    budget=int(config.budget), starts=int(config.num_starts),
                                    desc=f"inspire {mode}")
        results[mode] = res
        images = _render(nets, targets, res, mode)
        arrays.update({f"{mode}/best_latent": res.best_latent, f"{mode}/best_value": res.best_value,
                       f"{mode}/images": images,
                       **{f"{mode}/term_{k}": v for k, v in res.terms.items()}})
        _grid(workdir.file(f"{mode}.png"), targets, images, res, mode)
        _curves(workdir.file(f"curves_{mode}.png"), sub, mode)
    outputs.save_arrays(workdir, "latents.npz", **arrays)
    summary = _summary(config, targets, results)
    outputs.write_summary(workdir, summary)
    headline = {f"{m} best criterion, mean over targets × starts": float(r.best_value.mean())
                for m, r in results.items()}
    headline.update({f"{m} search seconds": r.seconds for m, r in results.items()})
    figs = [(f"{m}.png", f"{m} class part: target | best image per start") for m in results]
    figs += [(f"curves_{m}.png", f"{m}: best criterion and terms per iteration") for m in results]
    outputs.write_report(workdir, "Inspirational generation", config.to_dict(), headline, figs,
                         notes=NOTES)
    return summary


NOTES = ("Criterion = λ_L C_L + λ_S C_S + λ_R C_R + λ_v C_v (eq. 6), minimised; images are "
         "rendered by the generator that was optimised unless `search_generator` is set. "
         "Barycenter statistics follow the official `_data.json` (normalised latents).")


def _render(nets, targets, res, mode) -> np.ndarray:
    t, s, d = res.best_latent.shape
    codes = None
    if mode == "fixed":
        codes = jax.nn.one_hot(np.repeat(targets.classes, s), inspire_setup.latent_dims(nets)[1])
    images = inspire_setup.render(nets, res.best_latent.reshape(t * s, d), codes, mode)
    return np.asarray(images).reshape((t, s) + images.shape[1:])


def _grid(path, targets, images, res, mode) -> None:
    rows = [np.concatenate([targets.images[i][None], images[i]]) for i in range(len(images))]
    captions = [["target"] + [f"C={v:.3g}" for v in res.best_value[i]] for i in range(len(rows))]
    labels = [f"{k}: {n}" for k, n in zip(targets.kinds, targets.names)]
    outputs.save_image_grid(path, rows, (-1.0, 1.0), captions=captions, row_labels=labels,
                            title=f"{mode} class part: target | best image of each start")


def _curves(path, sub: Workdir, mode) -> None:
    rows = outputs.metrics_history(sub)
    quantities = [q for q in ("best_mean", "loss", "pixel", "style", "realism", "latent_norm", "lr")
                  if rows and q in rows[0]]
    plots.curves(path, rows, quantities, title=f"inspire ({mode}): mean over problems",
                 units={"best_mean": "criterion", "loss": "criterion"})


def _summary(config, targets, results) -> dict:
    out = {"budget": int(config.budget), "num_starts": int(config.num_starts), "modes": {}}
    for mode, res in results.items():
        per_target = []
        for i, name in enumerate(targets.names):
            entry = {"target": name, "kind": targets.kinds[i], "class": int(targets.classes[i]),
                     "best_per_start": res.best_value[i].tolist(),
                     "terms_at_best": {k: v[i].tolist() for k, v in res.terms.items()}}
            if res.best_latent.shape[1] > 1:
                entry["barycenter"] = inspire_search.barycenter_stats(res.best_latent[i])
            per_target.append(entry)
        out["modes"][mode] = {"best_mean": float(res.best_value.mean()),
                              "iterations": res.num_steps, "seconds": res.seconds,
                              "targets": per_target}
    return out
