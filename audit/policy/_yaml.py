"""A bounded, safe YAML reader for every YAML file a user hands the toolkit.

PyYAML's ``safe_load`` constructs no arbitrary objects, but it is not bounded:
a few hundred bytes of nested aliases (the "billion laughs") expand into
billions of nodes for whatever walks the result next, a deeply nested document
overflows the interpreter's stack in the composer, and an alias inside its own
anchor builds a cyclic object that later code recurses into forever. This
reader composes the node graph itself and stops, with a named problem and a
line, as soon as one of the :class:`YamlLimits` is exceeded:

- ``max_bytes``: size of the document in bytes (checked before parsing);
- ``max_depth``: nesting of sequences and mappings;
- ``max_aliases``: number of ``*alias`` uses;
- ``max_nodes``: nodes of the document with every alias expanded (what a
  consumer would walk), counted exactly and incrementally, so an alias bomb
  fails at the alias that crosses the limit, before anything is expanded;
- self-referencing aliases (an alias inside the node it names) are refused.

Scalars follow YAML 1.2 where YAML 1.1 surprises: only ``true``/``false`` are
booleans (``yes``, ``no``, ``on``, ``off`` stay strings, so ``NO`` for Norway
is not ``False``), and ``1e-3`` is a float as in JSON, not a string.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audit.policy._lines import index_lines

__all__ = ["YAML_LIMITS", "YamlDocument", "YamlLimits", "YamlProblem", "load_yaml", "read_yaml"]


@dataclass(frozen=True)
class YamlLimits:
    """Bounds on a YAML document read from a user.

    Attributes
    ----------
    max_bytes : int
        Largest document, in bytes. The shipped policies are 1-9 kB; the pure-Python
        parser reads about 70 kB per second, so the default bounds the time too.
    max_depth : int
        Deepest nesting of mappings and sequences (a policy needs about 6).
    max_aliases : int
        Most ``*alias`` uses in one document.
    max_nodes : int
        Most values (keys, scalars, lists, mappings) once every alias is expanded;
        the shipped policies have 70-460.
    """

    max_bytes: int = 262_144
    max_depth: int = 64
    max_aliases: int = 200
    max_nodes: int = 50_000

    def __post_init__(self):
        for name in ("max_bytes", "max_depth", "max_aliases", "max_nodes"):
            if getattr(self, name) < 1:
                raise ValueError(f"YamlLimits.{name} must be at least 1; found {getattr(self, name)}")
        # The composer recurses twice per level; far below Python's default limit of 1000 frames.
        if self.max_depth > 200:
            raise ValueError(f"YamlLimits.max_depth must be at most 200; found {self.max_depth}")


YAML_LIMITS = YamlLimits()
"""The limits used when none are given."""


class YamlProblem(ValueError):
    """A YAML document that cannot be read, or that exceeds a limit.

    Attributes
    ----------
    kind : str
        ``syntax``, ``encoding``, ``size`` (bytes), ``nodes`` (values written),
        ``depth``, ``aliases``, ``expansion`` (values with aliases expanded) or
        ``self-reference``.
    line : int or None
        1-based line where the problem was found.
    """

    def __init__(self, kind: str, message: str, line: int | None = None):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.line = line


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML document.

    Attributes
    ----------
    data : object
        The constructed Python value (mappings, lists, scalars, dates).
    lines : dict
        Key path -> 1-based line, e.g. ``("checks", 2, "threshold", "min") -> 19``.
    duplicates : list of (path, line)
        Keys given twice in one mapping (the later occurrence); the value kept is the last.
    """

    data: Any
    lines: dict[tuple, int] = field(default_factory=dict)
    duplicates: list[tuple[tuple, int]] = field(default_factory=list)


