"""Black-box attacks: HopSkipJump through ART with a hard query budget, and a random search.

Both see the model only through :class:`~audit.adversarial._model.Target`,
one query = one row sent to the model. Budgets are per attacked row. Both run
their model calls single-threaded (:func:`~audit.adversarial._threads.single_threaded`):
their calls are small, and thread pools per call oversubscribe a busy machine.
"""

from __future__ import annotations

import contextlib

import numpy as np

from audit.adversarial._model import Target
from audit.adversarial._space import distance
from audit.adversarial._threads import single_threaded

__all__ = ["random_search", "hopskipjump", "seeded_numpy"]


@contextlib.contextmanager
def seeded_numpy(seed: int):
    """Seed numpy's global generator for ART code that draws from it, then restore it.

    ART's HopSkipJump and APGD call ``np.random`` directly; seeding it here is
    the only way to make them reproducible. The previous state is restored.
    """
    state = np.random.get_state()  # noqa: NPY002 - ART draws from the legacy global generator
    np.random.seed(seed % (2**32))  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _directions(rng, m: int, d: int, norm: str) -> np.ndarray:
    # Half ball corners / sphere points (where a linear-ish boundary is nearest), half interior points.
    if norm == "inf":
        corner = rng.choice([-1.0, 1.0], size=(m, d))
        inner = rng.uniform(-1.0, 1.0, size=(m, d))
    else:
        g = rng.normal(size=(m, d))
        corner = g / np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
        inner = corner * rng.uniform(0, 1, size=(m, 1)) ** (1.0 / max(d, 1))
    pick = np.arange(m) % 2 == 0
    return np.where(pick[:, None], corner, inner)


