"""Hypothesis strategies for hostile policies: a valid policy, mutated.

A case is a :class:`PolicyCase`: the YAML text, the mutations applied, whether the policy must
be refused (exit 2) and the names (key paths, columns, files) the refusal must mention.
Mutations work on the parsed policy (wrong types, NaN/inf, misspelt keys, unknown check ids,
bad params, missing columns, huge numbers, deep nesting, lists for maps, control characters)
or on the text (alias bombs, self-reference, deep nesting, empty documents, invalid UTF-8,
tabs, truncation, duplicate keys, oversized documents).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import yaml
from hypothesis import strategies as st

from ._harness import FEATURES, SENSITIVE, TARGET, base_policy

__all__ = ["PolicyCase", "policy_cases", "MODEL_REL", "DATA_REL"]

MODEL_REL = "../model.skops"
DATA_REL = "../data.parquet"


@dataclass(frozen=True)
class PolicyCase:
    """One generated policy."""

    text: str | bytes
    labels: tuple[str, ...]
    must_refuse: bool
    names: tuple[str, ...]


@dataclass(frozen=True)
class _Mutation:
    label: str
    must_refuse: bool
    names: tuple[str, ...] = ()


# Values a number may be replaced with. must_refuse: NaN and infinities are never a threshold.
_NON_FINITE = [math.nan, math.inf, -math.inf]
_WRONG_TYPES = ["0.6", "yes", [0.6], {"value": 0.6}, None, True, ""]
_HOSTILE_TEXT = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(["\x1b[2J\x1b[H", "\x1b]0;owned\x07", "\u202eevil", "tab\there", "nul\x00byte",
                     "a" * 5000, "\ud83d\ude00 ok", "line\nbreak", "{{ x }}", "<script>x</script>"]),
)
_TYPO_KEYS = ["modle", "dat", "check", "treshold", "evalset", "sensitve", "targte", "constraint", "exectuion",
              "seeed", "default", "pos_lable"]


def _check(draw, p) -> int:
    return draw(st.integers(0, len(p["checks"]) - 1))


def _m_threshold_value(draw, p):
    i = _check(draw, p)
    key = draw(st.sampled_from(["min", "max", "warn_min", "warn_max"]))
    th = p["checks"][i]["threshold"]
    kind = draw(st.sampled_from(["non-finite", "wrong type", "huge"]))
    if kind == "non-finite":
        th[key] = draw(st.sampled_from(_NON_FINITE))
        return _Mutation(f"threshold {key} non-finite", True, (f"checks[{i}].threshold.{key}",))
    if kind == "wrong type":
        value = draw(st.sampled_from(_WRONG_TYPES))
        th[key] = value
        # None for an optional bound only removes it; everything else is a type error.
        return _Mutation(f"threshold {key} = {value!r}", value is not None, (f"checks[{i}].threshold.{key}",))
    th.clear()
    th.update({"min": draw(st.sampled_from([-1e308, -1e300, 0.0])), "max": draw(st.sampled_from([1e308, 1e300]))})
    return _Mutation("threshold huge bounds", False)


def _m_unordered_bounds(draw, p):
    p["checks"][0]["threshold"] = {"min": 0.9, "warn_min": 0.7}
    return _Mutation("min above warn_min", True, ("checks[0].threshold",))


def _m_typo_key(draw, p):
    where = draw(st.sampled_from(["top", "data", "threshold", "check", "model", "constraint"]))
    typo = draw(st.sampled_from(_TYPO_KEYS))
    target = {"top": p, "data": p["data"], "threshold": p["checks"][0]["threshold"], "check": p["checks"][0],
              "model": p["model"], "constraint": p["constraints"]["age"]}[where]
    target[typo] = draw(st.sampled_from([1, "x", [1], {"a": 1}]))
    return _Mutation(f"unknown key {typo} in {where}", True, (typo,))


def _m_unknown_check(draw, p):
    i = _check(draw, p)
    cid = draw(st.one_of(st.sampled_from(["fairnes.demographic_parity_difference", "performance.acuracy",
                                          "nope", "", "performance", "os.system"]),
                         st.text(min_size=1, max_size=30)))
    p["checks"][i]["id"] = cid
    return _Mutation("unknown check id", True, (f"checks[{i}].id",))


def _m_bad_params(draw, p):
    i = _check(draw, p)
    kind = draw(st.sampled_from(["unknown", "wrong type", "not a map"]))
    if kind == "unknown":
        p["checks"][i]["params"] = {"n_bins_typo": 3}
        return _Mutation("unknown check param", True, ("n_bins_typo",))
    if kind == "not a map":
        p["checks"][i]["params"] = draw(st.sampled_from([[1, 2], "sensitive", 3]))
        return _Mutation("params not a map", True, (f"checks[{i}].params",))
    p["checks"][1]["params"] = {"sensitive": draw(st.sampled_from([SENSITIVE, 3, [[SENSITIVE]], {"a": 1}]))}
    return _Mutation("sensitive param of a wrong type", True, ("checks[1].params", "sensitive"))


def _m_missing_columns(draw, p):
    col = draw(st.sampled_from(["no_such_col", "Sex", "x3", "y ", "\u00e9t\u00e9", "a" * 300]))
    where = draw(st.sampled_from(["sensitive", "param sensitive", "target", "feature", "constraint", "weight"]))
    if where == "sensitive":
        p["data"]["sensitive"] = [SENSITIVE, col]
    elif where == "param sensitive":
        p["checks"][1]["params"]["sensitive"] = [col]
    elif where == "target":
        p["data"]["target"] = col
    elif where == "feature":
        p["data"]["features"] = [*FEATURES, col]
    elif where == "constraint":
        p["constraints"][col] = {"min": 0, "max": 1}
    else:
        p["data"]["weight"] = col
    # A 300-character name is also over the name-length limit: either message names it.
    return _Mutation(f"missing column in {where}", True, (col[:40],))


def _m_odd_columns(draw, p):
    kind = draw(st.sampled_from(["target as feature", "sensitive as target", "duplicate feature",
                                 "empty features", "categories on numeric"]))
    if kind == "target as feature":
        p["data"]["features"] = [*FEATURES, TARGET]
        return _Mutation(kind, True, (TARGET,))
    if kind == "sensitive as target":
        p["data"]["target"] = SENSITIVE
        return _Mutation(kind, False)
    if kind == "duplicate feature":
        p["data"]["features"] = [*FEATURES, "x1"]
        return _Mutation(kind, True, ("x1", "data.features"))
    if kind == "empty features":
        p["data"]["features"] = []
        return _Mutation(kind, True, ("data.features",))
    p["constraints"]["age"] = {"categories": ["a", "b"]}
    return _Mutation(kind, True, ("age",))


def _m_constraint(draw, p):
    kind = draw(st.sampled_from(["nan bound", "min above max", "string bound", "not a map"]))
    if kind == "nan bound":
        p["constraints"]["age"]["min"] = draw(st.sampled_from(_NON_FINITE))
    elif kind == "min above max":
        p["constraints"]["age"] = {"min": 100, "max": 18}
    elif kind == "string bound":
        p["constraints"]["age"]["max"] = "100"
    else:
        p["constraints"] = draw(st.sampled_from([["age"], "age", 5]))
        return _Mutation("constraints " + kind, True, ("constraints",))
    return _Mutation("constraint " + kind, True, ("constraints.age",))


def _m_scalars(draw, p):
    key, value, bad = draw(st.sampled_from([
        ("seed", -1, True), ("seed", 1.5, True), ("seed", "0", True), ("seed", 2**70, None),
        ("version", 2, True), ("version", "1", True), ("version", 1.0, True), ("version", None, True),
        ("name", "", True), ("name", "\x1b[31mred", True), ("name", "a" * 3000, None),
        ("task", "clustering", True), ("task", "regression", None),
        ("pos_label", "maybe", True), ("pos_label", [0, 1], True), ("pos_label", 1, False),
        ("pos_label", {"a": 1}, True), ("description", "\x1b]52;c;ZXZpbA==\x07", False),
        ("description", "x" * 20000, None), ("owner", "", True),
    ]))
    p[key] = value
    # bad None: accepted or refused, both fine; a refusal must still name the key.
    return _Mutation(f"{key} = {value!r:.30}", bool(bad), (key,))


def _m_wrong_shapes(draw, p):
    key, value = draw(st.sampled_from([
        ("data", ["data.parquet"]), ("data", "data.parquet"), ("data", None), ("model", ["model.skops"]),
        ("model", "model.skops"), ("checks", {"id": "performance.accuracy"}), ("checks", []),
        ("checks", ["performance.accuracy"]), ("checks", None), ("defaults", [1, 2]), ("execution", "fast"),
        ("evalsets", ["noise"]), ("constraints", None),
    ]))
    p[key] = value
    return _Mutation(f"{key} as {type(value).__name__}", True, (key,))


def _m_nulls(draw, p):
    where = draw(st.sampled_from(["threshold", "check id", "target", "sensitive item", "model path"]))
    if where == "threshold":
        p["checks"][0]["threshold"] = None
        return _Mutation("null threshold", True, ("checks[0].threshold",))
    if where == "check id":
        p["checks"][0]["id"] = None
        return _Mutation("null check id", True, ("checks[0].id",))
    if where == "target":
        p["data"]["target"] = None
        return _Mutation("null target", True, ("data.target",))
    if where == "sensitive item":
        p["data"]["sensitive"] = [None]
        return _Mutation("null sensitive", True, ("data.sensitive",))
    p["model"]["path"] = None
    return _Mutation("null model path", True, ("model",))


def _m_model(draw, p):
    kind = draw(st.sampled_from(["missing file", "trust", "entrypoint", "pickle", "timeout", "batch"]))
    if kind == "missing file":
        p["model"]["path"] = "nope.skops"
        return _Mutation(kind, True, ("nope.skops",))
    if kind == "trust":
        p["model"]["trust"] = True
        return _Mutation(kind, True, ("trust",))
    if kind == "entrypoint":
        p["model"] = {"entrypoint": "os:system"}
        return _Mutation(kind, True, ("--trust-model", "entrypoint"))
    if kind == "pickle":
        p["model"]["path"] = "model.pkl"
        return _Mutation(kind, True, ("model.pkl",))
    if kind == "timeout":
        p["model"]["timeout_s"] = draw(st.sampled_from([0, -1, math.nan, math.inf, "10"]))
        return _Mutation(kind, True, ("model.timeout_s",))
    p["model"]["batch_size"] = draw(st.sampled_from([0, -5, 10**30, 1]))
    return _Mutation("batch size", p["model"]["batch_size"] < 1, ("model.batch_size",))


def _m_evalset(draw, p):
    kind = draw(st.sampled_from(["unknown reference", "misspelt kind", "bad severity", "unknown evalset kind"]))
    if kind == "unknown reference":
        p["checks"][0]["evalset"] = "nosuch"
        return _Mutation(kind, True, ("checks[0].evalset",))
    if kind == "misspelt kind":
        p["checks"][0]["evalset"] = "perturbed.nosie@0.1"
        return _Mutation(kind, True, ("checks[0].evalset",))
    if kind == "bad severity":
        p["evalsets"] = {"noisy": {"kind": "perturbed.noise",
                                   "severity": draw(st.sampled_from([math.nan, -1.0, "0.1", 1e308]))}}
        p["checks"][0]["evalset"] = "noisy"
        return _Mutation(kind, True, ("evalsets.noisy",))
    p["evalsets"] = {"odd": {"kind": draw(st.text(min_size=1, max_size=20))}}
    return _Mutation(kind, True, ("evalsets.odd",))


def _m_execution(draw, p):
    key, value, bad = draw(st.sampled_from([
        ("memory_limit", "lots", True), ("address", "garbage", True), ("executor", "gpu", True),
        ("max_groups", 1, True), ("max_groups", 10**9, True), ("max_columns", 0, True),
        ("max_name_length", 3, True), ("workers", 0, True), ("partition_rows", 10, True),
        ("sample_rows", 10**12, None), ("max_groups", 2, None), ("max_columns", 3, None),
    ]))
    if not isinstance(p.get("execution"), dict):
        p["execution"] = {}
    if key in p["execution"]:
        return _Mutation(f"execution.{key} (already changed)", False)
    p["execution"][key] = value
    if key == "address":
        p["execution"]["executor"] = "dask"
    return _Mutation(f"execution.{key} = {value!r}", bad, ("execution",))


def _m_defaults(draw, p):
    key, value, bad = draw(st.sampled_from([
        ("n_boot", 10**9, True), ("n_boot", "1000", True), ("n_boot", 49, True), ("confidence", 1.5, True),
        ("confidence", math.nan, True), ("min_group_size", 0, True), ("min_group_size", 10**9, None),
        ("decision", "vibes", True), ("decision", "interval", False),
    ]))
    if not isinstance(p.get("defaults"), dict):
        p["defaults"] = {}
    if key in p["defaults"]:
        return _Mutation(f"defaults.{key} (already changed)", False)
    p["defaults"][key] = value
    return _Mutation(f"defaults.{key} = {value!r}", bad, (f"defaults.{key}",))


def _m_deep(draw, p):
    depth = draw(st.integers(50, 400))
    value: object = SENSITIVE
    for _ in range(depth):
        value = [value]
    where = draw(st.sampled_from(["param", "sensitive", "description"]))
    if where == "param":
        p["checks"][1]["params"]["sensitive"] = value
        return _Mutation("deep param", True, ("checks[1].params", "sensitive", "depth", "nest"))
    if where == "sensitive":
        p["data"]["sensitive"] = value
        return _Mutation("deep sensitive", True, ("data.sensitive", "depth", "nest"))
    p["description"] = value
    return _Mutation("deep description", True, ("description", "depth", "nest"))


def _m_unicode(draw, p):
    text = draw(_HOSTILE_TEXT)
    where = draw(st.sampled_from(["check name", "reference", "description", "key"]))
    if where == "check name":
        p["checks"][0]["name"] = text
        return _Mutation("hostile check name", False, ("checks[0].name",))
    if where == "reference":
        p["checks"][0]["threshold"]["reference"] = text
        return _Mutation("hostile reference", False, ("checks[0].threshold.reference",))
    if where == "description":
        p["description"] = text
        return _Mutation("hostile description", False, ("description",))
    p["\x1b[2J" + text] = 1
    return _Mutation("hostile key", True, ("policy.yaml",))


def _m_many_checks(draw, p):
    n = draw(st.integers(2, 40))
    p["checks"] = [dict(p["checks"][0], name=f"copy {k}") for k in range(n)]
    return _Mutation(f"{n} copies of a check", False)


def _m_benign(draw, p):
    """Odd but valid: the audit runs (exit 0 or 1), or a refusal names the key."""
    kind = draw(st.sampled_from(["text", "text", "many checks", "huge bounds", "interval", "big seed",
                                 "label", "big group size", "regression task", "sensitive features"]))
    if kind == "text":
        return _m_unicode(draw, p) if draw(st.booleans()) else _Mutation("plain", False)
    if kind == "many checks":
        return _m_many_checks(draw, p)
    if kind == "huge bounds":
        p["checks"][0]["threshold"] = {"min": -1e308, "max": 1e308}
        return _Mutation(kind, False)
    if kind == "interval":
        p["defaults"] = {"decision": "interval", "n_boot": 50}
        return _Mutation(kind, False)
    if kind == "big seed":
        p["seed"] = draw(st.sampled_from([2**31, 2**63 - 1, 2**70]))
        return _Mutation(kind, False, ("seed",))
    if kind == "label":
        p["pos_label"] = draw(st.sampled_from([0, 1]))
        return _Mutation(kind, False)
    if kind == "big group size":
        p["defaults"] = {"min_group_size": draw(st.sampled_from([1, 10**6, 2**62]))}
        return _Mutation(kind, False)
    if kind == "regression task":
        p["task"] = "regression"
        return _Mutation(kind, False, ("task", "regression"))
    p["data"].pop("features")
    p["data"]["sensitive_features"] = draw(st.booleans())
    return _Mutation(kind, False)


def _m_extends(draw, p):
    path = draw(st.sampled_from(["nope.yaml", "/etc/passwd", "../data.parquet", "/dev/zero", "."]))
    p["extends"] = [path]
    return _Mutation("extends a bad file", True, ("extends", path.rsplit("/", 1)[-1]))


_DICT_MUTATIONS = [_m_threshold_value, _m_unordered_bounds, _m_typo_key, _m_unknown_check, _m_bad_params,
                   _m_missing_columns, _m_odd_columns, _m_constraint, _m_scalars, _m_wrong_shapes, _m_nulls,
                   _m_model, _m_evalset, _m_execution, _m_defaults, _m_deep, _m_unicode, _m_many_checks,
                   _m_extends]


def _dump(p: dict) -> str:
    # allow_unicode: hostile characters reach the loader as written, not as escapes.
    return yaml.safe_dump(p, sort_keys=False, allow_unicode=True, width=10_000)


# Text-level mutations: (label, must_refuse, names, function(text, draw) -> text or bytes).
def _t_alias_bomb(draw, text):
    levels = draw(st.integers(5, 9))
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [" + ",".join([f"*a{k - 1}"] * 9) + "]")
    key = draw(st.sampled_from(["description", "checks_extra", "x"]))
    return "\n".join(lines) + f"\n{key}: *a{levels - 1}\n" + text, ("alias",)


def _t_self_alias(draw, text):
    return text + "loop: &loop [*loop]\n", ("alias", "loop", "policy.yaml")


def _t_deep_list(draw, text):
    depth = draw(st.integers(200, 2000))
    return text + "deep: " + "[" * depth + "]" * depth + "\n", ("depth", "nest", "deep", "policy.yaml")


def _t_empty(draw, text):
    return draw(st.sampled_from(["", "\n", "# only a comment\n", "---\n", "...\n", "null\n", "~\n", "[]\n",
                                 "42\n", "'a string'\n"])), ("policy.yaml",)


def _t_two_docs(draw, text):
    return text + "---\n" + text, ("policy.yaml",)


def _t_bytes(draw, text):
    junk = draw(st.binary(min_size=1, max_size=64))
    return text.encode() + b"\xff\xfe" + junk, ("policy.yaml",)


def _t_tabs(draw, text):
    return text.replace("  ", "\t", 1), ("policy.yaml",)


def _t_duplicate_key(draw, text):
    return text + "seed: 1\n", ("seed", "duplicate", "policy.yaml")


def _t_huge(draw, text):
    return text + "description: '" + "x" * draw(st.integers(2_000_000, 3_000_000)) + "'\n", ("policy.yaml",)


def _t_tags(draw, text):
    tag = draw(st.sampled_from(["!!python/object/apply:os.system ['touch /tmp/pwned']", "!!binary aGVsbG8=",
                                "!custom 1", "!!set {a, b}", "!!timestamp 2001-12-14"]))
    return text + f"extra_tag: {tag}\n", ("policy.yaml",)


_TEXT_MUTATIONS = [_t_alias_bomb, _t_self_alias, _t_deep_list, _t_empty, _t_two_docs, _t_bytes, _t_tabs,
                   _t_duplicate_key, _t_huge, _t_tags]


def _t_truncate(draw, text):
    return text[: draw(st.integers(0, len(text)))]


@st.composite
def policy_cases(draw) -> PolicyCase:
    """A valid policy with one to three mutations (or, one time in five, one text-level mutation).

    Text-level mutations that break the YAML itself must be refused with the file named; a
    truncated policy may still be valid, so it is judged like an accepted one.
    """
    p = base_policy(MODEL_REL, DATA_REL)
    family = draw(st.sampled_from(["dict"] * 3 + ["benign", "text", "truncate"]))
    if family == "text":
        fn = draw(st.sampled_from(_TEXT_MUTATIONS))
        text, names = fn(draw, _dump(p))
        return PolicyCase(text, (fn.__name__,), True, names)
    if family == "truncate":
        return PolicyCase(_t_truncate(draw, _dump(p)), ("truncated",), False, ())
    if family == "benign":
        fns = draw(st.lists(st.just(_m_benign), min_size=1, max_size=2))
    else:
        fns = draw(st.lists(st.sampled_from(_DICT_MUTATIONS), min_size=1, max_size=3))
    muts = []
    for fn in fns:
        try:
            muts.append(fn(draw, p))
        except (KeyError, TypeError, IndexError, AttributeError):
            # An earlier mutation removed the part this one edits: the earlier one stands.
            muts.append(_Mutation(fn.__name__ + " (no effect)", False))
    refuse = [m for m in muts if m.must_refuse]
    names = tuple(n for m in refuse for n in m.names)
    return PolicyCase(_dump(p), tuple(m.label for m in muts), bool(refuse), names)
