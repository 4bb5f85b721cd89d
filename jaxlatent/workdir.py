"""The layout of a run's ``--workdir``, and resumable checkpoints.

::

    workdir/
      config.json        the resolved config (a re-run must use the same one)
      metrics.jsonl      one JSON object per logged step (``{"step": ..., ...}``)
      checkpoints/       orbax checkpoints of the loop state, the newest kept
      latents.npz        the latents of the result (always written by search methods)
      *.png              image grids
      summary.json       final numbers; its presence marks a finished run

Re-running the same command on the same workdir restores the newest checkpoint, truncates
``metrics.jsonl`` to the steps it covers, and continues; since per-step randomness is
``fold_in(key, step)`` the result is identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp


class Workdir:
    """Paths and files of one run."""

    def __init__(self, path: str):
        self.path = os.path.abspath(path)
        os.makedirs(self.path, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # -- config -------------------------------------------------------------------------------
    def write_config(self, config_dict: dict) -> None:
        """Writes config.json, or checks it equals the one of the run being resumed."""
        path = self.file("config.json")
        text = json.dumps(config_dict, indent=2, sort_keys=True, default=str)
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
            if old != text:
                raise ValueError(
                    f"{self.path} holds a run with a different config (see its config.json); "
                    "use a new --workdir, or the same config to resume"
                )
            return
        _atomic_write(path, text)

    # -- metrics ------------------------------------------------------------------------------
    def append_metrics(self, rows: list[dict]) -> None:
        with open(self.file("metrics.jsonl"), "a") as f:
            for row in rows:
                f.write(json.dumps(_to_python(row)) + "\n")

    def truncate_metrics(self, last_step: int) -> None:
        """Drops metric rows after ``last_step`` (rows a killed run wrote past its checkpoint)."""
        path = self.file("metrics.jsonl")
        if not os.path.exists(path):
            return
        with open(path) as f:
            rows = [line for line in f if line.strip()]
        kept = [r for r in rows if _step_of(r) <= last_step]
        _atomic_write(path, "".join(kept))

    def read_metrics(self) -> list[dict]:
        path = self.file("metrics.jsonl")
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]

    # -- results ------------------------------------------------------------------------------
    def write_json(self, name: str, value: Any) -> None:
        _atomic_write(self.file(name), json.dumps(_to_python(value), indent=2, sort_keys=True))

    def save_arrays(self, name: str, **arrays: Any) -> None:
        tmp = self.file(name + ".tmp.npz")
        np.savez(tmp, **{k: np.asarray(v) for k, v in arrays.items()})
        os.replace(tmp, self.file(name))

    # -- checkpoints --------------------------------------------------------------------------
    def checkpoint_manager(self, max_to_keep: int = 2) -> ocp.CheckpointManager:
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=True)
        return ocp.CheckpointManager(self.file("checkpoints"), options=options)


def save_checkpoint(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
    """Saves ``state`` at ``step`` and waits until it is on disk."""
    manager.save(step, args=ocp.args.StandardSave(state))
    manager.wait_until_finished()


def restore_latest(manager: ocp.CheckpointManager, like: Any) -> tuple[int, Any] | None:
    """Restores the newest checkpoint into the structure of ``like``, or None if there is none."""
    step = manager.latest_step()
    if step is None:
        return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return step, manager.restore(step, args=ocp.args.StandardRestore(abstract))


def resume(workdir: "Workdir", manager: ocp.CheckpointManager, like: Any) -> tuple[int, Any]:
    """Where a run continues: ``(step, state)`` of the newest checkpoint, or ``(0, like)``.

    ``metrics.jsonl`` is truncated to the rows that step covers (all rows when there is no
    checkpoint), so a killed run never leaves duplicate rows behind.
    """
    restored = restore_latest(manager, like)
    start, state = restored if restored is not None else (0, like)
    workdir.truncate_metrics(start)
    return start, state


def _atomic_write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _step_of(line: str) -> int:
    try:
        return int(json.loads(line).get("step", -1))
    except json.JSONDecodeError:  # a line cut by a kill
        return 1 << 62


def _to_python(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _to_python(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_python(v) for v in value]
    if isinstance(value, (np.ndarray, jax.Array)):
        value = np.asarray(value)
        return value.item() if value.ndim == 0 else value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value
