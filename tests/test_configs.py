"""Every config loads (with and without ``smoke``); training configs run end-to-end via run's
entry point; unknown names and arguments fail with clear errors."""

import glob
import os

import numpy as np
import pytest

from conftest import load_config
from jaxlatent import experiment
from jaxlatent.config_args import parse_arg

CONFIGS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "configs", "*.py")))


def load(path, arg=None):
    return load_config(os.path.basename(path)[:-3], arg)


def test_there_are_configs():
    names = {os.path.basename(p) for p in CONFIGS}
    assert {"divrare.py", "train_vae.py", "train_features.py", "train_classifier.py",
            "train_flow.py"} <= names


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_loads_and_names_a_known_method(path):
    for arg in (None, "smoke"):
        config = load(path, arg)
        assert config.method in experiment.METHODS


@pytest.mark.parametrize("name", ["train_vae", "train_features", "train_classifier", "train_flow"])
def test_training_config_smoke_run_writes_weights(tmp_path, name):
    config = load_config(name, "smoke")
    summary = experiment.run(config, str(tmp_path))
    assert os.path.exists(tmp_path / "params.npz")
    assert os.path.exists(tmp_path / "summary.json") and os.path.exists(tmp_path / "metrics.jsonl")
    assert summary["num_steps"] == config.train.num_steps
    assert "exported_to" not in summary  # export is opt-in
    from PIL import Image

    curves = np.asarray(Image.open(tmp_path / "curves.png").convert("L"), np.float32)
    assert curves.std() > 10 and (curves < 128).mean() > 0.005  # axes, ticks and lines drawn
    assert "![" in open(tmp_path / "report.md").read()


def test_unknown_config_argument_is_an_error():
    with pytest.raises(ValueError, match="unknown config argument 'smok'"):
        parse_arg("smok", smoke=False)


def test_unknown_method_is_an_error(tmp_path):
    config = load(CONFIGS[0], "smoke")
    config.method = "nope"
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        experiment.run(config, str(tmp_path))
