"""Train the shapes feature network (denoising autoencoder, 64-d bottleneck) on balanced shapes.

    python run.py --config=configs/train_features.py --workdir=runs/train_features

The network never sees shape or colour labels; see ``jaxlatent/models/shapes_features.py``.
``:smoke`` shrinks it to a few steps (used by the tests).
"""

from jaxlatent.config_args import training_config


def get_config(arg=None):
    return training_config(
        arg, task="features", steps=1000, batch_size=32, learning_rate=1e-3, noise_std=0.1,
        eval_size=1000,
        data=dict(bias=0.5),  # balanced: a generic extractor, like ImageNet VGG for faces
    )
