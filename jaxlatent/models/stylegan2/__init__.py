"""StyleGAN2 (config-e/f) generator and discriminator in Flax, converted from rosinality or NVlabs.

Registry names: ``stylegan2_generator`` / ``stylegan2_discriminator``. See docs/stylegan2.md.
"""

from jaxlatent.models.stylegan2.builders import (
    build_discriminator,
    build_generator,
    estimate_w_stats,
    estimate_w_std,
    make_random_checkpoint,
    mean_latent,
)
from jaxlatent.models.stylegan2.mapping import q_to_wplus, truncate, wplus_to_q
from jaxlatent.models.stylegan2.presets import PRESETS, preset

__all__ = [
    "PRESETS",
    "build_discriminator",
    "build_generator",
    "estimate_w_stats",
    "estimate_w_std",
    "make_random_checkpoint",
    "mean_latent",
    "preset",
    "q_to_wplus",
    "truncate",
    "wplus_to_q",
]
