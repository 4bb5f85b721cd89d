"""Counting XLA compilations, to show that repeated searches reuse their compiled programs.

    with compiles.counted() as c:
        search(...)
    print(c.count, c.seconds)   # programs compiled inside the block and their compile time

Listens to JAX's ``/jax/core/compile/backend_compile_duration`` event (one per backend
compilation; persistent-cache hits do not fire it). Benchmarks use it to report compile time
apart from the warm step time; tests use it to assert that a second same-shaped search compiles
nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses

import jax

COMPILE_EVENT = "/jax/core/compile/backend_compile_duration"


@dataclasses.dataclass
class Compiles:
    count: int = 0
    seconds: float = 0.0


@contextlib.contextmanager
def counted():
    """Yields a `Compiles` that counts the backend compilations made inside the block."""
    record = Compiles()

    def listener(event: str, duration: float, **kwargs) -> None:
        del kwargs
        if event == COMPILE_EVENT:
            record.count += 1
            record.seconds += duration

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield record
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
