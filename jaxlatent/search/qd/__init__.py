"""CMA-MAEGA quality-diversity search in JAX, with pyribs 0.12.0 semantics.

Public API: :class:`QDConfig`, :class:`ArchiveSpec`, :class:`EmitterConfig`, :func:`init`,
:func:`step`, :func:`run`, :func:`metrics`; the modules ``archive``, ``cma_es``, ``emitter``,
``scheduler`` and ``qdgs`` (``make_eval_fns``) hold the pure building blocks.
"""

from jaxlatent.search.qd import archive, cma_es, emitter, qdgs, scheduler
from jaxlatent.search.qd.archive import ArchiveSpec
from jaxlatent.search.qd.emitter import EmitterConfig
from jaxlatent.search.qd.scheduler import QDConfig, QDState, init, metrics, run, step

__all__ = [
    "ArchiveSpec", "EmitterConfig", "QDConfig", "QDState", "archive", "cma_es", "emitter",
    "init", "metrics", "qdgs", "run", "scheduler", "step",
]
