"""QDGS on StyleGAN2 q-space with CLIP prompts (``config.domain = "stylegan2_clip"``).

Set-up as the official faces run (Chang et al., AAAI 2024; ``generate_data.py``,
``qdgs/utils.py``, ``qdgs/discriminator.py``): converted StyleGAN2 and CLIP checkpoints from local
paths, σ_w and q_norm from 10,000 mapped z, prompt embeddings once on the host, start = the
lowest-loss of 32 batches of 16 truncated (ψ = 0.7) draws, then CMA-MAEGA
(`jaxlatent.search.qd`). The uniqueness memory is part of the loop state: each evaluated batch
(the start batches, the gradient point θ, the branch batch) may append one embedding, as the
official side effect does. Outputs: see `write_outputs`.
"""

from __future__ import annotations

import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import outputs, plots
from jaxlatent.models.registry import load_model
from jaxlatent.objectives import qdgs_clip as qc
from jaxlatent.search import qd, runner

SG2_CONVERT = ("python weights_convert/stylegan2.py --format nvlabs --input "
               "stylegan2-ffhq-256x256.pkl --output stylegan2_ffhq256.npz")
CLIP_CONVERT = "python weights_convert/clip.py --input ViT-B-32.pt --output clip_vit_b32.npz"
OFFSET, SCALE = 100.0, 50.0  # official transform_obj: f = 100 − 50·loss


class Domain(NamedTuple):
    ctx: dict  # network params, q-space stats, prompt embeddings (traced loop input)
    objective: Callable  # objective(q, ctx | {"memory": m}, *, key) -> (loss, aux)
    theta0: jax.Array  # [num_ws·w_dim] start solution
    memory: qc.Memory  # after the start search
    render: Callable  # render(solutions [B, D]) -> images [B, H, W, 3], ~[0, 1], not clipped
    info: dict  # host numbers for the summary


def check_paths(config) -> None:
    """Raises a clear error when a checkpoint path is missing (no weights are downloaded)."""
    need = [("generator", config.generator.path, "StyleGAN2 generator", SG2_CONVERT),
            ("clip", config.clip.path, "CLIP ViT-B/32", CLIP_CONVERT)]
    missing = [f"--config.{name}.path ({what}; make it with: {cmd})"
               for name, path, what, cmd in need if not path]
    if missing:
        raise ValueError("the stylegan2_clip QDGS domain needs converted checkpoints as local "
                         "paths (jaxlatent downloads no weights); set " + "; ".join(missing))
    for name, path, what, cmd in need:
        if not os.path.exists(path):
            raise FileNotFoundError(f"{what} checkpoint {path!r} (--config.{name}.path) does not "
                                    f"exist; make it with: {cmd}")


def settings_of(config, clip_model) -> qc.Settings:
    return qc.Settings(weights=tuple(float(w) for w in config.weights),
                       cut_size=clip_model.info["config"].image_resolution,
                       cutn=config.cutouts.cutn, cut_pow=config.cutouts.cut_pow,
                       cutouts=config.cutouts.mode)


def build_objective(config, key: jax.Array):
    """Networks, q-space statistics (σ_w, q_norm) and prompt embeddings.

    Returns:
      ``(ctx, objective, generator, memory)``: ctx without memory, the `qdgs_clip` objective, the
      StyleGAN2 `Model` and an empty uniqueness `Memory`.
    """
    check_paths(config)
    if len(config.prompts.measures) != len(config.archive.dims):
        raise ValueError(f"{len(config.prompts.measures)} measure prompt pairs but "
                         f"{len(config.archive.dims)} archive dims")
    gen = load_model(config.generator.name, config.generator.path)
    clip_model = load_model(config.clip.name, config.clip.path)
    gi, qs = gen.info, config.q_space
    w_avg = jnp.asarray(gen.params["buffers"]["w_avg"])
    w_std, q_norm = qc.q_space_stats(gi["map_fn"], gen.params, gi["z_dim"], gi["num_ws"], w_avg,
                                     key, n=qs.num_samples, q_norm_scale=qs.q_norm_scale)
    pairs = qc.embed_prompt_pairs(clip_model, [config.prompts.objective, *config.prompts.measures])
    ctx = {"generator": gen.params, "clip": clip_model.params, "w_std": w_std, "w_avg": w_avg,
           "q_norm": q_norm, "text": {"objective": pairs[0], "measures": tuple(pairs[1:])}}
    clip_fn = lambda p, x: clip_model.apply_fn(p, x, method="image", preprocess=False)  # noqa: E731
    settings = settings_of(config, clip_model)
    objective = qc.make_objective(gi["synthesis_fn"], clip_fn, settings)
    memory = qc.init_memory(config.memory.capacity, settings.cutn,
                            clip_model.info["config"].embed_dim)
    return ctx, objective, gen, memory


