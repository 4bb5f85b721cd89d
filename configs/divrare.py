"""DivRare (Lee et al., AAAI 2025): diverse rare samples by multi-start latent search.

    python run.py --config=configs/divrare.py --workdir=runs/divrare            # embedded shapes
    python run.py --config=configs/divrare.py:ablation --workdir=runs/ablation  # README table
    python run.py --config=configs/divrare.py:stylegan2 --workdir=runs/dr_sg2 \
      --config.generator.path=/data/sg2.npz --config.features.path=/data/vgg16.npz \
      --config.flow.path=/data/flow.npz --config.data.real_features=/data/ffhq_vgg.npz

Arguments (after the colon, comma-separated): ``smoke`` (tiny, for tests), ``ablation``
(L_rare / +L_sim / +L_sim+L_div), ``stylegan2`` (converted StyleGAN2 + VGG16 checkpoints from
local paths, the official feature mode), ``seed=N``.
"""

import ml_collections

from jaxlatent.config_args import parse_arg


def get_config(arg=None):
    arg = parse_arg(arg, smoke=False, ablation=False, stylegan2=False, seed=0)
    config = ml_collections.ConfigDict()
    config.name = "divrare"
    config.method = "divrare"
    config.seed = arg.seed
    config.ablation = arg.ablation

    # Networks: the embedded shapes domain (weights ship with the package).
    config.generator = dict(name="shapes_generator", path="")
    config.features = dict(name="shapes_features", path="")
    config.flow = dict(name="shapes_flow", path="")
    config.classifier = dict(name="shapes_classifier", path="")  # evaluation only; name "" for none
    config.feature_mode = "embedded"  # "divrare_official": [-1,1], torch-nearest 224, no ImageNet norm

    config.data = dict(
        real_features="",  # npz with key "feature" [N, D] (DivRareGen's feature_extraction.py format)
        num_real=5000,  # real bank: rendered shapes at the generator's training bias
        bias=0.98,
        num_fake=5000,  # fake bank for d*
        k=3,  # k-NN radius for the real manifold (rarity, acceptance)
    )
    config.search = dict(
        num_references=8,  # G: references z* ~ N(0, I)
        num_starts=5,  # N starts per reference (official: 10)
        start_sigma=0.1,  # z0 = z* + 0.1·ε (official rand_scale)
        k_prime=100,  # d* = distance to the k'-th neighbour in the fake bank (paper: 100)
        num_steps=200,  # official: 201 (range(epoch + 1))
        chunk_size=25,  # steps per compiled chunk / checkpoint
        optimizer=dict(name="adam", learning_rate=2e-2, decay_every=0, decay_factor=0.9),
        # optimizer.decay_every=50 gives the official opt-in StepLR(50, 0.9).
        # Any registered strategy (jaxlatent.search.registry): a gradient name uses `optimizer`'s
        # options; a gradient-free one (de, two_points_de, dde, one_plus_one, cma, pso, ...)
        # searches whole sets of N starts, z = start + scale·u, with `population`'s options
        # (docs/gradient_free.md); num_steps is then the number of iterations of P sets each.
        name="adam",
        population=dict(population=0, scale=0.5),  # population 0: the strategy's default P
    )
    config.loss = dict(
        lambda1=30.0,  # similarity weight (paper/official default 30)
        lambda2=0.002,  # diversity weight (paper/official default 0.002)
        reference_scaling=False,  # True: the official code's effective n·λ1, n·λ2 (see README)
        torch_eps=False,  # True: F.pairwise_distance's +1e-6 in d(f_i, f_i⁰)
    )

    if arg.stylegan2:
        config.generator.name = "stylegan2_generator"
        config.features.name = "vgg16"
        config.flow.name = "shapes_flow"  # a converted/trained flow file via --config.flow.path
        config.classifier.name = ""
        config.feature_mode = "divrare_official"
        config.search.num_starts = 10
        config.search.num_steps = 201
    if arg.smoke:
        config.data.update(num_real=300, num_fake=300)
        config.search.update(num_references=2, num_starts=3, num_steps=4, chunk_size=2, k_prime=10)
    return config
