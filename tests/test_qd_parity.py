"""CMA-MAEGA against pyribs 0.12.0: step-by-step with injected noise, and end to end.

Step-by-step tests drive pyribs' GradientArborescenceEmitter + GridArchive and ours with the
same theta0, the same Jacobians and the same CMA-ES noise (pyribs' sampler is replaced by one
returning sigma * z for our z), in float64, and compare theta, Adam, CMA-ES and the archive.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlatent.search import qd, runner
from jaxlatent.workdir import Workdir
from jaxlatent.search.qd import archive as qa
from jaxlatent.search.qd import cma_es
from jaxlatent.search.qd import emitter as em

ribs = pytest.importorskip("ribs")
from ribs.archives import GridArchive  # noqa: E402
from ribs.emitters import GradientArborescenceEmitter  # noqa: E402
from ribs.emitters.opt import CMAEvolutionStrategy  # noqa: E402


def sphere_np(x):
    """pyribs tutorial sphere with clipped linear-projection measures (numpy, batched)."""
    d = x.shape[1]
    shift = 5.12 * 0.4
    worst = (-5.12 - shift) ** 2 * d
    obj = (np.sum((x - shift) ** 2, 1) - worst) / (0.0 - worst) * 100
    grad = -2 * (x - shift)
    clipped = x.copy()
    mask = (clipped < -5.12) | (clipped > 5.12)
    clipped[mask] = 5.12 / clipped[mask]
    meas = np.stack([clipped[:, : d // 2].sum(1), clipped[:, d // 2:].sum(1)], 1)
    der = np.where(mask, -5.12 / np.where(mask, x, 1.0) ** 2, 1.0)
    half = np.arange(d) < d // 2
    jac = np.stack([grad, der * half, der * ~half], 1)
    return obj, meas, jac


def sphere_jax(x):
    """The same function in JAX; Jacobian by the same closed form."""
    d = x.shape[1]
    shift = 5.12 * 0.4
    worst = (-5.12 - shift) ** 2 * d
    obj = (jnp.sum((x - shift) ** 2, 1) - worst) / (0.0 - worst) * 100
    mask = (x < -5.12) | (x > 5.12)
    clipped = jnp.where(mask, 5.12 / jnp.where(mask, x, 1.0), x)
    meas = jnp.stack([clipped[:, : d // 2].sum(1), clipped[:, d // 2:].sum(1)], 1)
    der = jnp.where(mask, -5.12 / jnp.where(mask, x, 1.0) ** 2, 1.0)
    half = jnp.arange(d) < d // 2
    jac = jnp.stack([-2 * (x - shift), der * half, der * ~half], 1)
    return obj, meas, jac


class _FixedNormal:
    """Stands in for pyribs' numpy Generator: normal(0, sigma, size) -> sigma * z."""

    def __init__(self):
        self.z = None

    def normal(self, loc, scale, size):
        assert self.z.shape == tuple(size)
        return loc + scale * self.z


