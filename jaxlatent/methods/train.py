"""Method ``train``: trains an embedded model with `loop.run_loop` and writes its weights.

Outputs in the workdir: ``params.npz`` (the trained weights, loadable with
``load_model(name, path=...)``), ``curves.png`` (every logged training metric against step, from
the whole ``metrics.jsonl``), ``summary.json`` (quality, wall time, steps), ``report.md``, and
with ``config.export=True`` a copy in ``jaxlatent/weights/`` (what ships with the package).
"""

from __future__ import annotations

import shutil
import time

import jax
import ml_collections

from jaxlatent import loop, outputs
from jaxlatent import params as params_io
from jaxlatent.models import embedded
from jaxlatent.training import tasks
from jaxlatent.workdir import Workdir


def run(config: ml_collections.ConfigDict, workdir: Workdir) -> dict:
    if config.task not in tasks.TASKS:
        raise KeyError(f"unknown training task {config.task!r}; known: {sorted(tasks.TASKS)}")
    task = tasks.TASKS[config.task](config.train, jax.random.key(config.seed))
    t0 = time.time()
    state, _ = loop.run_loop(
        task.init(None), task.step, ctx=task.ctx, num_steps=config.train.num_steps,
        chunk_size=config.train.chunk_size, workdir=workdir, desc=f"train {config.task}",
    )
    train_seconds = time.time() - t0
    quality = task.evaluate(state)
    summary = {
        "model": task.model_name,
        "num_steps": config.train.num_steps,
        "wall_seconds_this_process": round(train_seconds, 1),
        "devices": f"{jax.device_count()} x {jax.devices()[0].platform}",
        **quality,
    }
    out = workdir.file("params.npz")
    if task.export is not None:
        task.export(state, out, summary)
    else:
        params_io.save_params(out, state["params"], training=summary)
    if config.export:
        shutil.copyfile(out, embedded.weights_path(task.model_name))
        summary["exported_to"] = embedded.weights_path(task.model_name)
    figures = outputs.history_figures(workdir, outputs.Curves(
        "curves.png", None, f"training {task.model_name}: metrics per step"))
    outputs.write_summary(workdir, summary)
    headline = {k: v for k, v in summary.items() if isinstance(v, (int, float, str))}
    outputs.write_report(workdir, f"Training {task.model_name}", config.to_dict(), headline,
                         figures)
    print({k: v for k, v in summary.items() if not isinstance(v, list)})
    return summary
