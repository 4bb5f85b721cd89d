"""HEVOL: round latency of the web app on CPU, and the scripted-user curves of the README.

    JAX_PLATFORMS=cpu python benchmarks/bench_hevol_round.py --what=latency
    JAX_PLATFORMS=cpu python benchmarks/bench_hevol_round.py --what=scripted \
      --figure=docs/images/hevol_scripted.png --grid=docs/images/hevol_scripted_parents.png

``latency``: per embedded generator, a session behind Flask's test client (no network); after
two warm-up rounds (compilation), ``--rounds`` timed POST /api/round requests: tell, the atomic
state files, ask, the **one batched render call** of the 28 images, PNG encoding and the JSON
answer. The render call alone is timed too. Medians and the range are printed.

``scripted``: `jaxlatent.hevol.scripted.curves` (target x* = G(z*), the user picks the μ closest
by pixel RMSE, or μ at random with repeats) on the shipped PGAN, class "red square", for each
preset; prints the mean ± s.e. over ``--seeds`` of the parent's distance per round and draws
them with `jaxlatent.plots.errorbar_lines`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlatent import outputs, plots
from jaxlatent.hevol import scripted
from jaxlatent.hevol.app import create_app
from jaxlatent.hevol.render import load_renderer
from jaxlatent.hevol.session import Session
from jaxlatent.search.host import HostDriver
from jaxlatent.search.population.hevol import PRESETS, Hevol

GENERATORS = ("shapes_pgan_generator", "shapes_biggan_generator", "shapes_vae")


def latency(rounds: int) -> None:
    print("| generator | d | image px | render 28 images (one call), median ms | round "
          "(POST /api/round), median ms [min, max] |")
    print("|---|---|---|---|---|")
    for name in GENERATORS:
        renderer = load_renderer({"name": name})
        with tempfile.TemporaryDirectory() as root:
            session = Session(Hevol(**PRESETS["paper"]), renderer, root)
            client = create_app(session).test_client()
            times = []
            for r in range(rounds + 2):
                body = json.dumps({"round": r, "picks": [0, 1, 1, 2, 3]})
                t = time.perf_counter()
                resp = client.post("/api/round", data=body, content_type="application/json")
                times.append(time.perf_counter() - t)
                assert resp.status_code == 200, resp.get_json()
            z = session.candidates()
            render = []
            for _ in range(rounds):
                t = time.perf_counter()
                renderer.render(z, 0)
                render.append(time.perf_counter() - t)
        ms = 1000 * np.asarray(times[2:])
        print(f"| {name} | {renderer.latent_dim} | {renderer.resolution} | "
              f"{1000 * np.median(render):.0f} | {np.median(ms):.0f} "
              f"[{ms.min():.0f}, {ms.max():.0f}] |")


def parents_grid(renderer, path: str, rounds: int, seed: int = 0) -> None:
    """Target, then the parent after each round of the paper preset (closest picks), one row."""
    _, target = scripted.target_image(renderer, seed, 2)
    s = Hevol(**PRESETS["paper"])
    driver = HostDriver(s, jax.random.key(seed), jnp.zeros(renderer.latent_dim))
    parents = []
    for _ in range(rounds + 1):
        cands = driver.ask()
        imgs = renderer.render(cands, 2)
        parents.append(imgs[0])
        d = scripted.pixel_rmse(imgs, target)
        driver.tell(-np.bincount(np.argsort(d)[: s.mu], minlength=len(cands)).astype(np.float32))
    row = np.stack([target] + parents)
    outputs.save_image_grid(path, [row], (0, 255), scale=3,
                            title="scripted user (5 closest of 28): target | parent of "
                                  "round r (r0: ẑ₀ = 0)",
                            captions=[["target"] + [f"r{r}" for r in range(rounds + 1)]])
    print(f"wrote {path}")


def scripted_curves(seeds: int, rounds: int, figure: str | None, grid: str | None) -> None:
    renderer = load_renderer({"name": "shapes_pgan_generator"})
    if grid:
        parents_grid(renderer, grid, rounds)
    series = {}
    print("| preset | picker | " + " | ".join(f"round {r}" for r in range(0, rounds + 1, 2)) + " |")
    print("|---|---|" + "---|" * (rounds // 2 + 1))
    for preset in ("paper", "fashion", "notebook"):
        s = Hevol(**PRESETS[preset])
        out = scripted.curves(s, renderer, seeds=range(seeds), rounds=rounds, class_index=2)
        for picker, dist in out.items():
            mean, se = dist.mean(0), dist.std(0, ddof=1) / np.sqrt(len(dist))
            series[f"{preset} (μ={s.mu} of {s.population}), {picker} picks"] = (mean, se)
            cells = " | ".join(f"{mean[r]:.3f} ± {se[r]:.3f}" for r in range(0, rounds + 1, 2))
            print(f"| {preset} | {picker} | {cells} |")
    if figure:
        plots.errorbar_lines(figure, np.arange(rounds + 1), series, x_label="round",
                             y_label="pixel RMSE of the parent G(ẑ) to the target",
                             title=f"Scripted HEVOL user, shipped PGAN, {seeds} targets x* = G(z*) "
                                   "(mean ± s.e.)")
        print(f"wrote {figure}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--what", choices=("latency", "scripted"), required=True)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--figure", default=None, help="curves figure (png)")
    parser.add_argument("--grid", default=None, help="target and parents of one run (png)")
    args = parser.parse_args()
    if args.what == "latency":
        latency(args.rounds)
    else:
        scripted_curves(args.seeds, args.rounds, args.figure, args.grid)


if __name__ == "__main__":
    main()
