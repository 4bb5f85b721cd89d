"""Method ``biggan_am``: repair and re-purpose a class-conditional GAN by searching its embedding.

Li, Mai, Alcorn & Nguyen, "A cost-effective method for improving and re-purposing large,
pre-trained GANs by fine-tuning their class-embeddings", ACCV 2020 (Eqs. 1-3; objectives in
`jaxlatent.objectives.biggan_am`). For each variant of ``config.run_variants`` every target class
× trial is one problem of a single runner program (`biggan_am_setup.search`), resumed from
``<workdir>/search/<variant>`` after a kill.

Outputs: ``embeddings.npz`` (per variant ``<v>_raw`` / ``<v>_clamped`` / ``<v>_start`` ``[C, T,
D]``, ``<v>_target_prob [C, T]``, ``targets``, ``original [C, D]``), ``curves_<v>.png``,
``grid_<class>.png`` (the original embedding vs each variant, same latents),
``interp_<class>.png``, and on the shapes domain ``table.md`` / ``table.json`` (Table S1
analogue, `biggan_am_report`); ``summary.json``, ``report.md``.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from jaxlatent import outputs
from jaxlatent.methods import biggan_am_domains as domains
from jaxlatent.methods import biggan_am_report as report
from jaxlatent.methods import biggan_am_setup as setup


def curves_spec(name: str) -> outputs.Curves:
    return outputs.Curves(f"curves_{name}.png", ["value_mean", "ce", "diversity", "target_prob",
                                                  "am_acc", "grad_norm"],
                          f"BigGAN-AM {name}: mean over classes x trials per step", x="step",
                          units={"target_prob": "AM classifier P(y_c)",
                                 "am_acc": "share of latents", "ce": "nats"})


def run_searches(config, nets, workdir, progress: bool = True) -> dict:
    """``{variant: SearchResult}`` for ``config.run_variants`` (each resumable)."""
    unknown = [v for v in config.run_variants if v not in config.variants]
    if unknown:
        raise KeyError(f"unknown BigGAN-AM variants {unknown}; known: {sorted(config.variants)}")
    key = jax.random.key(config.seed)
    results = {}
    for name in config.run_variants:
        wdir = setup.variant_workdir(workdir, name)
        results[name] = setup.search(config, nets, name, config.targets, wdir, key, progress)
        if wdir is not None:
            outputs.history_figures(wdir, curves_spec(name))
    return results


def save_embeddings(workdir, nets, targets, results) -> None:
    arrays = {"targets": np.asarray(targets), "original": nets.table[np.asarray(targets)],
              "clamp_range": np.asarray([nets.low, nets.high])}
    for name, r in results.items():
        arrays.update({f"{name}_raw": r.raw, f"{name}_clamped": r.clamped,
                       f"{name}_start": r.start, f"{name}_target_prob": r.final_target_prob})
    outputs.save_arrays(workdir, "embeddings.npz", **arrays)


def run(config, workdir) -> dict:
    t0 = time.time()
    nets = domains.load(config)
    bad = [c for c in config.targets if not 0 <= int(c) < nets.table.shape[0]]
    if bad:
        raise ValueError(f"target classes {bad} are outside the generator's "
                         f"{nets.table.shape[0]} classes")
    results = run_searches(config, nets, workdir)
    save_embeddings(workdir, nets, config.targets, results)
    search_seconds = time.time() - t0
    figures = report.write_figures(config, workdir, nets, results)
    table = report.write_table(config, workdir, nets, results) if config.domain == "shapes" else {}
    summary = {
        "domain": config.domain, "preset": config.preset, "targets": list(config.targets),
        "variants": list(config.run_variants), "trials": config.search.trials,
        "final_am_target_prob": {n: np.round(r.final_target_prob.mean(1), 4).tolist()
                                 for n, r in results.items()},
        "wall_seconds_search": round(search_seconds, 1),
        "wall_seconds_total": round(time.time() - t0, 1),
        "devices": f"{jax.device_count()} x {jax.devices()[0].platform}", **table,
    }
    outputs.write_summary(workdir, summary)
    headline = {f"{n}: final AM P(y_c), mean over trials": summary["final_am_target_prob"][n]
                for n in results}
    headline["wall seconds (total)"] = summary["wall_seconds_total"]
    outputs.write_report(workdir, f"BigGAN-AM ({config.domain}, {config.preset} preset)",
                         config.to_dict(), headline, figures, notes=report.notes(workdir))
    print({k: v for k, v in summary.items() if k != "table"})
    return summary
