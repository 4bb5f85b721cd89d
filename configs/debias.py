"""The QDGS colour-biased shapes debiasing experiment (paper Fig. 1, protocol peer-code.md §3.6).

    python run.py --config=configs/debias.py --workdir=runs/debias

Runs QDGS (``configs/qdgs.py``) into ``runs/debias/qdgs``, then for each b and seed trains the
QDGS shapes classifier on 1000 biased images and fine-tunes it on QDGS data vs random VAE samples,
evaluated on 5000 b = 0.5 images. Writes ``table.md``, ``accuracy.png``, ``summary.json`` and one
line per trial in ``metrics.jsonl`` (a re-run skips finished trials).

Arguments: ``seeds=N`` (default 3), ``size=32|64|128`` (classifier input in px; the official is
128, the default 32 keeps the 45 trainings within CPU minutes), ``qdgs_iters=N``,
``official`` (128 px and torchvision's black rotation fill), ``smoke`` (tiny, for the tests).
"""

import importlib.util
import os

import ml_collections

from jaxlatent.config_args import parse_arg


def _qdgs_config(arg: str):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "qdgs.py")
    spec = importlib.util.spec_from_file_location("jaxlatent_configs_qdgs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg)


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, official=False, seeds=3, size=32, qdgs_iters=3000)
    config = ml_collections.ConfigDict()
    config.name = "debias"
    config.method = "debias"
    config.qdgs = _qdgs_config(f"iters={arg.qdgs_iters}" + (",smoke" if arg.smoke else ""))
    config.biases = (0.98, 0.95, 0.90, 0.85, 0.80)
    config.seeds = tuple(range(arg.seeds))
    config.num_real = 1000
    config.num_eval = 5000
    config.eval_key = 10_000  # the b = 0.5 evaluation images, the same for every trial
    config.random_samples_key = 20_000  # the random-VAE-samples baseline dataset
    config.image_size = 128 if arg.official else arg.size
    fill = 0.0 if arg.official else 1.0  # torchvision RandomRotation fills black; ours white
    config.pretrain = dict(epochs=20, batch_size=128, learning_rate=1e-3, max_rotation=180.0, rotation_fill=fill)
    config.finetune = dict(epochs=30, batch_size=128, learning_rate=1e-3, max_rotation=180.0, rotation_fill=fill)
    if arg.smoke:
        config.biases = (0.98, 0.80)
        config.seeds = (0, 1)
        config.num_real = 40
        config.num_eval = 40
        config.pretrain.update(epochs=1, batch_size=16)
        config.finetune.update(epochs=1, batch_size=16)
    return config
