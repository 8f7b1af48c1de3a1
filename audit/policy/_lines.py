"""Line numbers of keys in a composed YAML node graph, and duplicate-key detection.

PyYAML's constructor forgets where things were and silently keeps the last of
two equal keys; the composed node graph keeps both facts.
"""

from __future__ import annotations

import yaml

__all__ = ["index_lines"]


def index_lines(root: yaml.Node | None) -> tuple[dict[tuple, int], list[tuple[tuple, int]]]:
    """Map each key path to its 1-based line, and list duplicated keys.

    Parameters
    ----------
    root : yaml.Node or None
        A composed document (see :mod:`audit.policy._yaml`, which bounds its
        expanded size, so walking every path through aliases is bounded too).

    Returns
    -------
    lines : dict
        ``("checks", 2, "threshold", "min") -> 19``.
    duplicates : list of (path, line)
        Keys given twice in the same mapping (the second occurrence), each reported
        once even when an alias repeats the mapping.
    """
    lines: dict[tuple, int] = {}
    dups: list[tuple[tuple, int]] = []
    if root is None:
        return lines, dups
    lines[()] = root.start_mark.line + 1
    checked: set[int] = set()
    stack: list[tuple[yaml.Node, tuple]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            first = id(node) not in checked
            checked.add(id(node))
            seen = set()
            kids = []
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
                p = path + (key,)
                if first and key in seen:
                    dups.append((p, k.start_mark.line + 1))
                seen.add(key)
                lines[p] = k.start_mark.line + 1
                kids.append((v, p))
            # Reversed onto the stack: visited in document order, so a mapping repeated by an
            # alias is first seen where it was written.
            stack.extend(reversed(kids))
        elif isinstance(node, yaml.SequenceNode):
            kids = []
            for i, v in enumerate(node.value):
                p = path + (i,)
                lines[p] = v.start_mark.line + 1
                kids.append((v, p))
            stack.extend(reversed(kids))
    dups.sort(key=lambda d: d[1])
    return lines, dups
