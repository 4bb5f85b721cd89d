"""The one host loop: many jitted steps under `lax.scan`, host work only between chunks.

Training jobs and searches both run here. A step is a pure function
``step_fn(state, step, ctx) -> (state, metrics)`` that draws its randomness from
``fold_in(key, step)``; the loop jits ``chunk_size`` steps as one `lax.scan` (state donated),
and between chunks it updates the progress bar, appends metrics, refuses non-finite values and
saves a checkpoint. A re-run on the same workdir restores the newest checkpoint and continues
with the same chunk boundaries, so it ends bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxlatent import sharding
from jaxlatent import workdir as wd

StepFn = Callable[[Any, jax.Array, Any], tuple[Any, dict]]


def use_scan() -> bool:
    """Scan on accelerators; on CPU, XLA runs convolutions inside a while loop several times
    slower than as separate programs (see benchmarks/bench_shapes_and_loop.py), so there
    the chunk is a host loop over one jitted, donated step. Either way there is no host sync
    inside a chunk (dispatch is asynchronous); metrics are fetched once per chunk."""
    return jax.default_backend() != "cpu"


@functools.lru_cache(maxsize=64)
def make_chunk_fn(step_fn: StepFn, scan: bool = True) -> Callable[[Any, jax.Array, int, Any], tuple[Any, dict]]:
    """Jits ``length`` consecutive steps from ``start`` as one scan; ``state`` is donated.

    ``ctx`` (model parameters, reference data) is a traced argument, not a closure constant, so
    large networks are not baked into the program and new values of the same shapes reuse the
    compiled code. Cached per ``step_fn``: a second run of the same search does not recompile.
    """

    if not scan:
        one_step = jax.jit(step_fn, donate_argnums=(0,))

        def run_unrolled(state, start, length, ctx):
            metrics = []
            for i in range(length):
                state, m = one_step(state, start + i, ctx)
                metrics.append(m)
            return state, jax.tree.map(lambda *xs: jnp.stack(xs), *metrics)

        return run_unrolled

    @functools.partial(jax.jit, static_argnums=(2,), donate_argnums=(0,))
    def run_chunk(state, start, length, ctx):
        steps = start + jnp.arange(length, dtype=jnp.int32)
        return jax.lax.scan(lambda s, t: step_fn(s, t, ctx), state, steps)

    return run_chunk


def run_loop(
    state: Any,
    step_fn: StepFn,
    *,
    ctx: Any = None,
    num_steps: int,
    chunk_size: int,
    workdir: wd.Workdir | None = None,
    desc: str = "steps",
    finite_check: Callable[[Any, dict], dict] | None = None,
    progress: bool = True,
    scan: bool | None = None,
) -> tuple[Any, list[dict]]:
    """Runs ``num_steps`` steps of ``step_fn`` from ``state``, resuming from ``workdir``.

    Args:
      state: initial loop state (a pytree of arrays); also the template for restoring.
      step_fn: pure ``(state, step, ctx) -> (state, metrics)``; metrics are scalars per step.
      ctx: read-only inputs of every step (passed to the compiled chunk as an argument).
      num_steps: total number of steps of the run.
      chunk_size: steps per jitted chunk; a checkpoint is written after each chunk.
      workdir: where metrics and checkpoints go; None runs in memory only.
      desc: progress-bar label.
      finite_check: ``(state, metrics) -> {name: bool array}``; any False raises
        FloatingPointError (the last good checkpoint is kept). Defaults to metrics finite.
      progress: show a tqdm bar.
      scan: run each chunk as one `lax.scan` program (default: on accelerators, see `use_scan`).

    Returns:
      ``(final_state, rows)``: the state after ``num_steps`` steps and the metric rows logged by
      this process (``{"step": completed_steps, **metrics}``).
    """
    run_chunk = make_chunk_fn(step_fn, use_scan() if scan is None else scan)
    state = jax.tree.map(jnp.copy, state)  # the loop donates its state; never the caller's arrays
    start, manager = 0, None
    if workdir is not None:
        manager = workdir.checkpoint_manager()
        start, state = wd.resume(workdir, manager, state)
    rows: list[dict] = []
    # Multi-host: one process shows progress; each logs to its own Workdir path (process 0's
    # is the run's), and every process saves its shards of the shared checkpoints.
    bar = tqdm(total=num_steps, initial=start, desc=desc,
               disable=not (progress and sharding.is_writer()), leave=False)
    try:
        while start < num_steps:
            length = min(chunk_size, num_steps - start)
            state, metrics = run_chunk(state, jnp.int32(start), length, ctx)
            metrics = jax.device_get(metrics)
            _raise_if_not_finite(finite_check, state, metrics, start, length, workdir is not None)
            chunk_rows = _rows(metrics, start, length)
            rows += chunk_rows
            start += length
            if workdir is not None:
                workdir.append_metrics(chunk_rows)
                wd.save_checkpoint(manager, start, state)
            bar.update(length)
            bar.set_postfix({k: f"{v:.4g}" for k, v in list(chunk_rows[-1].items())[1:4]})
    finally:  # an interrupted save still shuts orbax down cleanly
        bar.close()
        if manager is not None:
            manager.close()
    return state, rows


def _rows(metrics: dict, start: int, length: int) -> list[dict]:
    return [
        {"step": start + i + 1, **{k: float(np.asarray(v[i])) for k, v in metrics.items()}}
        for i in range(length)
    ]


def _raise_if_not_finite(finite_check, state, metrics, start, length, saved) -> None:
    if finite_check is None:
        flags = {k: np.all(np.isfinite(np.asarray(v))) for k, v in metrics.items()}
    else:
        flags = jax.device_get(finite_check(state, metrics))
    bad = sorted(k for k, ok in flags.items() if not np.all(ok))
    if bad:
        kept = (f"the checkpoint at step {start} is kept" if start and saved
                else "no checkpoint was written")
        raise FloatingPointError(
            f"non-finite values ({', '.join(bad)}) in steps {start + 1}..{start + length}; "
            f"{kept}. Lower the learning rate or check the inputs."
        )
