"""The layout of a run's ``--workdir``, and resumable checkpoints.

::

    workdir/
      config.json        the resolved config (a re-run must use the same one)
      metrics.jsonl      one JSON object per logged step (``{"step": ..., ...}``)
      checkpoints/       orbax checkpoints of the loop state, the newest kept
      latents.npz        the latents of the result (always written by search methods)
      *.png              image grids
      summary.json       final numbers; its presence marks a finished run

Re-running the same command on the same workdir restores the newest readable checkpoint (an
unreadable one is moved to ``checkpoints.corrupt/`` with a warning naming its step), truncates
``metrics.jsonl`` to the steps it covers, and continues; since per-step randomness is
``fold_in(key, step)`` the result is identical to an uninterrupted run. One process at a time may
use a workdir (`Workdir.lock`, an ``fcntl`` lock on ``.lock`` that the kernel releases when the
process dies, so a killed run never blocks the next one).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import sys
import time
from typing import Any, Iterator

import jax
import numpy as np
import orbax.checkpoint as ocp

LOCK_NAME = ".lock"


class Workdir:
    """Paths and files of one run.

    Multi-host runs (several JAX processes on one shared workdir): process 0 owns the workdir's
    files; every other process writes its (identical, discarded) copies of the outputs into
    ``process_<i>/`` inside it, so nothing is written twice. Checkpoints are shared: each
    process saves and restores its own shards of ``checkpoints/``.
    """

    def __init__(self, path: str):
        self.root = os.path.abspath(path)
        index = jax.process_index()
        self.path = self.root if index == 0 else os.path.join(self.root, f"process_{index}")
        os.makedirs(self.path, exist_ok=True)

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # -- lock ---------------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Holds the workdir for this process; another live process holding it is an error.

        Raises:
          RuntimeError: naming the pid of the process that holds the workdir.
        """
        fd = os.open(self.file(LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise
                raise RuntimeError(
                    f"{self.path} is in use by another run (pid {_read_pid(fd)}, see "
                    f"{LOCK_NAME}); wait for it to finish or stop it, or use another --workdir"
                ) from None
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    # -- config -------------------------------------------------------------------------------
    def write_config(self, config_dict: dict, replace_unused: bool = False) -> None:
        """Writes config.json, or checks it equals the one of the run being resumed.

        Args:
          config_dict: the resolved config.
          replace_unused: a different config replaces the old one while the workdir holds no
            results yet (no file besides config.json and the lock: e.g. a run that failed
            before its first step); otherwise a different config is always refused.
        """
        path = self.file("config.json")
        text = json.dumps(config_dict, indent=2, sort_keys=True, default=str)
        if os.path.exists(path):
            with open(path) as f:
                old = f.read()
            if old == text:
                return
            if not replace_unused or self.has_results():
                raise ValueError(
                    f"{self.path} holds a run with a different config (see its config.json); "
                    "use a new --workdir, or the same config to resume"
                )
            print(f"{self.path}: replacing the config of a run that wrote no results",
                  file=sys.stderr)
        _atomic_write(path, text)

    def has_results(self) -> bool:
        """Whether any file other than config.json and the lock exists under the workdir."""
        for root, _, files in os.walk(self.path):
            for name in files:
                if root != self.path or name not in ("config.json", LOCK_NAME):
                    return True
        return False

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
        return ocp.CheckpointManager(os.path.join(self.root, "checkpoints"), options=options)


def newest_checkpoint_step(path: str) -> int | None:
    """The highest step of any ``checkpoints/<step>`` under the workdir ``path``, or None."""
    steps = [int(name) for root, dirs, _ in os.walk(path) if os.path.basename(root) == "checkpoints"
             for name in dirs if name.isdigit()]
    return max(steps, default=None)


def save_checkpoint(manager: ocp.CheckpointManager, step: int, state: Any) -> None:
    """Saves ``state`` at ``step`` and waits until it is on disk."""
    manager.save(step, args=ocp.args.StandardSave(state))
    manager.wait_until_finished()


def restore_latest(manager: ocp.CheckpointManager, like: Any) -> tuple[int, Any] | None:
    """Restores the newest checkpoint into the structure of ``like``, or None if there is none."""
    step = manager.latest_step()
    if step is None:
        return None
    return step, _restore(manager, step, like)


def resume(workdir: "Workdir", manager: ocp.CheckpointManager, like: Any) -> tuple[int, Any]:
    """Where a run continues: ``(step, state)`` of the newest readable checkpoint, or ``(0, like)``.

    Checkpoints are tried newest first; one that fails to restore (truncated, garbled, of another
    structure) is moved to ``checkpoints.corrupt/<step>`` with a warning on stderr naming the step,
    and the next older one is tried. ``metrics.jsonl`` is truncated to the rows of the step
    actually restored (all rows when none is), so a killed run never leaves duplicate rows.
    """
    start, state = 0, like
    for step in sorted(manager.all_steps(), reverse=True):
        try:
            start, state = step, _restore(manager, step, like)
            break
        except Exception as err:  # noqa: BLE001 - any failure means this step is unusable
            _set_aside(workdir, manager, step, err)
    workdir.truncate_metrics(start)
    return start, state


def _restore(manager: ocp.CheckpointManager, step: int, like: Any) -> Any:
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    return manager.restore(step, args=ocp.args.StandardRestore(abstract))


def _set_aside(workdir: "Workdir", manager: ocp.CheckpointManager, step: int, err: Exception):
    """Moves the unreadable checkpoint ``step`` out of the manager's directory, with a warning."""
    reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
    dest = workdir.file(os.path.join("checkpoints.corrupt", f"{step}-{int(time.time())}"))
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    shutil.move(os.path.join(str(manager.directory), str(step)), dest)
    manager.reload()
    print(f"warning: the checkpoint at step {step} in {workdir.path} is unreadable "
          f"({type(err).__name__}: {reason}); moved it to {dest} and trying the previous one",
          file=sys.stderr)


def _read_pid(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    return os.read(fd, 32).decode(errors="replace").strip() or "unknown"


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
