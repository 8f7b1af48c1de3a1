"""A minimal-perturbation attack on tree ensembles that searches over the trees' thresholds.

In the spirit of Zhang, Zhang and Hsieh (2020), "An Efficient Adversarial Attack
for Tree Ensembles" (NeurIPS): the prediction of a tree ensemble only changes
when a feature crosses one of the trees' split thresholds, so the search moves
between *leaf tuples* (one leaf per tree) instead of following gradients or
querying blindly. Every leaf is a box; a leaf whose box is violated by the
current point in exactly one feature ``j`` is reachable by moving ``j`` alone
(one traversal per tree finds them all: the point's path plus, at each split
on a movable feature, a deviation down the other side; see :func:`_neighbourhood`).
For every row and every feature, the reachable leaves of all trees give the
ensemble's score as a piecewise-constant function of that one feature; a sweep
over the sorted interval ends evaluates every segment at once (numpy, all rows
together). A step takes, per row, the best single-feature move. The search:

1. *Walk* from the row (and from the nearest sampled rows of another predicted
   class, their mutable features with the row's own frozen ones, pulled to the
   decision boundary along the segment; seeded random points in the valid box
   for rows with no such neighbour): the move that flips the class at the
   smallest distance; else the largest drop of the true class's margin that
   adds no distance; else the largest drop per unit of added distance.
2. *Bisect the radius*: search the ball of half the best distance found so far,
   starting from the best point projected into it, with moves restricted to the
   ball (each a free coordinate step on the exact piecewise-constant score),
   and again from the ball's corner toward the best point; success lowers the
   best distance, failure raises the lower end (10 rounds).
3. *Shrink* (the neighbourhood search of Zhang et al.): moves that keep the
   class flipped and bring the point closer to the row, which also snaps it to
   the exact thresholds (L-inf ties broken by the L1 distance, so features tied
   at the maximum shrink one after another).

The smallest flipping perturbation per row is the result: one run that serves
every epsilon (a MINIMAL attack, like HopSkipJump here).

Where the search happens. Thresholds live in the space the trees see, after the
model's preprocessing. The audit's attack space is its numeric columns, and
categorical columns are frozen, so :func:`tree_view` pulls the thresholds back:
it probes the preprocessing and accepts it when every transformed column is
either constant for a row (one-hot or ordinal codes of frozen categoricals,
immutable numerics) or an affine function of one mutable numeric column
(passthrough, StandardScaler, MinMaxScaler, ...). A threshold ``t`` on
``a * x + b`` is the threshold ``(t - b) / a`` on ``x``, so the search runs in
the audit's own numeric space, where the epsilon ball, ranges, integer steps and
masks are defined, and never has to map a point back through an inverse
transform. A preprocessing that mixes columns (PCA, polynomial features) or is
not affine (quantile transforms) is refused with the reason; ``attack: auto``
then falls back to HopSkipJump.

Guarantees: every example is checked against the model itself (one batch call);
immutable features are never moved; integer features only take integer values;
values stay in the valid range. The distance is an upper bound on the true
minimal adversarial distance (the exact problem is NP-hard; Kantchelian et al.
2016 solve it as a MILP), tight on the small forests of the tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from audit.adversarial._forest import Forest, raw_scores, read_forest
from audit.adversarial._threads import single_threaded

__all__ = ["TreeView", "tree_view", "tree_ensemble_attack"]

# Bytes of scratch memory one neighbourhood chunk may use (rows x conditions).


@dataclass
class TreeView:
    """A tree ensemble seen from the audit's numeric attack space.

    Built by :func:`tree_view`. Holds the forest, the rows' original numeric
    values ``x0`` (original units), the transformed matrix ``T0`` the trees saw
    on them, how each transformed column depends on the numeric columns, and
    every split pulled back onto them: ``node_j`` the numeric column a node's
    split moves with (-1: fixed for a row), ``node_xthr`` its threshold on that
    column, ``node_low`` whether the left child is the low side (``a > 0``),
    ``node_nudge`` the margin kept from a threshold of an inexact (scaled) map.
    """

    forest: Forest
    x0: np.ndarray
    T0: np.ndarray
    scale: np.ndarray
    rowmask: np.ndarray
    box_lo: np.ndarray
    box_hi: np.ndarray
    integer: np.ndarray
    y: np.ndarray
    col_j: np.ndarray
    col_a: np.ndarray
    col_b: np.ndarray
    node_j: np.ndarray
    node_xthr: np.ndarray
    node_low: np.ndarray
    node_nudge: np.ndarray
    node_tree: np.ndarray
    info: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.x0)

    @property
    def d(self) -> int:
        return self.x0.shape[1]

    def transformed(self, rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        """The trees' input matrix for rows ``rows`` moved to numeric values ``X``."""
        T = self.T0[rows].copy()
        mov = np.flatnonzero(self.col_j >= 0)
        T[:, mov] = X[:, self.col_j[mov]] * self.col_a[mov] + self.col_b[mov]
        return T

    def scores(self, rows: np.ndarray, X: np.ndarray) -> np.ndarray:
        return self.forest.scores(self.transformed(rows, X))


