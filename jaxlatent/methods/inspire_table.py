"""Table 2 of inspirational generation (Riviere et al., 2019, I:268-273) on the embedded domain.

    python run.py --config=configs/inspire.py:table2 --workdir=runs/inspire_table2

Best criterion (L2 + VGG weights of Table 1, the feature network of ``config.features``) after
``config.budget`` generator calls, mean ± standard error over the targets of each kind
(reconstruction, semi-, miss-specified), one row per strategy of ``config.strategies`` (registry
names; a name the registry does not have is reported as a missing row). Each strategy is one
`runner.run` over all targets (`inspire_search.search`), in ``table2/<label>/`` (a killed run
resumes there; a finished strategy is read back from its ``result.npz``). All gradient searches
start from the same N(0, I) latents. Writes ``table.md``, ``curves.png`` (mean best criterion
against generator calls), ``grid.png`` (target | best image per strategy), ``table2.npz``,
``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import os
import re
import time

import jax
import numpy as np

from jaxlatent import outputs, plots
from jaxlatent.methods import inspire, inspire_search, inspire_setup
from jaxlatent.search import registry
from jaxlatent.workdir import Workdir


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def _search_or_load(config, nets, targets, entry, key, sub: Workdir) -> dict:
    path = sub.file("result.npz")
    if os.path.exists(path):
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    res = inspire_search.search(config, nets, targets, entry["search"], "continuous", key, sub,
                                budget=int(config.budget), starts=1, desc=entry["label"])
    out = {"best_latent": res.best_latent[:, 0], "best_value": res.best_value[:, 0],
           "evals_per_iter": res.evals_per_iter, "num_steps": res.num_steps,
           "seconds": res.seconds, **{f"term_{k}": v[:, 0] for k, v in res.terms.items()}}
    sub.save_arrays("result.npz", **out)
    return out


def convergence(sub: Workdir, evals_per_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """(generator calls, mean best criterion over targets) per iteration of one strategy."""
    rows = outputs.metrics_history(sub)
    calls = np.asarray([r.get("evals", evals_per_iter) for r in rows], np.float64)
    return np.cumsum(calls), np.asarray([r["best_mean"] for r in rows])


def kind_stats(values: np.ndarray, kinds) -> dict:
    """{kind: (mean, standard error)} over the targets of each kind."""
    out = {}
    for kind in dict.fromkeys(kinds):
        v = values[np.asarray(kinds) == kind]
        se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
        out[kind] = (float(v.mean()), se)
    return out


def run(config, workdir) -> dict:
    start = time.perf_counter()
    key = jax.random.key(config.seed)
    k_targets, k_search = jax.random.split(key)
    nets = inspire_setup.load_networks(config)
    targets = inspire.load_targets(config, nets, k_targets)
    results, missing, failed, curves = {}, [], [], {}
    for entry in config.strategies:
        label, name = entry["label"], entry["search"]["name"]
        if name not in registry.STRATEGIES:
            missing.append(f"{label} ({name})")
            continue
        sub = Workdir(workdir.file(os.path.join("table2", _slug(label))))
        try:
            results[label] = _search_or_load(config, nets, targets, entry, k_search, sub)
        except FloatingPointError as err:  # a strategy that diverges is a row, not a crash
            failed.append(f"{label} ({name}): {str(err).splitlines()[0]}")
            continue
        curves[label] = convergence(sub, int(results[label]["evals_per_iter"]))
    stats = {label: kind_stats(r["best_value"], targets.kinds) for label, r in results.items()}
    wall = time.perf_counter() - start
    _write_table(workdir, config, stats, results, missing, failed, wall)
    plots.strategy_curves(workdir.file("curves.png"), curves, x_label="generator calls",
                          y_label="best criterion so far (mean over targets)",
                          title=f"inspire Table 2: {len(targets.kinds)} targets, L2 + features")
    _grid(workdir.file("grid.png"), nets, targets, results, int(config.grid_per_kind))
    outputs.save_arrays(workdir, "table2.npz", targets=targets.images,
                        **{f"{_slug(k)}/{n}": v for k, r in results.items() for n, v in r.items()})
    summary = {"budget": int(config.budget), "wall_seconds_this_process": wall,
               "missing_rows": missing, "failed_rows": failed,
               "kinds": list(dict.fromkeys(targets.kinds)),
               "table": {k: {kind: list(ms) for kind, ms in s.items()} for k, s in stats.items()},
               "seconds": {k: float(r["seconds"]) for k, r in results.items()},
               "iterations": {k: int(r["num_steps"]) for k, r in results.items()}}
    outputs.write_summary(workdir, summary)
    headline = {f"{label} ({kind})": ms for label, s in stats.items() for kind, ms in s.items()}
    outputs.write_report(workdir, "Inspirational generation: Table 2", config.to_dict(), headline,
                         [("curves.png", "mean best criterion against generator calls"),
                          ("grid.png", "target | best image per strategy")],
                         notes=open(workdir.file("table.md")).read())
    return summary


def _write_table(workdir, config, stats, results, missing, failed, wall) -> None:
    kinds = list(next(iter(stats.values())).keys()) if stats else []
    lines = [f"Best criterion after {config.budget} generator calls (gradient searches: "
             f"iterations), mean ± s.e. over targets; lower is better.\n",
             "| strategy | " + " | ".join(kinds) + " | iterations | search s |",
             "|---|" + "---|" * (len(kinds) + 2)]
    for label, s in stats.items():
        cells = [f"{m:.2f} ± {se:.2f}" for m, se in s.values()]
        r = results[label]
        lines.append(f"| {label} | " + " | ".join(cells)
                     + f" | {int(r['num_steps'])} | {float(r['seconds']):.0f} |")
    if missing:
        lines.append(f"\nMissing rows (strategy not in the registry): {', '.join(missing)}.")
    if failed:
        lines.append(f"\nFailed rows (the run stopped on non-finite values): {'; '.join(failed)}.")
    total = sum(float(r["seconds"]) for r in results.values())
    lines.append(f"\nSearch time of the rows (their own runs): {total:.0f} s; wall time of this "
                 f"process: {wall:.0f} s.")
    with open(workdir.file("table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def _grid(path, nets, targets, results, per_kind: int) -> None:
    kinds = np.asarray(targets.kinds)
    pick = [i for kind in dict.fromkeys(targets.kinds)
            for i in np.flatnonzero(kinds == kind)[:per_kind]]
    if not results or not pick:
        return
    images = {k: np.asarray(inspire_setup.render(nets, r["best_latent"][pick], None, "continuous"))
              for k, r in results.items()}
    rows = [np.stack([targets.images[i]] + [images[k][j] for k in results])
            for j, i in enumerate(pick)]
    captions = [["target"] + [f"{results[k]['best_value'][i]:.3g}" for k in results]
                for i in pick]
    labels = [f"{targets.kinds[i]}: {targets.names[i]}" for i in pick]
    outputs.save_image_grid(path, rows, (-1.0, 1.0), captions=captions, row_labels=labels,
                            title="columns: target | " + " | ".join(results)
                            + " (criterion below)")
