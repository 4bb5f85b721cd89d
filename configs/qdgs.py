"""QDGS (Chang et al., AAAI 2024) on the embedded shapes domain: CMA-MAEGA over the VAE latent.

    python run.py --config=configs/qdgs.py --workdir=runs/qdgs

Archive and emitter settings are QDGS's shapes settings (peer-code.md §3.5); the quality and the
two measures come from embedded networks instead of CLIP (see
``jaxlatent/objectives/qdgs_shapes.py``). QDGS ran 70,000 iterations; the default here is 3,000.
``:smoke`` shrinks it to a few iterations (used by the tests).
"""

import ml_collections

from jaxlatent.config_args import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, seed=0, iters=3000)
    config = ml_collections.ConfigDict()
    config.name = "qdgs"
    config.method = "qdgs"
    config.seed = arg.seed
    config.generator = dict(name="shapes_generator", path="")
    config.features = dict(name="shapes_features", path="")
    config.flow = dict(name="shapes_flow", path="")
    config.classifier = dict(name="", path="")  # not used by the search
    config.feature_mode = "embedded"
    config.realism_weight = 1.0  # penalty for empty / splattered images (0 = flow quality only)
    config.num_iters = arg.iters
    config.chunk_size = 100
    config.num_start_draws = 512  # QDGS find_good_start_latent: 32 batches of 16
    config.archive = dict(
        dims=(50, 50),
        ranges=((-0.8, 0.5), (-0.7, 0.45)),  # colour (redness), squareness h4 − h3
        learning_rate=0.02,  # CMA-MAE alpha
        threshold_min=0.0,
    )
    config.emitter = dict(sigma0=0.5, lr=0.5, batch_size=3, num_emitters=1)
    config.label_margin = 0.01  # QDGS drops the images with measure in (-0.01, 0)
    if arg.smoke:
        config.num_iters = 4
        config.chunk_size = 2
        config.num_start_draws = 16
    return config
