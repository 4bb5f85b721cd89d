"""Dispatch a config to its method: ``config.method`` names an entry of `METHODS`."""

from __future__ import annotations

import importlib
import os

import ml_collections

from jaxlatent.workdir import Workdir

# method name -> module with ``run(config, workdir) -> summary``.
METHODS = {
    "train": "jaxlatent.methods.train",
    "divrare": "jaxlatent.methods.divrare",
    "qdgs": "jaxlatent.methods.qdgs",
    "debias": "jaxlatent.methods.debias",
}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs (or resumes) ``config`` in ``workdir`` and returns its summary."""
    if config.method not in METHODS:
        raise KeyError(f"unknown method {config.method!r}; known methods: {sorted(METHODS)}")
    wdir = Workdir(os.path.expanduser(workdir))
    wdir.write_config(config.to_dict())
    module = importlib.import_module(METHODS[config.method])
    return module.run(config, wdir)
