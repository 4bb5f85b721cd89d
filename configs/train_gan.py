"""Train a tiny GAN (G and D) on 32 px shapes: ``arch=pgan|biggan|stylegan2|biggan_am``.

    python run.py --config=configs/train_gan.py:arch=pgan --workdir=runs/train_gan_pgan \
        --config.export=True   # ships shapes_pgan_generator.npz + shapes_pgan_discriminator.npz

Images are 128 px shapes 4x4-average-pooled to 32 px, on the balanced (b = 0.5) domain; PGAN and
BigGAN are conditioned on the 4 shape-colour classes, StyleGAN2 is unconditional (its port has no
class input). Losses and Adam settings are each architecture's official ones (see
`jaxlatent.training.gan`). PGAN trains at a fixed 32 px scale, without progressive growing.
``:smoke`` runs 4 steps (used by the tests). The workdir gets params.npz (G), discriminator.npz,
samples.png (a row per class) and summary.json (class consistency, feature Fréchet distance).
"""

from jaxlatent.config_args import training_config

ARCHS = {
    # pytorch_GAN_zoo pgan_config.py: miniBatchSize 16, baseLearningRate 1e-3, betas (0, 0.99),
    # lambdaGP 10, epsilonD 0.001; weightCondition 1.0 as the zoo's datasets.py sets for AC-GAN.
    "pgan": dict(
        steps=3600, batch_size=16, g_lr=1e-3, d_lr=1e-3, betas=(0.0, 0.99), adam_eps=1e-8,
        d_steps=1, ema_decay=0.999, ema_start=0,
        loss=dict(lambda_gp=10.0, epsilon_drift=0.001, class_weight=16.0),
        model=dict(noise_dim=32, depth_scale0=32, depth_other_scales=[32, 16, 16]),
    ),
    # BigGAN-PyTorch scripts/launch_cifar_ema.sh: G/D lr 2e-4, betas (0, 0.999), N(0, 0.02)
    # init, EMA from step 1000 (decay 0.999 instead of 0.9999: short runs). D steps per G step:
    # 2 (train.py's default num_D_steps) instead of the script's 4, batch 16 instead of 50 (CPU).
    "biggan": dict(
        steps=2500, batch_size=16, g_lr=2e-4, d_lr=2e-4, betas=(0.0, 0.999), adam_eps=1e-8,
        d_steps=2, ema_decay=0.999, ema_start=1000, loss=dict(),
        model=dict(g_ch=8, d_ch=8, dim_z=32, shared_dim=32),
    ),
    # rosinality train.py: lr 2e-3, betas (0, 0.99), EMA 0.5 ** (batch / 10k); R1 gamma from
    # stylegan2-ada's auto config, 0.0002 * res**2 / batch.
    "stylegan2": dict(
        steps=3000, batch_size=16, g_lr=2e-3, d_lr=2e-3, betas=(0.0, 0.99), adam_eps=1e-8,
        d_steps=1, ema_decay=0.5 ** (16 / 10_000), ema_start=0,
        loss=dict(r1_gamma=0.0002 * 32**2 / 16),
        model=dict(style_dim=64, n_mlp=2, channels=[64, 64, 32, 32]),
    ),
}


# Variants: an arch's recipe on other data, shipped under another name. ``biggan_am`` is the
# BigGAN-AM test bed (docs/biggan_am.md): red triangles rare (5 % of the data: a weak class to
# repair) and blue squares absent (a held-out class to re-purpose to); real and fake classes are
# drawn from these masses (`jaxlatent.training.gan.sample_classes`).
VARIANTS = {
    "biggan_am": dict(base="biggan", weights_name="shapes_biggan_am",
                      data=dict(bias=0.5, class_probs=(0.05, 0.475, 0.475, 0.0))),
}


def get_config(arg=None):
    items = [item for item in (arg or "").split(",") if item]
    arch = "pgan"
    for item in items:
        if item.strip().startswith("arch="):
            arch = item.split("=", 1)[1].strip()
    if arch not in ARCHS and arch not in VARIANTS:
        raise ValueError(f"unknown GAN arch {arch!r}; known: {sorted(ARCHS) + sorted(VARIANTS)}")
    variant = dict(VARIANTS.get(arch, {}))
    base = variant.pop("base", arch)
    spec = {"data": dict(bias=0.5), **ARCHS[base], **variant}
    rest = ",".join(item for item in items if not item.strip().startswith("arch="))
    config = training_config(rest, task="gan", steps=spec.pop("steps"), arch=base, resolution=32,
                             eval_size=2000, **spec)
    config.name = f"train_gan_{arch}"
    config.train.export = config.get_ref("export")  # the task also ships the discriminator
    return config