def _dense(a) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def tree_view(target, info) -> TreeView:
    """Read the model's trees and pull their thresholds back to the attack's numeric space.

    Parameters
    ----------
    target : Target
        The attacked rows and the model (``audit.adversarial._model.Target``).
    info : ModelInfo
        ``info.final`` is the tree model, ``info.pre`` the preprocessing before it (or None).

    Raises
    ------
    ValueError
        When the trees cannot be read, the preprocessing mixes columns or is not
        affine in a mutable numeric column, a categorical split acts on a mutable
        column, or the trees read do not reproduce the model's predictions.
    """
    sp, X0 = target.space, target.X0
    forest = read_forest(info.final)
    pre, inner = info.pre, forest.pre

    def T(X):
        Z = pre.transform(X) if pre is not None else X
        if inner is not None:
            Z = inner.transform(Z)
        return _dense(Z.to_numpy(dtype=float) if hasattr(Z, "to_numpy") else Z)

    T0 = T(X0)
    if T0.shape[1] != forest.n_columns:
        raise ValueError(f"the preprocessing gives {T0.shape[1]} columns but the {forest.name} expects "
                         f"{forest.n_columns}")
    if np.isnan(forest.baseline).any():  # XGBoost / LightGBM: the start score is not in the trees
        raw = raw_scores(info.final, T0)
        diff = raw - forest.value[forest.apply(T0)].sum(axis=1)
        base = np.median(diff, axis=0)
        if np.abs(diff - base).max(initial=0) > 1e-4 * (1 + np.abs(raw).max(initial=0)):
            raise ValueError(f"the {forest.name} trees read do not add up to its raw scores")
        forest.baseline = base
    x0 = X0[sp.columns].to_numpy(dtype=np.float64)
    col_j, col_a, col_b, exact = _pullback(T, X0, T0, x0, sp)
    lookup = {c: i for i, c in enumerate(forest.classes.tolist())}
    y = np.array([lookup.get(c, -1) for c in target.classes[np.maximum(target.y_idx, 0)].tolist()])
    y = np.where(target.y_idx >= 0, y, -1)
    _verify(forest, target, X0, T0)
    rowmask = (sp.mask[None, :] > 0) & np.isfinite(x0)
    xlo, xhi = sp.center + sp.lo * sp.scale, sp.center + sp.hi * sp.scale
    box_lo = np.minimum(xlo[None, :], np.where(np.isfinite(x0), x0, np.inf))
    box_hi = np.maximum(xhi[None, :], np.where(np.isfinite(x0), x0, -np.inf))
    view = _nodes(forest, col_j, col_a, col_b, exact, [str(c) for c in sp.columns])
    # A NaN in a mutable column freezes it for that row (rowmask); its splits follow the
    # model's missing-value direction like any fixed input.
    return TreeView(forest=forest, x0=x0, T0=T0, scale=sp.scale.astype(np.float64), rowmask=rowmask,
                    box_lo=box_lo, box_hi=box_hi, integer=sp.integer, y=y, col_j=col_j, col_a=col_a,
                    col_b=col_b, **view)


def _pullback(T, X0, T0, x0, sp):
    """How each transformed column depends on the mutable numeric columns (probed, verified).

    Returns ``col_j`` (the numeric column it follows, -1 when constant for a
    row), ``col_a``, ``col_b`` (``t = a x + b``) and ``exact`` (the column is
    the numeric column itself, bit for bit: thresholds then need no tolerance).
    """
    C = T0.shape[1]
    col_j = np.full(C, -1, dtype=np.int64)
    col_a, col_b = np.ones(C), np.zeros(C)
    exact = np.zeros(C, dtype=bool)
    ok_rows = np.isfinite(x0).all(axis=1) & np.isfinite(T0).all(axis=1)
    for j in np.flatnonzero(sp.mask > 0):
        s = sp.scale[j]
        step = np.zeros((len(X0), sp.d))
        step[:, j] = s
        d1 = (T(sp.apply(X0, step)) - T0) / s
        d2 = (T(sp.apply(X0, -2 * step)) - T0) / (-2 * s)
        d1, d2 = d1[ok_rows], d2[ok_rows]
        if not len(d1):
            continue
        moved = np.flatnonzero((np.abs(d1) > 0).any(axis=0) | (np.abs(d2) > 0).any(axis=0))
        for c in moved:
            name = sp.columns[j]
            tol = 1e-6 * (1.0 + np.abs(d1[:, c]).max())
            if np.ptp(d1[:, c]) > tol or np.abs(d1[:, c] - d2[:, c]).max() > tol:
                raise ValueError(f"the preprocessing is not affine in {name!r} (transformed column {c}): "
                                 "the tree attack pulls thresholds back through per-column affine maps only")
            if col_j[c] >= 0:
                raise ValueError(f"transformed column {c} mixes the numeric columns {sp.columns[col_j[c]]!r} "
                                 f"and {name!r}: the tree attack needs each column to follow one input")
            a = float(np.median(d1[:, c]))
            b_rows = T0[ok_rows, c] - a * x0[ok_rows, j]
            b = float(np.median(b_rows))
            if np.abs(b_rows - b).max() > 1e-6 * (1.0 + np.abs(T0[ok_rows, c]).max()):
                raise ValueError(f"transformed column {c} depends on {name!r} and on other inputs")
            col_j[c], col_a[c], col_b[c] = j, a, b
            exact[c] = bool(np.array_equal(T0[:, c], x0[:, j], equal_nan=True))
            if exact[c]:
                col_a[c], col_b[c] = 1.0, 0.0
    return col_j, col_a, col_b, exact


