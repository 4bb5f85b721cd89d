"""Method ``qdgs``: quality-diversity generative sampling (Chang et al., AAAI 2024) with CMA-MAEGA.

On the embedded domain: G = the shapes VAE decoder (6-d latent), quality and measures from
`jaxlatent.objectives.qdgs_shapes`, QDGS's archive and emitter settings (grid 50×50, α = 0.02,
threshold_min 0, one gradient-arborescence emitter with σ0 = 0.5, Adam lr 0.5, 3 branches), start
= the best of 512 N(0, I) draws. Iterations run in `jaxlatent.loop` (progress bar, metrics,
checkpoints, resume). Outputs: ``archive.npz`` (the passive elitist archive: solutions,
objectives, measures, occupied), ``heatmap.png`` (objective per cell), ``curves.png`` (QD score,
coverage), ``dataset.npz`` + ``dataset.png`` (decoded elites labelled triangle/square by the
shape measure, QDGS's write_data rule: < 0.5 − margin triangle, ≥ 0.5 square), ``summary.json``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import images as img_io
from jaxlatent import loop
from jaxlatent.methods import divrare_setup as setup
from jaxlatent.objectives import qdgs_shapes
from jaxlatent.search import qd


def qd_config(cfg) -> qd.QDConfig:
    return qd.QDConfig(
        archive=qd.ArchiveSpec(dims=tuple(cfg.archive.dims), ranges=tuple(map(tuple, cfg.archive.ranges)),
                               learning_rate=cfg.archive.learning_rate,
                               threshold_min=cfg.archive.threshold_min),
        emitter=qd.EmitterConfig(sigma0=cfg.emitter.sigma0, lr=cfg.emitter.lr,
                                 batch_size=cfg.emitter.batch_size),
        num_emitters=cfg.emitter.num_emitters,
    )


def run(config, workdir) -> dict:
    key = jax.random.key(config.seed)
    probe_key, start_key, loop_key = jax.random.split(key, 3)
    nets = setup.load_networks(config)
    generate, extract, log_prob = setup.make_fns(nets)
    ctx = setup.network_ctx(nets)
    probe, probe_acc = qdgs_shapes.fit_shape_probe(extract, ctx, probe_key)
    ctx = {**ctx, "probe": probe}
    objective = qdgs_shapes.make_objective(generate, extract, log_prob)
    eval_fn, jac_fn = qd.qdgs.make_eval_fns(objective, ctx)
    # QDGS find_good_start_latent: the best of num_start_draws N(0, I) draws.
    draws = jax.random.normal(start_key, (config.num_start_draws, 6))
    f0, _ = jax.jit(eval_fn)(draws, start_key)
    theta0 = draws[jnp.argmax(f0)]
    config_qd = qd_config(config)
    state = qd.init(loop_key, theta0, config_qd)

    def step(s, t, _):
        del t  # the scheduler folds its own iteration counter into the key
        return qd.step(s, loop_key, eval_fn, jac_fn, config_qd)

    state, _ = loop.run_loop(state, step, num_steps=config.num_iters, chunk_size=config.chunk_size,
                             workdir=workdir, desc="qdgs")
    return _write_outputs(config, workdir, state, config_qd, nets, probe_acc)


def _write_outputs(config, workdir, state, config_qd, nets, probe_acc) -> dict:
    res = jax.device_get(state.result)
    occupied = np.asarray(res.occupied)
    workdir.save_arrays("archive.npz", solutions=res.solutions, objectives=res.objectives,
                        measures=res.measures, occupied=occupied)
    dims = config_qd.archive.dims
    heat = np.where(occupied, res.objectives, np.nan).reshape(dims)
    lo, hi = np.nanmin(heat) if occupied.any() else 0, np.nanmax(heat) if occupied.any() else 1
    grey = np.where(np.isnan(heat), 1.0, 0.15 + 0.85 * (heat - lo) / max(hi - lo, 1e-9))
    img_io.save_grid(workdir.file("heatmap.png"), [np.repeat(np.repeat(grey, 8, 0), 8, 1)[None, ..., None].repeat(3, -1)])
    rows = workdir.read_metrics()
    img_io.save_curves(workdir.file("curves.png"),
                       {"qd_score": [r["qd_score"] for r in rows], "coverage": [r["coverage"] for r in rows]},
                       "QDGS: QD score and coverage per iteration")
    sols = np.asarray(res.solutions)[occupied]
    square = np.asarray(res.measures)[occupied][:, 1]
    keep = (square < 0.5 - config.label_margin) | (square >= 0.5)
    labels = (square[keep] >= 0.5).astype(np.int32)  # 0 triangle, 1 square
    images = setup.batched(lambda z: nets.generator.apply_fn(nets.generator.params, z), sols[keep], 100) if keep.any() else np.zeros((0, 128, 128, 3))
    workdir.save_arrays("dataset.npz", images=(np.clip(images, 0, 1) * 255).astype(np.uint8), labels=labels,
                        latents=sols[keep])
    if len(images):
        order = np.argsort(np.asarray(res.measures)[occupied][keep][:, 0])
        pick = order[np.linspace(0, len(order) - 1, min(32, len(order))).astype(int)]
        img_io.save_grid(workdir.file("dataset.png"), [images[pick[i:i + 8]] for i in range(0, len(pick), 8)])
    summary = {"iterations": config.num_iters, **{k: float(v) for k, v in rows[-1].items() if k != "step"},
               "dataset_size": int(keep.sum()), "dataset_squares": int(labels.sum()),
               "shape_probe_train_accuracy": probe_acc}
    workdir.write_json("summary.json", summary)
    print(summary)
    return summary
