"""Dispatch a config to its method: ``config.method`` names an entry of `METHODS`."""

from __future__ import annotations

import importlib
import os

import ml_collections

from jaxlatent import validate
from jaxlatent.workdir import Workdir

# method name -> module with ``run(config, workdir) -> summary``.
METHODS = {
    "train": "jaxlatent.methods.train",
    "divrare": "jaxlatent.methods.divrare",
    "qdgs": "jaxlatent.methods.qdgs",
    "debias": "jaxlatent.methods.debias",
    "biggan_am": "jaxlatent.methods.biggan_am",
    "inspire": "jaxlatent.methods.inspire",
    "hevol": "jaxlatent.methods.hevol",
}


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    """Runs (or resumes) ``config`` in ``workdir`` and returns its summary.

    The config is validated first (`jaxlatent.validate.check_config`: nothing is written when it
    fails), then the workdir is locked for this process (another live run on it is an error that
    names its pid), then ``config.json`` is written or compared with the resumed run's.

    Raises:
      KeyError: an unknown method.
      jaxlatent.validate.ConfigError: an invalid field, named with its value.
      RuntimeError: another process holds the workdir.
      ValueError: the workdir holds results of a different config.
    """
    if config.method not in METHODS:
        raise KeyError(f"unknown method {config.method!r}; known methods: {sorted(METHODS)}")
    validate.check_config(config)
    wdir = Workdir(os.path.expanduser(workdir))
    with wdir.lock():
        wdir.write_config(config.to_dict(), replace_unused=True)
        module = importlib.import_module(METHODS[config.method])
        return module.run(config, wdir)
