"""Train the shapes VAE (QDGS appendix A) on bias b = 0.98 shapes; its decoder is G(z).

    python run.py --config=configs/train_vae.py --workdir=runs/train_vae
    python run.py --config=configs/train_vae.py --workdir=runs/train_vae --config.export=True

``:smoke`` shrinks it to a few steps (used by the tests).
"""

import ml_collections

from jaxlatent.config_args import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, seed=0, steps=2000)
    config = ml_collections.ConfigDict()
    config.name = "train_vae"
    config.method = "train"
    config.task = "vae"
    config.seed = arg.seed
    config.export = False  # True: copy the result into jaxlatent/weights/ (what ships)
    config.train = dict(
        num_steps=arg.steps,
        chunk_size=100,
        batch_size=32,
        learning_rate=1e-3,
        beta=1.0,  # KL weight of the ELBO
        eval_size=1000,
        data=dict(bias=0.98),  # the biased training set of the QDGS shapes experiment
    )
    if arg.smoke:
        config.train.update(num_steps=4, chunk_size=2, batch_size=4, eval_size=8)
    return config
