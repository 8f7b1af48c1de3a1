"""The layering contract: imports point down the layers of docs/architecture.md, and no import cycles.

Every import of every module in ``audit/`` counts, module-level or inside a function
(a function-level import that points up is still a dependency); only imports under
``if TYPE_CHECKING:`` are annotations and do not count. A package importing its own
submodules (registries that load their families) is not an edge up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "audit"

# Top to bottom. A module may import its own layer or any layer below it.
LAYERS: list[tuple[str, ...]] = [
    ("audit.cli", "audit.__main__", "audit.publish", "audit.terminal"),
    ("audit.api", "audit"),
    ("audit.runner", "audit.inputs", "audit.passes", "audit.plan", "audit.context", "audit.progress",
     "audit.sampling",
     "audit.demo_context", "audit.report", "audit.compare", "audit.integrations", "audit.verdict",
     "audit.policy", "audit.trust", "audit.verify", "audit.input_checks"),
    ("audit.checks",),
    ("audit.evalsets", "audit.fairness", "audit.adversarial", "audit.profiling", "audit.drift", "audit.ood",
     "audit.compliance"),
    ("audit.stats", "audit.data", "audit.models", "audit.constraints", "audit.scale"),
    ("audit.results", "audit.errors", "audit.manifest", "audit.extras", "audit.digest", "audit.files"),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(module: str) -> int:
    best, layer = -1, None
    for i, names in enumerate(LAYERS):
        for n in names:
            if (module == n or module.startswith(n + ".")) and len(n) > best:
                best, layer = len(n), i
    if layer is None:
        raise AssertionError(f"module {module} is in no layer; add its package to LAYERS")
    return layer


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                for n in ast.walk(sub):
                    if hasattr(n, "lineno"):
                        lines.add(n.lineno)
    return lines


def imports_of(path: Path) -> set[str]:
    """Every audit module ``path`` imports (resolving ``from audit.x import y`` to ``audit.x.y`` when
    ``y`` is a module)."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_lines(tree)
    me = module_name(path)
    pkg = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "audit")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(pkg.split(".")[: len(pkg.split(".")) - node.level + 1] + ([base] if base else []))
            if base.split(".")[0] != "audit":
                continue
            for a in node.names:
                cand = f"{base}.{a.name}"
                out.add(cand if _exists(cand) else base)
    return out


def _exists(module: str) -> bool:
    p = ROOT.parent / Path(*module.split("."))
    return p.with_suffix(".py").exists() or (p / "__init__.py").exists()


def graph() -> dict[str, set[str]]:
    g = {}
    for path in sorted(ROOT.rglob("*.py")):
        me = module_name(path)
        # A package's children may import the package itself (a registry loading its families).
        g[me] = {m for m in imports_of(path) if m != me and not me.startswith(m + ".")}
    return g


def back_edges(g: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Imports that point up a layer."""
    return sorted((a, b) for a, deps in g.items() for b in deps if layer_of(b) < layer_of(a))


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in g:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in g:
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return out


def test_every_module_has_a_layer():
    for m in graph():
        layer_of(m)


def test_imports_point_down_the_layers():
    assert back_edges(graph()) == []


def test_no_import_cycles():
    assert cycles(graph()) == []


def test_scale_only_distributes_work():
    g = graph()
    for m, deps in g.items():
        if m.startswith("audit.scale"):
            assert {d for d in deps if not d.startswith("audit.scale")} <= {"audit.errors"}, m


@pytest.mark.parametrize("edge", [("audit.scale._executors", "audit.runner"),
                                  ("audit.stats.summaries", "audit.checks.performance"),
                                  ("audit.results", "audit.report.html")])
def test_the_contract_catches_a_back_edge(edge):
    # The checker itself: one deliberately added upward import is reported, and it closes a cycle.
    g = graph()
    g[edge[0]] = g[edge[0]] | {edge[1]}
    assert edge in back_edges(g)
    assert any(edge[0] in c and edge[1] in c for c in cycles(g))
