"""NVlabs network pickles read without NVlabs code and without running pickled code.

Pickles with the structure of released stylegan2-ada-pytorch files are written here
(`tests.torch_refs_sg2.nvlabs_pickle_layout`) at the tiny config of tests/test_stylegan2.py with
NVlabs channel rules (channel_base 512, channel_max 32), converted with
``weights_convert/stylegan2.py --format nvlabs``, and compared with the state-dict path
(already tested for parity there): the .npz files must be identical.
"""

from __future__ import annotations

import collections
import copy
import os
import pickle
import re

import numpy as np
import pytest

from jaxlatent.models.stylegan2 import convert_nvlabs as nvc
from jaxlatent.models.stylegan2 import nvlabs_pickle as nvp
from jaxlatent.models.stylegan2 import presets
from jaxlatent.params import flatten, load_params

torch = pytest.importorskip("torch")
import weights_convert.stylegan2 as cli  # noqa: E402
from tests.torch_refs_sg2 import networks as tnet  # noqa: E402
from tests.torch_refs_sg2 import nvlabs_layout, randomize_  # noqa: E402
from tests.torch_refs_sg2 import nvlabs_pickle_layout as fake  # noqa: E402

SIZE, STYLE, N_MLP, BASE, CMAX, CLAMP, GROUP = 32, 32, 2, 512, 32, 256, 2
G_KW = dict(z_dim=STYLE, c_dim=0, w_dim=STYLE, img_resolution=SIZE, img_channels=3,
            mapping_kwargs=fake.EasyDict(num_layers=N_MLP),
            synthesis_kwargs=fake.EasyDict(channel_base=BASE, channel_max=CMAX, num_fp16_res=0,
                                           conv_clamp=CLAMP))
D_KW = dict(c_dim=0, img_resolution=SIZE, img_channels=3, architecture="resnet",
            channel_base=BASE, channel_max=CMAX, num_fp16_res=0, conv_clamp=CLAMP,
            block_kwargs=fake.EasyDict(), mapping_kwargs=fake.EasyDict(),
            epilogue_kwargs=fake.EasyDict(mbstd_group_size=GROUP))


def _flat_states():
    """NVlabs-layout G_ema and D state dicts (torch) of random tiny reference networks."""
    ch = presets.nvlabs_channels(SIZE, BASE, CMAX)
    torch.manual_seed(0)
    tg = randomize_(tnet.Generator(SIZE, STYLE, N_MLP, ch, conv_clamp=CLAMP), 1)
    td = randomize_(tnet.Discriminator(SIZE, ch, mbstd_group=GROUP, conv_clamp=CLAMP), 2)
    g = nvlabs_layout.generator_to_nvlabs(tg.state_dict(), SIZE, N_MLP, torch.randn(STYLE))
    d = nvlabs_layout.discriminator_to_nvlabs(td.state_dict(), SIZE)
    d = {k: v.to(memory_format=torch.channels_last) if v.ndim == 4 else v for k, v in d.items()}
    return g, d


def _networks(src: str):
    """G_ema, D, G trees as NVlabs would pickle them, with the details torch would add."""
    g, d = _flat_states()
    g_ema = fake.module_tree(g, fake.G_CLASSES, G_KW, src)
    g_ema.register_buffer("scratch", torch.ones(3), persistent=False)  # not in state_dict()
    g_ema.block_resolutions = [4, 8, 16, 32]
    d_net = fake.module_tree(d, fake.D_CLASSES, D_KW, src)
    d_net._modules["b4"].add_module("mbstd", fake._module("MinibatchStdLayer", src))
    for res in (32, 16, 8):
        d_net._modules[f"b{res}"]._modules["skip"].register_parameter("bias", None)
    g_train = fake.module_tree({k: v * 0 for k, v in g.items()}, fake.G_CLASSES, G_KW, src)
    return g_ema, d_net, g_train


def _write(path, protocol=4, src="", g_attr=None):
    g_ema, d_net, g_train = _networks(src)
    if g_attr is not None:
        g_ema.extra = g_attr  # lands in G_ema's pickled state
    data = dict(training_set_kwargs=dict(class_name="training.dataset.ImageFolderDataset",
                                         path="ffhq.zip", use_labels=False, resolution=SIZE),
                G=g_train, D=d_net, G_ema=g_ema, augment_pipe=fake.augment_pipe(src))
    fake.write_pickle(str(path), data, protocol)
    return g_ema, d_net