def _verify(forest: Forest, target, X0, T0) -> None:
    """The trees read must reproduce the model on the attacked rows (one batch call)."""
    S = forest.scores(T0)
    with single_threaded():
        lab = np.asarray(target.adapter.predict(X0))
        p = target.adapter.predict_proba(X0) if target.adapter.has_proba else None
    mine = forest.classes[forest.predict_idx(S)]
    bad = int(np.sum(mine != lab))
    if bad:
        raise ValueError(f"the {forest.name} trees read do not reproduce the model's predictions "
                         f"on {bad} of {len(lab)} rows")
    if p is not None and np.shape(p) == (len(T0), len(forest.classes)):
        err = float(np.abs(forest.probabilities(S) - np.asarray(p, dtype=float)).max(initial=0))
        if err > 1e-4:
            raise ValueError(f"the {forest.name} trees read give probabilities {err:.2g} away from the model's")


def _nodes(forest: Forest, col_j, col_a, col_b, exact, names) -> dict:
    """Every split pulled back onto the numeric column it moves with (if any)."""
    inner = forest.feature >= 0
    col = np.where(inner, forest.feature, 0)
    node_j = np.where(inner, col_j[col], -1)
    if (forest.is_cat & (node_j >= 0)).any():
        j = int(node_j[forest.is_cat & (node_j >= 0)][0])
        raise ValueError(f"a categorical split of the {forest.name} acts on the mutable numeric column "
                         f"{names[j]!r}: declare it categorical or immutable")
    a, b, thr = col_a[col], col_b[col], forest.threshold
    with np.errstate(invalid="ignore", divide="ignore"):
        xthr = np.where(node_j >= 0, (thr - b) / a, np.nan)
    # Inexact maps (scalers): stay a few ulps of the tree's comparison precision clear of a
    # pulled-back threshold, in x units; exact (passthrough) columns need no margin.
    rel = 4e-7 if forest.f32 else 1e-12
    nudge = np.where((node_j >= 0) & ~exact[col], rel * (np.abs(thr) + 1.0) / np.abs(a), 0.0)
    tree = np.repeat(np.arange(forest.n_trees), np.diff(np.r_[forest.roots, len(forest.feature)]))
    info = {"trees": forest.n_trees, "nodes": int(len(forest.feature)), "leaves": int((~inner).sum()),
            "mutable_splits": int((node_j >= 0).sum()),
            "exact_thresholds": bool(exact[col[node_j >= 0]].all()) if (node_j >= 0).any() else True}
    return dict(node_j=node_j, node_xthr=xthr, node_low=a > 0, node_nudge=nudge, node_tree=tree, info=info)


# -- the search ------------------------------------------------------------------------------


def _narrow(lo, hi, nlo, nhi, xt, nu, low_side):
    """Intersect intervals ``(lo, hi]`` with the side of a threshold ``xt`` (low or high)."""
    up = low_side & (xt < hi)
    dn = ~low_side & (xt > lo)
    return (np.where(dn, xt, lo), np.where(up, xt, hi), np.where(dn, nu, nlo), np.where(up, nu, nhi))


