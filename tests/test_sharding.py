"""Results do not depend on the device count or the number of processes.

The same searches (a population strategy, a coupled gradient search, CMA-MAEGA, and DivRare end
to end through `experiment.run`) run in subprocesses with 1 CPU device, 8 forced CPU devices,
and 2 processes × 2 devices on localhost (`jax.distributed` with gloo collectives). "Equal"
means bit-identical: each problem's computation is its own (vmapped over the problem axis,
which is only sharded), so no reduction is reordered — padding problems (G = 3 or 5 on 4 or 8
devices) are dropped before comparing.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "sharding_worker.py")


def _env(devices: int) -> dict:
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return env


def _run(tmp_path, name: str, devices: int, embedded: str, processes: int = 1) -> dict:
    out = tmp_path / f"{name}.npz"
    work = tmp_path / f"work_{name}"
    args = [sys.executable, WORKER, str(out), "--embedded", embedded, "--workdir", str(work)]
    if processes == 1:
        subprocess.run(args, env=_env(devices), check=True, timeout=600)
    else:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        procs = [subprocess.Popen(args + ["--process", str(i), "--processes", str(processes),
                                          "--port", str(port)], env=_env(devices))
                 for i in range(processes)]
        codes = [p.wait(timeout=600) for p in procs]
        assert codes == [0] * processes, codes
    with np.load(out) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def single(tmp_path_factory, random_embedded):
    tmp = tmp_path_factory.mktemp("sharding")
    paths = tmp / "paths.json"
    paths.write_text(json.dumps(random_embedded))
    return tmp, str(paths), _run(tmp, "one_device", 1, str(paths))


def _assert_equal(a: dict, b: dict):
    keys = sorted(k for k in a if k != "device_count")
    assert keys == sorted(k for k in b if k != "device_count")
    assert any(k.startswith("divrare/") for k in keys) and any(k.startswith("cma_maega/") for k in keys)
    for k in keys:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_eight_devices_equal_one(single):
    tmp, paths, one = single
    eight = _run(tmp, "eight_devices", 8, paths)
    assert int(one["device_count"]) == 1 and int(eight["device_count"]) == 8
    _assert_equal(one, eight)


def test_two_processes_equal_one(single):
    tmp, paths, one = single
    two = _run(tmp, "two_processes", 2, paths, processes=2)
    assert int(two["device_count"]) == 4  # 2 processes × 2 devices: one global mesh
    _assert_equal(one, two)
