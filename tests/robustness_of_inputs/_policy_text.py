"""Write a policy beside the fuzz workspace's model and data, for the named regression tests."""

from __future__ import annotations

from pathlib import Path

import yaml

from ._harness import Workspace, base_policy
from ._policies import DATA_REL, MODEL_REL

__all__ = ["write_policy"]


def write_policy(ws: Workspace, name: str, edit=None, text: str | None = None) -> Path:
    """``<workspace>/<name>/policy.yaml`` (so ``../model.skops`` is the shared model): the valid fuzz
    policy after ``edit(dict)``, or ``text`` as given."""
    case = ws.root / name
    case.mkdir(parents=True, exist_ok=True)
    if text is None:
        p = base_policy(MODEL_REL, DATA_REL)
        if edit is not None:
            edit(p)
        text = yaml.safe_dump(p, sort_keys=False, allow_unicode=True)
    path = case / "policy.yaml"
    path.write_text(text, encoding="utf-8")
    return path
