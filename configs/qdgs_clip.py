"""QDGS faces (Chang et al., AAAI 2024): CMA-MAEGA over StyleGAN2 W+ q-space, CLIP prompts.

    python run.py --config=configs/qdgs_clip.py --workdir=runs/qdgs_faces \
      --config.generator.path=stylegan2_ffhq256.npz --config.clip.path=clip_vit_b32.npz

Both checkpoints are local files made by ``weights_convert/stylegan2.py`` (NVIDIA's
``stylegan2-ffhq-256x256.pkl``, ``--format nvlabs``) and ``weights_convert/clip.py`` (OpenAI's
``ViT-B-32.pt``); see docs/qdgs_clip.md. Defaults are the official faces run
(``generate_data.py``, peer-code.md §3.4–3.5): prompts, weights [1, 0.5, 0.2], grid
[50, 25, 5, 25] on ±0.1, α = 0.02, σ0 = 0.5, Adam lr 0.5, 3 branches, 60,000 iterations.
Arguments: ``smoke`` (tiny archive and run, for tests), ``seed=N``, ``iters=N``.
"""

import ml_collections

from jaxlatent.config_args import parse_arg
from jaxlatent.objectives import qdgs_clip


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, seed=0, iters=60_000)
    config = ml_collections.ConfigDict()
    config.name = "qdgs_clip"
    config.method = "qdgs"
    config.domain = "stylegan2_clip"  # jaxlatent.methods.qdgs_clip_setup
    config.seed = arg.seed
    config.generator = dict(name="stylegan2_generator", path="")  # converted .npz (required)
    config.clip = dict(name="clip_vit_b32", path="")  # converted .npz (required)
    config.prompts = dict(
        objective=qdgs_clip.FACES_OBJECTIVE,  # (positive, negative); "a | b" sums two prompts
        measures=qdgs_clip.FACES_MEASURES,  # one (positive, negative) pair per archive dim
    )
    config.weights = qdgs_clip.FACES_WEIGHTS  # prompt, q-norm regulariser, uniqueness
    config.q_space = dict(
        num_samples=10_000,  # mapped z for sigma_w and q_norm
        q_norm_scale=0.5,  # official; its comment lists 0.2 and 0.15
        start_batches=32,  # find_good_start_latent: 32 batches of 16 draws at psi 0.7
        start_batch_size=16,
        start_psi=0.7,
    )
    config.cutouts = dict(mode="random", cutn=1, cut_pow=0.5)  # "center_full": deterministic
    config.memory = dict(capacity=100)  # uniqueness FIFO (used when weights[2] > 0)
    config.archive = dict(
        dims=(50, 25, 5, 25),
        ranges=((-0.1, 0.1),) * 4,
        learning_rate=0.02,  # CMA-MAE alpha
        threshold_min=0.0,
    )
    config.emitter = dict(sigma0=0.5, lr=0.5, batch_size=3, num_emitters=1)
    config.num_iters = arg.iters
    config.chunk_size = 1000  # a checkpoint holds both dense archives (2 x 4.5 GB at 256 px)
    config.label_bins = (-0.03, 0.03)  # dataset labels: skin x gender bins (official write_data)
    if arg.smoke:
        config.q_space.update(num_samples=256, start_batches=2, start_batch_size=4)
        config.archive.dims = (5, 5, 2, 2)
        config.num_iters = 4
        config.chunk_size = 2
    return config
