"""Adversarial evaluation sets: ``adversarial[.<attack>]@<eps>``.

One kind per attack, plus ``adversarial`` whose ``attack`` parameter picks
one (default ``auto``, the strongest the model supports)::

    adversarial@0.1                 auto attack, eps 0.1 (std units), 200 sampled rows
    adversarial.pgd@0.1             PGD
    adversarial.hopskipjump@0.2     HopSkipJump (black-box, query budget per row)
    evalsets: {adv: {kind: adversarial, severity: 0.1, params: {attack: random_search, max_queries: 200}}}

The severity is epsilon: per feature in units of its standard deviation
(``eps_units: std``, the default) or in raw units (``absolute``). Rows are a
stratified sample of the audit's sample; ``source_index`` holds their global row numbers. The
rows are the adversarial examples after projection to valid rows (immutable
features unchanged, ranges, integers, categories), so predicting this set
gives the model's answers under attack; rows the model already got wrong, or
that no attack flipped, are the original rows.
"""

from __future__ import annotations

import numpy as np

from audit.adversarial import ATTACKS, AttackParams, engine_for
from audit.errors import CheckError
from audit.evalsets._base import EvaluationSet, register_evalset

__all__ = ["build_adversarial", "DEFAULT_EPS"]

DEFAULT_EPS = 0.1


def build_adversarial(ctx, base: EvaluationSet, params: AttackParams, severity, seed, kind_attack: str = "auto"):
    """Adversarial examples of a stratified sample at epsilon = severity.

    ``ctx`` is the audit context (attacks need the model); ``base`` is the audit's sample.
    """
    if kind_attack != "auto" and params.attack not in ("auto", kind_attack):
        raise CheckError(f"evaluation set kind adversarial.{kind_attack} conflicts with params.attack="
                         f"{params.attack!r}")
    attack = kind_attack if kind_attack != "auto" else params.attack
    try:
        eng = engine_for(ctx, attack, params)
    except ValueError as e:
        raise CheckError(str(e)) from e
    eps = DEFAULT_EPS if severity is None else float(severity)
    out = eng.outcome(eps)
    n_correct = int(eng.correct.sum())
    q = out.queries
    report = {
        "attack": eng.attack,
        "why": eng.choice.reason,
        "upper_bound": eng.choice.upper_bound,
        "norm": f"L{'-inf' if eng.norm == 'inf' else '2'}",
        "eps": eps,
        "eps_units": eng.params.eps_units,
        "budget": eng.budget(),
        "attacked_rows": n_correct,
        "flipped": int(out.valid_flip.sum()),
        "discarded_invalid": out.discarded,
        "max_queries_per_row": None if q is None else int(np.max(q, initial=0)),
        "threads": (out.extra.get("attack_details") or {}).get("threads"),
    }
    desc = (f"{eng.attack} (L{'∞' if eng.norm == 'inf' else '2'}, eps={eps:g} "
            f"{'std units' if eng.params.eps_units == 'std' else 'absolute'}) on {eng.target.n} rows "
            f"stratified by label and group; {out.discarded} adversarial example(s) discarded as invalid "
            f"after projection."
            + (" Black-box attack on a model with gradients: an upper bound on robustness."
               if eng.choice.upper_bound else ""))
    return EvaluationSet(
        name="", kind=f"adversarial.{eng.attack}", X=out.X_adv, y=eng.y, sensitive=eng.sensitive,
        source_index=np.asarray(base.source_index, dtype=np.int64)[eng.source_index], description=desc,
        # The attack's wall time is kept apart from "report": evaluation-set descriptions are
        # part of the reproducible results, timings are not.
        meta={"report": report, "engine": eng, "outcome": out, "attack_time_s": round(out.time_s, 3)},
    )


def _register(kind: str, attack: str):
    def build(ctx, base, params, severity, seed):
        return build_adversarial(ctx, base, params, severity, seed, kind_attack=attack)

    build.__doc__ = (f"Adversarial examples ({attack}) of a stratified sample; severity = epsilon."
                     if attack != "auto" else
                     "Adversarial examples of a stratified sample (params.attack, default auto); severity = epsilon.")
    register_evalset(kind, params=AttackParams, needs_model=True)(build)


_register("adversarial", "auto")
for _a in ATTACKS:
    _register(f"adversarial.{_a}", _a)
