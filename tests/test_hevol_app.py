"""HEVOL web app through Flask's test client: the API, malformed requests, own assets only."""

import base64
import io
import json
import threading
import urllib.request

import numpy as np
import pytest
from conftest import load_config
from PIL import Image

from jaxlatent.hevol.app import create_app
from jaxlatent.hevol.render import load_renderer
from jaxlatent.hevol.session import Session
from jaxlatent.methods import hevol as hevol_method
from jaxlatent.search.population import hevol
from jaxlatent.workdir import Workdir


@pytest.fixture(scope="module")
def renderers():
    return {name: load_renderer({"name": name, "class_names": "rt,bt,rs,bs"})
            for name in ("shapes_pgan_generator", "shapes_vae")}


def _client(tmp_path, renderer, preset="paper"):
    session = Session(hevol.Hevol(**hevol.PRESETS[preset]), renderer, str(tmp_path / "s"))
    return create_app(session).test_client(), session


def _post(client, url, body, **kw):
    return client.post(url, data=json.dumps(body), content_type="application/json", **kw)


def _png(data_url):
    assert data_url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))))


def test_page_state_round_undo_class_and_downloads(tmp_path, renderers):
    client, session = _client(tmp_path, renderers["shapes_pgan_generator"])
    page = client.get("/")
    assert page.status_code == 200 and b'src="/static/app.js"' in page.data
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert client.get("/static/app.js").status_code == 200
    s = client.get("/api/state").get_json()
    assert (s["round"], s["mu"], s["population"]) == (0, 5, 28)
    assert s["class_names"] == ["rt", "bt", "rs", "bs"]
    assert len(s["images"]) == 28 and _png(s["images"][0]).shape == (32, 32, 3)
    s = _post(client, "/api/round", {"round": 0, "picks": [3, 3, 4, 5, 27]}).get_json()
    assert s["round"] == 1 and s["can_undo"] and len(s["history"]) == 1
    assert s["history"][0]["picks"] == [3, 3, 4, 5, 27]
    s = _post(client, "/api/class", {"class_index": 3}).get_json()
    assert s["class_index"] == 3 and session.class_index == 3
    npz = client.get("/api/parent.npz")
    assert "attachment" in npz.headers["Content-Disposition"]
    with np.load(io.BytesIO(npz.data)) as f:
        np.testing.assert_allclose(f["latent"], session.parent_latent())
        assert int(f["round"]) == 1 and int(f["class_index"]) == 3
    js = json.loads(client.get("/api/parent.json").data)
    np.testing.assert_allclose(js["latent"], session.parent_latent(), rtol=1e-6)
    png = np.asarray(Image.open(io.BytesIO(client.get("/api/parent.png").data)))
    np.testing.assert_array_equal(png, session.renderer.render(session.parent_latent()[None], 3)[0])
    s = _post(client, "/api/undo", {"round": 1}).get_json()
    assert s["round"] == 0 and s["history"] == []
    s = _post(client, "/api/restart", {}).get_json()
    assert s["restart"] == 1 and s["round"] == 0


@pytest.mark.parametrize("url,body,status,message", [
    ("/api/round", {"round": 0, "picks": [1, 2, 3]}, 400, "exactly 5"),
    ("/api/round", {"round": 0, "picks": [1, 2, 3, 4, 99]}, 400, "integers in"),
    ("/api/round", {"round": 0, "picks": [1, 2, 3, 4, "5"]}, 400, "integers in"),
    ("/api/round", {"round": 0, "picks": [1, 2, 3, 4, False]}, 400, "integers in"),
    ("/api/round", {"round": 0, "picks": {"a": 1}}, 400, "list"),
    ("/api/round", {"picks": [1, 2, 3, 4, 5]}, 400, "missing field"),
    ("/api/round", {"round": 5, "picks": [1, 2, 3, 4, 5]}, 409, "round 5"),
    ("/api/round", {"round": None, "picks": [1, 2, 3, 4, 5]}, 400, "integer"),
    ("/api/round", [0, [1, 2, 3, 4, 5]], 400, "JSON object"),
    ("/api/undo", {"round": 0}, 409, "nothing to undo"),
    ("/api/class", {"class_index": 4}, 400, "class_index"),
    ("/api/class", {"class_index": "0"}, 400, "class_index"),
    ("/api/class", {}, 400, "missing field"),
])
def test_malformed_requests_get_4xx_with_a_message(tmp_path, renderers, url, body, status, message):
    client, session = _client(tmp_path, renderers["shapes_pgan_generator"])
    resp = _post(client, url, body)
    assert resp.status_code == status, resp.get_json()
    assert message in resp.get_json()["error"]
    assert session.round == 0 and session.rounds == []


