"""Policy inheritance: ``extends``, the merge rules, ``remove`` and ``locked``.

The rules (also in ``docs/policy.md``):

- ``extends: [a.yaml, b.yaml]`` names baselines, relative to the file that
  names them. Each baseline is resolved the same way (it may extend others);
  then ``a``, then ``b``, then the file itself are laid over each other, later
  over earlier. A file reached twice on one chain is a cycle; a missing file is
  an error naming the file that names it.
- A check is identified by ``(id, evalset, name)``, with ``evalset`` the
  check's default when omitted. A check whose identity is already inherited
  is merged into the inherited one (key by key, see below): that is how a
  policy tightens or loosens a threshold or changes a parameter; any other
  check is added after the inherited ones. Within one file taking part in
  inheritance, identities must be unique (give repeated checks a ``name``).
- An inherited check is dropped only by ``remove: [{id, evalset, name,
  reason}]`` in the file that extends; ``reason`` is required and recorded.
- ``locked: true`` on a baseline's threshold: files extending it may tighten
  that threshold but not loosen it (lower ``min``/``warn_min``, raise
  ``max``/``warn_max``, drop a bound, make it non-blocking, lower
  ``min_samples``, raise or drop ``max_regression``, change ``decision``, or
  unlock it), nor change a parameter the baseline set (parameters it left out
  stay free, e.g. ``sensitive``, which a baseline cannot know), nor remove
  the check.
- Everything outside ``checks`` merges key by key, the extending file winning:
  mappings (``data``, ``defaults``, ``constraints``, ``evalsets``,
  ``execution``, ``model``, a check's ``threshold`` and ``params``) recursively;
  lists (``data.sensitive``, ``frameworks``, ``models``, a parameter's list)
  and scalars are replaced whole. A ``null`` removes the inherited value (the
  default applies). ``name``, ``description``, ``owner``, ``approved_by`` and
  ``review_by`` describe one file and are never inherited.
- File paths a baseline gives (``model.path``, ``models[].path``,
  ``data.path``, ``data.reference``) are relative to the baseline; they are
  rewritten relative to the loaded policy, so the effective policy reads the
  same files from its own folder.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from audit.policy import schema as S
from audit.policy._problems import Collector, Located, describe, format_loc
from audit.policy._yaml import (
    YAML_LIMITS,
    YamlDocument,
    YamlLimits,
    YamlProblem,
    load_yaml,
    read_yaml,
)
from audit.policy.provenance import CheckOrigin, Origin, Provenance, RemovedCheck, SourceFile

__all__ = ["MAX_BASELINES", "Resolved", "resolve"]

MAX_BASELINES = 32
"""Most files one policy may be assembled from (itself included)."""

_NOT_INHERITED = ("name", "description", "owner", "approved_by", "review_by", "baseline")
_CONSUMED = ("extends", "remove")
_PATH_KEYS = (("model", "path"), ("data", "path"), ("data", "reference"))


@dataclass
class _Source:
    index: int
    path: Path            # resolved, absolute
    shown: str            # how problems name it: joined from what the user typed
    name: str             # how provenance names it: relative to the loaded policy's folder
    doc: YamlDocument
    raw: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


class _Node:
    """A value of the merged document and where it was written."""

    __slots__ = ("src", "value")

    def __init__(self, src: Located, value: Any):
        self.src = src
        self.value = value


@dataclass(frozen=True)
class _CheckMeta:
    added: Located
    changed: tuple[int, ...] = ()
    locked: Located | None = None


@dataclass(frozen=True)
class _Removed:
    entry: dict
    identity: tuple
    removed_by: Located
    defined_in: Located
    threshold: dict


@dataclass
class _Tree:
    root: _Node
    checks: list[_CheckMeta]
    removed: list[_Removed] = field(default_factory=list)


@dataclass(frozen=True)
class Resolved:
    """A policy document merged from its file and every baseline.

    Attributes
    ----------
    data : dict
        The merged document (no ``extends`` or ``remove`` left), to validate.
    origins : dict
        Key path in ``data`` -> (source index, key path in that source).
    files, lines : list
        Per source (index 0 the loaded policy): name for problems, key lines.
    provenance : Provenance
        What the report shows; see :mod:`audit.policy.provenance`.
    sources : list of (Path, str)
        Per source, its resolved path and its text.
    """

    data: dict
    origins: dict[tuple, Located]
    files: list[str]
    lines: list[dict[tuple, int]]
    provenance: Provenance
    sources: list[tuple[Path, str]]


def resolve(path: Path, shown: str, col: Collector, *,
            limits: YamlLimits = YAML_LIMITS, text: str | None = None) -> Resolved | None:
    """Read ``path`` and its baselines and merge them.

    Parameters
    ----------
    path : Path
        The policy file.
    shown : str
        How messages name it.
    col : Collector
        Receives every problem; its ``files`` and ``lines`` are filled per source.
    limits : YamlLimits
        Bounds for each file.
    text : str, optional
        The policy's own text, when it is not read from ``path`` (a policy given as a dict);
        ``path`` then only places it (relative paths and baselines are relative to its folder).

    Returns
    -------
    Resolved or None
        None when a file could not be read or parsed, a baseline is missing or
        a cycle was found (the problems say which); lock and removal problems
        are collected but the merge still returns, so validation can report more.
    """
    return _Resolver(path.resolve(), shown, col, limits, text).run()


class _Resolver:
    def __init__(self, top: Path, shown: str, col: Collector, limits: YamlLimits, text: str | None = None):
        self.top = top
        self.top_text = text
        self.top_shown = shown
        self.col = col
        self.limits = limits
        self.sources: list[_Source] = []
        self.by_path: dict[Path, _Source] = {}
        self.trees: dict[Path, _Tree | None] = {}
        self.order: list[int] = []
        self.check_defaults: dict[str, str] = {}

    # -- reading ------------------------------------------------------------------
    def run(self) -> Resolved | None:
        tree = self._resolve(self.top, self.top_shown, (self.top,), None)
        if tree is None:
            return None
        data = _unwrap(tree.root)
        origins: dict[tuple, Located] = {}
        _collect_origins(tree.root, (), origins)
        self.col.origins = origins
        return Resolved(_ordered(data), origins, self.col.files, self.col.lines,
                        self._provenance(tree, data, origins),
                        [(s.path, s.raw.decode("utf-8")) for s in self.sources])

    def _read(self, path: Path, shown: str, named_at: Located | None) -> _Source | None:
        if path in self.by_path:
            return self.by_path[path]
        if len(self.sources) >= MAX_BASELINES:
            self._problem(named_at, f"too many policy files: more than {MAX_BASELINES} in one "
                          "inheritance tree")
            return None
        try:
            if path == self.top and self.top_text is not None:
                raw = self.top_text.encode("utf-8")
                doc = load_yaml(raw, limits=self.limits)
            else:
                doc = read_yaml(path, limits=self.limits)
                raw = path.read_bytes()
        except FileNotFoundError:
            self._problem(named_at, f"policy file not found: {shown}")
            return None
        except OSError as exc:
            self._problem(named_at, f"cannot read the policy file {shown}: {exc}")
            return None
        except YamlProblem as exc:
            src = self._register(path, shown, YamlDocument(None), b"")
            self.col.add_at(src.index, (), exc.message if exc.kind in ("syntax", "encoding")
                            else f"unsafe YAML refused: {exc.message}", line=exc.line)
            return None
        return self._register(path, shown, doc, raw)

    def _register(self, path: Path, shown: str, doc: YamlDocument, raw: bytes) -> _Source:
        rel = os.path.relpath(path, self.top.parent) if path != self.top else path.name
        src = _Source(len(self.sources), path, shown, Path(rel).as_posix(), doc, raw)
        self.sources.append(src)
        self.by_path[path] = src
        self.col.files.append(shown)
        self.col.lines.append(doc.lines)
        return src

    def _problem(self, at: Located | None, message: str) -> None:
        if at is None:
            self.col.add_at(0, (), message)
        else:
            self.col.add_at(*at, message)

    # -- resolving ----------------------------------------------------------------
    def _resolve(self, path: Path, shown: str, chain: tuple[Path, ...],
                 named_at: Located | None) -> _Tree | None:
        if path in self.trees:
            return self.trees[path]
        src = self._read(path, shown, named_at)
        if src is None:
            return None
        for loc, _ in src.doc.duplicates:
            self.col.add_at(src.index, loc, "key given twice; remove one")
        data = src.doc.data
        if not isinstance(data, dict):
            self.col.add_at(src.index, (), "expected a mapping of policy keys at the top level; "
                            f"found {type(data).__name__}")
            return None
        extends = data.get("extends")
        inherits = extends is not None or named_at is not None
        own = self._own_tree(src, inherits)
        if extends is None:
            if data.get("remove") is not None:
                self.col.add_at(src.index, ("remove",), "'remove' drops inherited checks, but this "
                                "file extends nothing; add 'extends' or delete 'remove'")
            tree = own
        else:
            tree = self._inherit(src, extends, own, chain)
        self.trees[path] = tree
        if tree is not None:
            self.order.append(src.index)
        return tree

    def _inherit(self, src: _Source, extends: Any, own: _Tree, chain: tuple[Path, ...]) -> _Tree | None:
        if (not isinstance(extends, list) or not extends
                or not all(isinstance(e, str) and e.strip() for e in extends)):
            self.col.add_at(src.index, ("extends",), "expected a non-empty list of baseline policy "
                            f"files (paths relative to this file); found {extends!r}")
            return None
        base: _Tree | None = None
        ok = True
        for i, rel in enumerate(extends):
            at = (src.index, ("extends", i))
            if "://" in rel:
                self.col.add_at(*at, f"baselines are local files; found the URL {rel!r}")
                ok = False
                continue
            target = (src.path.parent / Path(rel).expanduser()).resolve()
            shown = os.path.normpath(os.path.join(os.path.dirname(src.shown), rel))
            if target in chain:
                cycle = " -> ".join(self._name(p) for p in (*chain[chain.index(target):], target))
                self.col.add_at(*at, f"inheritance cycle: {cycle}")
                ok = False
                continue
            if not target.is_file():
                self.col.add_at(*at, f"baseline not found: {rel!r} (looked for {target})")
                ok = False
                continue
            sub = self._resolve(target, shown, (*chain, target), at)
            if sub is None:
                ok = False
                continue
            base = sub if base is None else self._overlay(base, sub)
        if not ok or base is None:
            return None
        base = self._remove(base, src, own)
        return self._overlay(base, own)

    def _name(self, path: Path) -> str:
        return self.by_path[path].shown if path in self.by_path else str(path)

    def _own_tree(self, src: _Source, inherits: bool) -> _Tree:
        data = src.doc.data
        if src.index != 0:
            data = _rebase_paths(data, src.path.parent, self.top.parent)
        root = _wrap(data, src.index, ())
        metas: list[_CheckMeta] = []
        checks = root.value.get("checks")
        if checks is not None and isinstance(checks.value, list):
            seen: dict[tuple, int] = {}
            for j, node in enumerate(checks.value):
                locked = _plain_threshold(node).get("locked") is True
                metas.append(_CheckMeta((src.index, ("checks", j)),
                                        locked=(src.index, ("checks", j, "threshold", "locked"))
                                        if locked else None))
                key = self._identity(node)
                if key is None or not inherits:
                    continue
                if key in seen:
                    self.col.add_at(src.index, ("checks", j),
                                    f"same id, evaluation set and name as checks[{seen[key]}]; in a "
                                    "policy that extends or is extended each check needs a distinct "
                                    "identity: give one a 'name'")
                seen.setdefault(key, j)
        return _Tree(root, metas)

    def _identity(self, node: _Node) -> tuple | None:
        if not isinstance(node.value, dict):
            return None
        cid = _plain(node.value.get("id"))
        if not isinstance(cid, str):
            return None
        es = _plain(node.value.get("evalset"))
        name = _plain(node.value.get("name"))
        return (cid, es if isinstance(es, str) else self._default_evalset(cid),
                name if isinstance(name, str) else None)

    def _default_evalset(self, cid: str) -> str:
        if cid not in self.check_defaults:
            from audit.checks import get_check

            try:
                self.check_defaults[cid] = get_check(cid).default_evalset
            except KeyError:
                # Unknown ids are reported by validation; 'base' keeps identities comparable.
                self.check_defaults[cid] = "base"
        return self.check_defaults[cid]

    # -- merging ------------------------------------------------------------------
    def _overlay(self, base: _Tree, top: _Tree) -> _Tree:
        out = {k: v for k, v in base.root.value.items() if k not in _NOT_INHERITED + _CONSUMED}
        for k, t in top.root.value.items():
            if k in _CONSUMED or k == "checks":
                continue
            if t.value is None:
                out.pop(k, None)
                continue
            b = out.get(k)
            out[k] = _merge_map(b, t) if b is not None and _both_maps(b, t) else t
        metas = list(base.checks)
        b_checks, t_checks = base.root.value.get("checks"), top.root.value.get("checks")
        if t_checks is None or (b_checks is not None and not isinstance(b_checks.value, list)):
            if b_checks is not None:
                out["checks"] = b_checks
        elif not isinstance(t_checks.value, list) or b_checks is None:
            out["checks"] = t_checks
            metas = list(top.checks)
        else:
            items = list(b_checks.value)
            index = {}
            for i, node in enumerate(items):
                key = self._identity(node)
                if key is not None:
                    index.setdefault(key, i)
            for j, node in enumerate(t_checks.value):
                key = self._identity(node)
                tmeta = top.checks[j]
                if key is not None and key in index:
                    i = index[key]
                    merged = _merge_map(items[i], node)
                    self._check_lock(items[i], merged, metas[i], node, key)
                    changed = tuple(dict.fromkeys((*metas[i].changed, tmeta.added[0], *tmeta.changed)))
                    metas[i] = _CheckMeta(metas[i].added, changed, metas[i].locked or tmeta.locked)
                    items[i] = merged
                else:
                    items.append(node)
                    metas.append(tmeta)
                    if key is not None:
                        index[key] = len(items) - 1
            out["checks"] = _Node(t_checks.src, items)
        return _Tree(_Node(top.root.src, out), metas, base.removed + top.removed)

    def _check_lock(self, before: _Node, after: _Node, meta: _CheckMeta, by: _Node, key: tuple) -> None:
        if meta.locked is None:
            return
        old, new = _plain_threshold(before), _plain_threshold(after)
        why = loosenings(old, new)
        why += pinned_params_changed(_plain(before.value.get("params")), _plain(after.value.get("params")))
        if not why:
            return
        src, path = meta.locked
        where = f"{self.sources[src].shown}" + (f", line {line}" if (line := self.col.line(src, path))
                                                else "")
        thr = by.value.get("threshold") if isinstance(by.value, dict) else None
        at = thr.src if thr is not None else by.src
        self.col.add_at(*at, f"check {_show_identity(key)} has a threshold locked in {where}; this "
                        f"policy {', '.join(why)}. A policy extending a baseline may tighten a locked "
                        "threshold, never loosen it")

    def _remove(self, base: _Tree, src: _Source, own: _Tree) -> _Tree:
        entries = src.doc.data.get("remove")
        if entries is None:
            return base
        if not isinstance(entries, list) or not entries:
            self.col.add_at(src.index, ("remove",), "expected a non-empty list of "
                            f"{{id, evalset, name, reason}} entries; found {entries!r}")
            return base
        checks = base.root.value.get("checks")
        items = list(checks.value) if checks is not None and isinstance(checks.value, list) else []
        metas = list(base.checks)
        own_keys = set()
        own_checks = own.root.value.get("checks")
        if own_checks is not None and isinstance(own_checks.value, list):
            own_keys = {self._identity(n) for n in own_checks.value}
        removed = list(base.removed)
        for i, entry in enumerate(entries):
            at = ("remove", i)
            try:
                rm = S.CheckRemoval.model_validate(entry, strict=True)
            except ValidationError as err:
                for e in err.errors():
                    loc = at + tuple(e["loc"])
                    self.col.add_at(src.index, loc, describe(e, loc, S.CheckRemoval))
                continue
            key = (rm.id, rm.evalset or self._default_evalset(rm.id), rm.name)
            hit = next((k for k, n in enumerate(items) if self._identity(n) == key), None)
            if hit is None:
                inherited = [self._identity(n) for n in items]
                same_id = [k for k in inherited if k and k[0] == rm.id]
                if same_id:
                    hint = "; inherited checks with that id: " + ", ".join(_show_identity(k) for k in same_id)
                else:
                    close = difflib.get_close_matches(rm.id, sorted({k[0] for k in inherited if k}), n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                self.col.add_at(src.index, at, f"removes nothing: no inherited check is "
                                f"{_show_identity(key)}{hint}")
                continue
            if metas[hit].locked is not None:
                lsrc, lpath = metas[hit].locked
                self.col.add_at(src.index, at, f"cannot remove {_show_identity(key)}: its threshold is "
                                f"locked in {self.sources[lsrc].shown}"
                                + (f", line {ln}" if (ln := self.col.line(lsrc, lpath)) else ""))
                continue
            if key in own_keys:
                self.col.add_at(src.index, at, f"{_show_identity(key)} is both removed and listed in "
                                "'checks'; to change an inherited check, list it without removing it")
                continue
            removed.append(_Removed(rm.model_dump(), key, (src.index, at), items[hit].src,
                                    _plain_threshold(items[hit])))
            del items[hit]
            del metas[hit]
        out = dict(base.root.value)
        if checks is not None:
            out["checks"] = _Node(checks.src, items)
        return _Tree(_Node(base.root.src, out), metas, removed)

    # -- provenance ---------------------------------------------------------------
    def _origin(self, at: Located) -> Origin:
        src, path = at
        return Origin(file=self.sources[src].name, line=self.col.line(src, path))

    def _provenance(self, tree: _Tree, data: dict, origins: dict[tuple, Located]) -> Provenance:
        files = []
        for i in self.order:
            s = self.sources[i]
            d = s.doc.data if isinstance(s.doc.data, dict) else {}
            ext = d.get("extends") if isinstance(d.get("extends"), list) else []
            names = [self.by_path[(s.path.parent / Path(e).expanduser()).resolve()].name for e in ext]
            meta = {k: d.get(k) if isinstance(d.get(k), str) else None for k in ("owner", "approved_by")}
            review = d.get("review_by")
            try:
                review = S._iso_date(review)
            except ValueError:
                review = None
            files.append(SourceFile(name=s.name, sha256=s.sha256, extends=names, review_by=review, **meta))
        checks = []
        entries = data.get("checks") if isinstance(data.get("checks"), list) else []
        nodes = _list(tree.root.value.get("checks"))
        for i, (entry, meta, node) in enumerate(zip(entries, tree.checks, nodes, strict=False)):
            key = self._identity(node)
            if key is None:
                continue
            th = entry.get("threshold") if isinstance(entry, dict) else None
            thr = {k: self._origin(origins[("checks", i, "threshold", k)])
                   for k in (th if isinstance(th, dict) else {})}
            checks.append(CheckOrigin(
                index=i, id=key[0], evalset=key[1], name=key[2], added_by=self._origin(meta.added),
                changed_by=[self.sources[c].name for c in meta.changed if c != meta.added[0]],
                threshold=thr, locked_in=self.sources[meta.locked[0]].name if meta.locked else None))
        # A check removed on one branch of a diamond but inherited through another stays.
        present = {self._identity(n) for n in _list(tree.root.value.get("checks"))}
        removed = [RemovedCheck(id=r.identity[0], evalset=r.identity[1], name=r.identity[2],
                                reason=r.entry["reason"], removed_by=self._origin(r.removed_by),
                                defined_in=self._origin(r.defined_in), threshold=r.threshold)
                   for r in tree.removed if r.identity not in present]
        settings = {}
        for loc, at in origins.items():
            if loc and loc[0] != "checks" and _is_leaf(data, loc):
                settings[format_loc(loc)] = self._origin(at)
        return Provenance(policy=self.sources[0].name, files=files, checks=checks, removed=removed,
                          settings=dict(sorted(settings.items())))


# -- helpers ------------------------------------------------------------------------
def loosenings(old: dict, new: dict) -> list[str]:
    """How threshold ``new`` is looser than ``old`` (empty when it is as strict or stricter).

    Parameters
    ----------
    old, new : dict
        Threshold mappings as written (``min``, ``max``, ``warn_min``, ...).
    """
    why = []
    for key, low in (("min", True), ("warn_min", True), ("max", False), ("warn_max", False)):
        a, b = old.get(key), new.get(key)
        if a is None:
            continue
        if b is None:
            why.append(f"drops {key} ({a})")
        elif _num(a) and _num(b) and (b < a if low else b > a):
            why.append(f"{'lowers' if low else 'raises'} {key} from {a} to {b}")
    if old.get("blocking", True) is True and new.get("blocking", True) is False:
        why.append("makes it non-blocking")
    a, b = old.get("min_samples"), new.get("min_samples")
    if a is not None and (b is None or (_num(a) and _num(b) and b < a)):
        why.append(f"lowers min_samples from {a} to {b}" if b is not None else f"drops min_samples ({a})")
    if old.get("decision") != new.get("decision"):
        why.append(f"changes decision from {old.get('decision') or 'the default'} to "
                   f"{new.get('decision') or 'the default'}")
    a, b = old.get("max_regression"), new.get("max_regression")
    if isinstance(a, dict):
        if not isinstance(b, dict):
            why.append(f"drops max_regression ({a})")
        elif set(a) != set(b):
            why.append(f"changes max_regression from {a} to {b} (not comparable)")
        else:
            why += [f"raises max_regression.{k} from {a[k]} to {b[k]}" for k in a
                    if _num(a[k]) and _num(b[k]) and b[k] > a[k]]
    if old.get("locked") is True and new.get("locked") is not True:
        why.append("unlocks it")
    return why


def pinned_params_changed(old: Any, new: Any) -> list[str]:
    """How ``new`` params change the ones a locked baseline check set (unset ones stay free).

    A baseline cannot know every policy's columns, so a parameter it leaves out
    (e.g. ``sensitive``) may be set by the policy extending it; a parameter it
    sets is pinned.
    """
    if not isinstance(old, dict):
        return []
    new = new if isinstance(new, dict) else {}
    return [f"changes params.{k} from {old[k]!r} to {new.get(k)!r}" for k in old
            if k not in new or new[k] != old[k]]


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _show_identity(key: tuple) -> str:
    cid, es, name = key
    return f"{cid!r} on {es!r}" + (f" named {name!r}" if name is not None else "")


def _wrap(value: Any, src: int, path: tuple) -> _Node:
    if isinstance(value, dict):
        return _Node((src, path), {k: _wrap(v, src, path + (k,)) for k, v in value.items()})
    if isinstance(value, list):
        return _Node((src, path), [_wrap(v, src, path + (i,)) for i, v in enumerate(value)])
    return _Node((src, path), value)


def _unwrap(node: _Node) -> Any:
    if isinstance(node.value, dict):
        return {k: _unwrap(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_unwrap(v) for v in node.value]
    return node.value


def _plain(node: _Node | None) -> Any:
    return None if node is None else _unwrap(node)


def _plain_threshold(check: _Node) -> dict:
    if not isinstance(check.value, dict):
        return {}
    t = _plain(check.value.get("threshold"))
    return t if isinstance(t, dict) else {}


def _list(node: _Node | None) -> list[_Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _both_maps(a: _Node, b: _Node) -> bool:
    return isinstance(a.value, dict) and isinstance(b.value, dict)


def _merge_map(base: _Node, top: _Node) -> _Node:
    if not _both_maps(base, top):
        return top
    out = dict(base.value)
    for k, t in top.value.items():
        if t.value is None:
            out.pop(k, None)
            continue
        b = out.get(k)
        out[k] = _merge_map(b, t) if b is not None and _both_maps(b, t) else t
    return _Node(top.src, out)


def _collect_origins(node: _Node, path: tuple, out: dict) -> None:
    out[path] = node.src
    if isinstance(node.value, dict):
        for k, v in node.value.items():
            _collect_origins(v, path + (k,), out)
    elif isinstance(node.value, list):
        for i, v in enumerate(node.value):
            _collect_origins(v, path + (i,), out)


def _is_leaf(data: Any, loc: tuple) -> bool:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False
    return not isinstance(data, dict)


def _rebase_paths(data: dict, own_dir: Path, top_dir: Path) -> dict:
    # A baseline's relative file paths are relative to the baseline; make them relative to
    # the loaded policy, whose folder LoadedPolicy.resolve() uses.
    def rebase(p: Any) -> Any:
        if not isinstance(p, str) or not p or p.startswith("~") or Path(p).is_absolute():
            return p
        return Path(os.path.relpath(own_dir / p, top_dir)).as_posix()

    if own_dir == top_dir:
        return data
    out = dict(data)
    for block, key in _PATH_KEYS:
        if isinstance(out.get(block), dict) and key in out[block]:
            out[block] = {**out[block], key: rebase(out[block][key])}
    if isinstance(out.get("models"), list):
        out["models"] = [{**m, "path": rebase(m["path"])} if isinstance(m, dict) and "path" in m else m
                         for m in out["models"]]
    if isinstance(out.get("population"), str):  # a population CSV named by a baseline
        out["population"] = rebase(out["population"])
    return out


def _ordered(data: dict) -> dict:
    # Canonical key order (the schema's), so the effective policy reads like a hand-written one.
    order = {k: i for i, k in enumerate(S.Policy.model_fields)}
    return dict(sorted(data.items(), key=lambda kv: order.get(kv[0], len(order))))
