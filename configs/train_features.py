"""Train the shapes feature network (denoising autoencoder, 64-d bottleneck) on balanced shapes.

    python run.py --config=configs/train_features.py --workdir=runs/train_features

The network never sees shape or colour labels; see ``jaxlatent/models/shapes_features.py``.
``:smoke`` shrinks it to a few steps (used by the tests).
"""

import ml_collections

from jaxlatent.config_args import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, seed=0, steps=1000)
    config = ml_collections.ConfigDict()
    config.name = "train_features"
    config.method = "train"
    config.task = "features"
    config.seed = arg.seed
    config.export = False  # True: copy the result into jaxlatent/weights/ (what ships)
    config.train = dict(
        num_steps=arg.steps,
        chunk_size=100,
        batch_size=32,
        learning_rate=1e-3,
        noise_std=0.1,
        eval_size=1000,
        data=dict(bias=0.5),  # balanced: a generic extractor, like ImageNet VGG for faces
    )
    if arg.smoke:
        config.train.update(num_steps=4, chunk_size=2, batch_size=4, eval_size=8)
    return config
