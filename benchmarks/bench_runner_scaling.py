"""Runner throughput against the number of problems G and the device count; runner overhead.

    python benchmarks/bench_runner_scaling.py                      # G = 1..256, 1 device
    XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/bench_runner_scaling.py --devices 1,2,4,8

Objective: a small MLP "generator" (latent 64 → 256 → 256 → 64) and a squared distance to a
per-problem target, one Adam step per iteration on N = 4 starts per problem. Printed, all
measured warm (compiled before timing, compile time reported separately), in one run:

1. iterations/s and problem-iterations/s for G in 1, 4, 16, 64, 256, and the ratio to G = 1
   (ideal batching: per-problem cost falls until the machine is busy);
2. for G = 256, the step time on meshes of 1, 2, 4, … devices and the speed-up against 1 device
   (on forced CPU devices all "devices" share the same cores: this measures the sharding
   overhead, not a speed-up);
3. the runner's overhead: the jitted runner step vs a bare jitted ``value_and_grad`` + Adam
   update of the same objective on the same ``[G, N, 64]`` batch (ratio > 1 = runner slower).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from jaxlatent import loop, sharding  # noqa: E402
from jaxlatent.search import gradient, runner  # noqa: E402

D, H, N = 64, 256, 4


def make_ctx(key):
    k1, k2, k3 = jax.random.split(key, 3)
    return {"w1": jax.random.normal(k1, (D, H)) / 8, "w2": jax.random.normal(k2, (H, H)) / 16,
            "w3": jax.random.normal(k3, (H, D)) / 16}


def generate(ctx, z):
    h = jnp.tanh(z @ ctx["w1"])
    h = jnp.tanh(h @ ctx["w2"])
    return h @ ctx["w3"]


def objective(z, ctx, *, key=None):
    return jnp.sum((generate(ctx, z) - ctx["target"]) ** 2), {}


def _time(fn, repeats):
    jax.block_until_ready(fn())
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    jax.block_until_ready(out)
    return (time.perf_counter() - t0) / repeats


def runner_step_fn(g, mesh, ctx):
    """A warm, repeatable call of the runner's jitted step on G problems (state donated)."""
    targets = jax.random.normal(jax.random.key(1), (g, D))
    z0 = jax.random.normal(jax.random.key(2), (g, N, D))
    run = runner.prepare(gradient.adam(1e-2), runner.Problem(objective), jax.random.key(0), z0,
                         ctx, problem_ctx={"target": targets}, mesh=mesh)
    step = jax.jit(run.step, donate_argnums=(0,))
    box = {"s": run.state}

    def call():
        box["s"], m = step(box["s"], jnp.int32(0), run.inputs)
        return m["loss"]

    t0 = time.perf_counter()
    jax.block_until_ready(call())
    return call, time.perf_counter() - t0


def bare_step_fn(g, ctx):
    tx = optax.adam(1e-2)
    targets = jax.random.normal(jax.random.key(1), (g, D))
    z = jax.random.normal(jax.random.key(2), (g, N, D))

    def loss(z):
        per = jax.vmap(jax.vmap(lambda zz, t: objective(zz, {**ctx, "target": t})[0],
                                in_axes=(0, None)))(z, targets)
        return jnp.sum(per)

    @jax.jit
    def step(z, opt):
        value, grads = jax.value_and_grad(loss)(z)
        updates, opt = tx.update(grads, opt, z)
        return optax.apply_updates(z, updates), opt, value

    box = {"z": z, "o": tx.init(z)}

    def call():
        box["z"], box["o"], v = step(box["z"], box["o"])
        return v

    return call


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--problems", default="1,4,16,64,256")
    p.add_argument("--devices", default="1")
    p.add_argument("--repeats", type=int, default=20)
    a = p.parse_args()
    ctx = make_ctx(jax.random.key(3))
    print(f"backend {jax.default_backend()}, {jax.device_count()} device(s); scan chunks: "
          f"{loop.use_scan()}; MLP {D}-{H}-{H}-{D}, N = {N} starts per problem, Adam")
    mesh1 = sharding.problem_mesh(jax.devices()[:1])
    print("\n1. problems G on 1 device")
    print("| G | compile s | ms / iteration | problem-iterations / s | per-problem speed-up vs G = 1 |")
    print("|---|---|---|---|---|")
    base = None
    for g in map(int, a.problems.split(",")):
        call, compile_s = runner_step_fn(g, mesh1, ctx)
        t = _time(call, a.repeats)
        base = base or t
        print(f"| {g} | {compile_s:.2f} | {1e3 * t:.2f} | {g / t:.0f} | {g * base / t:.1f}× |")
    g = max(map(int, a.problems.split(",")))
    print(f"\n2. G = {g} on meshes of several devices")
    print("| devices | ms / iteration | speed-up vs 1 device |")
    print("|---|---|---|")
    one = None
    for n in map(int, a.devices.split(",")):
        if n > jax.device_count():
            print(f"| {n} | (only {jax.device_count()} devices) | – |")
            continue
        call, _ = runner_step_fn(g, sharding.problem_mesh(jax.devices()[:n]), ctx)
        t = _time(call, a.repeats)
        one = one or t
        print(f"| {n} | {1e3 * t:.2f} | {one / t:.2f}× |")
    print(f"\n3. runner overhead at G = {g}, 1 device (same objective, same batch)")
    call, _ = runner_step_fn(g, mesh1, ctx)
    t_runner = _time(call, a.repeats)
    bare = bare_step_fn(g, ctx)
    t_bare = _time(bare, a.repeats)
    print(f"runner step {1e3 * t_runner:.2f} ms, bare value_and_grad + Adam {1e3 * t_bare:.2f} ms: "
          f"runner / bare = {t_runner / t_bare:.2f}")


if __name__ == "__main__":
    main()
