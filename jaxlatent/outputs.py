"""The one outputs module of a run: arrays, image grids, history figures, summary, ``report.md``.

A method ends with::

    outputs.save_arrays(workdir, "latents.npz", best=...)
    outputs.save_image_grid(workdir.file("references.png"), rows, title="reference | its rare variants")
    figs = outputs.history_figures(workdir, outputs.Curves("curves.png", ["loss", "log_p"], "DivRare"))
    outputs.write_summary(workdir, summary)
    outputs.write_report(workdir, "DivRare", config.to_dict(), headline, figs + ["references.png"])

Figures are built from the **whole** ``metrics.jsonl`` (``Workdir.read_metrics``), never from the
rows of the current process, so the figures of a resumed run cover every step.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from jaxlatent import images, plots

CAPTION_PX = 14  # caption band under each grid row
LABEL_PX = 6  # pixels per character of a row label (left margin)


@dataclasses.dataclass(frozen=True)
class Curves:
    """One curves figure of the metric history.

    Attributes:
      name: file name in the workdir (``"curves.png"``).
      quantities: metric columns, one panel each (default: every numeric column).
      title: figure title.
      units: unit per quantity for the y labels.
      log: ``"auto"``, True/False, None or the names of log-scale panels (`plots.curves`).
      derived: extra columns computed per row, ``{name: fn(row) -> float}``.
      x: the x column.
    """

    name: str
    quantities: Sequence[str] | None = None
    title: str = ""
    units: Mapping[str, str] | None = None
    log: Any = "auto"
    derived: Mapping[str, Callable[[dict], float]] | None = None
    x: str = "step"


def save_arrays(workdir, name: str, **arrays) -> None:
    """``name`` (npz) in the workdir, written atomically (`Workdir.save_arrays`)."""
    workdir.save_arrays(name, **arrays)


def save_image_grid(path: str, rows: Sequence[np.ndarray], value_range=(0.0, 1.0), *,
                    title: str | None = None, row_labels: Sequence[str] | None = None,
                    captions: Sequence[Sequence[str]] | None = None, scale: int | None = None,
                    formats: Sequence[str] = ("png",)) -> list[str]:
    """Rows of images (each ``[n_i, H, W, 3]`` in ``value_range``) with a title and captions.

    Pixels stay crisp (integer nearest upscaling, drawn 1:1). ``captions[i][j]`` is written under
    image j of row i (e.g. its value, class or step); ``row_labels[i]`` left of row i.
    Returns the files written.
    """
    rows = [images.to_uint8(r, value_range) for r in rows]
    if scale is None:  # small images are enlarged so that captions fit under them
        scale = max(1, -(-64 // rows[0].shape[2])) if captions else 1
    band = CAPTION_PX if captions else 0
    canvas, origins = images.grid_canvas(rows, pad=2, band=band, scale=scale)
    h, w = rows[0].shape[1] * scale, rows[0].shape[2] * scale
    texts = []
    for i, row in enumerate(origins):
        for j, (y, x) in enumerate(row):
            if captions and i < len(captions) and j < len(captions[i]) and captions[i][j]:
                texts.append((x + w / 2, y + h + band / 2 + 1, str(captions[i][j]), "center"))
        if row_labels and i < len(row_labels) and row:
            texts.append((-4, row[0][0] + h / 2, str(row_labels[i]), "right"))
    left = LABEL_PX * max((len(str(s)) for s in row_labels), default=0) + 8 if row_labels else 0
    return plots.image_canvas(path, canvas, title=title, texts=texts, left=left,
                              formats=formats).files


def metrics_history(workdir, x: str = "step") -> list[dict]:
    """All stored metric rows, sorted by ``x``; of rows with equal ``x`` the last one is kept."""
    by_x: dict = {}
    for row in workdir.read_metrics():
        by_x[row.get(x)] = row
    return [by_x[k] for k in sorted(k for k in by_x if k is not None)]


def history_figures(workdir, spec: Curves | Sequence[Curves],
                    formats: Sequence[str] = ("png",)) -> list[str]:
    """Writes each curves figure of ``spec`` from the whole metric history; returns file names."""
    specs = [spec] if isinstance(spec, Curves) else list(spec)
    names = []
    for s in specs:
        rows = metrics_history(workdir, s.x)
        if s.derived:
            rows = [{**r, **{k: _safe(fn, r) for k, fn in s.derived.items()}} for r in rows]
        quantities = None if s.quantities is None else [*s.quantities]
        plots.curves(workdir.file(s.name), rows, quantities, title=s.title, x=s.x, log=s.log,
                     units=s.units, formats=formats)
        names.append(s.name)
    return names


def _safe(fn: Callable[[dict], float], row: dict) -> float:
    try:
        return float(fn(row))
    except (KeyError, ZeroDivisionError, TypeError, ValueError):
        return float("nan")


def write_summary(workdir, summary: dict, name: str = "summary.json") -> dict:
    """Writes the summary JSON (its presence marks a finished run) and returns it."""
    workdir.write_json(name, summary)
    return summary


def write_report(workdir, title: str, config_dict: dict, headline: Mapping[str, Any],
                 figures: Sequence[str | tuple[str, str]], notes: str = "") -> str:
    """Writes ``report.md``: headline numbers, the figures, notes, and the config (collapsed).

    Args:
      figures: file names relative to the workdir, or ``(file, caption)``; a missing file is
        listed as not written instead of linked.
    Returns:
      The path of ``report.md``.
    """
    parts = [f"# {title}\n", f"Work directory: `{workdir.path}`\n"]
    parts += ["## Headline numbers\n", "| quantity | value |", "|---|---|"]
    parts += [f"| {_cell(k)} | {_cell(format_value(v))} |" for k, v in headline.items()]
    parts += ["", "## Figures\n"]
    for fig in figures:
        name, caption = (fig, fig) if isinstance(fig, str) else fig
        if os.path.exists(workdir.file(name)):
            parts.append(f"**{caption}**\n\n![{caption}]({name})\n")
        else:
            parts.append(f"- {caption}: `{name}` was not written\n")
    if notes:
        parts += ["## Notes\n", notes.rstrip() + "\n"]
    config_text = json.dumps(config_dict, indent=2, sort_keys=True, default=str)
    parts += ["## Config\n", "<details><summary>config.json</summary>\n", "```json",
              config_text, "```\n", "</details>\n"]
    path = workdir.file("report.md")
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(parts))
    os.replace(tmp, path)
    return path


def format_value(v: Any) -> str:
    """A headline value as text: floats to 4 significant digits, (mean, se) pairs as m ± se."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.4g}"
    if isinstance(v, tuple) and len(v) == 2 and all(isinstance(a, (float, np.floating)) for a in v):
        return f"{v[0]:.4g} ± {v[1]:.2g}"
    if isinstance(v, str):
        return v
    return json.dumps(v, default=str)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
