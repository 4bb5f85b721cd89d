"""Step-by-step parity with nevergrad 1.0.12 given the same random draws.

nevergrad's random state is wrapped by a recorder; the draws each ``ask`` consumed are parsed
from the record and injected into our strategy's ``candidates(draws, ...)``. Candidates, the
1/5th-rule σ, DE's population and bests, PSO's swarm and the recommendation must then agree
(float32 vs float64: rtol 1e-5) over several batched iterations (``num_workers = P``).
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.search import protocol
from jaxlatent.search.population import de, one_plus_one, pso, testbed

pytestmark = pytest.mark.parity
warnings.filterwarnings("ignore", module="nevergrad")
TOL = dict(rtol=1e-5, atol=1e-5)


class Recorder:
    """A ``np.random.RandomState`` that logs every call as ``(name, args, kwargs, result)``."""

    def __init__(self, seed):
        self.rs, self.log = np.random.RandomState(seed), []

    def __getattr__(self, name):
        fn = getattr(self.rs, name)

        def call(*args, **kwargs):
            out = fn(*args, **kwargs)
            self.log.append((name, args, kwargs, out))
            return out

        return call

    def take(self):
        log, self.log = self.log, []
        return log


def _optimizer(name, d, workers, seed=0):
    opt = testbed.nevergrad_optimizer(name, d, 10_000, seed, workers)
    rec = Recorder(seed)
    opt.parametrization.random_state = rec
    return opt, rec


def _ask(opt, rec, p):
    """P asks; returns (candidate params, standardised values [P, d], per-ask draw logs)."""
    cands, logs = [], []
    for _ in range(p):
        cands.append(opt.ask())
        logs.append(rec.take())
    return cands, np.stack([c.value for c in cands]), logs


def _tell(opt, cands, loss):
    values = testbed.loss_np(loss, np.stack([c.value for c in cands]))
    for c, v in zip(cands, values):
        opt.tell(c, float(v))
    return values


@pytest.mark.parametrize("mutation,ng_name", [("gaussian", "OnePlusOne"),
                                              ("discrete", "DiscreteOnePlusOne")])
def test_one_plus_one_matches_nevergrad_step_by_step(mutation, ng_name):
    d, p = 7, 4
    ours = one_plus_one.OnePlusOne(mutation=mutation, population=p)
    state = ours.init(None, jnp.zeros(d), {})
    opt, rec = _optimizer(ng_name, d, p)
    for it in range(6):
        cands, x_ng, logs = _ask(opt, rec, p)
        draws = _one_plus_one_draws(logs, d, mutation)
        u = np.asarray(ours.candidates(draws, state))
        np.testing.assert_allclose(u, x_ng, **TOL, err_msg=f"iteration {it}")
        values = _tell(opt, cands, "shifted_sphere")
        state = state._replace(pending=jnp.asarray(u))
        state, _ = ours.tell(None, None, protocol.Evaluation(jnp.asarray(values), {}), state, {})
        np.testing.assert_allclose(float(state.sigma), opt._sigma, rtol=1e-5)
    rec_ng = np.asarray(opt.recommend().value)
    np.testing.assert_allclose(np.asarray(ours.recommend(state)), rec_ng, **TOL)


def _one_plus_one_draws(logs, d, mutation):
    normal, mask = np.zeros((len(logs), d)), np.zeros((len(logs), d), bool)
    for i, log in enumerate(logs):
        if not log:  # the very first ask returns the initial point without drawing
            mask[i, 0] = True
            continue
        if mutation == "gaussian":
            normal[i] = log[0][3]
            continue
        rands = [o for n, _, _, o in log if n == "rand"]
        normals = [o for n, _, _, o in log if n == "normal"]
        mask[i] = rands[-1] <= 1.0 / d
        normal[i, mask[i]] = normals
    return {"normal": jnp.asarray(normal, jnp.float32), "mask": jnp.asarray(mask)}


@pytest.mark.parametrize("crossover,ng_name,d", [("binomial", "DE", 6), ("twopoints", "TwoPointsDE", 9),
                                                 ("dimension", "DiscreteDE", 5)])
def test_de_matches_nevergrad_step_by_step(crossover, ng_name, d):
    p = 30
    ours = de.DifferentialEvolution(crossover=crossover, population=p)
    params = ours.default_params()
    opt, rec = _optimizer(ng_name, d, p)
    cands, x_ng, _ = _ask(opt, rec, p)  # the initial population
    state = ours.init(jax.random.key(0), jnp.zeros(d), params)._replace(pop=jnp.asarray(x_ng, jnp.float32))
    for it in range(8):
        if it:
            cands, x_ng, logs = _ask(opt, rec, p)
            draws = _de_draws(logs, d, crossover)
            u = ours.candidates(draws, state, params)
            np.testing.assert_allclose(np.asarray(u), x_ng, **TOL, err_msg=f"generation {it}")
        values = _tell(opt, cands, "rastrigin")
        state = state._replace(pending=jnp.asarray(x_ng, jnp.float32))
        state, _ = ours.tell(None, None, protocol.Evaluation(jnp.asarray(values), {}), state,
                             params)
        pop_ng = np.stack([c.value for c in opt.population.values()])
        np.testing.assert_allclose(np.asarray(state.pop), pop_ng, **TOL)
        best_ng = opt.current_bests["pessimistic"].parameter.value
        np.testing.assert_allclose(np.asarray(state.best_x), best_ng, **TOL)
    np.testing.assert_allclose(np.asarray(ours.recommend(state)), opt.recommend().value, **TOL)


def _de_draws(logs, d, crossover):
    out = {k: [] for k in ("a", "b", "r", "u", "lo", "hi", "middle")}
    for log in logs:
        it = iter(log)
        out["a"].append(next(it)[3])
        out["b"].append(next(it)[3])
        rest = list(it)
        if crossover == "twopoints":
            lo, hi = sorted(rest[0][3].tolist())
            if (lo, hi) == (0, d):
                inner, end = rest[1][3], rest[2][3]  # Python evaluates the right side first
                lo, hi = (inner, hi) if end == 0 else (lo, inner)
            out["lo"].append(lo)
            out["hi"].append(hi)
            out["middle"].append(bool(rest[-1][3]))
        else:
            out["r"].append(rest[0][3])
            u = np.ones(d)  # the forced index R draws no uniform
            others = [o for n, _, _, o in rest[1:]]
            u[np.arange(d) != rest[0][3]] = others
            out["u"].append(u)
    return {k: jnp.asarray(np.asarray(v)) for k, v in out.items() if v}


def test_pso_matches_nevergrad_step_by_step():
    d, p = 5, 40
    ours = pso.PSO(population=p, edge=pso.NEVERGRAD_EDGE)
    params = ours.default_params()
    opt, rec = _optimizer("PSO", d, p)
    cands, x_ng, logs = _ask(opt, rec, p)
    speed0 = np.stack([[o for n, a, _, o in log if n == "uniform"][0] for log in logs])
    state = ours.init(jax.random.key(0), jnp.zeros(d), params)._replace(
        x=jnp.asarray(x_ng, jnp.float32), pbest_x=jnp.asarray(x_ng, jnp.float32),
        speed=jnp.asarray(speed0, jnp.float32))
    for it in range(6):
        if it:
            cands, x_ng, logs = _ask(opt, rec, p)
            draws = {"rp": jnp.asarray(np.stack([log[0][3] for log in logs]), jnp.float32),
                     "rg": jnp.asarray(np.stack([log[1][3] for log in logs]), jnp.float32)}
            u, speed = ours.candidates(draws, state, params)
            np.testing.assert_allclose(np.asarray(u), x_ng, rtol=1e-4, atol=1e-4,
                                       err_msg=f"iteration {it}")
            state = state._replace(pending_speed=speed)
        else:
            state = state._replace(pending_speed=jnp.asarray(speed0, jnp.float32))
        values = _tell(opt, cands, "shifted_sphere")
        state = state._replace(pending=jnp.asarray(x_ng, jnp.float32))
        state, _ = ours.tell(None, None, protocol.Evaluation(jnp.asarray(values), {}), state,
                             params)
        np.testing.assert_allclose(np.asarray(state.best_x), opt._best.value, rtol=1e-4, atol=1e-4)
