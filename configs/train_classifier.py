"""Train the evaluation-only attribute classifier (shape and colour heads) on balanced shapes.

    python run.py --config=configs/train_classifier.py --workdir=runs/train_classifier

Its balanced accuracy on 5000 b = 0.5 images is written to summary.json.
``:smoke`` shrinks it to a few steps (used by the tests).
"""

from jaxlatent.config_args import training_config


def get_config(arg=None):
    return training_config(
        arg, task="classifier", steps=2000, batch_size=32, learning_rate=1e-3, eval_size=5000,
        data=dict(bias=0.5),
    )
