"""Figures with matplotlib (Agg): metric curves, archive heatmaps, error bars, strategy curves.

Every function builds a ``matplotlib.figure.Figure`` directly (no ``pyplot``, so no global
figure state and nothing to close), writes ``path`` with its extension replaced by each of
``formats`` (e.g. ``("png", "svg")``), and returns a :class:`Drawn` that describes what was
actually drawn, read back from the figure's artists (used by the tests and handy in notebooks).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

LOG_DECADES = 2.0  # "auto" log scale when the positive data span more than this many decades
EMPTY_COLOUR = "#d9d9d9"  # NaN / empty heatmap cells


@dataclasses.dataclass
class Drawn:
    """What a figure shows: the files written and, per axes, labels, scales and line data."""

    files: list[str]
    axes: list[dict]


def curves(path: str, rows: Sequence[dict], quantities: Sequence[str] | None = None,
           title: str = "", x: str = "step", log: str | bool | Sequence[str] | None = "auto",
           units: Mapping[str, str] | None = None, formats: Sequence[str] = ("png",)) -> Drawn:
    """Small multiples of metric rows: one panel (own y axis) per quantity against ``x``.

    Args:
      rows: metric rows, e.g. ``Workdir.read_metrics()``; a row without a quantity is a gap.
      quantities: columns to plot; default every numeric column except ``x``.
      log: ``"auto"`` (log y when all finite values are > 0 and span > 2 decades), True/False
        for every panel, None (linear), or the names of the panels to draw on a log scale.
      units: optional unit per quantity, shown in its y label.
    """
    quantities = list(quantities) if quantities is not None else numeric_columns(rows, x)
    ncols = 1 if len(quantities) <= 3 else 2
    nrows = max(math.ceil(len(quantities) / ncols), 1)
    fig = Figure(figsize=(6.4 * ncols, 1.3 + 2.0 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, sharex=True, squeeze=False).ravel()
    for ax, name in zip(axes, quantities):
        xs = np.asarray([r[x] for r in rows if name in r], np.float64)
        ys = np.asarray([_as_float(r[name]) for r in rows if name in r], np.float64)
        _panel(ax, xs, ys, name, _use_log(log, name, ys), (units or {}).get(name))
    for ax in axes[len(quantities):]:
        ax.set_visible(False)
    for ax in axes[max(len(quantities) - ncols, 0):len(quantities)]:
        ax.tick_params(labelbottom=True)
        ax.set_xlabel(x)
    if all(float(r[x]).is_integer() for r in rows if x in r):  # steps: no 1.5 ticks
        axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    if not quantities:
        axes[0].text(0.5, 0.5, "no quantities", ha="center", va="center", transform=axes[0].transAxes)
    fig.suptitle(title)
    return _finish(fig, path, formats)


def _panel(ax, xs: np.ndarray, ys: np.ndarray, name: str, log: bool, unit: str | None) -> None:
    ok = np.isfinite(ys)
    ax.set_title(name, fontsize=10)
    ax.set_ylabel(f"{name} [{unit}]" if unit else name)
    ax.grid(True, alpha=0.3)
    if not ok.any():
        ax.text(0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes)
        return
    ax.plot(xs, ys, lw=1.5, marker="." if ok.sum() <= 50 else None, label=name)
    if log:
        ax.set_yscale("log")


def _use_log(log, name: str, ys: np.ndarray) -> bool:
    if log == "auto":
        return spans_decades(ys)
    if isinstance(log, (list, tuple, set, frozenset)):
        return name in log
    return bool(log)


def spans_decades(values, decades: float = LOG_DECADES) -> bool:
    """True when all finite values are > 0 and max / min exceeds ``10**decades``."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return bool(len(v) and v.min() > 0 and np.log10(v.max() / v.min()) > decades)


def numeric_columns(rows: Sequence[dict], x: str = "step") -> list[str]:
    """Columns holding scalar numbers in any row, in first-seen order, without ``x``."""
    names: dict[str, None] = {}
    for r in rows:
        for k, v in r.items():
            if k != x and isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
                names.setdefault(k)
    return list(names)


def heatmap(path: str, values, *, x_label: str, y_label: str, x_range: tuple[float, float],
            y_range: tuple[float, float], colorbar_label: str = "value", title: str = "",
            cmap: str = "viridis", formats: Sequence[str] = ("png",),
            low_percentile: float = 2.0) -> Drawn:
    """Archive heatmap of ``values`` ``[nx, ny]`` (x to the right, y up), ticks in measure units.

    Cell (i, j) covers ``x_range`` split in ``nx`` equal bins (the extent is the outer cell edges,
    so each cell's centre sits at its bin centre). NaN cells are drawn in ``EMPTY_COLOUR``.
    When the cells below the ``low_percentile`` of the filled cells span more of the range than
    all the others (QD archives keep far runaway branches), the colour scale starts at that
    percentile so they do not flatten it: those cells get the lowest colour, the colour bar an
    arrow (``extend="min"``) and its label says so.
    """
    values = np.asarray(values, np.float64)
    colours = matplotlib.colormaps[cmap].with_extremes(bad=EMPTY_COLOUR)
    fig = Figure(figsize=(6.0, 4.8), layout="constrained")
    ax = fig.subplots()
    masked = np.ma.masked_invalid(values.T)
    finite = values[np.isfinite(values)]
    vmin, clipped = None, False
    if finite.size:  # clip only a far tail: the lowest cells span more than all the others
        low = float(np.percentile(finite, low_percentile))
        clipped = low - finite.min() > finite.max() - low
        vmin = low if clipped else None
    image = ax.imshow(masked, origin="lower", aspect="auto", interpolation="nearest", cmap=colours,
                      extent=(*x_range, *y_range), vmin=vmin)
    bar = fig.colorbar(image, ax=ax, extend="min" if clipped else "neither")
    bar.set_label(colorbar_label + (f" (below {vmin:.3g}: lowest colour)" if clipped else ""))
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    filled = int(np.isfinite(values).sum())
    ax.set_title(f"{title}\n{filled} of {values.size} cells filled (grey: empty)" if title
                 else f"{filled} of {values.size} cells filled (grey: empty)", fontsize=10)
    return _finish(fig, path, formats)


