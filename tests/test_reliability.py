"""Bad inputs as a demanding user gives them (issue #17): each ends in a named error or in results
identical to an uninterrupted run. Kills, corrupt checkpoints, bad config values, malformed and
hostile checkpoint files, concurrent runs."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest

from conftest import embedded_overrides, load_config, use_random_embedded
from jaxlatent import experiment, validate
from jaxlatent import params as params_io
from jaxlatent.models.registry import load_model
from jaxlatent.workdir import Workdir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STEPS, CHUNK = 12, 2
FLAGS = [f"--config.search.num_steps={STEPS}", f"--config.search.chunk_size={CHUNK}",
         "--config.data.num_real=100", "--config.data.num_fake=100"]


def divrare_config(paths, **data):
    config = use_random_embedded(load_config("divrare", "smoke"), paths)
    config.search.update(num_steps=STEPS, chunk_size=CHUNK)
    config.data.update(num_real=100, num_fake=100, **data)
    return config


def rows(workdir):
    return Workdir(workdir).read_metrics()


def assert_same_results(a, b):
    assert rows(a) == rows(b)
    with np.load(os.path.join(a, "latents.npz")) as x, np.load(os.path.join(b, "latents.npz")) as y:
        assert sorted(x.files) == sorted(y.files)
        for name in x.files:
            np.testing.assert_array_equal(x[name], y[name], err_msg=name)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, random_embedded):
    """An uninterrupted run (the result every interrupted or damaged run must reproduce)."""
    path = str(tmp_path_factory.mktemp("reference") / "run")
    experiment.run(divrare_config(random_embedded), path)
    return path


def partial_copy(reference, dest, keep_steps):
    """The reference workdir as a kill would leave it: no summary/latents, checkpoints kept."""
    shutil.copytree(reference, dest)
    for name in ("summary.json", "latents.npz"):
        os.remove(os.path.join(dest, name))
    for step in os.listdir(os.path.join(dest, "checkpoints")):
        if int(step) not in keep_steps:
            shutil.rmtree(os.path.join(dest, "checkpoints", step))
    return dest


# -- kills and damaged workdirs ----------------------------------------------------------------
def test_kill_before_first_checkpoint_leaves_no_duplicate_rows(tmp_path, reference,
                                                               random_embedded):
    dest = partial_copy(reference, str(tmp_path / "run"), keep_steps=())
    all_rows = open(os.path.join(dest, "metrics.jsonl")).readlines()
    with open(os.path.join(dest, "metrics.jsonl"), "w") as f:
        f.writelines(all_rows[:2])  # rows 1, 2 appended, killed before checkpoint 2 existed
    experiment.run(divrare_config(random_embedded), dest)
    assert [r["step"] for r in rows(dest)] == list(range(1, STEPS + 1))
    assert_same_results(dest, reference)


def test_truncated_newest_checkpoint_falls_back_to_previous(tmp_path, reference, random_embedded,
                                                            capsys):
    dest = partial_copy(reference, str(tmp_path / "run"), keep_steps=(STEPS - CHUNK, STEPS))
    for path in glob.glob(os.path.join(dest, "checkpoints", str(STEPS), "**"), recursive=True):
        if os.path.isfile(path):
            os.truncate(path, os.path.getsize(path) // 2)
    with open(os.path.join(dest, "metrics.jsonl"), "a") as f:
        f.write('{"step": 13, "lo')  # a row cut by the kill
    experiment.run(divrare_config(random_embedded), dest)
    err = capsys.readouterr().err
    assert f"checkpoint at step {STEPS}" in err and "unreadable" in err
    assert_same_results(dest, reference)


def test_garbled_checkpoints_fall_back_step_by_step(tmp_path):
    import jax.numpy as jnp

    from jaxlatent.workdir import resume, save_checkpoint

    wdir = Workdir(str(tmp_path))
    manager = wdir.checkpoint_manager()
    for step in (2, 4):
        save_checkpoint(manager, step, {"x": jnp.full(3, float(step))})
    wdir.append_metrics([{"step": s, "v": s} for s in range(1, 5)])
    rng = np.random.default_rng(0)
    for path in glob.glob(str(tmp_path / "checkpoints" / "4" / "**"), recursive=True):
        if os.path.isfile(path):
            open(path, "wb").write(rng.bytes(os.path.getsize(path)))
    start, state = resume(wdir, wdir.checkpoint_manager(), {"x": jnp.zeros(3)})
    assert start == 2 and np.all(np.asarray(state["x"]) == 2.0)
    assert [r["step"] for r in wdir.read_metrics()] == [1, 2]
    assert os.listdir(tmp_path / "checkpoints.corrupt")


@pytest.mark.slow
def test_sigint_is_one_line_and_resumes_identically(tmp_path, reference, random_embedded):
    run = str(tmp_path / "run")
    cmd = [sys.executable, "run.py", "--config=configs/divrare.py:smoke", f"--workdir={run}",
           *FLAGS, *embedded_overrides(random_embedded)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=dict(os.environ, JAX_PLATFORMS="cpu"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while len(rows(run)) < 4 and proc.poll() is None and time.time() < deadline:  # ckpt 2 done
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted at step" in err and "re-run the same command" in err, err[-2000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    experiment.run(divrare_config(random_embedded), run)
    assert_same_results(run, reference)


# -- concurrent runs ---------------------------------------------------------------------------
def test_second_run_on_a_workdir_names_the_first_and_stale_locks_do_not_block(tmp_path,
                                                                             random_embedded):
    run = str(tmp_path / "run")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from jaxlatent.workdir import Workdir; "
         "held = Workdir(sys.argv[1]).lock(); held.__enter__(); print('locked', flush=True); "
         "sys.stdin.read()",
         run], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=f"in use by another run \\(pid {holder.pid}"):
            experiment.run(divrare_config(random_embedded), run)
        assert not os.path.exists(os.path.join(run, "config.json"))
    finally:
        holder.kill()
        holder.wait()
    assert open(os.path.join(run, ".lock")).read().strip() == str(holder.pid)  # stale now
    with Workdir(run).lock():
        pass


# -- bad config values: refused before anything is written -------------------------------------
BAD_VALUES = [
    ("divrare", "search.num_steps", 0, "positive integer"),
    ("divrare", "search.num_steps", -3, "positive integer"),
    ("divrare", "search.chunk_size", 0, "positive integer"),
    ("divrare", "search.num_references", 0, "positive integer"),
    ("divrare", "search.num_starts", 0, "positive integer"),
    ("divrare", "search.optimizer.learning_rate", float("nan"), "not NaN"),
    ("divrare", "data.bias", 1.5, "in [0, 1]"),
    ("qdgs", "num_iters", 0, "positive integer"),
    ("qdgs", "chunk_size", -1, "positive integer"),
]


@pytest.mark.parametrize("name,field,value,expected", BAD_VALUES)
def test_bad_value_is_named_and_nothing_is_written(tmp_path, name, field, value, expected):
    config = load_config(name, "smoke")
    section, _, leaf = field.rpartition(".")
    (config if not section else eval(f"config.{section}"))[leaf] = value  # noqa: S307
    with pytest.raises(validate.ConfigError, match=f"config field {field} = ") as err:
        experiment.run(config, str(tmp_path / "run"))
    assert expected in str(err.value) and repr(value) in str(err.value)
    assert not os.path.exists(tmp_path / "run")


def test_bad_paths_are_named(tmp_path, random_embedded):
    truncated = str(tmp_path / "truncated.npz")
    data = open(random_embedded["shapes_vae"], "rb").read()
    open(truncated, "wb").write(data[: len(data) // 2])
    cases = [(str(tmp_path), "directory"), (str(tmp_path / "nope.npz"), "no such file"),
             (truncated, "truncated")]
    for path, expected in cases:
        config = divrare_config(random_embedded)
        config.generator.path = path
        with pytest.raises(validate.ConfigError, match="generator.path") as err:
            experiment.run(config, str(tmp_path / "run"))
        assert expected in str(err.value) and "train them" not in str(err.value)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_model("shapes_vae", str(tmp_path))
    with pytest.raises(ValueError, match="not a readable .npz"):
        params_io.load_params(truncated)


def test_config_argument_of_wrong_type_names_it():
    with pytest.raises(ValueError, match="seed='abc' is not a valid int"):
        load_config("divrare", "seed=abc")


# -- bad feature banks; a failed run does not block the corrected command ----------------------
def test_bad_feature_banks_are_named_and_do_not_block_the_workdir(tmp_path, random_embedded):
    run = str(tmp_path / "run")
    nan_bank, narrow = str(tmp_path / "nan.npz"), str(tmp_path / "narrow.npz")
    np.savez(nan_bank, feature=np.full((100, 64), np.nan, np.float32))
    np.savez(narrow, feature=np.zeros((100, 7), np.float32))
    with pytest.raises(ValueError, match="100 of 100 rows hold NaN"):
        experiment.run(divrare_config(random_embedded, real_features=nan_bank), run)
    with Workdir(run).lock():  # released although the run raised
        pass
    with pytest.raises(ValueError, match="7-d features but the feature network outputs 64-d"):
        experiment.run(divrare_config(random_embedded, real_features=narrow), run)
    assert json.load(open(os.path.join(run, "config.json")))["data"]["real_features"] == narrow


# -- malformed weights files -------------------------------------------------------------------
def test_weights_of_the_wrong_dtype_are_refused(tmp_path, random_embedded):
    params, _ = params_io.load_params(random_embedded["shapes_vae"])
    as_int = {k: v.astype(np.int32) for k, v in params_io.flatten(params).items()}
    params_io.save_params(str(tmp_path / "int.npz"), params_io.unflatten(as_int))
    with pytest.raises(ValueError, match="dtype mismatch at .*expected floating, got integer"):
        load_model("shapes_vae", str(tmp_path / "int.npz"))


def test_metadata_that_is_not_json_is_named(tmp_path):
    np.savez(tmp_path / "meta.npz", **{"w": np.zeros(2), "__meta__/config": np.asarray("{oops")})
    with pytest.raises(ValueError, match="metadata entry '__meta__/config' is not JSON"):
        params_io.load_params(str(tmp_path / "meta.npz"))


# -- converters: malformed and hostile checkpoint files ----------------------------------------
class Hostile:
    """Unpickling this runs ``touch <marker>``."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def test_empty_text_and_truncated_files_are_named(tmp_path, torch):
    from weights_convert import alexnet, inception, vgg

    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "text.pth").write_text("hello, not a checkpoint\n")
    torch.save({"w": torch.ones(100)}, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    out = str(tmp_path / "out.npz")
    for script in (vgg, alexnet, inception):
        for name, expected in [("empty", "is empty"), ("text", "not a PyTorch checkpoint"),
                               ("cut", "truncated zip")]:
            with pytest.raises(ValueError, match=expected):
                script.main(["--input", str(tmp_path / f"{name}.pth"), "--output", out])


def test_biggan_converter_names_a_missing_key(tmp_path, torch):
    from weights_convert import biggan

    torch.save({"shared.weight": torch.zeros(4, 4)}, tmp_path / "g.pth")
    with pytest.raises(ValueError, match="lacks the tensor .* --format biggan-pytorch"):
        biggan.main(["--format", "biggan-pytorch", "--input", str(tmp_path / "g.pth"),
                     "--output", str(tmp_path / "g.npz")])


def test_hostile_pickles_are_refused_unexecuted(tmp_path, torch):
    from weights_convert import biggan, clip, pgan, vgg

    marker = tmp_path / "pwned"
    out = str(tmp_path / "out.npz")
    torch.save({"config": Hostile(marker), "netG": {}, "netD": {}, "avgG": {}}, tmp_path / "p.pth")
    torch.save({"state_dict": Hostile(marker)}, tmp_path / "s.pth")
    calls = [(pgan.main, ["--input", str(tmp_path / "p.pth"), "--output", out]),
             (vgg.main, ["--input", str(tmp_path / "s.pth"), "--output", out]),
             (clip.main, ["--input", str(tmp_path / "s.pth"), "--output", out]),
             (biggan.main, ["--format", "hf", "--input", str(tmp_path / "s.pth"), "--output", out])]
    for main, argv in calls:
        with pytest.raises(ValueError, match="refusing to load"):
            main(argv)
        assert not marker.exists(), main.__module__
    with zipfile.ZipFile(tmp_path / "ts.pt", "w") as z:  # a TorchScript-shaped archive
        import pickle

        z.writestr("archive/data.pkl", pickle.dumps(Hostile(marker), protocol=2))
        z.writestr("archive/code/__torch__.py", "")
        z.writestr("archive/version", "3\n")
    with pytest.raises(ValueError, match="refusing to load .*system"):
        clip.load_state_dict(str(tmp_path / "ts.pt"))
    assert not marker.exists()


def test_pgan_zoo_config_still_loads(tmp_path, torch, monkeypatch):
    import types

    from weights_convert import pgan

    zoo = types.ModuleType("models.utils.config")

    class BaseConfig:
        pass

    BaseConfig.__module__, BaseConfig.__qualname__ = "models.utils.config", "BaseConfig"
    zoo.BaseConfig = BaseConfig
    for name, module in [("models", types.ModuleType("models")),
                         ("models.utils", types.ModuleType("models.utils")),
                         ("models.utils.config", zoo)]:
        monkeypatch.setitem(sys.modules, name, module)
    cfg = BaseConfig()
    cfg.depthScales, cfg.dimLatentVector = [16, 8], 12
    torch.save({"config": cfg, "netG": {"w": torch.ones(2)}, "netD": {}, "avgG": {}},
               tmp_path / "zoo.pth")
    for name in ("models.utils.config", "models.utils", "models"):
        monkeypatch.delitem(sys.modules, name)  # the zoo is not installed where we convert
    ckpt = pgan.load_checkpoint(str(tmp_path / "zoo.pth"))
    assert vars(ckpt["config"]) == {"depthScales": [16, 8], "dimLatentVector": 12}
    np.testing.assert_array_equal(ckpt["netG"]["w"].numpy(), np.ones(2))


TORCHSCRIPT_WITH_SETSTATE = '''
import sys
from typing import Tuple
import torch

class Payload(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(3))
    def forward(self, x):
        return x * self.weight
    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, bool]:
        return (self.weight, self.training)
    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]) -> None:
        self.weight = state[0]
        self.training = state[1]
        print("ARCHIVE CODE RAN")
        self.weight.data.fill_(42.0)

torch.jit.script(Payload()).save(sys.argv[1])
'''


def test_torchscript_code_is_never_run(tmp_path, torch, capfd):
    """``torch.jit.load`` runs an archive's ``__setstate__`` (here it prints and overwrites the
    weights); the CLIP converter reads the archive as data instead."""
    from weights_convert import clip

    (tmp_path / "make.py").write_text(TORCHSCRIPT_WITH_SETSTATE)
    subprocess.run([sys.executable, str(tmp_path / "make.py"), str(tmp_path / "payload.pt")],
                   check=True)
    capfd.readouterr()
    state = clip.load_state_dict(str(tmp_path / "payload.pt"))
    assert "ARCHIVE CODE RAN" not in capfd.readouterr().out
    assert all(not np.any(v == 42.0) for v in state.values())
