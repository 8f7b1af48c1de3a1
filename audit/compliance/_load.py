"""Reading the packaged YAML data files into validated pydantic models."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

__all__ = ["read_yaml_model", "packaged"]

M = TypeVar("M", bound=BaseModel)


def packaged(name: str) -> Path:
    """Path of a data file shipped in this package (``methods.yaml``, ``frameworks.yaml``)."""
    return Path(str(resources.files("audit.compliance").joinpath(name)))


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def read_yaml_model(path: str | Path, model: type[M]) -> M:
    """Load ``path`` with ``yaml.safe_load`` and validate it as ``model``.

    Raises
    ------
    ValueError
        Naming the file and every problem with its key path, what was expected
        and what was found.
    """
    import yaml

    path = Path(path)
    try:
        # safe_load is enough here: these files ship with the package (they are not user input)
        # and are small; user-supplied YAML goes through the policy loader.
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping at the top level, found {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{path}: {exc.error_count()} problem(s)"]
        for err in exc.errors():
            found = err.get("input")
            shown = repr(found)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"  - {_loc(err['loc'])}: {err['msg']} (found {shown})")
        raise ValueError("\n".join(lines)) from None
