"""The DivRare `:stylegan2` variant end-to-end on converted-format, random-init, small
checkpoints (StyleGAN2 generator, VGG16, flow) given as local paths, with the official feature
mode ([-1, 1], torch-nearest resize to 224, no ImageNet normalisation)."""

import os

import jax
import numpy as np

from conftest import load_config
from jaxlatent import experiment
from jaxlatent import params as params_io
from jaxlatent.models import glow
from jaxlatent.models.registry import load_model
from jaxlatent.models.stylegan2.builders import make_random_checkpoint

VGG_SMALL = {"width": 1 / 16, "hidden": 64}


def test_divrare_stylegan2_variant_runs_on_converted_small_checkpoints(tmp_path):
    g_path, vgg_path, flow_path, real_path = (str(tmp_path / n) for n in
                                              ("g.npz", "vgg16.npz", "flow.npz", "real.npz"))
    make_random_checkpoint(g_path, jax.random.key(0), size=16, style_dim=16, n_mlp=2,
                           channels={4: 16, 8: 16, 16: 8})
    vgg = load_model("vgg16", key=jax.random.key(1), **VGG_SMALL)
    params_io.save_params(vgg_path, vgg.params)
    model = glow.make_glow("small", n_features=64)
    variables = model.init(jax.random.key(2), np.zeros((2, 64), np.float32))
    glow.save_flow(flow_path, model, variables,
                   {"data_min": np.zeros(64, np.float32), "data_range": np.ones(64, np.float32)})
    np.savez(real_path, feature=np.abs(np.random.default_rng(0).normal(size=(64, 64))).astype(np.float32))

    config = load_config("divrare", "stylegan2,smoke")
    config.generator.path = g_path
    config.features.path = vgg_path
    config.features.options = VGG_SMALL
    config.flow.path = flow_path
    config.data.real_features = real_path
    config.data.num_fake = 64
    summary = experiment.run(config, str(tmp_path / "run"))
    with np.load(tmp_path / "run" / "latents.npz") as f:
        assert f["starts"].shape == (2, 3, 16)  # [references, starts, z_dim]
        assert np.all(np.isfinite(f["final_latents"]))
    assert os.path.exists(tmp_path / "run" / "references.png")
    assert summary["num_real"] == 64
