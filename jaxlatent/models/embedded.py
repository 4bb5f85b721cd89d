"""Shared builder for the small embedded models that ship inside the package.

Their weights live in ``jaxlatent/weights/<name>.npz`` and are produced by
``python run.py --config=configs/train_<name>.py`` (which exports them there with
``--config.export=True``). The training metadata (config, steps, quality) is stored in the file.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxlatent import params as params_io
from jaxlatent.models.registry import Model

WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "weights")


def weights_path(name: str) -> str:
    """Path of the shipped weights of embedded model ``name``."""
    return os.path.join(WEIGHTS_DIR, f"{name}.npz")


def init_params(module: Any, key: jax.Array, example: jax.Array) -> Any:
    """Random parameters of a linen ``module`` for a batched ``example`` input."""
    return module.init(key, example)["params"]


def build_embedded(
    name: str,
    module: Any,
    example: jax.Array,
    apply_fn: Callable[..., Any],
    path: str | None,
    key: jax.Array | None,
    info: dict,
) -> Model:
    """Loads shipped (or given) weights, or initialises randomly when ``key`` is given.

    Args:
      name: embedded model name, e.g. ``"shapes_vae"``; selects the shipped file.
      module: the linen module (used for shapes and random init).
      example: a batched example input for ``module.init``.
      apply_fn: pure ``apply_fn(params, x, ...)``.
      path: explicit weights file, or None.
      key: PRNG key for random init (only used when ``path`` is None).
      info: static facts to return with the model.
    """
    expected = jax.eval_shape(lambda k: init_params(module, k, example), jax.random.key(0))
    if path is None and key is not None:
        return Model(apply_fn, init_params(module, key, example), dict(info, trained=False))
    path = path or weights_path(name)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"weights for embedded model {name!r} not found at {path!r}; train them with "
            f"`python run.py --config=configs/train_{name.removeprefix('shapes_')}.py "
            f"--workdir=/tmp/train_{name} --config.export=True`"
        )
    params, meta = params_io.load_params(path)
    params_io.check_params(expected, params, f"{name} weights {path!r}")
    params = jax.tree.map(jnp.asarray, params)
    return Model(apply_fn, params, dict(info, trained=True, **meta))
