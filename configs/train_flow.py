"""Train the feature density flow (DivRare's Glow, `small` preset) on real b = 0.98 features.

    python run.py --config=configs/train_flow.py --workdir=runs/train_flow

Needs the shipped feature network (configs/train_features.py). The official DivRareGen recipe is
Adam 1e-4, ×0.1 every 500 iterations, batch 32, 3000 iterations on 4096-d VGG features; the
embedded 64-d features train faster at 1e-3 (same schedule shape).
``:smoke`` shrinks it to a few steps (used by the tests).
"""

from jaxlatent.config_args import training_config


def get_config(arg=None):
    return training_config(
        arg, task="flow", steps=1500, batch_size=64, preset="small", learning_rate=1e-3,
        decay_every=500, decay=0.3, num_features=10000,
        data=dict(bias=0.98),  # the generator's training distribution plays "real data"
    )
