"""The debiasing experiment's table (mean ± standard error over seeds), plot and summary."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

LABELS = {"none": "not fine-tuned", "qdgs": "fine-tuned on QDGS data", "random": "fine-tuned on random VAE samples"}
COLOURS = {"none": (120, 120, 120), "qdgs": (31, 119, 180), "random": (214, 39, 40)}


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


def save_plot(path: str, stats: dict, conditions, size=(560, 360)) -> None:
    """Balanced accuracy against b, one line per condition, with ±1 s.e. bars."""
    width, height = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 50, width - 20, 30, height - 60
    biases = sorted(stats)
    means = [stats[b][c]["balanced"][0] for b in biases for c in conditions]
    lo, hi = min(0.5, min(means) - 0.02), 1.0
    x_of = lambda b: left + (b - biases[0]) / max(biases[-1] - biases[0], 1e-9) * (right - left)  # noqa: E731
    y_of = lambda v: bottom - (v - lo) / (hi - lo) * (bottom - top)  # noqa: E731
    draw.rectangle([left, top, right, bottom], outline="black")
    draw.text((4, 6), "Balanced shape accuracy on b = 0.5 images (mean ± s.e. over seeds)", fill="black")
    for v in np.linspace(lo, hi, 5):
        draw.text((4, y_of(v) - 6), f"{v:.2f}", fill="black")
    for b in biases:
        draw.text((x_of(b) - 12, bottom + 4), f"{b:.2f}", fill="black")
    draw.text(((left + right) // 2 - 60, bottom + 18), "bias b of the real data", fill="black")
    for i, c in enumerate(conditions):
        pts = [(x_of(b), y_of(stats[b][c]["balanced"][0])) for b in biases]
        draw.line(pts, fill=COLOURS[c], width=2)
        for b, (x, y) in zip(biases, pts):
            se = stats[b][c]["balanced"][1]
            draw.line([(x, y_of(stats[b][c]["balanced"][0] - se)), (x, y_of(stats[b][c]["balanced"][0] + se))],
                      fill=COLOURS[c], width=1)
            draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=COLOURS[c])
        draw.text((left + 170 * i, height - 20), LABELS[c], fill=COLOURS[c])
    img.save(path)


def write(workdir, config, rows: list[dict], composition: dict) -> dict:
    conditions = ("none", "qdgs", "random")
    stats = summarise(rows, conditions)
    table = markdown_table(stats, conditions)
    with open(workdir.file("table.md"), "w") as f:
        f.write(table)
    save_plot(workdir.file("accuracy.png"), stats, conditions)
    summary = {"table": {f"{b:.2f}": v for b, v in stats.items()}, "synthetic_datasets": composition,
               "image_size": config.image_size, "seeds": list(config.seeds)}
    workdir.write_json("summary.json", summary)
    print(table)
    return summary
