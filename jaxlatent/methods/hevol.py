"""Method ``hevol``: the HEVOL web app on the workdir's session (``configs/hevol.py``).

    python run.py --config=configs/hevol.py                 # prints http://127.0.0.1:8765/

Starts a local server (Flask app `jaxlatent.hevol.app`, werkzeug's threaded server) on
``config.server.host:port`` (127.0.0.1 unless the config says otherwise; port 0 picks a free
one), printing the URL. The session lives in ``<workdir>/hevol/`` (`jaxlatent.hevol.session`)
and is resumed by the same command. On start and on Ctrl-C the method writes ``parents.png``
(the history of parents), ``latents.npz``, ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import logging
import os
import sys

import numpy as np

from jaxlatent import outputs
from jaxlatent.hevol import app as hevol_app
from jaxlatent.hevol.render import load_renderer
from jaxlatent.hevol.session import Session
from jaxlatent.search.registry import build as build_strategy

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def make_session(config, workdir) -> Session:
    """The `Session` of ``config`` in ``<workdir>/hevol`` (resumed when it exists)."""
    renderer = load_renderer(config.generator)
    strategy = build_strategy(dict(config.search))
    return Session(strategy, renderer, workdir.file("hevol"), seed=int(config.seed),
                   class_index=int(config.generator.class_index))


def make_server(config, workdir):
    """``(server, session)``: a werkzeug server of the app, not yet serving."""
    from werkzeug.serving import make_server as werkzeug_server

    session = make_session(config, workdir)
    host = str(config.server.host)
    app = hevol_app.create_app(session, title=f"HEVOL · {config.generator.name}",
                               max_side=int(config.server.max_side),
                               loopback_only=host in LOOPBACK)
    return werkzeug_server(host, int(config.server.port), app, threaded=True), session


def run(config, workdir) -> dict:
    """Serves until Ctrl-C; returns the summary of the session."""
    server, session = make_server(config, workdir)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    write_outputs(config, workdir, session)
    host = server.host if ":" not in server.host else f"[{server.host}]"
    print(f"HEVOL ({config.search.preset}: pick {session.strategy.mu} of {session.population}, "
          f"{config.generator.name}) at round {session.round}: open http://{host}:"
          f"{server.server_port}/ (Ctrl-C stops; the session is saved after every round in "
          f"{session.root})", flush=True)
    if host not in LOOPBACK:
        print(f"warning: listening on {host}, reachable from other machines", file=sys.stderr)
    try:
        server.serve_forever()  # werkzeug returns on Ctrl-C
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    print(f"stopped at round {session.round}; run the same command to resume", file=sys.stderr)
    return write_outputs(config, workdir, session)


def write_outputs(config, workdir, session: Session) -> dict:
    """parents.png, latents.npz, summary.json and report.md of the session so far."""
    lat, classes = session.history()
    parents = np.concatenate([lat, session.parent_latent()[None]])
    classes = np.append(classes, session.class_index)
    images = session.renderer.render(parents, classes)
    rows = [images[i:i + 10] for i in range(0, len(images), 10)]
    captions = [[f"r{10 * i + j}" for j in range(len(r))] for i, r in enumerate(rows)]
    outputs.save_image_grid(workdir.file("parents.png"), rows, (0, 255),
                            title="HEVOL parents, round by round (r0 = ẑ₀)", captions=captions)
    outputs.save_arrays(workdir, "latents.npz", parents=parents, classes=classes,
                        candidates=session.candidates())
    summary = dict(rounds=session.round, restarts=session.restart_count,
                   preset=config.search.preset, mu=session.strategy.mu,
                   population=session.population, latent_dim=session.renderer.latent_dim,
                   generator=config.generator.name, class_index=session.class_index,
                   picks=[r["picks"] for r in session.rounds])
    outputs.write_summary(workdir, summary)
    headline = {k: summary[k] for k in ("rounds", "restarts", "preset", "mu", "population",
                                        "latent_dim", "generator")}
    outputs.write_report(workdir, "HEVOL session", config.to_dict(), headline, ["parents.png"],
                         notes=f"Session files: `{os.path.relpath(session.root, workdir.path)}/` "
                         "(resumed by the same command).")
    return summary
