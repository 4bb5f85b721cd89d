"""Method ``qdgs``: quality-diversity generative sampling (Chang et al., AAAI 2024) with CMA-MAEGA.

On the embedded domain: G = the shapes VAE decoder (6-d latent), quality and measures from
`jaxlatent.objectives.qdgs_shapes`, QDGS's archive and emitter settings (grid 50×50, α = 0.02,
threshold_min 0, one gradient-arborescence emitter with σ0 = 0.5, Adam lr 0.5, 3 branches), start
= the best of 512 N(0, I) draws. Iterations run in `jaxlatent.loop` (progress bar, metrics,
checkpoints, resume). Outputs: ``archive.npz`` (the passive elitist archive: solutions,
objectives, measures, occupied), ``heatmap_<i>_<j>.png`` per measure pair (``heatmap.png`` = the
first), ``curves.png`` (QD score, coverage), ``dataset.npz`` + ``dataset.png`` (decoded elites
labelled triangle/square by the shape measure with QDGS's write_data rule, `label_by_shape`),
``summary.json``.
"""

from __future__ import annotations

import itertools
import shutil

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import images as img_io
from jaxlatent import outputs
from jaxlatent.methods import divrare_setup as setup
from jaxlatent.objectives import qdgs_shapes
from jaxlatent.search import qd, runner
from jaxlatent.search.evaluate import candidate_values


def qd_config(cfg) -> qd.QDConfig:
    return qd.scheduler.config_from(cfg)


def run(config, workdir) -> dict:
    if config.get("domain", "shapes") == "stylegan2_clip":  # StyleGAN2 q-space + CLIP prompts
        from jaxlatent.methods import qdgs_clip_setup

        return qdgs_clip_setup.run(config, workdir, qd_config)
    if config.get("domain", "shapes") != "shapes":
        raise ValueError(f"unknown qdgs domain {config.domain!r}; known: shapes, stylegan2_clip")
    key = jax.random.key(config.seed)
    check_key, start_key, loop_key = jax.random.split(key, 3)
    nets = setup.load_networks(config)
    generate, extract, log_prob = setup.make_fns(nets)
    ctx = setup.network_ctx(nets)
    measure_acc = qdgs_shapes.shape_measure_accuracy(check_key)
    ctx = {**ctx, "realism_bounds": qdgs_shapes.fit_realism_bounds(check_key)}
    objective = qdgs_shapes.make_objective(generate, extract, log_prob, config.realism_weight)
    problem = runner.Problem(objective)
    # QDGS find_good_start_latent: the best of num_start_draws N(0, I) draws.
    draws = jax.random.normal(start_key, (config.num_start_draws, 6))
    _, (values, _) = jax.jit(candidate_values, static_argnums=0)(problem, draws, ctx, {}, start_key)
    theta0 = draws[jnp.argmin(values)]
    strategy = qd.CmaMaega(qd_config(config), offset=100.0, scale=50.0)  # f = 100 − 50·loss
    state, _ = runner.run(strategy, problem, None, theta0[None], ctx, keys=loop_key[None],
                          num_steps=config.num_iters, chunk_size=config.chunk_size,
                          workdir=workdir, desc="qdgs")
    state = jax.tree.map(lambda x: x[0], state.strategy)  # the one problem
    config_qd = strategy.config
    return _write_outputs(config, workdir, state, config_qd, nets, measure_acc)


MEASURE_NAMES = ("colour (red +)", "squareness")
CURVES = outputs.Curves("curves.png", ["qd_score", "coverage", "num_elites"],
                        "QDGS: QD score and coverage per iteration", x="step",
                        units={"coverage": "share of cells", "qd_score": "normalised"})


