"""Load and validate a policy file, collecting every problem before reporting.

A policy is read with the bounded YAML reader (:mod:`audit.policy._yaml`),
merged with the baselines it ``extends`` (:mod:`audit.policy.inherit`),
validated strictly against the schema, and checked against the registries
(check ids, parameters, evaluation sets) and the file system. Problems name
the file, the key path (``checks[2].threshold.min``), the line, what was
expected and what was found, and where one is close, what was probably meant.
All of them are raised together as one :class:`PolicyError`.
"""

from __future__ import annotations

import difflib
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from audit.errors import PolicyError, PolicyProblem
from audit.policy import schema as S
from audit.policy._problems import Collector, describe, format_loc, union_merged
from audit.policy._yaml import YAML_LIMITS, YamlLimits
from audit.policy.inherit import resolve
from audit.policy.provenance import Provenance

__all__ = ["CheckedPolicy", "DataCheck", "LoadedPolicy", "format_loc", "load_policy", "load_policy_data",
           "validate_policy"]

DataCheck = Callable[[dict, Collector, Path], None]
"""``(merged document, collector, policy folder) -> None``: adds problems found against the data."""


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with where it came from.

    Attributes
    ----------
    policy : Policy
        The effective policy: the file merged with every baseline it extends.
    path : Path
        The policy file, resolved.
    text : str
        The policy as run: the file's text, or for a policy that extends
        baselines the effective policy as YAML (see :func:`effective_yaml`).
    sha256 : str
        SHA-256 of ``text`` (for a single file, of its bytes).
    provenance : Provenance or None
        Which file set what; every file's SHA-256 (set by :func:`load_policy`).
    document : dict
        The merged document that was validated (plain YAML data).
    collector : Collector or None
        Places key paths of ``document`` in their files and lines, so problems found later
        (against the data) are reported like the policy's own (see :meth:`problem`).
    """

    policy: S.Policy
    path: Path
    text: str
    sha256: str
    provenance: Provenance | None = None
    document: dict = field(default_factory=dict)
    collector: Collector | None = field(default=None, compare=False, repr=False)

    def problem(self, loc: tuple, message: str) -> PolicyProblem:
        """A problem at key path ``loc`` of the effective policy, with its file and line."""
        col = Collector([], []) if self.collector is None else self.collector
        found = Collector(col.files, col.lines, col.origins)
        found.add(loc, message)
        return found.problems[0]

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, rel: str | None) -> Path | None:
        """A path from the policy, relative to the policy file's folder."""
        if rel is None:
            return None
        p = Path(rel).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    # Which schema model a key path points into, for "did you mean" on unknown keys.
    table = {
        (): S.Policy, ("model",): S.ModelRef, ("data",): S.DataRef, ("defaults",): S.Defaults,
        ("models", int): S.NamedModelRef, ("checks", int): S.CheckEntry, ("checks", int, "threshold"): S.Threshold,
        ("checks", int, "threshold", "max_regression"): S.Regression, ("execution",): S.Execution,
        ("constraints", str): S.Constraint, ("evalsets", str): S.EvalSetDef, ("remove", int): S.CheckRemoval,
        ("model", "onnx"): S.OnnxOptions, ("models", int, "onnx"): S.OnnxOptions,
    }
    shape = tuple(int if isinstance(p, int) else p for p in loc)
    if len(loc) >= 2 and loc[0] in ("constraints", "evalsets"):
        shape = (loc[0], str, *shape[2:])
    return table.get(shape)