def _neighbourhood(view: TreeView, rows: np.ndarray, X: np.ndarray, box_lo, box_hi):
    """Current leaves and the leaves one feature away of points ``X`` of rows ``rows``.

    One traversal of every tree for every slot, all at once: the *main* path
    follows the point; at a split on a column that moves with numeric feature
    ``j``, when the threshold lies inside the slot's box for ``j``, a *deviation*
    starts down the other side. A deviation of feature ``j`` follows the point
    at every other split and goes both ways at ``j``'s splits (inside the box),
    keeping the interval of ``j`` its path allows. Its leaves are the leaves
    reachable by moving ``j`` alone (the leaves whose box the point violates
    in ``j`` only), with the interval of ``j`` that reaches them.

    Returns ``cur`` (s, T) leaf node per tree and the pairs (slot, leaf node,
    feature, lo, hi, nudge of lo, nudge of hi).
    """
    f = view.forest
    s, nt, d = len(rows), f.n_trees, view.d
    T = view.transformed(rows, X)
    cur = np.empty(s * nt, dtype=np.int64)
    # Main paths: one per (slot, tree), with the interval each feature's splits allowed so far.
    m_id = np.arange(s * nt)
    m_slot = np.repeat(np.arange(s), nt)
    m_node = np.tile(f.roots, s)
    m_lo = np.full((s * nt, max(d, 1)), -np.inf)
    m_hi = np.full((s * nt, max(d, 1)), np.inf)
    m_nlo = np.zeros((s * nt, max(d, 1)))
    m_nhi = np.zeros((s * nt, max(d, 1)))
    dv = {k: np.zeros(0, dtype=t) for k, t in (("slot", np.int64), ("node", np.int64), ("j", np.int64),
                                                 ("lo", float), ("hi", float), ("nlo", float), ("nhi", float))}
    out = []
    while m_node.size or dv["node"].size:
        if m_node.size:
            leaf = f.feature[m_node] < 0
            cur[m_id[leaf]] = m_node[leaf]
            keep = ~leaf
            m_id, m_slot, m_node = m_id[keep], m_slot[keep], m_node[keep]
        new = []
        if m_node.size:
            nd = m_node
            left = f.go_left(nd, T[m_slot, f.feature[nd]])
            follow = np.where(left, f.left[nd], f.right[nd])
            other = np.where(left, f.right[nd], f.left[nd])
            jn = view.node_j[nd]
            mov = np.flatnonzero(jn >= 0)
            if mov.size:
                e, j = mov, jn[mov]
                sl, xt, nu, low = m_slot[e], view.node_xthr[nd[e]], view.node_nudge[nd[e]], view.node_low[nd[e]]
                ids = m_id[e]
                lo, hi, nlo, nhi = m_lo[ids, j], m_hi[ids, j], m_nlo[ids, j], m_nhi[ids, j]
                # The other side, when the box for j reaches past the threshold.
                reach = view.rowmask[rows[sl], j] & (box_lo[sl, j] <= xt) & (xt < box_hi[sl, j])
                if reach.any():
                    r = np.flatnonzero(reach)
                    o_low = low[r] != left[e[r]]  # the other child is the low side iff x went high
                    olo, ohi, onlo, onhi = _narrow(lo[r], hi[r], nlo[r], nhi[r], xt[r], nu[r], o_low)
                    new.append((sl[r], other[e[r]], j[r], olo, ohi, onlo, onhi))
                # The main path narrows its own interval of j.
                f_low = low == left[e]
                m_lo[ids, j], m_hi[ids, j], m_nlo[ids, j], m_nhi[ids, j] = _narrow(lo, hi, nlo, nhi, xt, nu, f_low)
            m_node = follow
        if dv["node"].size:
            leaf = f.feature[dv["node"]] < 0
            if leaf.any():
                out.append({k: v[leaf] for k, v in dv.items()})
            dv = {k: v[~leaf] for k, v in dv.items()}
        if dv["node"].size:
            nd, sl, j = dv["node"], dv["slot"], dv["j"]
            left = f.go_left(nd, T[sl, f.feature[nd]])
            follow = np.where(left, f.left[nd], f.right[nd])
            other = np.where(left, f.right[nd], f.left[nd])
            own = view.node_j[nd] == j
            xt, nu, low = view.node_xthr[nd], view.node_nudge[nd], view.node_low[nd]
            both = own & (box_lo[sl, j] <= xt) & (xt < box_hi[sl, j])
            # Follow the point; at the deviation's own splits also take the other side (in the box).
            # Splits on other columns leave the interval alone (a NaN threshold narrows nothing).
            f_low = low == left
            xto = np.where(own, xt, np.nan)
            flo, fhi, fnlo, fnhi = _narrow(dv["lo"], dv["hi"], dv["nlo"], dv["nhi"], xto, nu, f_low)
            new.append((sl, follow, j, flo, fhi, fnlo, fnhi))
            if both.any():
                r = np.flatnonzero(both)
                olo, ohi, onlo, onhi = _narrow(dv["lo"][r], dv["hi"][r], dv["nlo"][r], dv["nhi"][r], xt[r], nu[r],
                                               ~f_low[r])
                new.append((sl[r], other[r], j[r], olo, ohi, onlo, onhi))
        if new:
            cols = [np.concatenate(c) for c in zip(*new, strict=True)]
            ok = cols[3] < cols[4]  # an empty interval reaches nothing
            dv = {k: c[ok] for k, c in zip(("slot", "node", "j", "lo", "hi", "nlo", "nhi"), cols, strict=True)}
        else:
            dv = {k: v[:0] for k, v in dv.items()}
    pairs = ({k: np.concatenate([o[k] for o in out]) for k in out[0]} if out
             else {k: v[:0] for k, v in dv.items()})
    return cur.reshape(s, nt), pairs


def _up(e: np.ndarray, x0: np.ndarray, f32: bool) -> np.ndarray:
    """Smallest value the trees see as strictly above threshold ``e`` (exact thresholds)."""
    with np.errstate(invalid="ignore", over="ignore"):
        if f32:
            c = e.astype(np.float32)
            c = np.where(c.astype(np.float64) <= e, np.nextafter(c, np.float32(np.inf)), c).astype(np.float64)
        else:  # clear of the rounding of x0 + (x - x0) when the engine re-applies the change
            c = e + 1e-12 * (np.abs(e) + np.abs(x0))
    return np.where(np.isfinite(e), c, e)


