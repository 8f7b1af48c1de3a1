"""Which attack to run on which model, and why."""

from __future__ import annotations

from dataclasses import dataclass

from audit.adversarial._model import ModelInfo

__all__ = ["ATTACKS", "AttackChoice", "select_attack", "supported_attacks"]

ATTACKS = ("auto", "fgsm", "pgd", "autoattack", "decision_tree", "tree_ensemble", "hopskipjump",
           "random_search")
GRADIENT = ("fgsm", "pgd", "autoattack")
MINIMAL = ("decision_tree", "tree_ensemble", "hopskipjump")  # minimise the perturbation; evaluated at any eps by clipping
BLACK_BOX = ("hopskipjump", "random_search")


@dataclass(frozen=True)
class AttackChoice:
    """The attack run, the reason, and whether its result only bounds robustness from above."""

    attack: str
    reason: str
    upper_bound: bool
    white_box: bool


def supported_attacks(info: ModelInfo) -> tuple[str, ...]:
    """Attacks that apply to a model of this family."""
    if info.family == "torch" and info.white_box:
        return ("fgsm", "pgd", "autoattack") + BLACK_BOX
    if info.family in ("linear", "svc"):
        return ("fgsm", "pgd") + BLACK_BOX
    if info.family == "tree":
        return ("decision_tree", "tree_ensemble") + BLACK_BOX
    if info.family == "tree_ensemble":
        return ("tree_ensemble",) + BLACK_BOX
    return BLACK_BOX


def select_attack(requested: str, info: ModelInfo) -> AttackChoice:
    """Resolve ``requested`` (``auto`` or an attack name) for the model ``info``.

    ``auto`` picks the strongest attack the model supports: PGD where ART has
    gradients (linear models, SVC, PyTorch), the decision-tree attack for a
    single tree on numeric inputs, the tree-ensemble attack for tree ensembles
    (and trees behind preprocessing), HopSkipJump for everything else. A black-box attack on a
    model that allows a white-box one is marked as an upper bound.

    Raises
    ------
    ValueError
        When the requested attack does not apply to the model.
    """
    ok = supported_attacks(info)
    if requested == "auto":
        if info.family in ("linear", "svc", "torch") and info.white_box:
            attack, why = "pgd", f"white-box PGD: ART has exact gradients for this {info.name}"
        elif info.family == "tree":
            attack, why = "decision_tree", f"ART's decision-tree attack uses the structure of this {info.name}"
        elif info.family == "tree_ensemble":
            attack, why = "tree_ensemble", (f"tree-ensemble attack: searches the split thresholds of this "
                                            f"{info.name}")
        else:
            attack, why = "hopskipjump", (f"black-box HopSkipJump: {info.note or 'no white-box attack'}"
                                          f" ({info.name})")
    else:
        if requested not in ok:
            raise ValueError(f"attack {requested!r} does not apply to {info.name} "
                             f"({info.family}); supported: {', '.join(ok)}")
        attack, why = requested, f"{requested} named by the policy"
    upper = attack in BLACK_BOX and info.white_box
    return AttackChoice(attack, why, upper, attack not in BLACK_BOX)
