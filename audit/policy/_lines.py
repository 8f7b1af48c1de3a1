"""Line numbers of keys in a YAML document, and duplicate-key detection.

PyYAML's safe_load forgets where things were and silently keeps the last of
two equal keys; composing the node tree keeps both facts.
"""

from __future__ import annotations

import yaml

__all__ = ["index_lines"]


def index_lines(text: str) -> tuple[dict[tuple, int], list[tuple[tuple, int]]]:
    """Map each key path to its 1-based line, and list duplicated keys.

    Returns
    -------
    lines : dict
        ``("checks", 2, "threshold", "min") -> 19``.
    duplicates : list of (path, line)
        Keys given twice in the same mapping (the second occurrence).
    """
    lines: dict[tuple, int] = {}
    dups: list[tuple[tuple, int]] = []
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        lines[()] = root.start_mark.line + 1
        _walk(root, (), lines, dups)
    return lines, dups


def _walk(node, path, lines, dups):
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else str(k.value)
            p = path + (key,)
            if key in seen:
                dups.append((p, k.start_mark.line + 1))
            seen.add(key)
            lines[p] = k.start_mark.line + 1
            _walk(v, p, lines, dups)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            p = path + (i,)
            lines[p] = v.start_mark.line + 1
            _walk(v, p, lines, dups)