def build(config, key: jax.Array) -> Domain:
    """`build_objective`, then the start solution (official ``find_good_start_latent``)."""
    stats_key, start_key = jax.random.split(key)
    ctx, objective, gen, memory = build_objective(config, stats_key)
    gi, qs = gen.info, config.q_space
    draw = jax.jit(lambda k: qc.start_draws(gi["map_fn"], gen.params, k, qs.start_batch_size,
                                            gi["z_dim"], ctx["w_avg"], ctx["w_std"], qs.start_psi))
    theta0, memory, start_loss = find_start(objective, ctx, memory, draw, start_key,
                                            qs.start_batches, float(config.weights[2]) > 0)
    render_jit = jax.jit(lambda c, q: qc.q_to_images(gi["synthesis_fn"], c, q))
    info = {"solution_dim": int(theta0.shape[0]), "q_norm": float(ctx["q_norm"]),
            "start_loss": start_loss, "start_objective": OFFSET - SCALE * start_loss}
    return Domain(ctx, objective, theta0, memory, lambda q: render_jit(ctx, q), info)


def _losses_fn(objective):
    @jax.jit
    def losses(ctx, memory, q, key):
        c = {**ctx, "memory": memory}
        keys = jax.random.split(key, q.shape[0])
        value, aux = jax.vmap(lambda x, k: objective(x, c, key=k))(q, keys)
        return value, aux["embed"]

    return losses


def find_start(objective, ctx, memory, draw, key, num_batches: int, use_memory: bool):
    """Official ``find_good_start_latent``: the lowest-loss draw over ``num_batches`` batches.

    Returns ``(theta0 [D], memory, loss)``; each batch may append to the memory.
    """
    losses, update = _losses_fn(objective), jax.jit(qc.update_memory)
    best, best_loss = None, np.inf
    for b in range(num_batches):
        k_draw, k_eval, k_mem = jax.random.split(jax.random.fold_in(key, b), 3)
        q = draw(k_draw)
        value, emb = losses(ctx, memory, q, k_eval)
        if use_memory:
            memory = update(memory, emb, value, k_mem)
        i = int(jnp.argmin(value))
        if float(value[i]) < best_loss:
            best, best_loss = q[i], float(value[i])
    return best, memory, best_loss


def _memory_update(threshold: float):
    """The official side effect as explicit state: each evaluated batch (the gradient point θ,
    the branch batch) may append one embedding; the runner applies it after every evaluation."""

    def update(memory, candidates, evaluation, key):
        del candidates
        return qc.update_memory(memory, evaluation.aux["embed"], evaluation.values, key, threshold)

    return update


def _memory_metrics(memory) -> dict:
    return {"memory": memory.count}


def run(config, workdir, qd_config: Callable[[Any], qd.QDConfig]) -> dict:
    """Set-up, CMA-MAEGA on the runner (resumable) and outputs; ``qd_config`` maps the config."""
    key = jax.random.key(config.seed)
    setup_key, loop_key = jax.random.split(key)
    domain = build(config, setup_key)
    strategy = qd.CmaMaega(qd_config(config), offset=OFFSET, scale=SCALE)
    use_memory = float(config.weights[2]) > 0
    problem = runner.Problem(domain.objective,
                             memory_update=_memory_update(1.0) if use_memory else None,
                             memory_metrics=_memory_metrics if use_memory else None)
    memory = jax.tree.map(lambda x: x[None], domain.memory) if use_memory else ()
    state, _ = runner.run(strategy, problem, None, domain.theta0[None], domain.ctx,
                          keys=loop_key[None], memory=memory, num_steps=config.num_iters,
                          chunk_size=config.chunk_size, workdir=workdir, desc="qdgs_clip")
    qd_state = jax.tree.map(lambda x: x[0], state.strategy)
    return write_outputs(config, workdir, qd_state, strategy.config, domain)


