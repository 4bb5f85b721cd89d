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
