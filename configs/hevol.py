"""HEVOL in the browser (inspirational generation §3.4, §5.5): pick images, the evolution follows.

    python run.py --config=configs/hevol.py                  # PGAN on shapes, paper preset
    python run.py --config=configs/hevol.py:preset=fashion               # pick 1 of 16
    python run.py --config=configs/hevol.py:preset=notebook              # official notebook variant
    python run.py --config=configs/hevol.py --config.generator.name=shapes_vae   # the 6-d VAE
    python run.py --config=configs/hevol.py --config.generator.name=stylegan2_generator \
      --config.generator.path=/data/sg2.npz --workdir=runs/hevol_sg2     # a converted checkpoint

Arguments (after the colon): ``preset=paper|notebook|fashion``, ``seed=N``, ``port=N``, ``smoke``
(port 0: any free port, for tests).
The command prints the URL; re-running it on the same workdir resumes the session.
"""

import ml_collections

from jaxlatent.config_args import parse_arg

SHAPES_CLASSES = "red triangle,blue triangle,red square,blue square"


def get_config(arg=None):
    arg = parse_arg(arg, preset="paper", seed=0, port=8765, smoke=False)
    config = ml_collections.ConfigDict()
    config.name = f"hevol_{arg.preset}"
    config.method = "hevol"
    config.seed = arg.seed
    # Any registered generator: shapes_pgan_generator (class-conditional, 4 classes),
    # shapes_vae / shapes_generator (6-d VAE decoder), shapes_biggan_generator, or a converted
    # pgan_generator / biggan / stylegan2_generator with generator.path.
    config.generator = dict(
        name="shapes_pgan_generator",
        path="",
        class_index=0,  # the class rendered first (class-conditional generators)
        class_names=SHAPES_CLASSES,  # comma-separated; used when the count matches the model's
    )
    # The strategy (jaxlatent/search/population/hevol.py); mu/lam/... 0 keep the preset's value.
    config.search = dict(name="hevol", preset=arg.preset, mu=0, lam=0, mutation_rate=0.0)
    config.server = dict(
        host="127.0.0.1",  # "0.0.0.0" makes the page reachable from other machines
        port=0 if arg.smoke else arg.port,  # 0: any free port (printed)
        max_side=256,  # images larger than this are shrunk for the page (downloads are full size)
    )
    return config
