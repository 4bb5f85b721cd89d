"""Argument parsing for config files: ``--config=configs/x.py:smoke,seed=3`` (big_vision style)."""

from __future__ import annotations

import ml_collections


def parse_arg(arg: str | None, **spec) -> ml_collections.ConfigDict:
    """Parses ``"smoke,seed=3"`` into typed fields with defaults from ``spec``.

    ``spec`` maps a name to its default (type taken from it) or to ``(default, type)``.
    Booleans need no value. Unknown names raise ValueError listing the known ones.
    """
    values = {}
    for name, default in spec.items():
        values[name] = default[0] if isinstance(default, tuple) else default
    types = {n: (d[1] if isinstance(d, tuple) else type(d)) for n, d in spec.items()}
    for item in filter(None, (arg or "").split(",")):
        name, _, text = item.partition("=")
        name = name.strip()
        if name not in spec:
            raise ValueError(f"unknown config argument {name!r}; known: {sorted(spec)}")
        if types[name] is bool:
            values[name] = text.strip().lower() not in ("0", "false", "no") if text else True
        else:
            values[name] = _typed(name, text, types[name], values[name])
    return ml_collections.ConfigDict(values)


def _typed(name: str, text: str, kind: type, default):
    """``kind(text)``, or a ValueError naming the argument, its value and the expected type."""
    try:
        return kind(text.strip())
    except (TypeError, ValueError):
        raise ValueError(
            f"config argument {name}={text!r} is not a valid {kind.__name__}; expected e.g. "
            f"{name}={default}"
        ) from None


def training_config(arg: str | None, *, task: str, steps: int, **train) -> ml_collections.ConfigDict:
    """The shared shape of ``configs/train_*.py``: method ``train`` on an embedded-model task.

    Args:
      arg: the text after the colon (``smoke``, ``seed=N``, ``steps=N``).
      task: a key of `jaxlatent.training.tasks.TASKS`.
      steps: default number of training steps.
      **train: the task's fields (batch_size, learning_rate, data=dict(bias=...), ...).
    """
    arg = parse_arg(arg, smoke=False, seed=0, steps=steps)
    config = ml_collections.ConfigDict()
    config.name = f"train_{task}"
    config.method = "train"
    config.task = task
    config.seed = arg.seed
    config.export = False  # True: copy the result into jaxlatent/weights/ (what ships)
    config.train = dict(num_steps=arg.steps, chunk_size=100, **train)
    if arg.smoke:
        small = dict(num_steps=4, chunk_size=2, batch_size=min(train["batch_size"], 8))
        small.update({k: 8 for k in ("eval_size",) if k in train})
        small.update({k: 64 for k in ("num_features",) if k in train})
        config.train.update(small)
    return config
