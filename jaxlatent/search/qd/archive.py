"""Grid archive with CMA-MAE threshold annealing, as a pytree of fixed-shape arrays.

Mirrors ``ribs.archives.GridArchive`` (pyribs 0.12.0): same cell index (including the epsilon
and the clip at the upper boundary), same insertion rule (objective > threshold of the cell),
same status/value semantics computed against the pre-batch archive, and the CMA-MAE batch
threshold update t <- (1-a)^k t + (1 - (1-a)^k) mean(f of the k passing solutions).

References:
    Fontaine & Nikolaidis, "Covariance Matrix Adaptation MAP-Annealing", GECCO 2023
    (arXiv 2205.10752), Alg. 1 and the batch threshold rule of Appendix (threshold update).
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

NOT_ADDED, IMPROVE_EXISTING, NEW = 0, 1, 2  # pyribs AddStatus values.


@dataclasses.dataclass(frozen=True)
class ArchiveSpec:
    """Static description of a grid archive (hashable; safe as a jit static argument).

    Attributes:
        dims: cells per measure dimension, e.g. ``(50, 50)``.
        ranges: ``((low, high), ...)`` per measure dimension, inclusive.
        learning_rate: CMA-MAE archive learning rate alpha; 1.0 gives MAP-Elites.
        threshold_min: initial threshold of every cell; ``-inf`` only with alpha 1.
        epsilon: added before truncation in :func:`index_of` (pyribs default 1e-6).
        qd_score_offset: subtracted from every objective in the QD score.
    """

    dims: tuple[int, ...]
    ranges: tuple[tuple[float, float], ...]
    learning_rate: float = 1.0
    threshold_min: float = -math.inf
    epsilon: float = 1e-6
    qd_score_offset: float = 0.0

    def __post_init__(self):
        if len(self.dims) != len(self.ranges):
            raise ValueError(f"dims {self.dims} and ranges {self.ranges} differ in length")
        if self.threshold_min == -math.inf and self.learning_rate != 1.0:
            raise ValueError("threshold_min can only be -inf if learning_rate is 1.0 (as pyribs)")

    @property
    def cells(self) -> int:
        return math.prod(self.dims)

    @property
    def measure_dim(self) -> int:
        return len(self.dims)

    def elitist(self) -> ArchiveSpec:
        """The passive elitist (plain MAP-Elites) archive on the same grid."""
        return dataclasses.replace(self, learning_rate=1.0, threshold_min=-math.inf)


class Archive(NamedTuple):
    """Archive contents; leading axis = cell (C = prod(dims)).

    Attributes:
        solutions: ``[C, D]`` elite solutions (zeros where unoccupied).
        objectives: ``[C]`` elite objectives.
        measures: ``[C, M]`` elite measures.
        thresholds: ``[C]`` acceptance thresholds (meaningful where occupied).
        occupied: ``[C]`` bool.
        obj_max: scalar, best objective ever inserted (pyribs ``stats.obj_max``), -inf if none.
    """

    solutions: jax.Array
    objectives: jax.Array
    measures: jax.Array
    thresholds: jax.Array
    occupied: jax.Array
    obj_max: jax.Array


class AddInfo(NamedTuple):
    """Per-solution result of :func:`add`: ``status`` int32 ``[B]`` and ``value`` ``[B]``."""

    status: jax.Array
    value: jax.Array


def init_archive(spec: ArchiveSpec, solution_dim: int, dtype=jnp.float32) -> Archive:
    """Empty archive for ``spec`` holding ``solution_dim``-dimensional solutions."""
    c, m = spec.cells, spec.measure_dim
    return Archive(
        solutions=jnp.zeros((c, solution_dim), dtype),
        objectives=jnp.zeros((c,), dtype),
        measures=jnp.zeros((c, m), dtype),
        thresholds=jnp.full((c,), spec.threshold_min, dtype),
        occupied=jnp.zeros((c,), bool),
        obj_max=jnp.asarray(-jnp.inf, dtype),
    )


def index_of(spec: ArchiveSpec, measures: jax.Array) -> jax.Array:
    """Flat cell index of each measure vector, as ``GridArchive.index_of``.

    grid_i = int((dims_i * (m_i - low_i) + epsilon) / (high_i - low_i)), clipped to
    ``[0, dims_i - 1]``, raveled in C order. The float is clipped to ``[-1, dims_i]`` before
    the cast so that absurdly large measures map to the edge cell (numpy's int32 cast of such
    values is undefined; for |grid| < 2**31 the result equals pyribs').

    Args:
        spec: archive description.
        measures: ``[B, M]`` measures.

    Returns:
        int32 ``[B]`` flat indices.
    """
    dtype = measures.dtype
    low = jnp.asarray([r[0] for r in spec.ranges], dtype)
    high = jnp.asarray([r[1] for r in spec.ranges], dtype)
    dims = jnp.asarray(spec.dims, dtype)
    grid = (dims * (measures - low) + jnp.asarray(spec.epsilon, dtype)) / (high - low)
    grid = jnp.clip(grid, -1.0, dims).astype(jnp.int32)
    grid = jnp.clip(grid, 0, jnp.asarray(spec.dims, jnp.int32) - 1)
    strides = [math.prod(spec.dims[i + 1:]) for i in range(len(spec.dims))]
    return jnp.sum(grid * jnp.asarray(strides, jnp.int32), axis=-1).astype(jnp.int32)


def _batch_winners(idx, objective, can_insert, num_cells):
    """Per solution: is it the first argmax of the passing solutions of its cell?"""
    masked = jnp.where(can_insert, objective, -jnp.inf)
    best = jax.ops.segment_max(masked, idx, num_segments=num_cells)
    is_best = can_insert & (masked == best[idx])
    order = jnp.arange(idx.shape[0])
    first = jax.ops.segment_min(jnp.where(is_best, order, idx.shape[0]), idx, num_cells)
    return is_best & (order == first[idx])


def add(
    spec: ArchiveSpec, archive: Archive, solutions: jax.Array, objectives: jax.Array,
    measures: jax.Array,
) -> tuple[Archive, AddInfo]:
    """Inserts a batch, as ``GridArchive.add`` (CMA-MAE soft archive when alpha < 1).

    Status is 2 (new cell), 1 (beats the threshold of an occupied cell) or 0, all with respect
    to the archive before the batch. ``value`` = objective - threshold of its cell before the
    batch (threshold_min for empty cells; 0 for new cells when threshold_min is -inf, so that
    MAP-Elites values are CMA-ME improvements). Of the k passing solutions of a cell only the
    first argmax is stored; all k enter the threshold update (Fontaine & Nikolaidis 2023,
    batch rule): t <- (1-a)^k t + (1-(1-a)^k) * mean_k(f). With threshold_min = -inf the new
    threshold is the stored objective (MAP-Elites).

    Args:
        spec: archive description (static).
        archive: current archive.
        solutions: ``[B, D]``; objectives: ``[B]``; measures: ``[B, M]``.

    Returns:
        ``(archive, AddInfo(status int32 [B], value [B]))``.
    """
    c = spec.cells
    dtype = archive.objectives.dtype
    objectives = objectives.astype(dtype)
    idx = index_of(spec, measures.astype(archive.measures.dtype))
    cur_occ = archive.occupied[idx]
    tmin = jnp.asarray(spec.threshold_min, dtype)
    cur_t = jnp.where(cur_occ, archive.thresholds[idx], tmin)
    can = objectives > cur_t
    is_new = can & ~cur_occ
    status = jnp.where(is_new, NEW, jnp.where(can, IMPROVE_EXISTING, NOT_ADDED))
    value_base = cur_t
    if spec.threshold_min == -math.inf:
        value_base = jnp.where(is_new, jnp.zeros((), dtype), cur_t)
    value = objectives - value_base

    winner = _batch_winners(idx, objectives, can, c)
    if spec.threshold_min == -math.inf:
        new_t = objectives
    else:
        k = jax.ops.segment_sum(can.astype(jnp.int32), idx, num_segments=c)[idx]
        s = jax.ops.segment_sum(jnp.where(can, objectives, 0), idx, num_segments=c)[idx]
        ratio = jnp.asarray(1.0 - spec.learning_rate, dtype) ** k
        new_t = ratio * cur_t + (s / jnp.maximum(k, 1).astype(dtype)) * (1 - ratio)
    w_idx = jnp.where(winner, idx, c)  # out-of-range rows are dropped by the scatter
    archive = Archive(
        solutions=archive.solutions.at[w_idx].set(solutions.astype(dtype), mode="drop"),
        objectives=archive.objectives.at[w_idx].set(objectives, mode="drop"),
        measures=archive.measures.at[w_idx].set(
            measures.astype(archive.measures.dtype), mode="drop"),
        thresholds=archive.thresholds.at[w_idx].set(new_t.astype(dtype), mode="drop"),
        occupied=archive.occupied.at[w_idx].set(True, mode="drop"),
        obj_max=jnp.maximum(archive.obj_max, jnp.max(jnp.where(can, objectives, -jnp.inf))),
    )
    return archive, AddInfo(status.astype(jnp.int32), value)


def sample_elite(key: jax.Array, archive: Archive) -> tuple[jax.Array, jax.Array]:
    """One elite drawn uniformly among occupied cells (``sample_elites(1)``).

    Returns:
        ``(solution [D], found)``; ``found`` is False (and the solution row 0) when empty.
    """
    u = jax.random.uniform(key, archive.occupied.shape)
    i = jnp.argmax(jnp.where(archive.occupied, u, -1.0))
    return archive.solutions[i], jnp.any(archive.occupied)


class ArchiveStats(NamedTuple):
    """pyribs ``ArchiveStats`` fields as arrays."""

    num_elites: jax.Array
    coverage: jax.Array
    qd_score: jax.Array
    norm_qd_score: jax.Array
    obj_max: jax.Array
    obj_mean: jax.Array


def stats(spec: ArchiveSpec, archive: Archive) -> ArchiveStats:
    """QD score = sum over elites of (objective - qd_score_offset); normalised by #cells."""
    n = jnp.sum(archive.occupied)
    dtype = archive.objectives.dtype
    total = jnp.sum(jnp.where(archive.occupied, archive.objectives, 0))
    qd = total - n.astype(dtype) * jnp.asarray(spec.qd_score_offset, dtype)
    return ArchiveStats(
        num_elites=n,
        coverage=n.astype(dtype) / spec.cells,
        qd_score=qd,
        norm_qd_score=qd / spec.cells,
        obj_max=archive.obj_max,
        obj_mean=total / jnp.maximum(n, 1).astype(dtype),
    )
