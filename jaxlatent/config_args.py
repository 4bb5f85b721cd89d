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
            values[name] = types[name](text)
    return ml_collections.ConfigDict(values)
