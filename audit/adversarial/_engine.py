"""One attack configuration on one audit: sample, model view, attack runs, projection, caches.

An :class:`Engine` is built once per (attack parameters) and kept on the
:class:`~audit.context.AuditContext`, so every evaluation set ``adversarial...@eps``
and every adversarial check share the sample, the white-box view and, for
attacks that minimise the perturbation (HopSkipJump, the decision-tree and
tree-ensemble attacks), the one attack run that serves every epsilon.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from audit.adversarial._blackbox import hopskipjump, random_search, seeded_numpy
from audit.adversarial._model import Target, describe_model
from audit.adversarial._sample import stratified_sample
from audit.adversarial._select import ATTACKS, GRADIENT, MINIMAL, AttackChoice, select_attack
from audit.adversarial._space import NumericSpace, ball_clip
from audit.adversarial._trees import tree_ensemble_attack, tree_view
from audit.adversarial._whitebox import gradient_attack, tree_attack, white_box

__all__ = ["AttackParams", "Engine", "Outcome", "engine_for"]


class AttackParams(BaseModel):
    """Parameters of an adversarial evaluation set (the severity is epsilon)."""

    model_config = ConfigDict(extra="forbid")

    attack: Literal[ATTACKS] = Field("auto", description="Attack to run; auto = strongest the model supports.")
    norm: Literal["inf", "2"] = Field("inf", description="Norm of the perturbation ball.")
    eps_units: Literal["std", "absolute"] = Field(
        "std", description="Epsilon in units of each feature's standard deviation, or in raw units.")
    sample_size: int = Field(200, ge=1, description="Rows attacked (stratified by label and sensitive group).")
    max_queries: int = Field(1000, ge=10, description="Black-box query budget per attacked row.")
    max_iter: int = Field(20, ge=1, description="Steps of PGD / APGD.")
    hsj_max_iter: int = Field(5, ge=1, description="HopSkipJump iterations (within max_queries).")
    stratify: list[str] | None = Field(None, description="Columns to stratify by besides the label; "
                                                         "default the sensitive columns.")


@dataclass
class Outcome:
    """Adversarial examples at one epsilon, before and after projection to valid rows."""

    eps: float
    X_adv: pd.DataFrame
    raw_flip: np.ndarray
    valid_flip: np.ndarray
    adv_idx: np.ndarray
    queries: np.ndarray | None
    time_s: float
    extra: dict = field(default_factory=dict)

    @property
    def discarded(self) -> int:
        """Examples that changed the class only before projection (invalid, discarded)."""
        return int(np.sum(self.raw_flip & ~self.valid_flip))


def engine_for(audit, kind_attack: str, params: AttackParams) -> Engine:
    """The cached engine of these parameters on this audit (built on first use)."""
    p = params.model_copy(update={"attack": kind_attack}) if kind_attack != "auto" else params
    key = p.model_dump_json()
    with audit._lock:
        cache = audit.cache("adversarial_engines")
        if key not in cache:
            cache[key] = Engine(audit, p)
        return cache[key]


class Engine:
    """Attacks on a fixed stratified sample of the audit's base set."""

    def __init__(self, audit, params: AttackParams):
        self.audit, self.params = audit, params
        self.norm = params.norm
        base = audit.evalset("base")
        if base.y is None:
            raise ValueError("adversarial evaluation sets need labels")
        cols = params.stratify if params.stratify is not None else list(base.sensitive.columns)
        strat = base.sensitive[cols] if cols else None
        self.key = params.model_dump_json()
        self.source_index = stratified_sample(base.y, strat, params.sample_size,
                                              audit.rng("adversarial", "sample", params.sample_size, *cols))
        ds = audit.dataset
        ref = ds.reference.X if getattr(ds, "reference", None) is not None else None
        self.space = NumericSpace.build(base.X, ds.feature_types, audit.constraints, ref, params.eps_units)
        X0 = base.X.iloc[self.source_index].reset_index(drop=True)
        self.y = np.asarray(base.y)[self.source_index]
        self.sensitive = base.sensitive.iloc[self.source_index].reset_index(drop=True)
        classes = audit.classes
        self.target = Target(audit.model, X0, self.y, self.space, classes)
        self.info = describe_model(audit.model.estimator, self.space, list(X0.columns))
        self.choice: AttackChoice = select_attack(params.attack, self.info)
        self.clean_idx = self.target.label_idx(self.target.X0)
        self.correct = self.clean_idx == self.target.y_idx
        self.wb = None
        if self.choice.white_box:
            try:
                self.wb = white_box(self.target, self.info)
            except ValueError as e:
                if params.attack != "auto":
                    raise
                # Auto never fails silently to a weaker attack: the reason says what happened.
                self.choice = AttackChoice("hopskipjump", f"black-box HopSkipJump: no exact white-box view ({e})",
                                           False, False)
        # (ART's tree and SVC views need it; the tree-ensemble attack measures L2 in attack units.)
        if self.norm == "2" and self.wb is not None and not self.wb.supports_l2 and self.attack != "tree_ensemble":
            raise ValueError("L2 on a raw SVC/tree needs eps_units: absolute")
        self._out: dict[float, Outcome] = {}
        self._minimal = None
        # What the attack runs recorded (thread limits, tree-attack statistics): Outcome.extra.
        self.attack_details: dict = {}
        self.target.queries = 0

    # -- facts for reports ---------------------------------------------------------
    @property
    def attack(self) -> str:
        return self.choice.attack

    def budget(self) -> str:
        a = self.attack
        if a in ("hopskipjump", "random_search"):
            return f"{self.params.max_queries} queries/row"
        if a in ("pgd", "autoattack"):
            return f"{self.params.max_iter} steps"
        if a == "tree_ensemble":
            return "greedy threshold search"
        return "1 step" if a == "fgsm" else "-"

    def _seed(self, *salt) -> int:
        # From the audit's seeded streams (importing audit.evalsets here would be circular).
        return int(self.audit.rng("adversarial", self.key, *salt).integers(2**31))

    # -- attacks ---------------------------------------------------------------------
    def _raw(self, eps, attack: str | None = None, salt: object = "") -> tuple[np.ndarray, np.ndarray | None]:
        """Change per row (original units) found by the attack at ``eps`` (scalar or per row)."""
        attack = attack or self.attack
        t, p = self.target, self.params
        rows = np.flatnonzero(self.correct)
        if np.ndim(eps) == 0 and float(eps) <= 0.0:  # the clean rows (ART refuses a zero step)
            return np.zeros((t.n, self.space.d)), None
        if attack in GRADIENT:
            with seeded_numpy(self._seed(attack, salt)):
                Z = gradient_attack(self.wb, attack, eps, self.norm, np.where(t.y_idx >= 0, t.y_idx, self.clean_idx),
                                    p.max_iter, t.k)
            delta = self.wb.delta_x(Z) * self.space.mask
            delta[~self.correct] = 0.0
            return delta, None
        if attack == "random_search":
            rng = np.random.default_rng(self._seed(attack, salt))
            return random_search(t, rows, eps, self.norm, p.max_queries, rng, details=self.attack_details)
        d_min, q = self.minimal_raw()
        du = ball_clip(self.space.delta_u(d_min), np.zeros_like(d_min), eps, self.norm, self.space.mask,
                       dtype=np.float64)
        return du.astype(np.float64) * self.space.scale, q

    def minimal_raw(self):
        """The one run of a minimising attack (HopSkipJump, decision tree, tree ensemble), shared by every eps."""
        if self._minimal is None:
            t0 = time.perf_counter()
            t, p = self.target, self.params
            if self.attack == "hopskipjump":
                rng = np.random.default_rng(self._seed("hopskipjump"))
                d, q = hopskipjump(t, np.flatnonzero(self.correct), self.norm, p.max_queries, rng,
                                   max_iter=p.hsj_max_iter, details=self.attack_details)
            elif self.attack == "decision_tree":
                Z = tree_attack(self.wb, t.y_idx)
                d, q = self.wb.delta_x(Z), None
                d[~self.correct] = 0.0
            elif self.attack == "tree_ensemble":
                rng = np.random.default_rng(self._seed("tree_ensemble"))
                # A bare single tree's white-box view is ART's; the tree attack reads it itself.
                view = self.wb.classifier if self.info.family == "tree_ensemble" else tree_view(t, self.info)
                d, info = tree_ensemble_attack(view, t, np.flatnonzero(self.correct), self.norm, rng)
                self.attack_details.update(info)
                q = None
            else:
                raise ValueError(f"{self.attack} is not a minimising attack")
            self._minimal = (d, q, time.perf_counter() - t0)
        return self._minimal[0], self._minimal[1]

    def _evaluate(self, delta: np.ndarray, eps=None):
        """Project attacked rows to valid rows; (projected frame, raw flip, valid flip, adv class)."""
        t = self.target
        X_raw = self.space.apply(t.X0, delta)
        X_adv = self.space.project(X_raw, t.X0, eps, self.norm)
        q0 = t.queries
        raw_idx = t.label_idx(X_raw)
        adv_idx = t.label_idx(X_adv)
        t.queries = q0  # evaluating the result is not part of the attack's query budget
        raw_flip = self.correct & (raw_idx != t.y_idx)
        valid_flip = self.correct & (adv_idx != t.y_idx)
        return X_adv, raw_flip, valid_flip, adv_idx

    def outcome(self, eps: float) -> Outcome:
        """Adversarial examples at ``eps`` (cached)."""
        eps = float(eps)
        with self.audit._lock:
            if eps not in self._out:
                t0 = time.perf_counter()
                delta, q = self._raw(eps, salt=eps)
                X_adv, raw_flip, valid_flip, adv_idx = self._evaluate(delta, eps)
                dt = time.perf_counter() - t0  # includes the shared minimising run the first time
                self._out[eps] = Outcome(eps, X_adv, raw_flip, valid_flip, adv_idx, q, dt,
                                         extra={"attack_details": dict(self.attack_details)})
            return self._out[eps]

    def minimal_distances(self, max_eps: float, steps: int) -> tuple[np.ndarray, str]:
        """Smallest valid perturbation found per row (attack units; inf if none up to ``max_eps``).

        Minimising attacks give it directly; epsilon-bounded attacks are bisected
        per row over ``[0, max_eps]`` (``steps`` halvings, all rows at once).
        NaN for rows misclassified without attack.
        """
        key = ("minimal", float(max_eps), int(steps))
        with self.audit._lock:
            cache = self.__dict__.setdefault("_dist_cache", {})
            if key in cache:
                return cache[key]
            n = self.target.n
            if self.attack in MINIMAL:
                d, _ = self.minimal_raw()
                X_adv, _, vf, _ = self._evaluate(d)
                dist = np.where(vf, self.space.distance_x(X_adv, self.target.X0, self.norm), np.inf)
                dist[dist > max_eps] = np.inf
                how = f"{self.attack} minimal perturbation, after projection"
            else:
                attack = "pgd" if self.attack == "autoattack" else self.attack
                how = f"bisection over epsilon ({steps} steps) with {attack}"
                dist = np.full(n, np.inf)
                lo, hi = np.zeros(n), np.full(n, float(max_eps))
                found = np.zeros(n, dtype=bool)
                for s in range(steps + 1):
                    e = hi if s == 0 else np.where(found, (lo + hi) / 2, max_eps)
                    delta, _ = self._raw(e, attack=attack, salt=("bisect", s))
                    X_adv, _, vf, _ = self._evaluate(delta, e)
                    dd = self.space.distance_x(X_adv, self.target.X0, self.norm)
                    ok = vf if s == 0 else (vf & found)
                    dist[ok] = np.minimum(dist[ok], dd[ok])
                    if s == 0:
                        found = vf.copy()
                    else:
                        hi = np.where(ok, e, hi)
                        lo = np.where(found & ~vf, e, lo)
            dist = np.where(self.correct, dist, np.nan)
            cache[key] = (dist, how)
            return cache[key]