def _down(e: np.ndarray, x0: np.ndarray, f32: bool) -> np.ndarray:
    """Largest value the trees see as at most threshold ``e`` (exact thresholds)."""
    with np.errstate(invalid="ignore", over="ignore"):
        if f32:
            c = e.astype(np.float32)
            c = np.where(c.astype(np.float64) > e, np.nextafter(c, np.float32(-np.inf)), c).astype(np.float64)
        else:
            c = e - 1e-12 * (np.abs(e) + np.abs(x0))
    return np.where(np.isfinite(e), c, e)


def _moves(view: TreeView, rows, S, cur, pairs, box_lo, box_hi):
    """Every single-feature move of every slot: the best point of each segment of the sweep.

    For a slot and a feature, the reachable leaves' intervals on that feature
    cut the line into segments on which the ensemble's scores are constant;
    the sweep (sorted interval ends, cumulative score changes) gives each
    segment's scores, and the candidate point of a segment is the one nearest
    the original value inside the slot's box ``box_lo``/``box_hi`` (s, d) (valid
    range, and the ball in the radius-bounded search), integer where required.
    Returns (slot, feature, value, scores) per candidate.
    """
    f, d = view.forest, view.d
    p_slot, p_node, j = pairs["slot"], pairs["node"], pairs["j"]
    p_lo, p_hi, p_nlo, p_nhi = pairs["lo"], pairs["hi"], pairs["nlo"], pairs["nhi"]
    delta = f.value[p_node] - f.value[cur[p_slot, view.node_tree[p_node]]]
    # One event at -inf for every movable (slot, feature): its first segment, and the
    # features no reachable leaf depends on (moving them changes nothing but the distance).
    ds, dj = np.nonzero(view.rowmask[rows])
    key = np.concatenate([p_slot * d + j, p_slot * d + j, ds * d + dj])
    pos = np.concatenate([p_lo, p_hi, np.full(len(ds), -np.inf)])
    dl = np.concatenate([delta, -delta, np.zeros((len(ds), f.k))])
    nu = np.concatenate([p_nlo, p_nhi, np.zeros(len(ds))])
    order = np.lexsort((pos, key))
    key, pos, dl, nu = key[order], pos[order], dl[order], nu[order]
    cs = np.cumsum(dl, axis=0)
    new_key = np.r_[True, key[1:] != key[:-1]]
    first = np.flatnonzero(new_key)
    grp = np.cumsum(new_key) - 1
    base = np.where((first > 0)[:, None], cs[np.maximum(first - 1, 0)], 0.0)
    run_end = np.r_[(key[1:] != key[:-1]) | (pos[1:] != pos[:-1]), True]
    rs = np.flatnonzero(np.r_[True, run_end[:-1]])
    re = np.flatnonzero(run_end)
    run_nu = np.maximum.reduceat(nu, rs)
    rkey, rpos = key[re], pos[re]
    F = cs[re] - base[grp[re]]
    nxt = np.r_[rkey[1:] == rkey[:-1], False]
    seg_hi = np.where(nxt, np.r_[rpos[1:], np.inf], np.inf)
    nu_hi = np.where(nxt, np.r_[run_nu[1:], 0.0], 0.0)
    slot, jj = rkey // d, rkey % d
    i = rows[slot]
    x0v = view.x0[i, jj]
    lo = np.maximum(_up(rpos, x0v, f.f32) + run_nu, box_lo[slot, jj])
    hi = np.minimum(_down(seg_hi, x0v, f.f32) - nu_hi, box_hi[slot, jj])
    isint = view.integer[jj]
    lo = np.where(isint, np.ceil(lo), lo)
    hi = np.where(isint, np.floor(hi), hi)
    ok = (lo <= hi) & (rpos < np.inf)
    v = np.clip(np.where(isint, np.round(x0v), x0v), lo, hi)
    return slot[ok], jj[ok], v[ok], S[slot[ok]] + F[ok]


def _margin(f: Forest, S: np.ndarray, y: np.ndarray):
    """Margin of the true class (positive: still correct) and whether the class flipped."""
    if f.k == 1:
        s = S[:, 0]
        return np.where(y == 1, s, -s), np.where(y == 1, s <= 0, s > 0)
    # Forest probabilities are sums of fractions: round away summation noise so that exact
    # ties resolve to the first class, as the estimator's argmax does.
    Sr = np.round(S, 12) if f.proba == "mean" else S
    sy = Sr[np.arange(len(Sr)), y]
    other = Sr.copy()
    other[np.arange(len(Sr)), y] = -np.inf
    return sy - other.max(axis=1), np.argmax(Sr, axis=1) != y


def _distances(view: TreeView, rows, X, norm):
    D = np.abs((X - view.x0[rows]) / view.scale)
    D = np.where(view.rowmask[rows], D, 0.0)
    l1 = D.sum(axis=1)
    if norm == "inf":
        return D.max(axis=1) if view.d else np.zeros(len(rows)), l1, D
    return np.sqrt((D ** 2).sum(axis=1)), l1, D


