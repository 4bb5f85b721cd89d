"""Train the evaluation-only attribute classifier (shape and colour heads) on balanced shapes.

    python run.py --config=configs/train_classifier.py --workdir=runs/train_classifier

Its balanced accuracy on 5000 b = 0.5 images is written to summary.json.
``:smoke`` shrinks it to a few steps (used by the tests).
"""

import ml_collections

from jaxlatent.config_args import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, seed=0, steps=2000)
    config = ml_collections.ConfigDict()
    config.name = "train_classifier"
    config.method = "train"
    config.task = "classifier"
    config.seed = arg.seed
    config.export = False  # True: copy the result into jaxlatent/weights/ (what ships)
    config.train = dict(
        num_steps=arg.steps,
        chunk_size=100,
        batch_size=32,
        learning_rate=1e-3,
        eval_size=5000,
        data=dict(bias=0.5),
    )
    if arg.smoke:
        config.train.update(num_steps=4, chunk_size=2, batch_size=4, eval_size=8)
    return config
