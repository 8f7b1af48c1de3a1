"""Load and validate a policy file, collecting every problem before reporting.

Problems name the file, the key path (``checks[2].threshold.min``), the line,
what was expected and what was found, and for an unknown check id the closest
registered ids. All of them are raised together as one :class:`PolicyError`.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from audit.constraints import FeatureConstraint
from audit.errors import PolicyError, PolicyProblem
from audit.policy import schema as S
from audit.policy._lines import index_lines

__all__ = ["LoadedPolicy", "load_policy", "format_loc"]


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with where it came from."""

    policy: S.Policy
    path: Path
    text: str
    sha256: str

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, rel: str | None) -> Path | None:
        """A path from the policy, relative to the policy file's folder."""
        if rel is None:
            return None
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def format_loc(loc: tuple) -> str:
    """``("checks", 2, "threshold", "min")`` -> ``checks[2].threshold.min``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _model_at(loc: tuple) -> type[BaseModel] | None:
    # Which schema model a key path points into, for "did you mean" on unknown keys.
    table = {
        (): S.Policy, ("model",): S.ModelRef, ("data",): S.DataRef, ("defaults",): S.Defaults,
        ("models", int): S.NamedModelRef, ("checks", int): S.CheckEntry, ("checks", int, "threshold"): S.Threshold,
        ("checks", int, "threshold", "max_regression"): S.Regression,
        ("constraints", str): FeatureConstraint, ("evalsets", str): S.EvalSetDef,
        ("model", "onnx"): S.OnnxOptions, ("models", int, "onnx"): S.OnnxOptions,
    }
    shape = tuple(int if isinstance(p, int) else p for p in loc)
    if len(loc) >= 2 and loc[0] in ("constraints", "evalsets"):
        shape = (loc[0], str, *shape[2:])
    return table.get(shape)


class _Collector:
    def __init__(self, lines: dict[tuple, int]):
        self.lines = lines
        self.problems: list[PolicyProblem] = []

    def line(self, loc: tuple) -> int | None:
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())

    def add(self, loc: tuple, message: str) -> None:
        self.problems.append(PolicyProblem(format_loc(loc), message, self.line(loc)))

    def add_validation(self, err: ValidationError, prefix: tuple = (), model=None) -> None:
        for e in err.errors():
            loc = prefix + tuple(e["loc"])
            self.add(loc, _describe(e, loc, model, prefix))


def _describe(e: dict, loc: tuple, model=None, prefix: tuple = ()) -> str:
    kind, msg = e["type"], e["msg"]
    found = e.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1]) if model is None else model
        allowed = sorted(parent.model_fields) if parent is not None else []
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown key {loc[-1]!r}; expected one of {allowed}{hint}"
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing"
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ")
    shown = repr(found)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"{msg[0].lower() + msg[1:]}; found {shown}"


def load_policy(path: str | Path, *, model_override: str | None = None,
                data_override: str | None = None, reference_override: str | None = None) -> LoadedPolicy:
    """Read, parse and validate a policy file.

    Parameters
    ----------
    path : str or Path
        The YAML policy.
    model_override, data_override, reference_override : str, optional
        Paths given on the command line; they replace the policy's, so the
        policy's own files need not exist.

    Raises
    ------
    PolicyError
        With every problem found: YAML syntax, schema, unknown check ids, check
        parameters, evaluation sets, duplicate checks, missing files.
    """
    path = Path(path)
    fname = str(path)
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise PolicyError(fname, [PolicyProblem("", f"policy file not found: {fname}")]) from None
    except OSError as exc:
        raise PolicyError(fname, [PolicyProblem("", f"cannot read the policy file: {exc}")]) from None
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(fname, [PolicyProblem("", f"not UTF-8 text: {exc}")]) from None
    try:
        data = yaml.safe_load(text)
        lines, dups = index_lines(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(fname, [PolicyProblem("", f"invalid YAML: {problem}", line)]) from None
    col = _Collector(lines)
    for loc, line in dups:
        col.problems.append(PolicyProblem(format_loc(loc), "key given twice; remove one", line))
    if not isinstance(data, dict):
        col.add((), f"expected a mapping of policy keys at the top level; found {type(data).__name__}")
        raise PolicyError(fname, col.problems)
    try:
        policy = S.Policy.model_validate(data)
    except ValidationError as err:
        col.add_validation(err)
        _check_semantics_raw(data, col)
        raise PolicyError(fname, col.problems) from None
    loaded = LoadedPolicy(policy, path.resolve(), text, hashlib.sha256(raw_bytes).hexdigest())
    _check_semantics(loaded, col, model_override, data_override, reference_override)
    if col.problems:
        raise PolicyError(fname, col.problems)
    return loaded


def _check_semantics_raw(data: dict, col: _Collector) -> None:
    # The schema failed; still report unknown check ids and bad params in the same run.
    checks = data.get("checks")
    if isinstance(checks, list):
        for i, entry in enumerate(checks):
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                _check_entry_id_params(i, entry["id"], entry.get("params") or {}, col)


def _check_entry_id_params(i: int, cid: str, params: Any, col: _Collector):
    from audit.checks import closest_ids, get_check

    try:
        spec = get_check(cid)
    except KeyError:
        close = closest_ids(cid)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see `audit checks`"
        col.add(("checks", i, "id"), f"unknown check {cid!r}{hint}")
        return None
    if not isinstance(params, dict):
        col.add(("checks", i, "params"), f"expected a mapping of parameters; found {params!r}")
        return spec
    try:
        spec.params.model_validate(params)
    except ValidationError as err:
        col.add_validation(err, prefix=("checks", i, "params"), model=spec.params)
    return spec


def _check_semantics(lp: LoadedPolicy, col: _Collector, model_override, data_override,
                     reference_override=None) -> None:
    from audit.evalsets import get_builder, parse_evalset_name

    p = lp.policy
    seen: dict[tuple, int] = {}
    for name, d in p.evalsets.items():
        try:
            b = get_builder(d.kind)
            try:
                b.params.model_validate(d.params)
            except ValidationError as err:
                col.add_validation(err, prefix=("evalsets", name, "params"), model=b.params)
        except KeyError:
            col.add(("evalsets", name, "kind"), f"unknown evaluation-set kind {d.kind!r}; "
                    f"expected one of {_kinds()}")
    for i, c in enumerate(p.checks):
        spec = _check_entry_id_params(i, c.id, c.params, col)
        if spec is None:
            continue
        if p.task is not None and p.task not in spec.tasks:
            col.add(("checks", i, "id"), f"check {c.id!r} applies to {sorted(spec.tasks)} models; "
                    f"this policy's task is {p.task!r}")
        es = c.evalset or spec.default_evalset
        if es != "base" and es not in p.evalsets:
            try:
                kind, _ = parse_evalset_name(es)
                get_builder(kind)
            except ValueError as exc:
                col.add(("checks", i, "evalset"), str(exc))
            except KeyError:
                col.add(("checks", i, "evalset"), f"unknown evaluation set {es!r}; expected 'base', "
                        f"a name under 'evalsets', or '<kind>[@<severity>]' with kind in {_kinds()}")
        key = (c.id, es, repr(sorted(c.params.items())), c.name)
        if key in seen:
            col.add(("checks", i), f"duplicate of checks[{seen[key]}] (same id, evaluation set and params)")
        seen[key] = i
    if p.model is None and not p.models and p.data.prediction is None and model_override is None:
        col.add(("model",), "no model: give 'model' (path, entrypoint or mlflow), 'models', --model, or "
                "'data.prediction' for a predictions-only audit")
    files = []
    if model_override is None:
        if p.model is not None and p.model.path is not None:
            files.append((("model", "path"), p.model.path))
        for i, m in enumerate(p.models or []):
            if m.path is not None:
                files.append((("models", i, "path"), m.path))
    if data_override is None:
        files.append((("data", "path"), p.data.path))
    if p.data.reference is not None and reference_override is None:
        files.append((("data", "reference"), p.data.reference))
    for loc, rel in files:
        f = lp.resolve(rel)
        if loc == ("data", "path") and any(ch in str(rel) for ch in "*?["):
            import glob

            # A glob of partition files (streamed audits): it must match something.
            if not glob.glob(str(f)):
                col.add(loc, f"no file matches the pattern {rel!r} (looked for {f})")
        elif not f.exists():
            col.add(loc, f"file not found: {rel!r} (looked for {f})")


def _kinds() -> list[str]:
    from audit.evalsets import all_builders

    return ["base", *all_builders()]
