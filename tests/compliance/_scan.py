"""Find, by reading the source, every interval-method label the toolkit can write into results.json.

A label reaches ``Interval.method`` in one of these ways, all followed here:

1. ``Interval(..., method=<expr>)``: the string constants of ``<expr>`` (both branches of a
   conditional expression, ...);
2. ``<expr>`` is a local name: the constants assigned to it in the enclosing function
   (``method = "a" if x else "b"``, ``lo, hi, method = ..., ..., "wilson"``);
3. ``<expr>`` is a call of a function defined in the package: the constants it returns;
4. ``<expr>`` is a parameter of the enclosing function (``method=method``): the function then
   *carries* a label, and every call of it passes one, positionally or by keyword; carriers are
   found to a fixed point, so helpers of helpers are followed;
5. the default of the ``method`` field of ``class Interval``.

The scan is deliberately independent of the running code: a check that is never exercised
by a test still has its labels found.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

__all__ = ["interval_labels"]


def _strings(node: ast.AST | None) -> set[str]:
    """The string values an expression can take: constants, both branches of ``a if c else b``,
    either side of ``a or b``. Conditions, comparisons and call arguments are not values."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.IfExp):
        return _strings(node.body) | _strings(node.orelse)
    if isinstance(node, ast.BoolOp):
        return set().union(*(_strings(v) for v in node.values))
    return set()


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        return f.attr
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    return [x.arg for x in [*a.posonlyargs, *a.args]]


def _assigned(fn: ast.AST, name: str) -> list[ast.AST]:
    """Right-hand sides (or tuple elements) assigned to ``name`` inside ``fn``."""
    out = []
    for node in ast.walk(fn):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == name:
                    out.append(node.value)
                elif isinstance(target, ast.Tuple):
                    for i, elt in enumerate(target.elts):
                        if isinstance(elt, ast.Name) and elt.id == name:
                            value = node.value
                            out.append(
                                value.elts[i]
                                if isinstance(value, ast.Tuple) and i < len(value.elts)
                                else value
                            )
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == name
        ):
            out.append(node.value)
    return out


class _Module:
    """A parsed file and, for every node, its innermost enclosing function."""

    def __init__(self, path: Path):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # ast.walk is breadth-first, so an outer function comes before the functions nested in
        # it; overwriting leaves each node mapped to its innermost function.
        self.functions = [
            n for n in ast.walk(self.tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        ]
        self.parent: dict[ast.AST, ast.AST] = {}
        for fn in self.functions:
            for child in ast.walk(fn):
                if child is not fn:
                    self.parent[child] = fn

    def enclosing(self, node: ast.AST):
        return self.parent.get(node)


def interval_labels(package_root: Path) -> dict[str, list[str]]:
    """Every interval-method label under ``package_root`` -> where (``file:line``) it comes from."""
    modules = [_Module(p) for p in sorted(Path(package_root).rglob("*.py"))]
    defs: dict[str, list[tuple[_Module, ast.FunctionDef]]] = defaultdict(list)
    for m in modules:
        for fn in m.functions:
            defs[fn.name].append((m, fn))
    found: dict[str, set[str]] = defaultdict(set)

    def where(m: _Module, node: ast.AST) -> str:
        return f"{m.path.relative_to(Path(package_root).parent)}:{getattr(node, 'lineno', 0)}"

    # carriers: function name -> (parameter index, parameter name) through which a label flows
    carriers: dict[str, tuple[int, str]] = {}

    def resolve(m: _Module, expr: ast.AST, site: ast.AST) -> tuple[set[str], str | None]:
        """Labels an expression can hold, and the enclosing function's parameter it comes from."""
        labels = _strings(expr)
        param = None
        fn = m.enclosing(site)
        if isinstance(expr, ast.Name) and fn is not None:
            if expr.id in _params(fn) or expr.id in [a.arg for a in fn.args.kwonlyargs]:
                param = expr.id
            for value in _assigned(fn, expr.id):
                labels |= _strings(value)
        if isinstance(expr, ast.Call):
            name = _call_name(expr)
            for _, target in defs.get(name or "", []):
                for ret in ast.walk(target):
                    if isinstance(ret, ast.Return):
                        labels |= _strings(ret.value)
        return labels, param

    def argument(call: ast.Call, index: int, name: str) -> ast.AST | None:
        for kw in call.keywords:
            if kw.arg == name:
                return kw.value
        return call.args[index] if index < len(call.args) else None

    def visit_site(m: _Module, expr: ast.AST, site: ast.AST) -> bool:
        labels, param = resolve(m, expr, site)
        for label in labels:
            found[label].add(where(m, site))
        fn = m.enclosing(site)
        if param is not None and fn is not None and fn.name not in carriers:
            names = _params(fn)
            carriers[fn.name] = (names.index(param) if param in names else 10**6, param)
            return True
        return False

    for m in modules:
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ClassDef) and node.name == "Interval":
                for stmt in node.body:
                    if (
                        isinstance(stmt, ast.AnnAssign)
                        and isinstance(stmt.target, ast.Name)
                        and stmt.target.id == "method"
                    ):
                        for label in _strings(stmt.value):
                            found[label].add(where(m, stmt))
            if isinstance(node, ast.Call) and _call_name(node) == "Interval":
                for kw in node.keywords:
                    if kw.arg == "method":
                        visit_site(m, kw.value, node)

    changed = True
    while changed:  # follow label-carrying helpers to a fixed point
        changed = False
        for m in modules:
            for node in ast.walk(m.tree):
                if isinstance(node, ast.Call) and _call_name(node) in carriers:
                    index, name = carriers[_call_name(node)]
                    arg = argument(node, index, name)
                    if arg is not None and visit_site(m, arg, node):
                        changed = True
    return {k: sorted(v) for k, v in sorted(found.items())}
