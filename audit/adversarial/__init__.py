"""Adversarial robustness: attack selection, constrained attacks with ART, stratified samples.

The audit's part around ART: choose the strongest attack the model allows
(:func:`select_attack`), run it in the model's numeric input space with
epsilon in units of each feature's spread (:class:`NumericSpace`), respect the
policy's feature constraints (masks during the attack, projection after it,
invalid examples counted and discarded), and cache the runs per audit
(:func:`engine_for`). Evaluation sets ``adversarial.<attack>@<eps>`` and the
``adversarial.*`` checks are built on this package.
"""

from audit.adversarial._engine import AttackParams, Engine, Outcome, engine_for
from audit.adversarial._model import ModelInfo, Target, describe_model
from audit.adversarial._sample import stratified_sample
from audit.adversarial._select import ATTACKS, AttackChoice, select_attack, supported_attacks
from audit.adversarial._space import NumericSpace

__all__ = [
    "ATTACKS",
    "AttackChoice",
    "AttackParams",
    "Engine",
    "ModelInfo",
    "NumericSpace",
    "Outcome",
    "Target",
    "describe_model",
    "engine_for",
    "select_attack",
    "stratified_sample",
    "supported_attacks",
]
