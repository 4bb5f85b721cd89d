"""Figures (jaxlatent.plots), image grids and reports (jaxlatent.outputs), the debias plots."""

import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from jaxlatent import images, outputs, plots
from jaxlatent.methods import debias_report
from jaxlatent.workdir import Workdir


def read_png(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def assert_not_blank(path, min_share=0.005, min_coloured=200):
    """The figure has structure (pixel spread), enough non-white pixels, and coloured data.

    Axes, ticks and text are black or grey; the coloured pixels are the data drawn.
    """
    x = read_png(path).astype(np.float64)
    assert x.std() > 10.0, f"{path}: nearly uniform"
    assert np.mean(x.min(-1) < 200) > min_share, f"{path}: nearly all white"
    assert np.sum(np.ptp(x, -1) > 60) >= min_coloured, f"{path}: no coloured (data) pixels"


def rows_of(steps, **series):
    return [{"step": s, **{k: f(s) for k, f in series.items()}} for s in steps]


def test_curves_one_labelled_panel_per_quantity_png_and_svg(tmp_path):
    rows = rows_of(range(1, 41), loss=lambda s: 5.0 / s, log_p=lambda s: -30.0 + s, share=lambda s: s / 40)
    drawn = plots.curves(str(tmp_path / "c.png"), rows, ["loss", "share"], title="run",
                         units={"share": "fraction of starts"}, formats=("png", "svg"))
    assert drawn.files == [str(tmp_path / "c.png"), str(tmp_path / "c.svg")]
    assert all(os.path.getsize(f) > 1000 for f in drawn.files)
    assert [a["title"] for a in drawn.axes] == ["loss", "share"]
    assert drawn.axes[1]["ylabel"] == "share [fraction of starts]" and drawn.axes[-1]["xlabel"] == "step"
    assert_not_blank(drawn.files[0])
    default = plots.curves(str(tmp_path / "all.png"), rows)  # every numeric column
    assert [a["title"] for a in default.axes] == ["loss", "log_p", "share"]


def test_curves_auto_log_only_for_positive_data_spanning_decades(tmp_path):
    rows = rows_of(range(1, 101), wide=lambda s: 10.0 ** (-s / 25), narrow=lambda s: 1.0 + s / 100,
                   signed=lambda s: (s - 50.0) * 10.0 ** (s / 25))
    drawn = plots.curves(str(tmp_path / "c.png"), rows, ["wide", "narrow", "signed"])
    assert [a["yscale"] for a in drawn.axes] == ["log", "linear", "linear"]
    forced = plots.curves(str(tmp_path / "d.png"), rows, ["wide", "narrow"], log=["narrow"])
    assert [a["yscale"] for a in forced.axes] == ["linear", "log"]


def test_curves_tolerate_nan_gaps_and_all_nan_panels(tmp_path):
    rows = rows_of(range(1, 21), gappy=lambda s: np.nan if s % 5 == 0 else float(s),
                   dead=lambda s: np.nan)
    rows[3].pop("gappy")  # a row without the quantity at all
    drawn = plots.curves(str(tmp_path / "c.png"), rows, ["gappy", "dead"])
    (x, y), = drawn.axes[0]["lines"]
    assert list(x) == [s for s in range(1, 21) if s != 4] and np.isnan(y).sum() == 4
    assert drawn.axes[1]["lines"] == [] and drawn.axes[1]["texts"] == ["no finite values"]
    assert_not_blank(drawn.files[0])


def test_history_figures_cover_every_step_of_a_resumed_run(tmp_path, monkeypatch):
    """Process 1 logs steps 1-40 and is 'killed' (checkpoint at 25); process 2 resumes to 60."""
    first = ("import sys; from jaxlatent.workdir import Workdir; w = Workdir(sys.argv[1]); "
             "w.append_metrics([{'step': s, 'loss': 100.0 / s, 'acc': s / 60} for s in range(1, 41)])")
    subprocess.run([sys.executable, "-c", first, str(tmp_path)], check=True,
                   env={**os.environ, "JAX_PLATFORMS": "cpu"})
    wd = Workdir(str(tmp_path))
    wd.truncate_metrics(25)  # what the resume does: drop rows past the checkpoint
    this_process = [{"step": s, "loss": 100.0 / s, "acc": s / 60} for s in range(26, 61)]
    wd.append_metrics(this_process)
    captured = []
    real_curves = plots.curves
    monkeypatch.setattr(plots, "curves", lambda *a, **k: captured.append(real_curves(*a, **k)))
    spec = [outputs.Curves("curves.png", ["loss", "acc"], "run"),
            outputs.Curves("derived.png", ["loss x acc"], derived={"loss x acc": lambda r: r["loss"] * r["acc"]})]
    assert outputs.history_figures(wd, spec) == ["curves.png", "derived.png"]
    for drawn in captured:
        for ax in drawn.axes:
            (x, y), = ax["lines"]
            np.testing.assert_array_equal(x, np.arange(1, 61))
            assert np.isfinite(y).all()
        assert_not_blank(drawn.files[0])
    np.testing.assert_allclose(captured[1].axes[0]["lines"][0][1], np.full(60, 100.0 / 60))


def test_heatmap_has_measure_ticks_full_labels_colour_bar_and_empty_cells(tmp_path):
    values = np.random.default_rng(0).random((10, 5))
    values[0, :] = np.nan  # the whole left column is empty
    drawn = plots.heatmap(str(tmp_path / "h.png"), values, x_label="colour (red − blue)",
                          y_label="squareness (angular harmonic)", x_range=(-1.0, 1.0),
                          y_range=(0.0, 0.5), colorbar_label="objective f", title="archive")
    main, bar = drawn.axes
    assert main["images"] == 1 and main["ylabel"] == "squareness (angular harmonic)"
    assert bar["ylabel"] == "objective f"
    assert "45 of 50 cells filled" in main["title"]
    png = read_png(drawn.files[0])
    empty = np.asarray([int(plots.EMPTY_COLOUR[i:i + 2], 16) for i in (1, 3, 5)])
    assert np.mean(np.all(png == empty, -1)) > 0.01  # the empty column is drawn, in its colour
    assert_not_blank(drawn.files[0])


def test_legacy_entry_points_draw_with_matplotlib(tmp_path):
    drawn = images.save_curves(str(tmp_path / "c.png"), {"qd_score": [1.0, 2.0, 4.0], "coverage": [0.1, 0.2, 0.3]})
    assert [a["title"] for a in drawn.axes] == ["qd_score", "coverage"]
    np.testing.assert_array_equal(drawn.axes[0]["lines"][0][0], [1, 2, 3])
    drawn = images.save_heatmap(str(tmp_path / "h.png"), np.ones((4, 4)), x_label="a", y_label="b",
                                x_range=(0, 1), y_range=(0, 1))
    assert len(drawn.axes) == 2 and drawn.axes[1]["ylabel"]


def test_errorbar_and_strategy_curves(tmp_path):
    x = [0.8, 0.9, 0.98]
    drawn = plots.errorbar_lines(str(tmp_path / "e.png"), x, {"a": ([0.6, 0.6, 0.58], [0.01] * 3),
                                 "b": ([0.65, 0.56, 0.52], [0.02] * 3)}, x_label="b", y_label="acc",
                                 reference=(0.5, "chance"))
    ys = [list(line[1]) for line in drawn.axes[0]["lines"]]
    assert [0.6, 0.6, 0.58] in ys and [0.65, 0.56, 0.52] in ys and [0.5, 0.5] in ys
    assert_not_blank(drawn.files[0])
    evals = np.arange(1, 2001)
    wide = plots.strategy_curves(str(tmp_path / "s.png"), {"adam": (evals, 1.0 / evals),
                                                          "cma": (evals, 2.0 / evals)})
    assert (wide.axes[0]["xscale"], wide.axes[0]["yscale"], len(wide.axes[0]["lines"])) == ("log", "log", 2)
    narrow = plots.strategy_curves(str(tmp_path / "n.png"), {"x": ([1, 2, 3], [3.0, 2.0, 1.5])})
    assert (narrow.axes[0]["xscale"], narrow.axes[0]["yscale"]) == ("linear", "linear")
    assert_not_blank(wide.files[0])


def test_image_grid_with_title_and_captions_keeps_pixels_crisp(tmp_path):
    rows = [np.random.default_rng(i).random((3, 16, 16, 3)) for i in range(2)]
    files = outputs.save_image_grid(str(tmp_path / "g.png"), rows, title="reference | its rare variants",
                                    row_labels=["first", "second"], captions=[["0.1", "0.2", "0.3"]] * 2)
    out = read_png(files[0])
    scale = 4  # 16 px images are enlarged to 64 px for their captions
    _, origins = images.grid_canvas([images.to_uint8(r) for r in rows], band=outputs.CAPTION_PX, scale=scale)
    cell = np.repeat(np.repeat(images.to_uint8(rows[1][2]), scale, 0), scale, 1)
    y, x = origins[1][2]
    top, left = out.shape[0] - (2 * (64 + 2 + outputs.CAPTION_PX) + 2), out.shape[1] - (3 * 66 + 2)
    np.testing.assert_array_equal(out[top + y: top + y + 64, left + x: left + x + 64], cell)
    assert top >= 20 and left > 0  # room for the title and the row labels


def test_save_grid_stays_a_plain_grid_and_can_take_a_title(tmp_path):
    rows = [np.zeros((2, 8, 8, 3)), np.ones((1, 8, 8, 3))]
    images.save_grid(str(tmp_path / "p.png"), rows)
    plain = read_png(tmp_path / "p.png")
    assert plain.shape == (2 * 10 + 2, 2 * 10 + 2, 3)
    assert (plain[2:10, 2:10] == 0).all() and (plain[12:20, 12:20] == 255).all()  # short row blank
    images.save_grid(str(tmp_path / "t.png"), rows, title="a title")
    titled = read_png(tmp_path / "t.png")
    assert titled.shape[0] > plain.shape[0]
    np.testing.assert_array_equal(titled[-plain.shape[0]:, :plain.shape[1]], plain)


def test_report_lists_headline_numbers_and_links_existing_figures(tmp_path):
    wd = Workdir(str(tmp_path))
    plots.curves(wd.file("curves.png"), rows_of(range(1, 5), loss=lambda s: 1.0 / s))
    path = outputs.write_report(wd, "A run", {"search": {"lr": 0.02}}, {"qd score": 1.2345678,
                                "balanced | b=0.98": (0.583, 0.003), "found": 7},
                                ["curves.png", ("missing.png", "never written")], notes="Some notes.")
    text = open(path).read()
    assert "| qd score | 1.235 |" in text and "| found | 7 |" in text
    assert "| balanced \\| b=0.98 | 0.583 ± 0.003 |" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == ["curves.png"] and all(os.path.exists(wd.file(f)) for f in links)
    assert "`missing.png` was not written" in text and '"lr": 0.02' in text and "Some notes." in text


def test_debias_report_writes_error_bar_plots_and_a_report(tmp_path):
    class Config(dict):
        image_size, seeds = 32, [0, 1]

        def to_dict(self):
            return {"image_size": 32, "seeds": [0, 1]}

    rng = np.random.default_rng(0)
    acc = lambda: {"balanced": float(rng.uniform(0.5, 0.7)), "worst_group": float(rng.uniform(0, 0.4))}  # noqa: E731
    rows = [{"bias": b, "seed": s, "none": acc(), "qdgs": acc(), "random": acc()} for b in (0.98, 0.8) for s in (0, 1)]
    wd = Workdir(str(tmp_path))
    summary = debias_report.write(wd, Config(), rows, {"qdgs": {"size": 10}, "random": {"size": 10}})
    for name in ("accuracy.png", "worst_group.png", "report.md", "summary.json", "table.md"):
        assert os.path.exists(wd.file(name)), name
    assert_not_blank(wd.file("accuracy.png"))
    text = open(wd.file("report.md")).read()
    mean, se = summary["table"]["0.98"]["qdgs"]["balanced"]
    assert mean == pytest.approx(np.mean([r["qdgs"]["balanced"] for r in rows if r["bias"] == 0.98]))
    assert f"{mean:.4g} ± {se:.2g}" in text
    assert "![balanced accuracy against bias](accuracy.png)" in text
    assert "(qdgs/heatmap.png)" not in text  # not written in this test, so not linked
