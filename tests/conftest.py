"""Shared test set-up: float32 CPU, exact matmuls for parity tests."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_default_matmul_precision", "highest")


@pytest.fixture
def key():
    return jax.random.key(0)


@pytest.fixture(scope="session")
def random_embedded(tmp_path_factory):
    """Random-init weights files for the four embedded models (tests must not depend on training).

    Returns ``{name: path}`` for shapes_vae, shapes_features, shapes_classifier, shapes_flow.
    """
    import numpy as np

    from jaxlatent import params as params_io
    from jaxlatent.models import glow
    from jaxlatent.models.registry import load_model

    root = tmp_path_factory.mktemp("embedded")
    paths = {}
    for i, name in enumerate(["shapes_vae", "shapes_features", "shapes_classifier"]):
        paths[name] = str(root / f"{name}.npz")
        params_io.save_params(paths[name], load_model(name, key=jax.random.key(i)).params)
    model = glow.make_glow("small")
    variables = model.init(jax.random.key(7), np.zeros((2, model.n_features), np.float32))
    scaler = {"data_min": np.zeros(64, np.float32), "data_range": np.ones(64, np.float32)}
    paths["shapes_flow"] = str(root / "shapes_flow.npz")
    glow.save_flow(paths["shapes_flow"], model, variables, scaler)
    return paths


def embedded_overrides(paths: dict) -> list[str]:
    """run.py flags that point a divrare config at `random_embedded` weights."""
    return [
        f"--config.generator.path={paths['shapes_vae']}",
        f"--config.features.path={paths['shapes_features']}",
        f"--config.flow.path={paths['shapes_flow']}",
        f"--config.classifier.path={paths['shapes_classifier']}",
    ]


def load_config(name: str, arg: str | None = None):
    """``get_config(arg)`` of ``configs/<name>.py``."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                        f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"configs_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config(arg)


def use_random_embedded(config, paths: dict):
    """Points a config's embedded networks at `random_embedded` weights files."""
    config.generator.path = paths["shapes_vae"]
    config.features.path = paths["shapes_features"]
    config.flow.path = paths["shapes_flow"]
    if config.classifier.name:
        config.classifier.path = paths["shapes_classifier"]
    return config
