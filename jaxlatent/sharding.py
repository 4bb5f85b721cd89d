"""Sharding a run's problems over devices and hosts.

A run's G independent problems (its leading axis) are spread over every device of a 1-D
`jax.sharding.Mesh` with axis ``"problems"`` (`NamedSharding(mesh, P("problems"))`); shared
inputs (network parameters, banks, hyper-parameters) are replicated. G is padded to a multiple
of the device count by repeating the last problem; padding problems are masked out of the
metrics and dropped from every output (`unpad`). Because each problem's computation and
randomness are its own, results do not depend on the device count.

Multi-host (TPU pod slices, several GPU hosts): call `initialize` once per process before any
other JAX call (``run.py --distributed``); the mesh then spans every process's devices, each
process holds its own shards, orbax writes each process's shards of a checkpoint, and only
process 0 writes files and shows progress (`is_writer`).
"""

from __future__ import annotations

import os

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = "problems"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """`jax.distributed.initialize` (arguments auto-detected on TPU pods, SLURM, k8s…).

    On CPU the cross-process collectives use gloo.
    """
    if os.environ.get("JAX_PLATFORMS", "").startswith("cpu"):
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id)


def is_writer() -> bool:
    """True on the one process that writes files and shows progress (process 0)."""
    return jax.process_index() == 0


def problem_mesh(devices=None) -> Mesh:
    """A 1-D mesh over ``devices`` (default: every device of every process)."""
    devices = jax.devices() if devices is None else list(devices)
    return Mesh(np.asarray(devices), (AXIS,))


def pad_problems(tree, multiple: int):
    """Pads every leaf's leading axis to a multiple of ``multiple`` by repeating its last row."""
    def pad(x):
        g = x.shape[0]
        extra = -g % multiple
        if not extra:
            return x
        return jax.numpy.concatenate([x, jax.numpy.repeat(x[-1:], extra, axis=0)])
    return jax.tree.map(pad, tree)


def _put(x, sharding):
    """A global array of host value ``x`` (the same on every process) with ``sharding``."""
    if jax.process_count() == 1:
        return jax.device_put(x, sharding)
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        data = _put(jax.random.key_data(x), sharding)
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(x))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def shard_problems(tree, mesh: Mesh):
    """Leaves (leading axis G, a multiple of the mesh size) sharded over the problem axis."""
    return jax.tree.map(lambda x: _put(x, NamedSharding(mesh, P(AXIS))), tree)


def replicate(tree, mesh: Mesh):
    """Leaves copied to every device of the mesh."""
    return jax.tree.map(lambda x: _put(jax.numpy.asarray(x), NamedSharding(mesh, P())), tree)


def constrain_problems(tree, mesh: Mesh | None):
    """Inside jit: keep every leaf with a leading axis sharded over the problem axis."""
    if mesh is None:
        return tree
    def constrain(x):
        spec = P(AXIS) if x.ndim else P()
        return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, spec))
    return jax.tree.map(constrain, tree)


def unpad(tree, g: int):
    """The first ``g`` problems of every leaf, as arrays this process can read.

    Single process: device arrays (sliced on device; large archives stay there). Several
    processes: gathered to host numpy arrays on every process.
    """
    def one(x):
        if not isinstance(x, jax.Array) or x.is_fully_addressable:
            return x if x.shape[0] == g else x[:g]
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            return jax.random.wrap_key_data(one(jax.random.key_data(x)), impl=jax.random.key_impl(x))
        return _gather(x)[:g]
    return jax.tree.map(one, tree)


def to_host(tree):
    """Every leaf as a host numpy array, gathering across processes where needed."""
    return jax.tree.map(_gather, tree)


def _gather(x) -> np.ndarray:
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(multihost_utils.process_allgather(x, tiled=True))
    return np.asarray(x)