def _first_per_slot(slot, *keys):
    """Index of the best candidate of each slot (lexicographic ``keys``, smallest first)."""
    if not len(slot):
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort(tuple(reversed(keys)) + (slot,)) if keys else np.argsort(slot, kind="stable")
    s = slot[order]
    head = np.r_[True, s[1:] != s[:-1]]
    return order[head]


def _descend(view: TreeView, rows, X, norm, max_steps, radius=None, shrink: bool = True):
    """Greedy single-feature moves for every slot at once.

    Without ``radius``: grow until the class flips, then shrink (see the module
    docstring). With ``radius`` (per slot, attack units): every move stays in
    the ball of that radius around the original row and the slot stops as soon
    as it flips; each step takes the flipping move nearest the row, else the
    largest drop of the margin.
    """
    f = view.forest
    alive = np.ones(len(rows), dtype=bool)
    steps = 0
    tol = 1e-12
    for steps in range(1, max_steps + 1):  # noqa: B007 - steps is reported
        act = np.flatnonzero(alive)
        if not act.size:
            steps -= 1
            break
        r, x = rows[act], X[act]
        dist, l1, D = _distances(view, r, x, norm)
        lo_b, hi_b = view.box_lo[r], view.box_hi[r]
        if radius is not None:
            if norm == "inf":
                w = np.broadcast_to(radius[act][:, None], D.shape)
            else:  # the room left to feature j by the other features' share of the L2 ball
                w = np.sqrt(np.maximum(radius[act][:, None] ** 2 - (dist[:, None] ** 2 - D ** 2), 0.0))
            x0 = view.x0[r]
            lo_b = np.maximum(lo_b, x0 - w * view.scale)
            hi_b = np.minimum(hi_b, x0 + w * view.scale)
        cur, pairs = _neighbourhood(view, r, x, lo_b, hi_b)
        S = f.baseline + f.value[cur].sum(axis=1)
        y = view.y[r]
        m, flip = _margin(f, S, y)
        c_slot, c_j, c_v, c_S = _moves(view, r, S, cur, pairs, lo_b, hi_b)
        cm, cflip = _margin(f, c_S, y[c_slot])
        delta = np.abs(c_v - view.x0[r[c_slot], c_j]) / view.scale[c_j]
        dj = D[c_slot, c_j]
        c_l1 = l1[c_slot] - dj + delta
        if norm == "inf":
            top = np.sort(D, axis=1)[:, ::-1] if view.d > 1 else np.c_[D, np.zeros(len(D))]
            arg = np.argmax(D, axis=1)
            other = np.where(arg[c_slot] == c_j, top[c_slot, 1], top[c_slot, 0])
            c_d = np.maximum(other, delta)
        else:
            c_d = np.sqrt(np.maximum(dist[c_slot] ** 2 - dj ** 2 + delta ** 2, 0.0))
        sf, sd, sl = flip[c_slot], dist[c_slot], l1[c_slot]
        gain = m[c_slot] - cm
        if radius is None:
            closer = (c_d < sd - tol) | ((c_d <= sd + tol) & (c_l1 < sl - tol))
            free = c_d <= sd + tol
            # Tiers: 0 flip at least distance (not yet flipped) / stay flipped and come closer;
            # 1 free margin drop; 2 margin drop per unit of added distance.
            tier = np.where(sf, np.where(cflip & closer & shrink, 0, 9),
                            np.where(cflip, 0, np.where(gain > tol, np.where(free, 1, 2), 9)))
        else:  # inside the ball every move is free; a flipped slot is done
            tier = np.where(sf, 9, np.where(cflip, 0, np.where(gain > tol, 1, 9)))
        with np.errstate(divide="ignore", invalid="ignore"):
            k2 = np.where(tier == 0, c_d, np.where(tier == 1, -gain, -gain / np.maximum(c_d - sd, tol)))
        k3 = np.where(tier == 0, c_l1, c_d)
        good = tier < 9
        best = _first_per_slot(c_slot[good], tier[good], k2[good], k3[good])
        idx = np.flatnonzero(good)[best]
        moved = np.zeros(len(act), dtype=bool)
        moved[c_slot[idx]] = True
        X[act[c_slot[idx]], c_j[idx]] = c_v[idx]
        alive[act[~moved]] = False
    return X, steps


