"""PNG outputs: image grids and simple line charts (PIL only, no plotting dependency)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw


def to_uint8(images, value_range=(0.0, 1.0)) -> np.ndarray:
    """Float images in ``value_range`` -> uint8, clipped."""
    lo, hi = value_range
    x = (np.asarray(images, np.float32) - lo) / (hi - lo)
    return (np.clip(x, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def save_grid(path: str, rows: Sequence[np.ndarray], value_range=(0.0, 1.0), pad: int = 2) -> None:
    """Writes rows of images (each [n_i, H, W, 3]) as one PNG; short rows are left blank."""
    rows = [to_uint8(r, value_range) for r in rows]
    h, w = rows[0].shape[1:3]
    cols = max(len(r) for r in rows)
    canvas = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            canvas[y : y + h, x : x + w] = img
    Image.fromarray(canvas).save(path)


def save_curves(path: str, series: dict[str, Sequence[float]], title: str = "",
                size=(640, 360)) -> None:
    """Line chart of named series against their index (step), each scaled to its own range."""
    width, height = size
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]
    left, top, bottom = 10, 24, height - 20
    draw.text((left, 4), title, fill="black")
    for i, (name, values) in enumerate(series.items()):
        v = np.asarray(values, np.float64)
        ok = np.isfinite(v)
        if ok.sum() < 2:
            continue
        lo, hi = v[ok].min(), v[ok].max()
        span = hi - lo if hi > lo else 1.0
        xs = left + np.arange(len(v)) * (width - 2 * left) / max(len(v) - 1, 1)
        ys = bottom - (v - lo) / span * (bottom - top)
        pts = [(float(x), float(y)) for x, y, k in zip(xs, ys, ok) if k]
        colour = colours[i % len(colours)]
        draw.line(pts, fill=colour, width=2)
        draw.text((left + 160 * i, height - 16), f"{name} [{lo:.3g}, {hi:.3g}]", fill=colour)
    img.save(path)


# Five anchor colours of matplotlib's viridis, interpolated linearly.
_VIRIDIS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (any shape) -> uint8 RGB [..., 3] on a viridis-like scale."""
    t = np.clip(np.nan_to_num(np.asarray(values, np.float64)), 0.0, 1.0) * (len(_VIRIDIS) - 1)
    lo = np.floor(t).astype(int).clip(0, len(_VIRIDIS) - 2)
    frac = (t - lo)[..., None]
    return (_VIRIDIS[lo] * (1 - frac) + _VIRIDIS[lo + 1] * frac).astype(np.uint8)


def save_heatmap(path: str, values: np.ndarray, *, x_label: str, y_label: str,
                 x_range: tuple[float, float], y_range: tuple[float, float], title: str = "",
                 cell: int = 8) -> None:
    """Archive heatmap: ``values`` [nx, ny] (NaN = empty cell, drawn white), x to the right, y up.

    Labels the axes with their names and ranges and draws a colour bar with the value range.
    """
    values = np.asarray(values, np.float64)
    filled = np.isfinite(values)
    lo, hi = (values[filled].min(), values[filled].max()) if filled.any() else (0.0, 1.0)
    rgb = colormap((values - lo) / max(hi - lo, 1e-12))
    rgb[~filled] = 255
    grid = np.repeat(np.repeat(np.transpose(rgb, (1, 0, 2))[::-1], cell, 0), cell, 1)  # y up
    margin_l, margin_t, margin_b, bar = 60, 24, 40, 60
    h, w = grid.shape[:2]
    img = Image.new("RGB", (margin_l + w + bar + 40, margin_t + h + margin_b), "white")
    img.paste(Image.fromarray(grid), (margin_l, margin_t))
    draw = ImageDraw.Draw(img)
    draw.rectangle([margin_l - 1, margin_t - 1, margin_l + w, margin_t + h], outline="black")
    draw.text((4, 4), title, fill="black")
    draw.text((margin_l, margin_t + h + 4), f"{x_range[0]:.3g}", fill="black")
    draw.text((margin_l + w - 30, margin_t + h + 4), f"{x_range[1]:.3g}", fill="black")
    draw.text((margin_l + w // 2 - 40, margin_t + h + 20), x_label, fill="black")
    draw.text((4, margin_t + h - 12), f"{y_range[0]:.3g}", fill="black")
    draw.text((4, margin_t), f"{y_range[1]:.3g}", fill="black")
    draw.text((4, margin_t + h // 2), y_label[:9], fill="black")
    ramp = colormap(np.linspace(1, 0, h))[:, None].repeat(12, 1)
    img.paste(Image.fromarray(ramp), (margin_l + w + 10, margin_t))
    draw.text((margin_l + w + 26, margin_t), f"{hi:.3g}", fill="black")
    draw.text((margin_l + w + 26, margin_t + h - 12), f"{lo:.3g}", fill="black")
    img.save(path)