@pytest.mark.parametrize("protocol", [3, 4])
def test_pickle_reads_as_state_dicts_without_running_source(tmp_path, protocol):
    marker = tmp_path / "executed"
    src = f"open({str(marker)!r}, 'w').close()\n"  # NVlabs' loader would exec this
    g_ema, d_net = _write(tmp_path / "net.pkl", protocol, src)
    data = nvp.load_network_pickle(str(tmp_path / "net.pkl"))
    assert sorted(data) == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    for name, want in (("G_ema", g_ema), ("D", d_net)):
        got, ref = data[name].state_dict(), want.state_dict()
        assert list(got) == list(ref)  # names and order as torch's state_dict()
        for k, v in ref.items():
            np.testing.assert_array_equal(got[k], v.numpy(), err_msg=k)
    assert "scratch" not in data["G_ema"].state_dict()  # non-persistent buffer
    assert "b32.skip.weight" in data["D"].state_dict()
    assert "b32.skip.bias" not in data["D"].state_dict()  # None parameter
    kw = data["G_ema"].init_kwargs()
    assert kw["synthesis_kwargs"] == dict(G_KW["synthesis_kwargs"]) and kw["z_dim"] == STYLE
    assert type(kw["mapping_kwargs"]) is dict
    assert data["G_ema"].class_name == "Generator" and data["G_ema"].module_src == src
    fc = data["G_ema"].state["_modules"]["mapping"].state["_modules"]["fc0"].state
    assert fc["weight_gain"] == 0.125 and isinstance(fc["weight_gain"], np.float64)
    assert data["augment_pipe"].state_dict()["Hz_geom"].shape == (12,)
    assert not marker.exists()


def _npz(path):
    params, meta = load_params(str(path))
    return flatten(params), {k: v for k, v in meta.items() if k not in ("source", "source_sha256")}


def test_cli_pickle_equals_state_dict_path(tmp_path):
    _write(tmp_path / "ffhq.pkl")
    g, d = _flat_states()
    torch.save({"G_ema": g, "D": d}, str(tmp_path / "exported.pt"))
    cli.main(["--format", "nvlabs", "--input", str(tmp_path / "ffhq.pkl"),
              "--output", str(tmp_path / "g1.npz"), "--d-output", str(tmp_path / "d1.npz")])
    cli.main(["--format", "nvlabs", "--input", str(tmp_path / "exported.pt"), "--conv-clamp",
              str(CLAMP), "--mbstd-group", str(GROUP), "--output", str(tmp_path / "g2.npz"),
              "--d-output", str(tmp_path / "d2.npz")])
    for net in "gd":
        (p1, m1), (p2, m2) = _npz(tmp_path / f"{net}1.npz"), _npz(tmp_path / f"{net}2.npz")
        assert sorted(p1) == sorted(p2) and len(p1) > 10
        for k in p1:
            np.testing.assert_array_equal(p1[k], p2[k], err_msg=k)
        assert m1 == m2
    assert m1["conv_clamp"] == CLAMP and m1["mbstd_group"] == GROUP