def write_heatmaps(workdir, res, spec: qd.ArchiveSpec, names) -> list[str]:
    """One PNG per measure pair: the best objective over the other measures' cells.

    Returns the file names; the first pair is also written as ``heatmap.png``.
    """
    occupied = np.asarray(res.occupied).reshape(spec.dims)
    values = np.where(occupied, np.asarray(res.objectives).reshape(spec.dims), -np.inf)
    files = []
    for i, j in itertools.combinations(range(len(spec.dims)), 2):
        others = tuple(k for k in range(len(spec.dims)) if k not in (i, j))
        best = values.max(axis=others) if others else values
        name = f"heatmap_{i}_{j}.png"
        img_io.save_heatmap(workdir.file(name), np.where(np.isfinite(best), best, np.nan),
                            x_label=names[i], y_label=names[j], x_range=spec.ranges[i],
                            y_range=spec.ranges[j], title="QDGS archive: objective f per cell",
                            colorbar_label="objective f = 100 − 50·loss (best over other measures)")
        files.append(name)
    shutil.copyfile(workdir.file(files[0]), workdir.file("heatmap.png"))
    return files


def label_by_shape(square_measure: np.ndarray, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """QDGS's ``write_data`` rule on the shape measure: ``(keep, label)``, 1 = square.

    Square if the measure is ≥ 0, triangle if it is < −margin; the ones in [−margin, 0) are dropped.
    """
    keep = (square_measure < -margin) | (square_measure >= 0)
    return keep, (square_measure[keep] >= 0).astype(np.int32)


def _write_outputs(config, workdir, state, config_qd, nets, measure_acc) -> dict:
    res = jax.device_get(state.result)
    occupied = np.asarray(res.occupied)
    workdir.save_arrays("archive.npz", solutions=res.solutions, objectives=res.objectives,
                        measures=res.measures, occupied=occupied)
    heatmaps = write_heatmaps(workdir, res, config_qd.archive, MEASURE_NAMES)
    outputs.history_figures(workdir, CURVES)
    sols = np.asarray(res.solutions)[occupied]
    measures = np.asarray(res.measures)[occupied]
    keep, labels = label_by_shape(measures[:, 1], config.label_margin)
    decode = lambda z: nets.generator.apply_fn(nets.generator.params, z)  # noqa: E731
    images = setup.batched(decode, sols[keep], 100) if keep.any() else np.zeros((0, 128, 128, 3))
    workdir.save_arrays("dataset.npz", images=img_io.to_uint8(images), labels=labels,
                        latents=sols[keep], measures=measures[keep])
    if len(images):
        save_dataset_grid(workdir.file("dataset.png"), images, measures[keep], labels)
    final = jax.device_get(qd.metrics(state, config_qd))  # not the last row: metrics may be gone
    summary = {"iterations": config.num_iters, **{k: float(v) for k, v in final.items()},
               "dataset_size": int(keep.sum()), "dataset_squares": int(labels.sum()),
               "dataset_red": int((measures[keep][:, 0] > 0).sum()),
               "shape_measure_accuracy_on_rendered": measure_acc, "heatmaps": heatmaps}
    outputs.write_summary(workdir, summary)
    headline = {k: summary[k] for k in ("qd_score", "coverage", "num_elites", "dataset_size",
                                        "dataset_squares", "dataset_red")}
    outputs.write_report(workdir, "QDGS on the embedded shapes domain", config.to_dict(), headline,
                         [(h, f"archive {h}") for h in heatmaps]
                         + [("curves.png", "QD score and coverage"),
                            ("dataset.png", "decoded elites: the QDGS dataset")])
    print(summary)
    return summary


def save_dataset_grid(path, images, measures, labels, per_row: int = 8) -> None:
    """Rows: triangles then squares, each sorted by colour from blue to red."""
    rows, names, captions = [], [], []
    for label, name in ((0, "triangle"), (1, "square")):
        idx = np.flatnonzero(labels == label)
        idx = idx[np.argsort(measures[idx, 0])]
        pick = idx[np.linspace(0, len(idx) - 1, min(2 * per_row, len(idx))).astype(int)] if len(idx) else idx
        for i in range(0, len(pick), per_row):
            rows.append(images[pick[i:i + per_row]])
            names.append(name)
            captions.append([f"red {m:+.2f}" for m in measures[pick[i:i + per_row], 0]])
    if rows:
        outputs.save_image_grid(path, rows, title="QDGS dataset: labelled triangles, then squares "
                                "(blue → red by the colour measure)", row_labels=names,
                                captions=captions)