def _refine(view: TreeView, rows, X, dist, norm, rounds: int, max_steps: int, corner: bool = True):
    """Bisection on the radius: search inside ever smaller balls, warm-started from the best point.

    ``X``/``dist`` hold each row's best flipping point and its distance (inf:
    none yet; those rows first try the whole valid box). A round searches the
    ball of the middle radius from the best point projected into it and, with
    ``corner``, also from the ball's boundary point in the best point's
    direction (L-inf: its corner); success lowers the upper end to the distance
    found, failure raises the lower end.
    """
    x0 = view.x0[rows]
    span = np.where(view.rowmask[rows], np.maximum(np.abs(view.box_hi[rows] - x0),
                                                   np.abs(x0 - view.box_lo[rows])) / view.scale, 0.0)
    full = span.max(axis=1) if norm == "inf" else np.sqrt((span ** 2).sum(axis=1))
    lo, hi = np.zeros(len(rows)), dist.copy()
    steps = 0
    for k in range(rounds):
        try_r = np.where(np.isfinite(hi), (lo + hi) / 2, full if k == 0 else 0.0)
        act = np.flatnonzero((try_r > 0) & (hi - lo > 1e-3 * np.where(np.isfinite(hi), hi, 1.0)))
        if not act.size:
            break
        start = np.where(np.isfinite(hi[act])[:, None], X[act], x0[act])
        off = (start - x0[act]) / view.scale
        rr = try_r[act][:, None]
        if norm == "inf":
            proj = np.clip(off, -rr, rr)
            far = np.sign(off) * rr  # the ball's corner toward the best point
        else:
            nrm = np.sqrt((off ** 2).sum(axis=1, keepdims=True))
            proj = off * np.minimum(1.0, rr / np.maximum(nrm, 1e-300))
            far = off * (rr / np.maximum(nrm, 1e-300))
        offs = [proj, far] if corner else [proj]
        slot_row = np.tile(act, len(offs))
        start = x0[slot_row] + np.concatenate(offs) * view.scale
        start = np.clip(start, view.box_lo[rows[slot_row]], view.box_hi[rows[slot_row]])
        start = np.where(view.integer, np.where(start > x0[slot_row], np.floor(start), np.ceil(start)), start)
        Xs, n_steps = _descend(view, rows[slot_row], start, norm, max_steps, radius=try_r[slot_row])
        steps += n_steps
        fl = _flipped(view, rows[slot_row], Xs)
        dd = np.where(fl, _distances(view, rows[slot_row], Xs, norm)[0], np.inf)
        pick = np.argmin(dd.reshape(len(offs), -1), axis=0) * len(act) + np.arange(len(act))
        Xs, fl, dd = Xs[pick], fl[pick], dd[pick]
        win = fl & (dd < hi[act])
        X[act[win]] = Xs[win]
        hi[act[win]] = dd[win]
        lo[act[~fl]] = try_r[act[~fl]]
        if k == 0:  # rows the whole box cannot flip are done
            hi[act[~fl & ~np.isfinite(hi[act])]] = 0.0
    return X, np.where(hi > 0, hi, dist), steps


def _flipped(view: TreeView, rows, X):
    return _margin(view.forest, view.scores(rows, X), view.y[rows])[1]


def _to_boundary(view: TreeView, rows, X, iters: int = 20):
    """Pull flipping start points toward their rows along the segment (bisection)."""
    x0 = view.x0[rows]
    lo, hi = np.zeros(len(rows)), np.ones(len(rows))
    isint = view.integer

    def at(t):
        p = x0 + t[:, None] * np.where(view.rowmask[rows], X - x0, 0.0)
        return np.where(isint, np.round(p), p)

    for _ in range(iters):
        mid = (lo + hi) / 2
        fl = _flipped(view, rows, at(mid))
        hi, lo = np.where(fl, mid, hi), np.where(fl, lo, mid)
    return at(hi)


def _starts(view: TreeView, rows, norm, rng, donors: int, tries: int = 8, random: int = 32):
    """Flipping start points: nearest sampled rows of another class, else seeded random points."""
    n = view.n
    x0 = view.x0
    pred = view.forest.predict_idx(view.scores(np.arange(n), x0))
    out_r, out_x = [], []
    if donors > 0 and len(rows):
        U = np.where(np.isfinite(x0), x0 / view.scale, 0.0)
        dist = np.empty((len(rows), n))
        for a in range(0, len(rows), 256):  # rows x sample x features, in blocks
            rb = rows[a:a + 256]
            diff = np.abs(U[None, :, :] - U[rb][:, None, :]) * view.rowmask[rb][:, None, :]
            dist[a:a + 256] = diff.max(axis=2) if norm == "inf" else np.sqrt((diff ** 2).sum(axis=2))
        dist = np.where(pred[None, :] != view.y[rows][:, None], dist, np.inf)
        near = np.argsort(dist, axis=1, kind="stable")[:, :tries]
        cand_r = np.repeat(rows, near.shape[1])
        donor = near.ravel()
        usable = np.isfinite(dist[np.repeat(np.arange(len(rows)), near.shape[1]), donor])
        xs = np.where(view.rowmask[cand_r] & np.isfinite(x0[donor]), x0[donor], x0[cand_r])
        xs = np.clip(xs, view.box_lo[cand_r], view.box_hi[cand_r])
        fl = usable & _flipped(view, cand_r, xs)
        # Keep the first `donors` flipping starts of each row (they are sorted by distance).
        rank = np.cumsum(fl.reshape(len(rows), -1), axis=1).ravel()
        keep = fl & (rank <= donors)
        out_r.append(cand_r[keep])
        out_x.append(xs[keep])
    have = np.zeros(n, dtype=bool)
    if out_r:
        have[out_r[0]] = True
    need = rows[~have[rows]]
    if random > 0 and need.size:
        cand_r = np.repeat(need, random)
        lo, hi = view.box_lo[cand_r], view.box_hi[cand_r]
        u = rng.uniform(size=lo.shape)
        xs = np.where(np.isfinite(lo) & np.isfinite(hi), lo + u * (hi - lo), x0[cand_r])
        xs = np.where(view.integer, np.round(xs), xs)
        xs = np.where(view.rowmask[cand_r], xs, x0[cand_r])
        fl = _flipped(view, cand_r, xs)
        if fl.any():
            d = _distances(view, cand_r, xs, norm)[0]
            d = np.where(fl, d, np.inf).reshape(len(need), random)
            pick = np.argmin(d, axis=1)
            ok = np.isfinite(d[np.arange(len(need)), pick])
            idx = (np.arange(len(need)) * random + pick)[ok]
            out_r.append(cand_r[idx])
            out_x.append(xs[idx])
    if not out_r:
        return np.zeros(0, dtype=np.int64), np.zeros((0, view.d))
    r, x = np.concatenate(out_r), np.concatenate(out_x)
    return r, _to_boundary(view, r, x)


