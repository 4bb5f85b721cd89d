"""BigGAN-AM (Li et al., ACCV 2020): search a class-conditional GAN's class embedding only.

    python run.py --config=configs/biggan_am.py                 # embedded shapes domain, CPU
    python run.py --config=configs/biggan_am.py:table           # the README's Table S1 analogue
    python run.py --config=configs/biggan_am.py:domain=biggan_pytorch,resolution=256 \
        --config.generator.path=biggan256.npz --config.classifier.path=alexnet.npz \
        --config.targets=904,                                     # window screen

Arguments after the colon: ``smoke`` (tests), ``table`` (3 trials, 500 evaluation images per
class and trial), ``full`` (the preset's protocol also on the embedded domain),
``preset=paper|official``, ``domain=shapes|biggan_pytorch``, ``resolution=128|256``,
``seed=N``, ``steps=N``, ``trials=N``. Presets (wave2-specs.md §0, §1.3; peer-code.md §2.3):

- ``paper``: 20 latents redrawn every 20 steps, 10 disjoint pairs, Adam (default betas, no
  decay), 200 steps, 5 trials per class, per-variant lr (AM-S 0.01, AM-L 0.1), λ = 2 with
  softmax φ for AM-D, the embedding projected onto the clamp range after every step.
- ``official``: 10 latents (5 pairs), Adam lr 0.1 with coupled L2 0.9 for every variant, 3
  trials, the clamp inside the graph, α = 0.1 for the diversity variants.

Outputs (docs/biggan_am.md): embeddings.npz (raw and clamped, per variant), grids, an
interpolation strip, table.md / table.json, curves, summary.json, report.md.
"""

import copy

import ml_collections

from jaxlatent.config_args import parse_arg
from jaxlatent.methods.biggan_am_setup import VARIANTS

PRESETS = {
    "paper": dict(num_steps=200, steps_per_z=20, z_num=20, trials=5, weight_decay=0.0,
                  clamp="project", noise_std=0.1, seed_z=0),
    "official": dict(num_steps=200, steps_per_z=20, z_num=10, trials=3, weight_decay=0.9,
                     clamp="in_graph", noise_std=0.1, seed_z=0),
}

# On the embedded domain (2-core CPU) by default: 100 steps, 10 latents redrawn every 10 steps,
# 2 trials (3 with ``table``); ``full`` keeps the preset's protocol (200 steps, 20 latents, 5
# trials, 1,000 evaluation images per class and trial).
CPU_BUDGET = dict(num_steps=100, steps_per_z=10, z_num=10)


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, table=False, full=False, preset="paper", domain="shapes",
                    resolution=256, seed=0, steps=0, trials=0)
    if arg.preset not in PRESETS:
        raise ValueError(f"unknown preset {arg.preset!r}; known: {sorted(PRESETS)}")
    config = ml_collections.ConfigDict()
    config.name = f"biggan_am_{arg.domain}" + ("_table" if arg.table else "")
    config.method = "biggan_am"
    config.domain = arg.domain
    config.preset = arg.preset
    config.seed = arg.seed
    config.search = dict(PRESETS[arg.preset])
    shapes = arg.domain == "shapes"
    if shapes and not arg.full:  # the CPU budget of the embedded domain (docs/biggan_am.md)
        config.search.update(CPU_BUDGET, trials=3 if arg.table else 2)
    if arg.steps:
        config.search.num_steps = arg.steps
    if arg.trials:
        config.search.trials = arg.trials
    config.variants = _variants(arg.preset)
    config.chunk_size = 50
    config.resolution = 32 if shapes else arg.resolution
    config.generator = dict(name="shapes_biggan_am_generator" if shapes else "biggan", path="")
    config.classifier = dict(name="shapes_biggan_am_classifier" if shapes else "alexnet",
                             path="", head_path="", head_tap="fc2", input_size=224)
    # Target classes (None: every class of the shapes GAN); on ImageNet name them.
    config.targets = (0, 1, 2, 3) if shapes else (904,)
    config.run_variants = ("am_s", "am_l", "am_d_s", "am_d_l", "am_l_top")
    config.eval = dict(num_samples=1000 if arg.full else 500 if arg.table else 200, num_pairs=200, mix_with="am_s",
                       noise_small=0.1, noise_large=0.3, seed=1, msssim_win=7, msssim_levels=3,
                       held_out=(3,) if shapes else ())  # classes G never saw (re-purposing)
    config.grid = dict(per_row=8, interp_steps=8, interp_latents=3)
    if arg.smoke:
        config.search.update(num_steps=4, steps_per_z=2, trials=2, z_num=4)
        config.run_variants = ("am_s", "am_d_l")
        config.targets = (0, 3) if shapes else config.targets
        config.eval.update(num_samples=16, num_pairs=8)
        config.chunk_size = 2
    return config


def _variants(preset: str) -> dict:
    out = copy.deepcopy(VARIANTS)
    if preset == "official":  # one lr and the code's alpha for every variant
        for v in out.values():
            v.update(lr=0.1, lam=0.1 if v["phi"] else 0.0)
    return out
