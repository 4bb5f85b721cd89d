"""Method ``divrare``: diverse rare samples by multi-start latent search (Lee et al., AAAI 2025).

All references × starts run as one compiled program: latents ``[G = references, N = starts,
*latent]``, the per-start loss (log p + λ1·sim) vmapped inside each group, the diversity term
over each group, Adam (lr 2e-2, optional step decay 50/0.9), ``search.num_steps`` steps. A
start's best is kept only at steps where it lies strictly inside the real k-NN manifold and within
d* of its start's features. Outputs (workdir): ``latents.npz``, ``references.png`` (each
reference beside its rare variants), ``baseline.png``, ``curves.png``, ``summary.json``; with
``config.ablation`` also the L_rare / +L_sim / +L_sim+L_div table (``results.md``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import outputs
from jaxlatent.methods import divrare_eval as ev
from jaxlatent.methods import divrare_setup as setup
from jaxlatent.objectives import divrare as dr
from jaxlatent.search import gradient, registry, runner
from jaxlatent.search.population import set_objective
from jaxlatent.workdir import Workdir

ABLATIONS = {  # name -> (use L_sim, use L_div)
    "L_rare": (False, False),
    "L_rare+L_sim": (True, False),
    "L_rare+L_sim+L_div": (True, True),
}


def search(cfg, nets, fns, ctx, banks, key, workdir: Workdir | None, use_sim=True, use_div=True):
    """Runs the DivRare search; returns (runner state, metric rows, starts, start features)."""
    generate, extract, log_prob = fns
    g, n = cfg.search.num_references, cfg.search.num_starts
    start_key, search_key = jax.random.split(key)
    eps = jax.random.normal(start_key, (g, n) + banks.references.shape[1:])
    starts = jnp.asarray(banks.references)[:, None] + cfg.search.start_sigma * eps
    anchors = setup.sample_features(generate, extract, ctx, starts.reshape((g * n,) + starts.shape[2:]))
    w_sim, w_pair = dr.effective_weights(
        cfg.loss.lambda1, cfg.loss.lambda2, n, cfg.loss.reference_scaling
    )
    # The weights are traced inputs and the group term is always present (weight 0 turns it
    # off): every ablation variant, seed and trial of one shape runs the same compiled program.
    objective = dr.make_objective(generate, extract, log_prob, torch_eps=cfg.loss.torch_eps)
    problem = runner.Problem(objective, dr.diversity_term())
    full_ctx = {**ctx, "real_features": jnp.asarray(banks.manifold.features),
                "real_radii": jnp.asarray(banks.manifold.radii),
                "lambda1": jnp.float32(w_sim if use_sim else 0.0),
                "pair_weight": jnp.float32(w_pair if use_div else 0.0)}
    start_ctx = {"anchor": jnp.asarray(anchors).reshape(g, n, -1),
                 "dstar": jnp.broadcast_to(jnp.asarray(banks.dstar)[:, None], (g, n))}
    strategy = build_strategy(cfg.search)
    if not strategy.tracks_slots:  # a population strategy: each candidate is a set of N starts
        state, rows = _population_search(cfg, strategy, problem, search_key, starts, full_ctx,
                                         start_ctx, workdir)
        return state, rows, np.asarray(starts), np.asarray(anchors)
    state, rows = runner.run(
        strategy, problem, search_key, starts, full_ctx,
        candidate_ctx=start_ctx, num_steps=cfg.search.num_steps,
        chunk_size=cfg.search.chunk_size, workdir=workdir, desc="divrare",
    )
    return state, rows, np.asarray(starts), np.asarray(anchors)


def build_strategy(search_cfg):
    """``search.name``: a gradient search with ``search.optimizer``'s options, or any other
    registered strategy with ``search.population``'s options."""
    name = search_cfg.get("name", search_cfg.optimizer.name)
    if name in gradient.NAMES:
        return registry.build({**search_cfg.optimizer.to_dict(), "name": name})
    return registry.build({**search_cfg.population.to_dict(), "name": name})


class PopulationResult(NamedTuple):
    latents: jax.Array  # [G, N, *latent] the strategy's recommended set, as latents


def _population_search(cfg, strategy, problem, key, starts, ctx, start_ctx, workdir):
    """Population strategy over sets ``u [N, *latent]``, z = starts + scale·u (set_objective).

    Returns a `runner.RunnerState` in the gradient path's per-start layout: best value, latent
    and step per start under the keep rule, ``strategy.latents`` the recommended set.
    """
    scale = float(cfg.search.population.scale)
    set_problem = set_objective.set_problem(problem.objective, problem.group_term, scale)
    problem_ctx = {"starts": starts, "per_start": start_ctx}
    state, rows = runner.run(
        strategy, set_problem, key, jnp.zeros_like(starts), ctx, problem_ctx=problem_ctx,
        memory=set_objective.init_bests(starts), num_steps=cfg.search.num_steps,
        chunk_size=cfg.search.chunk_size, workdir=workdir, desc=f"divrare/{cfg.search.name}")
    rec = jax.vmap(strategy.recommend)(state.strategy)
    bests = state.memory
    return runner.RunnerState(PopulationResult(starts + scale * rec), bests.value, bests.latent,
                              bests.step), rows


