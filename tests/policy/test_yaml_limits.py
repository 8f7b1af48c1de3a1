"""The bounded YAML reader: alias bombs, deep nesting, self-references and size are named problems."""

import math

import pytest
import yaml

from audit.errors import PolicyError
from audit.policy import YamlLimits, YamlProblem, load_policy, load_yaml, read_yaml
from audit.policy._yaml import _BoundedLoader


def _bomb(levels: int, width: int) -> str:
    """The classic "billion laughs": each level is a list of `width` aliases to the previous one."""
    lines = ["l0: &l0 [" + ", ".join(['"lol"'] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * width) + "]")
    return "\n".join(lines) + "\n"


def _expanded_size(node) -> int:
    # Independent count: PyYAML's own composer, walked naively through every alias.
    if isinstance(node, yaml.MappingNode):
        return 1 + sum(_expanded_size(k) + _expanded_size(v) for k, v in node.value)
    if isinstance(node, yaml.SequenceNode):
        return 1 + sum(_expanded_size(v) for v in node.value)
    return 1


def test_nine_level_alias_bomb_is_a_named_problem():
    text = _bomb(9, 9)
    assert len(text) < 600
    with pytest.raises(YamlProblem) as info:
        load_yaml(text)
    assert info.value.kind == "expansion"
    assert "alias expansion too large" in str(info.value)
    assert "max_nodes" in str(info.value)
    # It stops at the alias that crosses the limit, long before the last level.
    assert info.value.line is not None and info.value.line < 9


def test_alias_bomb_in_a_policy_file_names_the_file_and_line(tmp_path):
    f = tmp_path / "bomb.yaml"
    f.write_text("version: 1\nname: bomb\n" + _bomb(9, 9))
    with pytest.raises(PolicyError) as info:
        load_policy(f)
    (p,) = info.value.problems
    assert "unsafe YAML refused" in p.message and "alias expansion" in p.message
    assert p.line is not None and 3 <= p.line <= 11
    assert str(f) in str(info.value)


@pytest.mark.parametrize("levels,width", [(2, 3), (3, 4), (4, 5)])
def test_expanded_size_matches_a_naive_count(levels, width):
    text = _bomb(levels, width)
    naive = _expanded_size(yaml.compose(text, Loader=yaml.SafeLoader))
    # Closed form too: level k holds width**(k+1) strings below 1 + width + ... list nodes.
    closed = 1 + sum(1 + sum(width ** j for j in range(k + 2)) for k in range(levels))
    assert naive == closed
    loader = _BoundedLoader(text, YamlLimits())
    loader.get_single_node()
    assert loader._expanded == naive
    load_yaml(text, limits=YamlLimits(max_nodes=naive))  # exactly at the limit: fine
    with pytest.raises(YamlProblem, match="alias expansion"):
        load_yaml(text, limits=YamlLimits(max_nodes=naive - 1))


def test_many_aliases_are_refused_by_count():
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 4) + "]\n"
    assert load_yaml(text, limits=YamlLimits(max_aliases=4)).data == {"a": 1, "b": [1, 1, 1, 1]}
    with pytest.raises(YamlProblem) as info:
        load_yaml(text, limits=YamlLimits(max_aliases=3))
    assert info.value.kind == "aliases" and "too many aliases" in str(info.value)
    assert info.value.line == 2


@pytest.mark.parametrize("text", [
    "[" * 900 + "]" * 900,                                        # flow style
    "- " * 900 + "x\n",                                            # block style, compact
])
def test_900_deep_lists_are_a_named_problem_not_a_recursion_error(text):
    with pytest.raises(YamlProblem) as info:
        load_yaml(text)
    assert info.value.kind == "depth"
    assert "nesting too deep" in str(info.value) and "max_depth" in str(info.value)


def test_plain_pyyaml_overflows_the_stack_on_the_same_input():
    # Why the limit exists: PyYAML's composer recurses once per level.
    with pytest.raises(RecursionError):
        yaml.safe_load("[" * 900 + "]" * 900)


def test_deep_nesting_in_a_policy_file(tmp_path):
    f = tmp_path / "deep.yaml"
    f.write_text("version: 1\nname: deep\ndata: " + "[" * 900 + "]" * 900 + "\n")
    with pytest.raises(PolicyError, match="nesting too deep") as info:
        load_policy(f)
    assert info.value.problems[0].line == 3


