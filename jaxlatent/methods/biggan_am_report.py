"""BigGAN-AM figures and the Table S1 analogue (rows × metrics, per class and averaged).

Rows (P Table S1, wave2-specs.md §1.4-1.6): ``Real`` (real images of the class), ``BigGAN``
(its own embedding), ``Noise-S`` / ``Noise-L`` (embedding + N(0, (σ·scale)²), σ 0.1 / 0.3),
each AM variant (last-step clamped embeddings), ``BigGAN + AM mix`` (half the images from the
original embedding, half from the ``mix_with`` variant's trial: the paper picked its AM embedding
by hand, here every trial is mixed), and ``top-1 other class`` (the embedding of the class the AM
classifier ranks best for the target, the target's own row excluded: the Places baseline).
Every row uses the same evaluation latents per trial; trial t of ``Real`` / ``BigGAN`` is an
independent draw, so their ± is sampling noise. ± = standard error over trials.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxlatent import outputs
from jaxlatent.methods import biggan_am_eval as ev
from jaxlatent.methods import biggan_am_setup as setup

LABELS = {"fd": "FD ↓", "acc": "eval acc ↑", "am_acc": "AM-clf acc", "msssim": "MS-SSIM ↓",
          "fdist": "feat. dist ↑"}


def row_embeddings(config, nets, results) -> dict:
    """``{row: [C, T, D]}`` for the embedding rows (Real and the mix are handled apart)."""
    targets, t = np.asarray(config.targets), config.search.trials
    orig = np.repeat(nets.table[targets][:, None], t, axis=1)
    key = jax.random.key(config.eval.seed)
    rows = {"BigGAN": orig}
    for i, (label, sigma) in enumerate((("Noise-S", config.eval.noise_small),
                                        ("Noise-L", config.eval.noise_large))):
        noise = np.asarray(jax.random.normal(jax.random.fold_in(key, 100 + i), orig.shape))
        rows[label] = orig + sigma * nets.scale * noise
    for name, r in results.items():
        rows[config.variants[name]["label"]] = r.clamped
    other = []
    for j, c in enumerate(targets):
        order = setup.rank_rows(nets, int(c), jax.random.fold_in(key, 200 + j))
        other.append(nets.table[[o for o in order if o != c][0]])
    rows["top-1 other class"] = np.repeat(np.stack(other)[:, None], t, axis=1)
    return rows


def evaluate_rows(config, nets, results) -> tuple[list[str], np.ndarray]:
    """``(row labels, values [R, C, T, M])`` for `ev.METRICS`."""
    e, t, targets = config.eval, config.search.trials, list(config.targets)
    judges, key = ev.load_judges(nets), jax.random.key(config.eval.seed)
    n = e.num_samples
    z = [np.asarray(jax.random.normal(jax.random.fold_in(key, k), (n, nets.dim_z)))
         for k in range(t)]
    pairs = ev.eval_pairs(jax.random.fold_in(key, 7), n, e.num_pairs)
    emb = row_embeddings(config, nets, results)
    mix = config.variants[e.mix_with]["label"] if e.mix_with in results else None
    labels = ["Real", *emb] + (["BigGAN + AM mix"] if mix else [])
    values = np.zeros((len(labels), len(targets), t, len(ev.METRICS)))
    for ci, c in enumerate(targets):
        ref = ev._batched(judges.features, ev.real_images(jax.random.fold_in(key, 10 + c), c, n))
        for ti in range(t):
            sets = {"Real": ev.real_images(jax.random.fold_in(key, 1000 + 10 * c + ti), c, n)}
            for label, embs in emb.items():
                sets[label] = ev.generate(nets, embs[ci, ti], z[ti])
            if mix:
                h = n // 2
                sets["BigGAN + AM mix"] = np.concatenate([sets["BigGAN"][:h], sets[mix][h:]])
            for ri, label in enumerate(labels):
                m = ev.measure(judges, sets[label], c, ref, pairs, e.msssim_win, e.msssim_levels)
                values[ri, ci, ti] = [m[k] for k in ev.METRICS]
    return labels, values


def markdown_table(labels, values, class_index, title: str) -> str:
    """Rows × metrics, ``mean ± s.e.`` over trials of the mean over ``class_index``."""
    lines = [f"**{title}**", "", "| row | " + " | ".join(LABELS[m] for m in ev.METRICS) + " |",
             "|---|" + "---|" * len(ev.METRICS)]
    for ri, label in enumerate(labels):
        per_trial = values[ri][class_index].mean(0)  # [T, M]
        cells = ["%.3f ± %.3f" % ev.aggregate(per_trial[:, k]) for k in range(len(ev.METRICS))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table(config, workdir, nets, results) -> dict:
    labels, values = evaluate_rows(config, nets, results)
    targets = list(config.targets)
    held = [i for i, c in enumerate(targets) if c in tuple(config.eval.get("held_out", ()))]
    trained = [i for i in range(len(targets)) if i not in held] or list(range(len(targets)))
    n, t = config.eval.num_samples, config.search.trials
    parts = [f"{n} images per class and trial, {t} trials, MS-SSIM {config.eval.msssim_win}-tap "
             f"window × {config.eval.msssim_levels} scales at 32 px, {config.eval.num_pairs} "
             "pairs; ± = s.e. over trials.\n",
             markdown_table(labels, values, trained, "mean over classes "
                            + ", ".join(nets.class_names[targets[i]] for i in trained))]
    for i, c in enumerate(targets):
        parts.append(markdown_table(labels, values, [i], f"class {c}: {nets.class_names[c]}"
                                    + (" (held out of G's training)" if i in held else "")))
    with open(workdir.file("table.md"), "w") as f:
        f.write("\n".join(parts))
    table = {"rows": labels, "metrics": list(ev.METRICS), "targets": targets,
             "values_row_class_trial_metric": np.round(values, 5).tolist()}
    workdir.write_json("table.json", table)
    return {"table": table}


def write_figures(config, workdir, nets, results) -> list:
    """Curves per variant, a grid and an interpolation strip per target class."""
    figures = [(f"search/{n}/curves_{n}.png", f"{n}: search curves") for n in results]
    g, key = config.grid, jax.random.key(config.eval.seed + 1)
    z = np.asarray(jax.random.normal(key, (g.per_row, nets.dim_z)))
    for ci, c in enumerate(config.targets):
        rows = [ev.generate(nets, nets.table[c], z)]
        names = ["original"]
        for n, r in results.items():
            rows.append(ev.generate(nets, r.clamped[ci, 0], z))
            names.append(f"{config.variants[n]['label']} t0")
        outputs.save_image_grid(workdir.file(f"grid_{c}.png"), rows, (-1.0, 1.0),
                                title=f"class {c} ({nets.class_names[c]}): same latents per column",
                                row_labels=names, scale=2)
        figures.append((f"grid_{c}.png", f"class {c}: original vs AM embeddings"))
        if results:
            figures.append(_interp(config, workdir, nets, results, ci, c, z))
    return figures


def _interp(config, workdir, nets, results, ci, c, z):
    name = "am_l" if "am_l" in results else next(iter(results))
    a, b = nets.table[c], results[name].clamped[ci, 0]
    alphas = np.linspace(0.0, 1.0, config.grid.interp_steps)
    rows = [np.concatenate([ev.generate(nets, (1 - s) * a + s * b, z[i:i + 1]) for s in alphas])
            for i in range(config.grid.interp_latents)]
    label = config.variants[name]["label"]
    outputs.save_image_grid(workdir.file(f"interp_{c}.png"), rows, (-1.0, 1.0),
                            title=f"class {c}: original -> {label} t0 embedding",
                            row_labels=[f"z{i}" for i in range(len(rows))],
                            captions=[[f"{s:.2f}" for s in alphas]] * len(rows))
    return (f"interp_{c}.png", f"class {c}: interpolation original -> {label}")


def notes(workdir) -> str:
    try:
        with open(workdir.file("table.md")) as f:
            return "## Table S1 analogue\n\n" + f.read()
    except FileNotFoundError:
        return ""