def labels_of(measures: np.ndarray, edges=(-0.03, 0.03)) -> np.ndarray:
    """Official faces bins: 3 on measure 0 (skin) × 3 on measure 1 (gender), label 3·i + j.

    Bins are [−∞, −0.03), [−0.03, 0.03), [0.03, ∞) (``write_data``'s ``measure_bins_list``).
    """
    if measures.ndim != 2 or measures.shape[1] < 2:
        return np.zeros(len(measures), int)
    return 3 * np.digitize(measures[:, 0], edges) + np.digitize(measures[:, 1], edges)


def write_outputs(config, workdir, state: qd.QDState, config_qd: qd.QDConfig, domain: Domain) -> dict:
    """archive.npz (occupied cells only), heatmap.png, curves.png, elites.png, dataset.npz,
    summary.json. No KMeans identities, latent augmentations or MTCNN alignment (official
    ``write_data``); render any solution with ``Domain.render``."""
    res = state.result  # the dense faces archive is 156,250 x 7,168 floats: gather on device
    occ = np.asarray(res.occupied)
    idx = jnp.asarray(np.flatnonzero(occ))
    sols, obj, meas = (np.asarray(a[idx]) for a in (res.solutions, res.objectives, res.measures))
    dims = tuple(config_qd.archive.dims)
    workdir.save_arrays("archive.npz", index=np.flatnonzero(occ), solutions=sols, objectives=obj,
                        measures=meas, dims=np.asarray(dims))
    heat = np.full(int(np.prod(dims)), np.nan)
    heat[np.flatnonzero(occ)] = obj
    heat = heat.reshape(dims[0], dims[1] if len(dims) > 1 else 1, -1)
    with np.errstate(all="ignore"):
        heat = np.where(np.isfinite(heat), heat, -np.inf).max(-1)  # best over measures 3..M
    ranges = config_qd.archive.ranges
    names = [f"measure {k}: {pos!r} − {neg!r}" for k, (pos, neg) in enumerate(config.prompts.measures)]
    plots.heatmap(workdir.file("heatmap.png"), np.where(np.isfinite(heat), heat, np.nan),
                  x_label=names[0], y_label=names[1] if len(names) > 1 else "",
                  x_range=tuple(ranges[0]), y_range=tuple(ranges[1] if len(ranges) > 1 else (0, 1)),
                  colorbar_label="f = 100 − 50·loss (best over the other measures)",
                  title="QDGS faces archive")
    outputs.history_figures(workdir, outputs.Curves(
        "curves.png", ["qd_score", "coverage", "memory"],
        "QDGS (StyleGAN2 + CLIP): QD score and coverage per iteration",
        units={"coverage": "share of cells"}))
    labels = labels_of(meas, tuple(config.label_bins))
    workdir.save_arrays("dataset.npz", latents=sols, labels=labels, measures=meas, objectives=obj)
    if len(sols):
        order = np.argsort(meas[:, 0])
        pick = order[np.linspace(0, len(order) - 1, min(32, len(order))).astype(int)]
        images = np.asarray(domain.render(jnp.asarray(sols[pick])))
        rows_of_8 = [images[i:i + 8] for i in range(0, len(pick), 8)]
        captions = [[f"m0 {m:+.3f}" for m in meas[pick[i:i + 8], 0]] for i in range(0, len(pick), 8)]
        outputs.save_image_grid(workdir.file("elites.png"), rows_of_8,
                                title="archive elites sorted by measure 0 (low → high)",
                                captions=captions)
    final = {k: float(v) for k, v in jax.device_get(qd.metrics(state, config_qd)).items()}
    summary = {"iterations": config.num_iters, **final,
               **domain.info, "label_counts": np.bincount(labels, minlength=9).tolist()}
    outputs.write_summary(workdir, summary)
    outputs.write_report(workdir, "QDGS faces (StyleGAN2 W+ q-space, CLIP prompts)",
                         config.to_dict(), {k: summary[k] for k in ("qd_score", "coverage",
                                                                    "num_elites")},
                         ["heatmap.png", "curves.png", "elites.png"])
    print(summary)
    return summary