_BOOL = "tag:yaml.org,2002:bool"
_FLOAT = "tag:yaml.org,2002:float"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer enforces :class:`YamlLimits` while it builds the node graph."""

    def __init__(self, stream, limits: YamlLimits):
        super().__init__(stream)
        self._limits = limits
        self._depth = 0
        self._aliases = 0
        self._expanded = 0
        self._open: set[str] = set()
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            line = event.start_mark.line + 1
            if event.anchor in self._open:
                raise YamlProblem(
                    "self-reference", f"self-referencing alias: *{event.anchor} is used inside the node "
                    f"&{event.anchor} it names, which would make the document infinite", line)
            self._aliases += 1
            if self._aliases > self._limits.max_aliases:
                raise YamlProblem(
                    "aliases", f"too many aliases: more than {self._limits.max_aliases} '*alias' uses "
                    f"(limit max_aliases={self._limits.max_aliases})", line)
            node = super().compose_node(parent, index)
            self._grow(self._size(node), line, f"*{event.anchor}")
            return node
        event = self.peek_event()
        line = event.start_mark.line + 1
        if not isinstance(event, yaml.ScalarEvent):
            self._depth += 1
            if self._depth > self._limits.max_depth:
                raise YamlProblem(
                    "depth", f"nesting too deep: more than {self._limits.max_depth} levels of lists or "
                    f"mappings (limit max_depth={self._limits.max_depth})", line)
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            self._open.add(anchor)
        try:
            self._grow(1, line, None)
            return super().compose_node(parent, index)
        finally:
            if anchor is not None:
                self._open.discard(anchor)
            if not isinstance(event, yaml.ScalarEvent):
                self._depth -= 1

    def _grow(self, n: int, line: int, alias: str | None) -> None:
        # Every node counts once where it is written, and an alias counts the whole expanded
        # subtree it stands for: the running sum is the size of the expanded document.
        self._expanded += n
        if self._expanded <= self._limits.max_nodes:
            return
        if alias is None:
            raise YamlProblem("nodes", f"document too large: more than {self._limits.max_nodes} "
                              f"values (limit max_nodes={self._limits.max_nodes})", line)
        raise YamlProblem(
            "expansion", f"alias expansion too large: alias {alias} expands the document past "
            f"{self._limits.max_nodes} values (limit max_nodes={self._limits.max_nodes}); "
            "nested aliases multiply (an alias bomb?)", line)

    def _size(self, node) -> int:
        # Expanded size of a finished node, memoised per node so shared subtrees cost once.
        # Iterative post-order walk: the graph is acyclic here (self-references were refused).
        sizes = self._sizes
        stack = [(node, False)]
        while stack:
            n, done = stack.pop()
            if id(n) in sizes:
                continue
            kids = _children(n)
            if done or not kids:
                sizes[id(n)] = 1 + sum(sizes[id(k)] for k in kids)
                continue
            stack.append((n, True))
            stack.extend((k, False) for k in kids if id(k) not in sizes)
        return sizes[id(node)]


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [x for kv in node.value for x in kv]
    return []


# YAML 1.2 booleans (true/false only) and JSON-style exponent floats, on this loader only.
_BoundedLoader.yaml_implicit_resolvers = {
    ch: [(tag, rx) for tag, rx in resolvers if tag != _BOOL]
    for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_BoundedLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                     list("tTfF"))
_BoundedLoader.add_implicit_resolver(
    _FLOAT, re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"), list("-+0123456789"))


def load_yaml(source: bytes | str, *, limits: YamlLimits = YAML_LIMITS) -> YamlDocument:
    """Parse one YAML document within ``limits``.

    Parameters
    ----------
    source : bytes or str
        The document; bytes must be UTF-8.
    limits : YamlLimits, optional
        Size, depth, alias and expansion bounds.

    Returns
    -------
    YamlDocument
        The value, the line of every key path, and keys given twice.

    Raises
    ------
    YamlProblem
        Invalid YAML or UTF-8, or a limit exceeded; ``kind`` names which.
    """
    raw = source.encode("utf-8") if isinstance(source, str) else bytes(source)
    if len(raw) > limits.max_bytes:
        raise YamlProblem("size", f"document too large: {len(raw)} bytes "
                          f"(limit max_bytes={limits.max_bytes})")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem("encoding", f"not UTF-8 text: {exc}") from None
    loader = _BoundedLoader(text, limits)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem("syntax", f"invalid YAML: {problem}",
                          mark.line + 1 if mark is not None else None) from None
    finally:
        loader.dispose()
    lines, dups = index_lines(root)
    return YamlDocument(data, lines, dups)


def read_yaml(path: str | Path, *, limits: YamlLimits = YAML_LIMITS) -> YamlDocument:
    """Read and parse a YAML file within ``limits``, never reading more than ``max_bytes + 1`` bytes.

    Raises
    ------
    FileNotFoundError, OSError
        The file cannot be read.
    YamlProblem
        As :func:`load_yaml`.
    """
    import stat

    from audit.files import file_kind

    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):  # a FIFO would block, a device never end
        raise OSError(f"{path} is {file_kind(mode)}, not a regular file")
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if size > limits.max_bytes:
            raise YamlProblem("size", f"document too large: {size} bytes "
                              f"(limit max_bytes={limits.max_bytes})")
        raw = fh.read(limits.max_bytes + 1)
    return load_yaml(raw, limits=limits)
