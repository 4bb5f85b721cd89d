"""CMA-MAEGA quality-diversity search in JAX, with pyribs 0.12.0 semantics.

Public API: :class:`CmaMaega` (the strategy of the search protocol, run by
`jaxlatent.search.runner`), :class:`QDConfig`, :class:`ArchiveSpec`, :class:`EmitterConfig`,
:func:`init_state`, :func:`metrics`; the modules ``archive``, ``cma_es``, ``emitter`` and
``scheduler`` hold the pure building blocks.
"""

from jaxlatent.search.qd import archive, cma_es, emitter, scheduler
from jaxlatent.search.qd.archive import ArchiveSpec
from jaxlatent.search.qd.emitter import EmitterConfig
from jaxlatent.search.qd.scheduler import CmaMaega, QDConfig, QDState, init_state, metrics

__all__ = [
    "ArchiveSpec", "CmaMaega", "EmitterConfig", "QDConfig", "QDState", "archive", "cma_es",
    "emitter", "init_state", "metrics", "scheduler",
]