def tree_ensemble_attack(view: TreeView, target, rows, norm: str, rng: np.random.Generator,
                         donors: int = 1, max_steps: int | None = None, rounds: int = 10,
                         corner: bool = True) -> tuple[np.ndarray, dict]:
    """Smallest flipping perturbation found per row (see the module docstring).

    Parameters
    ----------
    view : TreeView
        From :func:`tree_view` on the same ``target``.
    target : Target
        The attacked rows and the model; the examples found are checked against it.
    rows : ndarray of int
        Rows to attack (the correctly classified ones).
    norm : {"inf", "2"}
        Distance minimised, in attack units (each feature divided by its scale).
    rng : numpy Generator
        Seeds the random starts of rows that have no other-class neighbour to start from.
    donors : int
        Starts per row from the nearest sampled rows of another predicted class.
    max_steps : int, optional
        Cap on the steps of the first walk (default ``50 + 20 * d``).
    rounds : int
        Bisection rounds on the radius after the walk.
    corner : bool
        Also start each round from the ball's boundary toward the best point
        (measured: slightly closer results for 1.5x the time of the bisection).

    Returns
    -------
    delta_x : ndarray (n, d)
        Change per row in original units; zero where no flipping change was found.
    details : dict
        Forest size, steps taken, starts, rows flipped, agreement with the model, threads.
    """
    rows = np.asarray(rows, dtype=np.int64)
    rows = rows[view.y[rows] >= 0]
    max_steps = int(max_steps or (50 + 20 * view.d))
    s_rows, s_x = _starts(view, rows, norm, rng, donors)
    all_rows = np.concatenate([rows, s_rows])
    X = np.concatenate([view.x0[rows].copy(), s_x]) if len(s_rows) else view.x0[rows].copy()
    X, steps = _descend(view, all_rows, X, norm, max_steps, shrink=False)
    flip = _flipped(view, all_rows, X)
    dist, l1, _ = _distances(view, all_rows, X, norm)
    dist = np.where(flip, dist, np.inf)
    best = _first_per_slot(all_rows, dist, l1)
    Xb, db = X[best], dist[best]
    Xb, db, ref_steps = _refine(view, all_rows[best], Xb, db, norm, rounds, 5 + 2 * view.d, corner=corner)
    found = np.isfinite(db)
    fin_steps = 0
    if found.any():  # shrink: snap to the exact thresholds and take what the bisection left
        Xf, fin_steps = _descend(view, all_rows[best][found], Xb[found].copy(), norm, 5 + view.d)
        df = _distances(view, all_rows[best][found], Xf, norm)[0]
        ok = _flipped(view, all_rows[best][found], Xf) & (df <= db[found])
        idx = np.flatnonzero(found)[ok]
        Xb[idx], db[idx] = Xf[ok], df[ok]
    delta = np.zeros((view.n, view.d))
    r = all_rows[best][found]
    delta[r] = np.where(view.rowmask[r], Xb[found] - view.x0[r], 0.0)
    # The tree attack's check: the model itself must agree that the examples flip.
    agree = 0
    with single_threaded() as threads:
        if r.size:
            q0 = target.queries
            lab = np.argmax(target.proba_delta(delta[r], r), axis=1)
            target.queries = q0  # a check of the result, not part of a query budget
            ok = lab != target.y_idx[r]
            agree = int(ok.sum())
            delta[r[~ok]] = 0.0
    details = {**view.info, "steps": int(steps), "max_steps": max_steps, "refine_rounds": rounds,
               "refine_steps": int(ref_steps), "shrink_steps": int(fin_steps), "starts": int(len(all_rows)),
               "rows": int(len(rows)), "flipped": int(r.size), "model_agrees": agree,
               "model_disagrees": int(r.size - agree), "threads": threads}
    return delta, details