def load_policy(path: str | Path, *, model_override: str | None = None,
                data_override: str | None = None, reference_override: str | None = None,
                check_files: bool = True, limits: YamlLimits = YAML_LIMITS,
                data_check: DataCheck | None = None) -> LoadedPolicy:
    """Read, merge, parse and validate a policy file.

    Parameters
    ----------
    path : str or Path
        The YAML policy.
    model_override, data_override, reference_override : str, optional
        Paths given on the command line; they replace the policy's, so the
        policy's own files need not exist.
    check_files : bool, default True
        Whether the model, data and reference files the policy names must
        exist. False validates the policy alone (``audit validate --schema-only``,
        e.g. in a repository without the data); baselines are always read.
    limits : YamlLimits, optional
        Bounds on every YAML file read (size, nesting, aliases).
    data_check : callable, optional
        ``data_check(document, collector, base_dir)`` adds problems found by checking the merged
        document against the data (column names, types, limits); they are reported with the
        policy's own, in one error. It runs whether or not the schema validated.

    Returns
    -------
    LoadedPolicy
        The effective policy (baselines merged), its text and provenance.

    Raises
    ------
    PolicyError
        With every problem found: unsafe or invalid YAML, missing baselines or
        cycles, locked thresholds loosened, schema, unknown check ids, check
        parameters, evaluation sets, duplicate checks, missing files; and for
        a file marked ``baseline: true``, which only runs through a policy
        that extends it.
    """
    checked = _load(Path(path), model_override, data_override, reference_override, check_files, limits,
                    data_check=data_check)
    if checked.loaded is None:
        where = checked.provenance.settings.get("baseline")
        raise PolicyError(str(path), [PolicyProblem(
            "baseline", "this file is a baseline (baseline: true): it runs only through a policy that "
            "extends it ('extends: [...]'); `audit validate` checks it on its own",
            where.line if where is not None else None)])
    return checked.loaded


@dataclass(frozen=True)
class CheckedPolicy:
    """What :func:`validate_policy` found valid.

    Attributes
    ----------
    loaded : LoadedPolicy or None
        The runnable policy; None for a baseline (``baseline: true``).
    document : dict
        The merged document (baselines merged).
    provenance : Provenance
        Which file set what.
    """

    loaded: LoadedPolicy | None
    document: dict
    provenance: Provenance

    @property
    def is_baseline(self) -> bool:
        """True for a file marked ``baseline: true`` (validated as a fragment)."""
        return self.loaded is None


def validate_policy(path: str | Path, *, check_files: bool = True,
                    limits: YamlLimits = YAML_LIMITS, data_check: DataCheck | None = None,
                    data_override: str | None = None, reference_override: str | None = None) -> CheckedPolicy:
    """Validate a policy file, or a baseline meant only to be extended.

    A file marked ``baseline: true`` may leave out what the policies extending
    it give (``data``, ``checks``, the model); everything it does say is
    validated as in :func:`load_policy`. ``data_check``, ``data_override`` and
    ``reference_override`` are as there.

    Raises
    ------
    PolicyError
        As :func:`load_policy`.
    """
    return _load(Path(path), None, data_override, reference_override, check_files, limits, data_check=data_check)


# What a baseline may leave to the policies that extend it.
_FRAGMENT_MISSING = {("data",), ("data", "path"), ("data", "target"), ("checks",)}


def load_policy_data(data: dict, *, base_dir: str | Path | None = None, model_override: str | None = None,
                     data_override: str | None = None, reference_override: str | None = None,
                     check_files: bool = True, data_check: DataCheck | None = None) -> LoadedPolicy:
    """A policy given as a dict (a YAML file's content), validated as the file would be.

    Relative paths (files, ``extends``) are relative to ``base_dir`` (default: the current folder).
    """
    import yaml

    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path = Path(base_dir or Path.cwd()) / "<policy dict>.yaml"
    checked = _load(path, model_override, data_override, reference_override, check_files, YAML_LIMITS, text=text,
                    data_check=data_check)
    if checked.loaded is None:
        raise PolicyError("<policy dict>", [PolicyProblem("baseline", "a baseline (baseline: true) does not run "
                                                          "on its own; extend it from a policy")])
    return checked.loaded