def test_depth_limit_is_exact():
    assert load_yaml("[[[[[1]]]]]", limits=YamlLimits(max_depth=5)).data == [[[[[1]]]]]
    with pytest.raises(YamlProblem, match="nesting too deep"):
        load_yaml("[[[[[[1]]]]]]", limits=YamlLimits(max_depth=5))


@pytest.mark.parametrize("text", [
    "a: &a [1, *a]\n",
    "a: &a {b: *a}\n",
    "a: &a\n  b: 1\n  <<: *a\n",
    "x:\n  a: &a\n    - y: [*a]\n",
])
def test_self_referencing_alias_is_refused(text):
    with pytest.raises(YamlProblem) as info:
        load_yaml(text)
    assert info.value.kind == "self-reference"
    assert "self-referencing alias: *a" in str(info.value)


def test_plain_pyyaml_builds_a_cycle_from_the_same_input():
    data = yaml.safe_load("a: &a [1, *a]\n")
    assert data["a"][1] is data["a"]


def test_document_size_is_bounded(tmp_path):
    text = "k: " + "x" * 200 + "\n"
    with pytest.raises(YamlProblem) as info:
        load_yaml(text, limits=YamlLimits(max_bytes=100))
    assert info.value.kind == "size" and f"{len(text)} bytes" in str(info.value)
    f = tmp_path / "big.yaml"
    f.write_text(text)
    with pytest.raises(YamlProblem, match=f"document too large: {len(text)} bytes"):
        read_yaml(f, limits=YamlLimits(max_bytes=100))
    assert read_yaml(f, limits=YamlLimits(max_bytes=len(text))).data == {"k": "x" * 200}


def test_values_written_are_bounded_too():
    text = "k: [" + ", ".join(["1"] * 60) + "]\n"
    assert load_yaml(text, limits=YamlLimits(max_nodes=63)).data == {"k": [1] * 60}   # map, key, list, 60
    with pytest.raises(YamlProblem) as info:
        load_yaml(text, limits=YamlLimits(max_nodes=62))
    assert info.value.kind == "nodes" and "more than 62 values" in str(info.value)


def test_limits_are_validated():
    with pytest.raises(ValueError, match="max_depth"):
        YamlLimits(max_depth=0)
    with pytest.raises(ValueError, match="max_depth must be at most 200"):
        YamlLimits(max_depth=5000)


def test_not_utf8_and_bad_syntax():
    with pytest.raises(YamlProblem) as info:
        load_yaml(b"a: \xff\xfe\n")
    assert info.value.kind == "encoding"
    with pytest.raises(YamlProblem) as info:
        load_yaml("a: [1, 2\nb: 3\n")
    assert info.value.kind == "syntax" and "invalid YAML" in str(info.value)


def test_yaml_1_2_booleans_and_exponent_floats():
    doc = load_yaml("a: yes\nb: NO\nc: on\nd: true\ne: False\nf: 1e-3\ng: -2.5E+2\nh: 7\ni: 0.5\n")
    assert doc.data == {"a": "yes", "b": "NO", "c": "on", "d": True, "e": False,
                        "f": float("1e-3"), "g": -250.0, "h": 7, "i": 0.5}
    assert type(doc.data["h"]) is int
    # .nan / .inf still read as floats (the schema then refuses them where numbers must be finite).
    assert math.isnan(load_yaml("x: .nan").data["x"])
    # The global PyYAML loader is untouched.
    assert yaml.safe_load("a: yes") == {"a": True}


def test_lines_and_duplicate_keys():
    doc = load_yaml("a: 1\nb:\n  c: [x, y]\n  d: 2\nb2: &m {k: 1, k: 2}\nb3: *m\n")
    assert doc.lines[("a",)] == 1
    assert doc.lines[("b", "c")] == 3
    assert doc.lines[("b", "c", 1)] == 3
    assert doc.lines[("b", "d")] == 4
    assert doc.lines[("b3", "k")] == 5      # through the alias: where the key was written
    assert doc.duplicates == [(("b2", "k"), 5)]   # once, although the alias repeats the mapping
    assert doc.data["b3"] == {"k": 2}


def test_aliases_within_limits_work():
    doc = load_yaml("base: &b {min: 0.8, blocking: true}\nt1: *b\nt2: {<<: *b, min: 0.9}\n")
    assert doc.data["t1"] == {"min": 0.8, "blocking": True}
    assert doc.data["t2"] == {"min": 0.9, "blocking": True}