def random_search(target: Target, rows: np.ndarray, eps, norm: str, budget: int,
                  rng: np.random.Generator, chunk: int = 25,
                  details: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Query-limited random search inside the eps-ball (this toolkit's own small attack).

    For each row in ``rows`` draw up to ``budget`` random perturbations (ball
    corners and interior points, masked, clipped to the valid range), in
    chunks, and keep the first that changes the predicted class.

    Returns
    -------
    delta_x : ndarray (n, d)
        Change per attacked row in original units (0 where nothing flipped).
    queries : ndarray of int (n,)
        Rows sent to the model per attacked row (at most ``budget``).

    ``details``, when given, receives the thread limits the model calls ran under.
    """
    with single_threaded() as threads:
        if details is not None:
            details["threads"] = threads
        return _random_search(target, rows, eps, norm, budget, rng, chunk)


def _random_search(target, rows, eps, norm, budget, rng, chunk):
    sp = target.space
    n = target.n
    eps_row = np.broadcast_to(np.asarray(eps, dtype=np.float64), (n,)) if np.ndim(eps) else np.full(n, float(eps))
    delta = np.zeros((n, sp.d))
    queries = np.zeros(n, dtype=np.int64)
    active = np.asarray(rows, dtype=np.int64)
    U0 = target.U0.astype(np.float64)
    while active.size and sp.d:
        m = int(min(chunk, budget - queries[active[0]]))
        if m <= 0:
            break
        dirs = _directions(rng, len(active) * m, sp.d, norm).reshape(len(active), m, sp.d)
        du = dirs * eps_row[active, None, None] * sp.mask
        U = np.clip(U0[active, None, :] + du, sp.lo, sp.hi)
        du = (U - U0[active, None, :]) * sp.mask
        dx = (du * sp.scale).reshape(-1, sp.d)
        rep = np.repeat(active, m)
        pred = np.argmax(target.proba_delta(dx, rep), axis=1).reshape(len(active), m)
        queries[active] += m
        flip = pred != target.y_idx[active, None]
        hit = flip.any(axis=1)
        first = np.argmax(flip, axis=1)
        delta[active[hit]] = du[hit, first[hit]] * sp.scale
        active = active[~hit]
    return delta, queries


class _Exhausted(Exception):
    pass


class _Oracle:
    """Counts queries for one row, stops at the budget, remembers the closest adversarial seen."""

    def __init__(self, target: Target, row: int, budget: int, norm: str):
        self.t, self.row, self.budget, self.norm = target, row, budget, norm
        self.used = 0
        self.best = None
        self.best_d = np.inf

    def __call__(self, Z: np.ndarray) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        if self.used + len(Z) > self.budget:
            raise _Exhausted
        sp = self.t.space
        du = (Z - self.t.U0[self.row].astype(np.float64)) * sp.mask
        p = self.t.proba_delta(du * sp.scale, np.full(len(Z), self.row))
        self.used += len(Z)
        adv = np.argmax(p, axis=1) != self.t.y_idx[self.row]
        if adv.any():
            dist = distance(du[adv], np.zeros_like(du[adv]), self.norm)
            j = int(np.argmin(dist))
            if dist[j] < self.best_d:
                self.best_d, self.best = float(dist[j]), du[adv][j]
        return p


def hopskipjump(target: Target, rows: np.ndarray, norm: str, budget: int, rng: np.random.Generator,
                max_iter: int = 10, max_eval: int = 100, init_eval: int = 10,
                init_queries: int = 50, details: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """ART's HopSkipJump per row, hard-capped at ``budget`` queries per row.

    It minimises the perturbation instead of using an epsilon: the result is
    the closest adversarial point seen among all queries (HopSkipJump only
    queries on its way to the boundary), evaluated at any epsilon later by
    clipping into the ball. The starting point is drawn by this toolkit from
    the seeded ``rng`` (ART's own draw is unseeded); rows without one are
    reported as not flipped.

    Returns
    -------
    delta_x : ndarray (n, d), queries : ndarray of int (n,)

    ``details``, when given, receives the thread limits the model calls ran under.
    """
    with single_threaded() as threads:
        if details is not None:
            details["threads"] = threads
        return _hopskipjump(target, rows, norm, budget, rng, max_iter, max_eval, init_eval, init_queries)


def _hopskipjump(target, rows, norm, budget, rng, max_iter, max_eval, init_eval, init_queries):
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    sp = target.space
    n = target.n
    delta = np.zeros((n, sp.d))
    queries = np.zeros(n, dtype=np.int64)
    # NaN-aware: a missing value in the sample must not turn a feature's whole range into NaN.
    with np.errstate(all="ignore"):
        lo = np.fmin(sp.lo, np.nanmin(np.where(np.isnan(target.U0), np.inf, target.U0), axis=0))
        hi = np.fmax(sp.hi, np.nanmax(np.where(np.isnan(target.U0), -np.inf, target.U0), axis=0))
    for i in np.asarray(rows, dtype=np.int64):
        oracle = _Oracle(target, int(i), budget, norm)
        u0 = target.U0[i].astype(np.float64)
        start = np.where(sp.mask > 0, rng.uniform(lo, hi, size=(min(init_queries, budget), sp.d)), u0)
        try:
            oracle(start)
        except _Exhausted:
            pass
        if oracle.best is not None and budget - oracle.used > 3:
            init = (u0 + oracle.best).astype(np.float32)[None, :]
            clf = BlackBoxClassifier(oracle, input_shape=(sp.d,), nb_classes=target.k,
                                     clip_values=(lo.astype(np.float32), hi.astype(np.float32)))
            atk = HopSkipJump(clf, norm=np.inf if norm == "inf" else 2, max_iter=max_iter,
                              max_eval=max_eval, init_eval=init_eval, init_size=1, batch_size=max_eval,
                              verbose=False)
            with seeded_numpy(int(rng.integers(2**31))):
                try:
                    atk.generate(target.U0[i : i + 1].copy(), x_adv_init=init, mask=sp.mask.astype(np.float32))
                except _Exhausted:
                    pass
        if oracle.best is not None:
            delta[i] = oracle.best * sp.scale
        queries[i] = oracle.used
    return delta, queries