def _load(path: Path, model_override, data_override, reference_override, check_files: bool,
          limits: YamlLimits, text: str | None = None, data_check: DataCheck | None = None) -> CheckedPolicy:
    fname = str(path) if text is None else "<policy dict>"
    if text is None and not path.is_file():
        what = "policy file not found" if not path.exists() else "not a file"
        raise PolicyError(fname, [PolicyProblem("", f"{what}: {fname}")])
    col = Collector([], [])
    resolved = resolve(path, fname, col, limits=limits, text=text)
    if resolved is None:
        raise PolicyError(fname, _sorted(col.problems))
    data = resolved.data
    baseline = data.get("baseline") is True
    policy = None
    try:
        policy = S.Policy.model_validate(data, strict=True)
    except ValidationError as err:
        for loc, e in union_merged(err.errors()):
            if baseline and (loc in _FRAGMENT_MISSING and e["type"] in ("missing", "too_short")):
                continue
            col.add(loc, describe(e, loc, None, _model_at))
    _check_semantics(data, col, base_dir=path.resolve().parent, model_override=model_override,
                     data_override=data_override, reference_override=reference_override,
                     check_files=check_files, fragment=baseline)
    if data_check is not None and not baseline:
        data_check(data, col, path.resolve().parent)
    if col.problems or (policy is None and not baseline):
        raise PolicyError(fname, _sorted(col.problems))
    prov = resolved.provenance
    if baseline:
        return CheckedPolicy(None, data, prov)
    if prov.inherited:
        from audit.policy.effective import effective_yaml

        text = effective_yaml(data, prov)
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    else:
        text = resolved.sources[0][1]
        digest = prov.files[0].sha256
    return CheckedPolicy(LoadedPolicy(policy, path.resolve(), text, digest, prov, data, col), data, prov)