def test_cma_es_matches_pyribs_with_injected_noise():
    n, lam, sigma0 = 3, 7, 0.5
    ref = CMAEvolutionStrategy(sigma0=sigma0, solution_dim=n, batch_size=lam, seed=0)
    ref.reset(np.zeros(n))
    fake = _FixedNormal()
    ref._rng = fake
    cfg = cma_es.CMAConfig(sigma0, n, lam)
    rng = np.random.default_rng(0)
    err = 0.0
    with jax.enable_x64(True):
        st = cma_es.init(jnp.zeros(n), cfg)
        ask = jax.jit(functools.partial(cma_es.ask_with_noise, cfg=cfg))
        tell = jax.jit(functools.partial(cma_es.tell, cfg=cfg))
        refreshes = 0
        for it in range(40):  # several lazy eigensystem refreshes happen
            fake.z = rng.standard_normal((lam, n))
            samples_ref = ref.ask()
            samples, st = ask(jnp.asarray(fake.z), st)
            np.testing.assert_allclose(samples, samples_ref, rtol=1e-9, atol=1e-12)
            values = -np.sum((samples_ref - 1.0) ** 2, 1)
            order = np.flip(np.argsort(values))
            mu = [0, 1, 3, lam // 2, lam][it % 5]
            ref.tell(order, values, mu)
            st = tell(st, samples, jnp.asarray(order), mu)
            refreshes = int(st.updated_eval > 0) + refreshes
            for ours, theirs in [(st.mean, ref.mean), (st.sigma, ref.sigma), (st.pc, ref.pc),
                                 (st.ps, ref.ps), (st.cov, ref.cov.cov),
                                 (st.eigvals, ref.cov.eigenvalues),
                                 (st.cond, ref.cov.condition_number)]:
                e = np.max(np.abs(np.asarray(ours) - theirs) / (1 + np.abs(theirs)))
                err = max(err, e)
                assert e < 1e-9, (it, e)
            assert bool(cma_es.check_stop(st, jnp.asarray(values[order]))) == ref.check_stop(
                values[order])
    assert refreshes > 0
    print(f"max relative error {err:.2e}")


def _drive(cfg_kw, arch_kw, theta0, iters, fn_np, fn_jax, check_no_parents=None):
    """Runs pyribs and ours side by side; returns the max relative error seen."""
    d = theta0.shape[0]
    spec = qa.ArchiveSpec(arch_kw["dims"], arch_kw["ranges"], arch_kw["learning_rate"],
                          arch_kw["threshold_min"])
    ecfg = em.EmitterConfig(**cfg_kw)
    lam = ecfg.batch_size
    ref_arch = GridArchive(solution_dim=d, **arch_kw)
    ref = GradientArborescenceEmitter(
        ref_arch, x0=theta0, sigma0=ecfg.sigma0, lr=ecfg.lr, ranker="imp",
        selection_rule=ecfg.selection_rule, restart_rule=ecfg.restart_rule,
        grad_opt=ecfg.grad_opt, batch_size=lam, seed=0)
    fake = _FixedNormal()
    ref._opt._rng = fake
    rng = np.random.default_rng(1)
    add = jax.jit(functools.partial(qa.add, spec))
    tell_dqd = jax.jit(functools.partial(em.tell_dqd, cfg=ecfg))
    ask = jax.jit(functools.partial(em.ask_with_noise, cfg=ecfg))
    tell = jax.jit(functools.partial(em.tell, cfg=ecfg))
    err, parents_seen, restarts = 0.0, set(), 0
    st = em.init(jnp.asarray(theta0), 2, ecfg)
    arch = qa.init_archive(spec, d, jnp.float64)
    for it in range(iters):
        th = ref.ask_dqd()
        np.testing.assert_allclose(st.opt.theta[None], th, rtol=1e-9, atol=1e-9)
        f, m, j = fn_np(th)
        ref.tell_dqd(th, f, m, j, ref_arch.add(th, f, m))
        fj, mj, jj = fn_jax(st.opt.theta[None])
        arch, _ = add(arch, st.opt.theta[None], fj, mj)
        st = tell_dqd(st, jj)
        fake.z = rng.standard_normal((lam, 3))
        sols_ref = ref.ask()
        sols, st = ask(jnp.asarray(fake.z), st)
        np.testing.assert_allclose(sols, sols_ref, rtol=1e-8, atol=1e-8)
        f, m, _ = fn_np(sols_ref)
        info_ref = ref_arch.add(sols_ref, f, m)
        fj, mj, _ = fn_jax(sols)
        arch, info = add(arch, sols, fj, mj)
        np.testing.assert_array_equal(info.status, info_ref["status"])
        parents_seen.add(int(np.sum(info_ref["status"] > 0)))
        st = tell(jax.random.key(it), st, arch, sols, info)
        # pyribs draws its restart elite with its own RNG: hand it the elite we drew (it must
        # be an elite of pyribs' archive too, whose contents we check equal below).
        if int(st.restarts) > restarts:
            restarts = int(st.restarts)
            elites = ref_arch.data("solution")
            assert np.min(np.abs(elites - np.asarray(st.opt.theta)).max(1)) < 1e-9
            ref_arch.sample_elites = lambda n, t=np.asarray(st.opt.theta): {"solution": t[None]}
        ref.tell(sols_ref, f, m, info_ref)
        assert ref.restarts == int(st.restarts)
        pairs = [(st.opt.theta, ref._grad_opt.theta), (st.cma.mean, ref._opt.mean),
                 (st.cma.sigma, ref._opt.sigma), (st.cma.cov, ref._opt.cov.cov),
                 (st.cma.ps, ref._opt.ps), (st.cma.pc, ref._opt.pc)]
        if ecfg.grad_opt == "adam":
            pairs += [(st.opt.m, ref._grad_opt._m), (st.opt.v, ref._grad_opt._v)]
            assert int(st.opt.t) == ref._grad_opt._t
        for ours, theirs in pairs:
            e = np.max(np.abs(np.asarray(ours) - theirs) / (1 + np.abs(theirs)))
            err = max(err, e)
            assert e < 1e-6, (it, e)
        occ = np.zeros(spec.cells, bool)
        occ[ref_arch.data("index")] = True
        np.testing.assert_array_equal(arch.occupied, occ)
        t_ref = np.zeros(spec.cells)
        t_ref[ref_arch.data("index")] = ref_arch.data("threshold")
        np.testing.assert_allclose(np.where(occ, arch.thresholds, 0), t_ref, atol=1e-9)
    return err, parents_seen, restarts


D = 10
ARCH = dict(dims=(3, 3), ranges=((-D / 2 * 5.12, D / 2 * 5.12),) * 2)


def test_emitter_step_by_step_matches_pyribs_adam_filter():
    """Mixed iterations: several with parents, several where no branch improves."""
    with jax.enable_x64(True):
        err, seen, _ = _drive(
            dict(sigma0=0.5, lr=0.5, batch_size=5, selection_rule="filter",
                 restart_rule="basic", grad_opt="adam"),
            dict(ARCH, learning_rate=0.5, threshold_min=0.0),
            np.linspace(-1, 1, D), 25, sphere_np, sphere_jax)
    assert 0 in seen and max(seen) > 0, seen  # both regimes were exercised
    print(f"max relative error {err:.2e}")
    assert err < 1e-6


def test_emitter_no_branch_improves_pulls_theta_to_origin():
    """Objective always below threshold_min: pyribs' empty weighted mean (zero vector)."""
    def neg_np(x):
        o, m, j = sphere_np(x)
        return o - 200.0, m, j

    def neg_jax(x):
        o, m, j = sphere_jax(x)
        return o - 200.0, m, j

    theta0 = np.full(D, 3.0)
    with jax.enable_x64(True):
        err, seen, _ = _drive(
            dict(sigma0=0.5, lr=0.5, batch_size=5, restart_rule="basic"),
            dict(ARCH, learning_rate=0.02, threshold_min=0.0), theta0, 6, neg_np, neg_jax)
        print(f"max relative error {err:.2e}")
        assert seen == {0} and err < 1e-6
        # the "keep" option leaves theta where it is
        ecfg = em.EmitterConfig(sigma0=0.5, lr=0.5, batch_size=5, no_parents="keep")
        st = em.init(jnp.asarray(theta0), 2, ecfg)
        spec = qa.ArchiveSpec(ARCH["dims"], ARCH["ranges"], 0.02, 0.0)

        @jax.jit
        def one_iteration(st):
            st = em.tell_dqd(st, sphere_jax(st.opt.theta[None])[2], ecfg)
            sols, st = em.ask(jax.random.key(0), st, ecfg)
            o, m, _ = neg_jax(sols)
            arch, info = qa.add(spec, qa.init_archive(spec, D, jnp.float64), sols, o, m)
            return em.tell(jax.random.key(1), st, arch, sols, info, ecfg)

        st2 = one_iteration(st)
        np.testing.assert_array_equal(st2.opt.theta, theta0)


def test_emitter_restarts_and_gradient_ascent_match_pyribs():
    """restart_rule=3 forces restarts; plain gradient ascent as in the sphere tutorial."""
    with jax.enable_x64(True):
        err, _, restarts = _drive(
            dict(sigma0=2.0, lr=1.0, batch_size=6, restart_rule=3,
                 grad_opt="gradient_ascent"),
            dict(ARCH, learning_rate=0.01, threshold_min=0.0),
            np.zeros(D), 10, sphere_np, sphere_jax)
    print(f"max relative error {err:.2e}, restarts {restarts}")
    assert restarts >= 3 and err < 1e-6


# ---------------------------------------------------------------- end to end (statistical)

E2E_D, E2E_ITERS, E2E_SEEDS = 20, 150, 3
E2E_BOUND = E2E_D / 2 * 5.12


def _e2e_ribs(seed):
    ranges = [(-E2E_BOUND, E2E_BOUND)] * 2
    arch = GridArchive(solution_dim=E2E_D, dims=(20, 20), ranges=ranges,
                       learning_rate=0.01, threshold_min=0.0, seed=seed)
    result = GridArchive(solution_dim=E2E_D, dims=(20, 20), ranges=ranges, seed=seed)
    seeds = np.random.SeedSequence(seed).spawn(3)
    emitters = [GradientArborescenceEmitter(
        arch, x0=np.zeros(E2E_D), sigma0=10.0, lr=1.0, ranker="imp",
        grad_opt="gradient_ascent", restart_rule="basic", batch_size=11, seed=s)
        for s in seeds]
    sched = ribs.schedulers.Scheduler(arch, emitters, result_archive=result)
    for _ in range(E2E_ITERS):
        x = sched.ask_dqd()
        f, m, j = sphere_np(x)
        sched.tell_dqd(f, m, j)
        x = sched.ask()
        f, m, _ = sphere_np(x)
        sched.tell(f, m)
    return float(result.stats.norm_qd_score), float(result.stats.coverage)


def _objective(x, ctx, *, key=None):
    """The sphere as a minimised objective of one solution: value = −f, aux = measures."""
    obj, meas, _ = sphere_jax(x[None])
    return -obj[0], {"measures": meas[0]}


def _run_ours(key, iters, chunk, workdir=None):
    """CMA-MAEGA (f = −value) on the runner; returns (QDState of the one problem, rows)."""
    state, rows = runner.run(qd.CmaMaega(E2E_CONFIG), runner.Problem(_objective), key,
                             jnp.zeros((1, E2E_D)), {}, num_steps=iters, chunk_size=chunk,
                             workdir=workdir, progress=False)
    return jax.tree.map(lambda x: x[0], state.strategy), rows


E2E_CONFIG = qd.QDConfig(
    qd.ArchiveSpec((20, 20), ((-E2E_BOUND, E2E_BOUND),) * 2, 0.01, 0.0),
    qd.EmitterConfig(sigma0=10.0, lr=1.0, batch_size=11, grad_opt="gradient_ascent"),
    num_emitters=3)


def test_end_to_end_sphere_matches_pyribs_statistically():
    """D=20 sphere, 20x20 grid, 3 emitters x (11 + 1), 150 iterations, 3 seeds each.

    Compares mean normalised QD score and coverage of the result archives (not yet saturated at
    150 iterations: ~65 / ~0.86, seed std ~3 / ~0.03 on both sides). Bounds: ours within 10%
    (QD score, ~3 sigma of the difference of 3-seed means) and 0.08 absolute (coverage).
    """
    ours = []
    for s in range(E2E_SEEDS):
        _, rows = _run_ours(jax.random.key(s), E2E_ITERS, E2E_ITERS)
        ours.append((float(rows[-1]["qd_score"]), float(rows[-1]["coverage"])))
    theirs = [_e2e_ribs(s) for s in range(E2E_SEEDS)]
    q_o, c_o = np.mean(ours, 0)
    q_r, c_r = np.mean(theirs, 0)
    print(f"ours qd={q_o:.3f} cov={c_o:.3f} | pyribs qd={q_r:.3f} cov={c_r:.3f}")
    assert abs(q_o - q_r) <= 0.10 * q_r, (ours, theirs)
    assert abs(c_o - c_r) <= 0.08, (ours, theirs)
    assert c_r > 0.3  # the benchmark is not trivially failing on either side


def test_resume_equals_uninterrupted_run(tmp_path):
    """Randomness is fold_in(problem key, iteration): n iterations, then a resumed run to 2n
    (same workdir), equals 2n iterations in one go."""
    n = E2E_ITERS
    key = jax.random.key(3)
    full, rows_full = _run_ours(key, 2 * n, n)
    _run_ours(key, n, n, workdir=Workdir(str(tmp_path)))
    resumed, rows_rest = _run_ours(key, 2 * n, n, workdir=Workdir(str(tmp_path)))
    jax.tree.map(np.testing.assert_array_equal, full, resumed)
    assert [r["qd_score"] for r in rows_full[n:]] == [r["qd_score"] for r in rows_rest]
    assert int(full.iteration) == 2 * n and float(rows_full[-1]["coverage"]) > 0
