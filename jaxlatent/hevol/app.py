"""The HEVOL web app (Flask): one page, a JSON API, and only its own static files.

Flask is the web framework because it is small, well kept (Pallets), has a test client for fast
API tests, and serves package files with a path-traversal-safe ``send_from_directory``.

Routes (every POST takes a JSON object and answers the new state, or ``{"error": message}``
with a 4xx status)::

    GET  /                     the page (static/index.html); /static/<file> its JS and CSS
    GET  /api/state            round, images (PNG data URLs), picks needed, classes, history
    POST /api/round            {"round": R, "picks": [i, ...]}  μ indices, repeats allowed
    POST /api/undo             {"round": R}      back to round R - 1
    POST /api/restart          {}                a new evolution from ẑ₀ = 0
    POST /api/class            {"class_index": c}
    GET  /api/parent.png|.npz|.json   the current parent: full-size image, latent

Safety: POSTs must be ``application/json`` (so a foreign page cannot post without a CORS
pre-flight, which is never granted), bodies are capped at `MAX_BODY` bytes, the Host header must
name the loopback interface when the server is bound to it (no DNS rebinding), and every
response carries a Content-Security-Policy that allows only this origin (nothing from a CDN).
"""

from __future__ import annotations

import base64
import io
import os
import threading
from urllib.parse import urlsplit

import numpy as np

try:
    from flask import Flask, Response, jsonify, request
    from werkzeug.exceptions import HTTPException
except ImportError as err:  # an optional extra
    raise ImportError("the HEVOL web app needs Flask: pip install -e '.[hevol]'") from err

from jaxlatent.hevol.render import png_bytes
from jaxlatent.hevol.session import RequestError, Session

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
MAX_BODY = 16 * 1024
LOOPBACK = ("127.0.0.1", "localhost", "::1")
CSP = ("default-src 'self'; img-src 'self' data:; script-src 'self'; style-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def create_app(session: Session, *, title: str = "HEVOL", max_side: int = 256,
               loopback_only: bool = True) -> Flask:
    """The Flask app serving ``session`` (requests are serialised by one lock)."""
    app = Flask(__name__, static_folder=STATIC, static_url_path="/static")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    lock = threading.Lock()
    thumbs: dict = {}  # (latent bytes, class) -> history-strip PNG data URL

    @app.before_request
    def _check_host():
        try:
            host = urlsplit("//" + (request.host or "")).hostname
        except ValueError:  # e.g. an unbalanced "[" in the Host header
            host = None
        if loopback_only and host not in LOOPBACK:
            return _error(400, f"unexpected Host {request.host!r}: this server answers only "
                               "on the loopback interface")
        return None

    @app.after_request
    def _headers(resp: Response):
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return _error(err.code or 500, err.description or err.name)

    @app.errorhandler(RequestError)
    def _request_error(err: RequestError):
        return _error(err.status, str(err))

    @app.get("/")
    def index():
        return app.send_static_file("index.html")

    @app.get("/api/state")
    def state():
        with lock:
            return jsonify(_state(session, title, max_side, thumbs))

    @app.post("/api/round")
    def submit():
        body = _json_object(("round", "picks"))
        with lock:
            session.submit(body["picks"], body["round"])
            return jsonify(_state(session, title, max_side, thumbs))

    @app.post("/api/undo")
    def undo():
        body = _json_object(("round",))
        with lock:
            session.undo(body["round"])
            return jsonify(_state(session, title, max_side, thumbs))

    @app.post("/api/restart")
    def restart():
        _json_object(())
        with lock:
            session.restart()
            return jsonify(_state(session, title, max_side, thumbs))

    @app.post("/api/class")
    def set_class():
        body = _json_object(("class_index",))
        with lock:
            session.set_class(body["class_index"])
            return jsonify(_state(session, title, max_side, thumbs))

    @app.get("/api/parent.<ext>")
    def parent(ext: str):
        with lock:
            z, cls, rnd = session.parent_latent(), session.class_index, session.round
            name = f"hevol_round{rnd}_parent"
            if ext == "png":
                image = session.renderer.render(z[None], cls)[0]
                return _download(png_bytes(image), "image/png", f"{name}.png")
            if ext == "npz":
                buf = io.BytesIO()
                np.savez(buf, latent=z, class_index=np.int32(cls), round=np.int32(rnd))
                return _download(buf.getvalue(), "application/octet-stream", f"{name}.npz")
            if ext == "json":
                return _download(jsonify(latent=z.tolist(), class_index=cls, round=rnd).get_data(),
                                 "application/json", f"{name}.json")
        return _error(404, f"no parent.{ext}: use parent.png, parent.npz or parent.json")

    return app


def _json_object(required: tuple[str, ...]) -> dict:
    """The request's JSON object with ``required`` keys, or a RequestError (415 / 400)."""
    if not request.is_json:
        raise RequestError(415, "send a JSON object with Content-Type: application/json")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise RequestError(400, "the request body must be a JSON object")
    missing = [k for k in required if k not in body]
    if missing:
        raise RequestError(400, f"missing field(s) {missing}; expected {list(required)}")
    return body


def _state(session: Session, title: str, max_side: int, thumbs: dict) -> dict:
    """What the page shows: this round's images, the picks needed and the history strip."""
    images = session.images()
    lat, classes = session.history()

    def key(i):
        return lat[i].tobytes(), int(classes[i])

    missing = [i for i in range(len(lat)) if key(i) not in thumbs]
    if missing:
        rendered = session.renderer.render(lat[missing], classes[missing])
        thumbs.update({key(i): _data_url(png_bytes(x, 96)) for i, x in zip(missing, rendered)})
    history = [dict(round=i, image=thumbs[key(i)], picks=session.rounds[i]["picks"])
               for i in range(len(lat))]
    strategy = session.strategy
    return dict(title=title, round=session.round, restart=session.restart_count,
                mu=strategy.mu, population=session.population, num_parents=strategy.num_parents,
                images=[_data_url(png_bytes(x, max_side)) for x in images],
                resolution=session.renderer.resolution, class_index=session.class_index,
                class_names=list(session.renderer.class_names), history=history,
                can_undo=session.round > 0, latent_dim=session.renderer.latent_dim)


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(data, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _error(status: int, message: str):
    return jsonify(error=message, status=status), status