def _sorted(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    # The loaded file's problems first, then each baseline's; by line within a file.
    return sorted(problems, key=lambda p: (p.file is not None, p.file or "", p.line or 0))


# -- checks against the registries and the file system, on the merged raw document --------
# They run whether or not the schema validated, so one run reports everything.

def _check_semantics(data: dict, col: Collector, *, base_dir: Path, model_override, data_override,
                     reference_override, check_files: bool, fragment: bool = False) -> None:
    evalsets = data.get("evalsets") if isinstance(data.get("evalsets"), dict) else {}
    for name, d in evalsets.items():
        if isinstance(d, dict):
            _check_evalset_def(name, d, col)
    task = data.get("task") if data.get("task") in ("classification", "regression") else None
    checks = data.get("checks") if isinstance(data.get("checks"), list) else []
    seen: dict[tuple, int] = {}
    for i, entry in enumerate(checks):
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        params = entry.get("params", {})
        spec = _check_entry_id_params(i, entry["id"], params, col)
        if spec is None:
            continue
        if task is not None and task not in spec.tasks:
            col.add(("checks", i, "id"), f"check {entry['id']!r} applies to {sorted(spec.tasks)} models; "
                    f"this policy's task is {task!r}")
        es = entry.get("evalset") if entry.get("evalset") is not None else spec.default_evalset
        if not isinstance(es, str):
            continue
        if es != "base" and es not in evalsets:
            _check_evalset_name(("checks", i, "evalset"), es, evalsets, col)
        key = (entry["id"], es, repr(sorted(params.items())) if isinstance(params, dict) else repr(params),
               entry.get("name"))
        if key in seen:
            col.add(("checks", i), f"duplicate of checks[{seen[key]}] (same id, evaluation set and params)")
        seen.setdefault(key, i)
    if not fragment:
        _check_model_given(data, col, model_override)
    if check_files:
        _check_files(data, col, base_dir, model_override, data_override, reference_override)


def _check_entry_id_params(i: int, cid: str, params: Any, col: Collector):
    from audit.checks import closest_ids, get_check

    try:
        spec = get_check(cid)
    except KeyError:
        close = closest_ids(cid)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see `audit checks`"
        col.add(("checks", i, "id"), f"unknown check {cid!r}{hint}")
        return None
    if not isinstance(params, dict):
        return spec  # the schema reports a params block that is not a mapping
    prefix = ("checks", i, "params")
    try:
        spec.params.model_validate(params, strict=True)
    except ValidationError as err:
        col.add_validation(err, prefix=prefix, model=spec.params)
    _check_finite(params, prefix, col)
    if params.get("backend") == "alibi-detect":
        # An optional backend must be installed before any work starts: a policy error, not an ImportError.
        from audit.drift import require_alibi
        from audit.errors import InputError

        try:
            require_alibi()
        except InputError as exc:
            col.add(prefix + ("backend",), str(exc))
    return spec


def _check_evalset_def(name: str, d: dict, col: Collector) -> None:
    from audit.evalsets import get_builder

    kind = d.get("kind")
    if not isinstance(kind, str):
        return  # the schema reports it
    try:
        b = get_builder(kind)
    except KeyError:
        col.add(("evalsets", name, "kind"), f"unknown evaluation-set kind {kind!r}{_kind_hint(kind)}; "
                f"expected one of {_kinds()}")
        return
    _check_severity(("evalsets", name, "severity"), b, d.get("severity"), col)
    params = d.get("params", {})
    if isinstance(params, dict):
        try:
            b.params.model_validate(params, strict=True)
        except ValidationError as err:
            col.add_validation(err, prefix=("evalsets", name, "params"), model=b.params)
        _check_finite(params, ("evalsets", name, "params"), col)


def _check_evalset_name(loc: tuple, es: str, evalsets: dict, col: Collector) -> None:
    from audit.evalsets import get_builder, parse_evalset_name

    try:
        kind, severity = parse_evalset_name(es)
    except ValueError as exc:
        col.add(loc, f"{exc}; expected 'base', a name under 'evalsets', or '<kind>[@<severity>]'")
        return
    try:
        b = get_builder(kind)
    except KeyError:
        named = difflib.get_close_matches(es, list(evalsets), n=1, cutoff=0.6)
        if named:
            hint = f"; did you mean the evaluation set {named[0]!r}?"
        else:
            hint = f" (unknown kind {kind!r}{_kind_hint(kind)})"
        col.add(loc, f"unknown evaluation set {es!r}{hint}; expected 'base', a name under 'evalsets', "
                f"or '<kind>[@<severity>]' with kind in {_kinds()}")
        return
    if severity is not None and not math.isfinite(severity):
        col.add(loc, f"severity of {es!r} must be a finite number; found {severity}")
    else:
        _check_severity(loc, b, severity, col)


def _check_severity(loc: tuple, builder, severity, col: Collector) -> None:
    # Found by the fuzz suite: a negative severity of a perturbed set passed validation and every
    # check on the set became ERROR at build time (exit 1 after the audit instead of exit 2). The
    # bound is the kind's own (``register_evalset(min_severity=...)``): perturbed sets take sizes,
    # shifted sets any sign (the direction of the shift).
    low = builder.min_severity
    if (low is not None and isinstance(severity, int | float) and not isinstance(severity, bool)
            and math.isfinite(severity) and severity < low):
        col.add(loc, f"the severity of a {builder.kind} set is a size (noise, share or step); expected a "
                     f"number >= {low:g}; found {severity}")


def _kind_hint(kind: str) -> str:
    close = difflib.get_close_matches(kind, _kinds(), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _check_finite(value: Any, loc: tuple, col: Collector) -> None:
    # Check parameter models accept .nan/.inf; no parameter means anything by them.
    if isinstance(value, float) and not math.isfinite(value):
        col.add(loc, f"expected a finite number; found {value} (.nan and .inf are not allowed)")
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_finite(v, loc + (k,), col)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_finite(v, loc + (i,), col)


def _check_model_given(data: dict, col: Collector, model_override) -> None:
    d = data.get("data") if isinstance(data.get("data"), dict) else {}
    if (data.get("model") is None and not data.get("models") and d.get("prediction") is None
            and model_override is None):
        col.add(("model",), "no model: give 'model' (path, entrypoint or mlflow), 'models', --model, or "
                "'data.prediction' for a predictions-only audit")


def _check_files(data: dict, col: Collector, base_dir: Path, model_override, data_override,
                 reference_override) -> None:
    files = []
    m, d = data.get("model"), data.get("data")
    if model_override is None:
        if isinstance(m, dict) and isinstance(m.get("path"), str):
            files.append((("model", "path"), m["path"]))
        for i, nm in enumerate(data.get("models") if isinstance(data.get("models"), list) else []):
            if isinstance(nm, dict) and isinstance(nm.get("path"), str):
                files.append((("models", i, "path"), nm["path"]))
    if isinstance(d, dict):
        if data_override is None and isinstance(d.get("path"), str):
            files.append((("data", "path"), d["path"]))
        if reference_override is None and isinstance(d.get("reference"), str):
            files.append((("data", "reference"), d["reference"]))
    if isinstance(data.get("population"), str):  # population shares from a CSV file
        files.append((("population",), data["population"]))
    for loc, rel in files:
        p = Path(rel).expanduser()
        f = p if p.is_absolute() else base_dir / p
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
