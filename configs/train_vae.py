"""Train the shapes VAE (QDGS appendix A) on bias b = 0.98 shapes; its decoder is G(z).

    python run.py --config=configs/train_vae.py --workdir=runs/train_vae
    python run.py --config=configs/train_vae.py --workdir=runs/train_vae --config.export=True

``:smoke`` shrinks it to a few steps (used by the tests).
"""

from jaxlatent.config_args import training_config


def get_config(arg=None):
    return training_config(
        arg, task="vae", steps=2000, batch_size=32, learning_rate=1e-3,
        beta=1.0,  # KL weight of the ELBO
        eval_size=1000,
        data=dict(bias=0.98),  # the biased training set of the QDGS shapes experiment
    )
