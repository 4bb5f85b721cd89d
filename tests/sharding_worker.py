"""Runs the same searches on however many devices/processes it is given; saves the results.

    python tests/sharding_worker.py OUT.npz [--embedded PATHS.json] [--process I --processes N --port P]

Used by tests/test_sharding.py with 1 device, 8 forced CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=8``) and 2 processes on localhost
(`jaxlatent.sharding.initialize`, gloo collectives). Only process 0 writes ``OUT.npz``.
"""

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def stochastic_quadratic(z, ctx, *, key=None):
    noise = 0.3 * jax.random.normal(key, ())
    return jnp.sum((z - ctx["target"]) ** 2) + jnp.sum(jnp.sin(3 * z)) + noise, {"norm": jnp.sum(z**2)}


def spread(latents, aux, ctx):
    return -0.05 * jnp.sum((latents[:, None] - latents[None]) ** 2), {}


def sphere(z, ctx, *, key=None):
    """Minimised negative sphere score with clipped linear measures (the pyribs tutorial)."""
    shift = 5.12 * 0.4
    value = jnp.sum((z - shift) ** 2)
    clipped = jnp.clip(z, -5.12, 5.12)
    half = z.shape[0] // 2
    return value, {"measures": jnp.stack([clipped[:half].sum(), clipped[half:].sum()])}


def searches(workdir_root: str | None):
    from jaxlatent.search import qd, registry, runner
    from jaxlatent.workdir import Workdir

    def wd(name):
        return Workdir(os.path.join(workdir_root, name)) if workdir_root else None

    ctx = {"target": jnp.arange(4.0) / 4}
    out = {}
    pop = registry.build({"name": "random_search", "population": 8})
    s, _ = runner.run(pop, runner.Problem(stochastic_quadratic), jax.random.key(1),
                      jnp.zeros((5, 4)), ctx, num_steps=12, chunk_size=5, progress=False,
                      workdir=wd("population"))
    out["population"] = s
    adam = registry.build({"name": "adam", "learning_rate": 0.05})
    s, _ = runner.run(adam, runner.Problem(stochastic_quadratic, spread), jax.random.key(2),
                      jax.random.normal(jax.random.key(3), (5, 3, 4)), ctx, num_steps=12,
                      chunk_size=5, progress=False, workdir=wd("gradient"))
    out["gradient"] = s
    cfg = qd.QDConfig(qd.ArchiveSpec((10, 10), ((-20.0, 20.0),) * 2, 0.01, 0.0),
                      qd.EmitterConfig(sigma0=1.0, lr=0.5, batch_size=6), num_emitters=2)
    s, _ = runner.run(qd.CmaMaega(cfg), runner.Problem(sphere), jax.random.key(4),
                      jnp.zeros((3, 8)), {}, num_steps=12, chunk_size=5, progress=False,
                      workdir=wd("cma_maega"))
    out["cma_maega"] = s
    return out


def divrare(paths_json: str, workdir: str) -> dict:
    from conftest import load_config, use_random_embedded
    from jaxlatent import experiment

    with open(paths_json) as f:
        paths = json.load(f)
    config = use_random_embedded(load_config("divrare", "smoke"), paths)
    config.search.num_references = 3  # 3 × 3 starts: padded on 2, 4 and 8 devices
    experiment.run(config, workdir)
    with np.load(os.path.join(workdir, "latents.npz")) as f:
        return {k: f[k] for k in f.files}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--embedded", default="")
    p.add_argument("--process", type=int, default=-1)
    p.add_argument("--processes", type=int, default=1)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--workdir", default="")
    a = p.parse_args()
    from jaxlatent import sharding

    if a.process >= 0:
        sharding.initialize(f"127.0.0.1:{a.port}", a.processes, a.process)
    from jaxlatent.sharding import to_host

    arrays = {"device_count": np.asarray(jax.device_count())}
    for name, state in searches(a.workdir or None).items():
        for i, leaf in enumerate(jax.tree.leaves(to_host(state))):
            arrays[f"{name}/{i}"] = np.asarray(leaf)
    if a.embedded:
        for k, v in divrare(a.embedded, os.path.join(a.workdir, "divrare")).items():
            arrays[f"divrare/{k}"] = v
    if sharding.is_writer():
        np.savez(a.out, **arrays)


if __name__ == "__main__":
    main()
