"""A real `run.py` process killed with SIGKILL mid-run and re-run ends identical to an
uninterrupted run (latents, metrics)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import embedded_overrides

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(workdir, paths):
    return [sys.executable, "run.py", "--config=configs/divrare.py:smoke", f"--workdir={workdir}",
            "--config.search.num_steps=20", "--config.search.chunk_size=2",
            "--config.data.num_real=100", "--config.data.num_fake=100",
            *embedded_overrides(paths)]


def rows(workdir):
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.slow
def test_killed_run_resumes_to_identical_results(tmp_path, random_embedded):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    full, killed = str(tmp_path / "full"), str(tmp_path / "killed")
    subprocess.run(command(full, random_embedded), cwd=ROOT, env=env, check=True,
                   capture_output=True)

    proc = subprocess.Popen(command(killed, random_embedded), cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while len(rows(killed)) < 6 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(rows(killed))
    assert 6 <= done_before < 20
    assert not os.path.exists(os.path.join(killed, "summary.json"))

    subprocess.run(command(killed, random_embedded), cwd=ROOT, env=env, check=True,
                   capture_output=True)
    assert rows(killed) == rows(full)
    with np.load(os.path.join(full, "latents.npz")) as a, np.load(os.path.join(killed, "latents.npz")) as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_other_config_on_same_workdir_is_refused(tmp_path):
    from jaxlatent.workdir import Workdir

    wd = Workdir(str(tmp_path))
    wd.write_config({"a": 1})
    wd.write_config({"a": 1})  # same config: resume
    with pytest.raises(ValueError, match="different config"):
        wd.write_config({"a": 2})