class _WritesMarker:
    """``__reduce__`` that creates a file when unpickled by plain ``pickle``."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def _hostile_files(tmp_path):
    marker = tmp_path / "pwned"
    shell = tmp_path / "shell.pkl"
    shell.write_bytes(b"cos\nsystem\n(S'touch " + str(marker).encode() + b"'\ntR.")
    nested = tmp_path / "nested.pkl"
    _write(nested, g_attr=_WritesMarker(marker))
    return marker, {"os.system": shell, f"{open.__module__}.{open.__qualname__}": nested}


def test_hostile_pickles_are_refused_and_write_nothing(tmp_path):
    marker, files = _hostile_files(tmp_path)
    for name, path in files.items():
        out = tmp_path / "out.npz"
        with pytest.raises(SystemExit, match=re.escape(f"{path}: refusing global {name}:")) as err:
            cli.main(["--format", "nvlabs", "--input", str(path), "--output", str(out)])
        assert "\n" not in str(err.value)
        assert not marker.exists() and not out.exists()
        with pytest.raises(nvp.RefusedGlobal):
            nvp.load_network_pickle(str(path))
    with fake.nvlabs_module_names(), open(files["io.open"], "rb") as f:
        pickle.load(f)  # plain pickle runs the nested open()
    assert marker.exists()  # so the nested file really is hostile


def test_tf_era_pickle_is_refused_with_the_legacy_hint(tmp_path):
    path = tmp_path / "stylegan2-ffhq-config-f.pkl"  # NVlabs/stylegan2: a tuple of tflib Networks
    path.write_bytes(b"cdnnlib.tflib.network\nNetwork\n)\x81.")
    with pytest.raises(nvp.RefusedGlobal, match=r"dnnlib.tflib.network.Network: .*legacy.py"):
        nvp.load_network_pickle(str(path))


def test_tensor_view_outside_its_storage_is_refused(tmp_path):
    class BadTensor:
        def __reduce__(self):
            return (torch._utils._rebuild_tensor_v2,
                    (torch.arange(6.0).storage(), 4, (2, 2), (3, 1), False,
                     collections.OrderedDict()))

    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps({"G_ema": BadTensor()}))
    with pytest.raises(nvp.NvlabsPickleError, match=r"exceeds its storage of 6 elements"):
        nvp.load_network_pickle(str(path))


@pytest.mark.parametrize("content,why", [
    (b"", "empty file; expected"),
    (b"hello, this is text\n", "not a readable pickle .*expected an NVlabs network pickle"),
    (b"# a README\n", "not a readable pickle .*expected an NVlabs network pickle"),
    (pickle.dumps({"a": 1})[:-3], "not a readable pickle .*expected"),
    (pickle.dumps({"a": 1}), r"no persistent 'G_ema' network \(got \['a'\]\)"),
])
def test_bad_files_give_one_line_errors(tmp_path, content, why):
    path = tmp_path / "ffhq.pkl"
    path.write_bytes(content)
    with pytest.raises(SystemExit, match=re.escape(f"{path}: ") + why) as err:
        cli.main(["--format", "nvlabs", "--input", str(path), "--output", str(tmp_path / "o.npz")])
    assert "\n" not in str(err.value)
    assert not (tmp_path / "o.npz").exists()


@pytest.mark.parametrize("content,why", [(b"", "empty file; expected a StyleGAN2 checkpoint"),
                                         (b"some text\n", "not a torch checkpoint .*expected")])
def test_bad_files_rosinality_give_one_line_errors(tmp_path, content, why):
    path = tmp_path / "550000.pt"
    path.write_bytes(content)
    with pytest.raises(SystemExit, match=re.escape(f"{path}: ") + why) as err:
        cli.main(["--format", "rosinality", "--input", str(path), "--output", str(tmp_path / "o")])
    assert "\n" not in str(err.value)


@pytest.mark.skipif(not os.environ.get("STYLEGAN2_ADA_REPO"),
                    reason="set STYLEGAN2_ADA_REPO to a stylegan2-ada-pytorch checkout")
def test_real_nvlabs_persistence_pickle(tmp_path):
    """A pickle written by NVIDIA's own persistence code reads as its state_dict()."""
    import sys

    sys.path.insert(0, os.environ["STYLEGAN2_ADA_REPO"])
    import dnnlib
    from training import augment, networks

    def easy(kw):
        return {k: dnnlib.EasyDict(v) if isinstance(v, dict) else v for k, v in kw.items()}

    torch.manual_seed(0)
    g = networks.Generator(**easy(G_KW)).eval().requires_grad_(False)
    d = networks.Discriminator(**easy(D_KW)).eval().requires_grad_(False)
    for net in (g, d):
        randomize_(net, 1)
    data = dict(training_set_kwargs=dict(resolution=SIZE), G=g, D=d, G_ema=copy.deepcopy(g),
                augment_pipe=augment.AugmentPipe(xflip=1, rotate90=1))
    with open(tmp_path / "real.pkl", "wb") as f:
        pickle.dump(data, f)
    got = nvp.load_network_pickle(str(tmp_path / "real.pkl"))
    for name in ("G_ema", "D", "augment_pipe"):
        want = data[name].state_dict()
        assert list(got[name].state_dict()) == list(want)
        for k, v in want.items():
            np.testing.assert_array_equal(got[name].state_dict()[k], v.numpy(), err_msg=k)
    assert got["G_ema"].init_kwargs()["synthesis_kwargs"] == dict(G_KW["synthesis_kwargs"])
    cli.main(["--format", "nvlabs", "--input", str(tmp_path / "real.pkl"),
              "--output", str(tmp_path / "g.npz"), "--d-output", str(tmp_path / "d.npz")])
    want, _ = nvc.convert_generator({k: v.numpy() for k, v in g.state_dict().items()},
                                    nvc.generator_config_from_init_kwargs(g.init_kwargs))
    got = _npz(tmp_path / "g.npz")[0]
    assert sorted(got) == sorted(flatten(want))
    for k, v in flatten(want).items():
        np.testing.assert_array_equal(got[k], v, err_msg=k)