def test_bodies_content_types_methods_hosts_and_unconditional_class(tmp_path, renderers):
    client, _ = _client(tmp_path, renderers["shapes_vae"])
    ok = {"round": 0, "picks": [0, 1, 2, 3, 4]}
    assert client.post("/api/round", data=json.dumps(ok)).status_code == 415  # not JSON
    bad = client.post("/api/round", data="{not json", content_type="application/json")
    assert bad.status_code == 400
    huge = _post(client, "/api/round", {"round": 0, "picks": list(range(20_000))})
    assert huge.status_code == 413 and "error" in huge.get_json()
    assert client.get("/api/round").status_code == 405
    assert client.get("/api/nope").status_code == 404
    assert client.get("/api/parent.exe").status_code == 404
    assert client.get("/api/state", headers={"Host": "evil.example:8765"}).status_code == 400
    assert client.get("/api/state", headers={"Host": "[::1"}).status_code == 400
    assert client.get("/api/state", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    resp = _post(client, "/api/class", {"class_index": 0})
    assert resp.status_code == 400 and "unconditional" in resp.get_json()["error"]
    s = client.get("/api/state").get_json()
    assert s["class_names"] == [] and _png(s["images"][0]).shape == (128, 128, 3)


@pytest.mark.parametrize("path", [
    "/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/%2e%2e%2fapp.py",
    "/static//etc/passwd", "/static/../../session.py", "/static/%2fetc%2fpasswd", "/../app.py",
    "/app.py", "/static/", "/static/missing.js",
])
def test_only_own_assets_are_served(tmp_path, renderers, path):
    client, _ = _client(tmp_path, renderers["shapes_vae"])
    resp = client.get(path, follow_redirects=True)  # "//" is first redirected to "/"
    assert resp.status_code in (404, 400), (path, resp.status_code)
    assert b"import" not in resp.data and b"root:" not in resp.data


def test_method_serves_on_loopback_and_resumes(tmp_path):
    config = load_config("hevol", "smoke")
    assert config.server.host == "127.0.0.1" and config.server.port == 0
    wdir = Workdir(str(tmp_path / "w"))
    server, session = hevol_method.make_server(config, wdir)
    assert server.host == "127.0.0.1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        state = json.load(urllib.request.urlopen(f"{url}/api/state", timeout=60))
        assert state["population"] == 28 and state["class_names"][0] == "red triangle"
        body = json.dumps({"round": 0, "picks": [1, 1, 2, 3, 4]}).encode()
        req = urllib.request.Request(f"{url}/api/round", method="POST", data=body,
                                     headers={"Content-Type": "application/json"})
        assert json.load(urllib.request.urlopen(req, timeout=60))["round"] == 1
    finally:
        server.shutdown()
        server.server_close()
    summary = hevol_method.write_outputs(config, wdir, session)
    assert summary["rounds"] == 1 and summary["picks"] == [[1, 1, 2, 3, 4]]
    for name in ("parents.png", "latents.npz", "summary.json", "report.md"):
        assert (tmp_path / "w" / name).exists()
    _, resumed = hevol_method.make_server(config, wdir)
    assert resumed.round == 1