def run(config, workdir: Workdir) -> dict:
    key = jax.random.key(config.seed)
    bank_key, search_key, base_key = jax.random.split(key, 3)
    nets = setup.load_networks(config)
    fns = setup.make_fns(nets)
    ctx = setup.network_ctx(nets)
    banks = setup.make_banks(config, nets, fns[0], fns[1], ctx, bank_key)
    variants = ABLATIONS if config.ablation else {"L_rare+L_sim+L_div": (True, True)}
    n_samples = config.search.num_references * config.search.num_starts
    baseline = ev.baseline_samples(nets, fns, ctx, base_key, n_samples)
    results = {"baseline (random G samples)": ev.evaluate(baseline, banks, nets)}
    for name, (use_sim, use_div) in variants.items():
        sub = Workdir(workdir.file(name)) if config.ablation else workdir
        state, _, starts, _ = search(config, nets, fns, ctx, banks, search_key, sub, use_sim, use_div)
        kept = ev.kept_samples(state, nets, fns, ctx)
        results[name] = ev.evaluate(kept, banks, nets)
        _write_outputs(sub, state, starts, banks, kept, baseline, nets)
    summary = {"results": results, "dstar_mean": float(np.mean(banks.dstar)),
               "num_real": len(banks.manifold.features), "num_fake": len(banks.fake)}
    table = ev.results_table(results)
    with open(workdir.file("results.md"), "w") as f:
        f.write(table + "\n")
    _write_report(config, workdir, results, table)
    outputs.write_summary(workdir, summary)
    print(table)
    return summary


def _write_report(config, workdir: Workdir, results: dict, table: str) -> None:
    last = list(results)[-1]
    headline = {f"{last}: {k}": v for k, v in results[last].items()}
    prefix = f"{last}/" if config.ablation else ""
    figures = [(f"{prefix}references.png", "references and their kept rare variants"),
               (f"{prefix}curves.png", "per-step curves"), (f"{prefix}baseline.png", "baseline")]
    outputs.write_report(workdir, "DivRare: diverse rare samples", config.to_dict(), headline,
                         figures, notes="Results (results.md):\n\n" + table)


CURVES = outputs.Curves(
    "curves.png", ["loss", "logp", "rarity (in manifold)", "accept_frac", "best_found_frac"],
    "DivRare: per-step means over all starts",
    units={"logp": "nats", "accept_frac": "share of starts", "best_found_frac": "share of starts"},
    derived={"rarity (in manifold)": lambda r: r["rarity_masked"] / r["inside"]
             if r["inside"] > 0 else float("nan")})


def _write_outputs(wdir: Workdir, state, starts, banks, kept, baseline, nets) -> None:
    found = np.asarray(state.best_step) >= 0
    outputs.save_arrays(
        wdir, "latents.npz", references=banks.references, dstar=banks.dstar, starts=starts,
        best_latents=np.asarray(state.best_latent), best_values=np.asarray(state.best_value),
        best_step=np.asarray(state.best_step), found=found,
        final_latents=np.asarray(state.strategy.latents),
    )
    rng = nets.output_range
    ref_images = ev.render(nets, banks.references)
    values = np.asarray(state.best_value)
    grid_rows, captions = [], []
    for g in range(found.shape[0]):
        variants = kept.images[kept.group == g]
        grid_rows.append(np.concatenate([ref_images[g : g + 1], variants]))
        captions.append(["reference"] + [f"loss {v:.3g}" for v in values[g][found[g]]])
    outputs.save_image_grid(wdir.file("references.png"), grid_rows, rng,
                            title="each row: a reference | its kept rare variants (best loss)",
                            row_labels=[f"ref {g}" for g in range(len(grid_rows))],
                            captions=captions)
    per_row = starts.shape[1] + 1
    outputs.save_image_grid(
        wdir.file("baseline.png"),
        [baseline.images[i : i + per_row] for i in range(0, min(len(baseline.images), 8 * per_row), per_row)],
        rng, title="baseline: random samples G(z), z ~ N(0, I)")
    outputs.history_figures(wdir, CURVES)  # the whole stored history, also after a resume
    wdir.write_json("curves.json", ev.curves(wdir.read_metrics()))
