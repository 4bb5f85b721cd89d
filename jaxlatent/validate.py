"""One check of a config before any run starts (called by `jaxlatent.experiment.run`).

The rules are generic, by field name, so every method gets the same checks:

- counts (``num_steps``, ``num_iters``, ``chunk_size``, ``num_references``, ``num_starts``,
  ``batch_size``, ``k``, ...) must be positive integers;
- step sizes (``learning_rate``, ``lr``, ``*_lr``, ``sigma0``) must be positive finite numbers,
  and no float anywhere may be NaN;
- probabilities (``bias``) must lie in [0, 1];
- file fields (``path``, ``*_path``, ``real_features``), when non-empty, must name an existing
  file (not a directory); an ``.npz`` must be a complete zip archive;
- ``method`` must be one of the known methods.

A violation raises `ConfigError` (a ValueError): one paragraph naming the field, the bad value and
what is expected. Nothing is written before the check passes.
"""

from __future__ import annotations

import math
import os
import zipfile
from typing import Any, Iterator, Mapping

POSITIVE_INTS = frozenset({
    "num_steps", "num_iters", "chunk_size", "num_references", "num_starts", "num_real",
    "num_fake", "num_start_draws", "num_emitters", "num_samples", "num_eval", "num_features",
    "batch_size", "eval_size", "epochs", "k", "k_prime", "d_steps", "start_batch_size",
    "start_batches", "capacity", "cutn", "resolution", "image_size",
})
POSITIVE_FLOATS = frozenset({"learning_rate", "lr", "sigma0"})
UNIT_INTERVAL = frozenset({"bias"})
FILE_FIELDS = frozenset({"path", "real_features"})


class ConfigError(ValueError):
    """A config value that no run can use."""


def check_config(config: Any, methods: Mapping[str, str] | None = None) -> None:
    """Raises `ConfigError` for the first invalid field of ``config``.

    Args:
      config: an ``ml_collections.ConfigDict`` (or nested dict) of a run.
      methods: the known method names (``config.method`` must be one of them), or None.
    """
    tree = config.to_dict() if hasattr(config, "to_dict") else dict(config)
    if methods is not None and tree.get("method") not in methods:
        _fail("method", tree.get("method"), f"one of {sorted(methods)}")
    for name, value in _fields(tree):
        check_field(name, value)


def check_field(name: str, value: Any) -> None:
    """Checks one field (dotted ``name``) by the rules of the module docstring."""
    leaf = name.rsplit(".", 1)[-1]
    if leaf in POSITIVE_INTS and not _is_positive_int(value):
        _fail(name, value, "a positive integer (1 or more)")
    if _is_float(value) and math.isnan(value):
        _fail(name, value, "a number, not NaN")
    if (leaf in POSITIVE_FLOATS or leaf.endswith("_lr")) and _is_number(value):
        if not (math.isfinite(value) and value > 0):
            _fail(name, value, "a positive finite number")
    if leaf in UNIT_INTERVAL and _is_number(value) and not 0 <= value <= 1:
        _fail(name, value, "a number in [0, 1]")
    if (leaf in FILE_FIELDS or leaf.endswith("_path")) and isinstance(value, str) and value:
        _check_file(name, value)


def _check_file(name: str, value: str) -> None:
    path = os.path.expanduser(value)
    if os.path.isdir(path):
        _fail(name, value, "a file (e.g. a converted .npz), but this is a directory")
    if not os.path.isfile(path):
        _fail(name, value, "an existing file, but there is no such file (paths are relative to "
              f"the current directory, {os.getcwd()})")
    if path.endswith(".npz") and not zipfile.is_zipfile(path):
        _fail(name, value, "a complete .npz (zip) file, but it is truncated or not an .npz; "
              "convert or copy it again")


def _fields(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            yield from _fields(value, name)
        else:
            yield name, value


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_float(value: Any) -> bool:
    return isinstance(value, float)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _fail(name: str, value: Any, expected: str) -> None:
    raise ConfigError(f"config field {name} = {value!r} is invalid: expected {expected}. Fix it "
                      f"with --config.{name}=... (nothing was written to the work directory).")
