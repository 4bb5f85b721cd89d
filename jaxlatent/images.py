"""Image outputs: uint8 conversion, plain image grids, and the legacy figure entry points.

``save_curves`` and ``save_heatmap`` keep their old signatures and draw with matplotlib through
`jaxlatent.plots`; annotated grids (captions, row labels) are `jaxlatent.outputs.save_image_grid`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image

from jaxlatent import plots


def to_uint8(images, value_range=(0.0, 1.0)) -> np.ndarray:
    """Float images in ``value_range`` -> uint8, clipped."""
    lo, hi = value_range
    x = (np.asarray(images, np.float32) - lo) / (hi - lo)
    return (np.clip(x, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def grid_canvas(rows: Sequence[np.ndarray], pad: int = 2, band: int = 0,
                scale: int = 1) -> tuple[np.ndarray, list[list[tuple[int, int]]]]:
    """Lays uint8 rows (each ``[n_i, H, W, 3]``) on a white canvas; short rows stay blank.

    Args:
      band: blank pixels under every row (room for captions).
      scale: integer nearest-neighbour upscaling of every image.

    Returns:
      ``(canvas [H', W', 3] uint8, origins)``: ``origins[i][j]`` is the (y, x) of image j of row i.
    """
    rows = [np.repeat(np.repeat(np.asarray(r), scale, 1), scale, 2) if scale > 1 else np.asarray(r)
            for r in rows]
    h, w = rows[0].shape[1:3]
    cols = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (h + pad + band) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    origins = []
    for i, row in enumerate(rows):
        origins.append([])
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad + band), pad + j * (w + pad)
            canvas[y: y + h, x: x + w] = img
            origins[-1].append((y, x))
    return canvas, origins


def save_grid(path: str, rows: Sequence[np.ndarray], value_range=(0.0, 1.0), pad: int = 2,
              title: str | None = None) -> None:
    """Writes rows of images (each [n_i, H, W, 3]) as one PNG; short rows are left blank.

    Without ``title`` the PNG is the bare grid, pixel for pixel; with one, a title line is added
    above it (drawn by matplotlib, the grid still 1:1).
    """
    canvas, _ = grid_canvas([to_uint8(r, value_range) for r in rows], pad)
    if title:
        plots.image_canvas(path, canvas, title=title)
    else:
        Image.fromarray(canvas).save(path)


def save_curves(path: str, series: dict[str, Sequence[float]], title: str = "",
                size=(640, 360), steps: Sequence[float] | None = None) -> plots.Drawn:
    """Small multiples of named per-step series, one panel and y axis each (`plots.curves`).

    ``series[name][i]`` belongs to step ``steps[i]`` (default ``i + 1``). ``size`` is kept for
    old callers and ignored: the figure is sized by its number of panels.
    """
    del size
    n = max((len(v) for v in series.values()), default=0)
    steps = list(steps) if steps is not None else list(range(1, n + 1))
    rows = [{"step": s, **{k: v[i] for k, v in series.items() if i < len(v)}}
            for i, s in enumerate(steps)]
    return plots.curves(path, rows, list(series), title=title)


def save_heatmap(path: str, values: np.ndarray, *, x_label: str, y_label: str,
                 x_range: tuple[float, float], y_range: tuple[float, float], title: str = "",
                 cell: int = 8, colorbar_label: str = "objective f (best in cell)") -> plots.Drawn:
    """Archive heatmap ``values`` [nx, ny] (NaN = empty cell), x to the right, y up.

    Drawn by `plots.heatmap`: ticks in measure units, full axis labels, a labelled colour bar.
    ``cell`` is kept for old callers and ignored.
    """
    del cell
    return plots.heatmap(path, values, x_label=x_label, y_label=y_label, x_range=x_range,
                  y_range=y_range, colorbar_label=colorbar_label, title=title)