def errorbar_lines(path: str, x, series: Mapping[str, tuple], *, x_label: str, y_label: str,
                   title: str = "", ylim: tuple[float, float] | None = None,
                   reference: tuple[float, str] | None = None,
                   formats: Sequence[str] = ("png",)) -> Drawn:
    """One line per series with ±1 standard-error bars: ``series = {name: (mean, se)}``.

    ``reference = (y, label)`` adds a dashed horizontal line (e.g. chance level).
    """
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    if reference is not None:
        ax.axhline(reference[0], color="grey", ls="--", lw=1, label=reference[1])
    for name, (mean, se) in series.items():
        ax.errorbar(np.asarray(x, np.float64), np.asarray(mean, np.float64),
                    yerr=np.asarray(se, np.float64), marker="o", ms=4, capsize=3, lw=1.5, label=name)
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.set_xticks(np.asarray(x, np.float64))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    ax.set_title(title, fontsize=10)
    return _finish(fig, path, formats)


def strategy_curves(path: str, runs: Mapping[str, tuple], *, x_label: str = "evaluations",
                    y_label: str = "best loss so far", title: str = "",
                    log: str | bool = "auto", formats: Sequence[str] = ("png",)) -> Drawn:
    """Best loss against evaluations, one step line per strategy: ``runs = {name: (evals, best)}``.

    With ``log="auto"`` each axis is logarithmic when its values span more than 2 decades.
    """
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    all_x, all_y = [], []
    for name, (evals, best) in runs.items():
        evals, best = np.asarray(evals, np.float64), np.asarray(best, np.float64)
        ax.step(evals, best, where="post", lw=1.5, label=name)
        all_x.append(evals), all_y.append(best)
    cat = lambda a: np.concatenate(a) if a else np.zeros(0)  # noqa: E731
    if log is True or (log == "auto" and spans_decades(cat(all_x))):
        ax.set_xscale("log")
    if log is True or (log == "auto" and spans_decades(cat(all_y))):
        ax.set_yscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.grid(True, which="both", alpha=0.3)
    if runs:
        ax.legend(fontsize=9)
    ax.set_title(title, fontsize=10)
    return _finish(fig, path, formats)


def image_canvas(path: str, canvas: np.ndarray, *, title: str | None = None,
                 texts: Sequence[tuple] = (), left: int = 0, top: int = 0, dpi: int = 100,
                 formats: Sequence[str] = ("png",)) -> Drawn:
    """A uint8 image ``[H, W, 3]`` drawn pixel for pixel (nearest, 1:1) with text around it.

    Args:
      texts: ``(x, y, text, ha)`` in canvas pixels (y down); x < 0 lies in the ``left`` margin.
      left, top: margins in pixels for row labels and the title.
    """
    h, w = canvas.shape[:2]
    top = top + (22 if title else 0)
    width = max(w + left, 7 * len(title or "") + 12)  # a long title widens the figure
    fig = Figure(figsize=(width / dpi, (h + top) / dpi), dpi=dpi)
    ax = fig.add_axes((left / width, 0.0, w / width, h / (h + top)))
    ax.imshow(canvas, interpolation="nearest", extent=(0, w, h, 0))
    ax.set_axis_off()
    for x, y, text, ha in texts:
        ax.text(x, y, text, ha=ha, va="center", fontsize=8, clip_on=False)
    if title:
        centre = (left + w / 2) / width if width == w + left else 0.5
        fig.text(centre, 1.0 - 11 / (h + top), title, ha="center", va="center", fontsize=10)
    files = output_paths(path, formats)
    for f in files:
        fig.savefig(f, dpi=dpi, facecolor="white")
    return Drawn(files, [describe_axes(ax)])


def _as_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def output_paths(path: str, formats: Sequence[str]) -> list[str]:
    """``path`` with its extension replaced by each format (``a/b.png`` -> ``a/b.svg`` ...)."""
    stem = os.path.splitext(path)[0]
    return [f"{stem}.{fmt.lstrip('.')}" for fmt in formats]


def _finish(fig: Figure, path: str, formats: Sequence[str], dpi: int = 120) -> Drawn:
    files = output_paths(path, formats)
    for f in files:
        fig.savefig(f, dpi=dpi, facecolor="white")
    return Drawn(files, [describe_axes(ax) for ax in fig.axes if ax.get_visible()])


def describe_axes(ax) -> dict:
    """Title, labels, scales and the x/y data of each line of one matplotlib axes."""
    lines = [(np.asarray(line.get_xdata(), np.float64), np.asarray(line.get_ydata(), np.float64))
             for line in ax.get_lines() if not line.get_label().startswith("_")]
    lines += [(np.asarray(c.lines[0].get_xdata(), np.float64),
               np.asarray(c.lines[0].get_ydata(), np.float64)) for c in ax.containers
              if hasattr(c, "has_yerr")]  # errorbar data lines
    texts = [t.get_text() for t in ax.texts]
    return {"title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "xscale": ax.get_xscale(), "yscale": ax.get_yscale(), "lines": lines,
            "texts": texts, "images": len(ax.get_images())}
