"""The debiasing experiment's table (mean ± standard error over seeds), plots, summary and report."""

from __future__ import annotations

import numpy as np

from jaxlatent import outputs, plots

LABELS = {"none": "not fine-tuned", "qdgs": "fine-tuned on QDGS data", "random": "fine-tuned on random VAE samples"}


def mean_se(values) -> tuple[float, float]:
    """Mean and standard error (sample std with ddof 1 over √n; 0 for a single value)."""
    v = np.asarray(values, np.float64)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0
    return float(v.mean()), se


def summarise(rows: list[dict], conditions) -> dict:
    """``{bias: {condition: {metric: (mean, se)}}}`` over the seeds of each bias."""
    out = {}
    for bias in sorted({r["bias"] for r in rows}, reverse=True):
        at = [r for r in rows if r["bias"] == bias]
        out[bias] = {c: {m: mean_se([r[c][m] for r in at]) for m in ("balanced", "worst_group")}
                     for c in conditions}
        out[bias]["num_seeds"] = len(at)
    return out


def markdown_table(stats: dict, conditions) -> str:
    head = "| b | " + " | ".join(LABELS[c] for c in conditions) + " |"
    lines = [head, "|---" * (len(conditions) + 1) + "|"]
    for bias, row in stats.items():
        cells = [f"{row[c]['balanced'][0]:.3f} ± {row[c]['balanced'][1]:.3f} "
                 f"(worst {row[c]['worst_group'][0]:.3f})" for c in conditions]
        lines.append(f"| {bias:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def save_plot(path: str, stats: dict, conditions, metric: str = "balanced",
              formats=("png",)) -> plots.Drawn:
    """``metric`` (balanced or worst-group accuracy) against b, one line per condition, ±1 s.e."""
    biases = sorted(stats)
    series = {LABELS[c]: ([stats[b][c][metric][0] for b in biases], [stats[b][c][metric][1] for b in biases])
              for c in conditions}
    what = "Balanced shape accuracy" if metric == "balanced" else "Worst-group shape accuracy"
    seeds = sorted({stats[b]["num_seeds"] for b in biases})
    return plots.errorbar_lines(
        path, biases, series, x_label="bias b of the real training data (share of red triangles + blue squares)",
        y_label=f"{what.lower()} on b = 0.5 images", formats=formats,
        reference=(0.5, "chance (balanced)") if metric == "balanced" else None,
        title=f"{what} (mean ± s.e. over {'/'.join(map(str, seeds))} seeds)")


def write(workdir, config, rows: list[dict], composition: dict) -> dict:
    """Writes ``table.md``, ``accuracy.png``, ``worst_group.png``, ``summary.json`` and ``report.md``."""
    conditions = ("none", "qdgs", "random")
    stats = summarise(rows, conditions)
    table = markdown_table(stats, conditions)
    with open(workdir.file("table.md"), "w") as f:
        f.write(table)
    save_plot(workdir.file("accuracy.png"), stats, conditions)
    save_plot(workdir.file("worst_group.png"), stats, conditions, metric="worst_group")
    summary = {"table": {f"{b:.2f}": v for b, v in stats.items()}, "synthetic_datasets": composition,
               "image_size": config.image_size, "seeds": list(config.seeds)}
    outputs.write_summary(workdir, summary)
    outputs.write_report(workdir, "Debiasing experiment (QDGS shapes, paper Fig. 1)", config.to_dict(),
                         headline(stats, composition), FIGURES, notes=_notes(table))
    print(table)
    return summary


FIGURES = [("accuracy.png", "balanced accuracy against bias"),
           ("worst_group.png", "worst-group accuracy against bias"),
           ("qdgs/heatmap.png", "QDGS archive"), ("qdgs/dataset.png", "QDGS synthetic dataset"),
           ("random_dataset.png", "random VAE samples (baseline dataset)")]


def headline(stats: dict, composition: dict) -> dict:
    """Balanced and worst-group accuracy per condition at the strongest bias, and dataset sizes."""
    b = max(stats)
    out = {f"balanced accuracy at b = {b:.2f}, {LABELS[c]}": stats[b][c]["balanced"] for c in stats[b]
           if c != "num_seeds"}
    out.update({f"worst-group accuracy at b = {b:.2f}, {LABELS[c]}": stats[b][c]["worst_group"]
                for c in stats[b] if c != "num_seeds"})
    out["seeds per bias"] = stats[b]["num_seeds"]
    out.update({f"{name} dataset size": comp["size"] for name, comp in composition.items()})
    return out


def _notes(table: str) -> str:
    return ("Balanced accuracy = mean of the four (shape × colour) group accuracies on rendered "
            "b = 0.5 images; mean ± standard error over seeds, worst group's mean in brackets.\n\n"
            + table)
