"""The run digest: one SHA-256 that names what an audit found, from what.

The digest is computed over the canonical form of ``results.json`` (the same
document, re-read), so anyone holding the file can recompute it
(:func:`run_digest`, ``audit verify``). It covers, as separate parts:

``results``
    every check result (value, interval, groups, verdict, message, details ...);
``summary``
    counts, decision, reason, exit code;
``evalsets``
    how each evaluation set was made;
``manifest``
    what was audited and with what (seed, task, model name, policy facts, library
    versions, hardware, ...);
``policy``
    the SHA-256 of the embedded policy text;
``inputs``
    the SHA-256 of each input file recorded in ``manifest.files`` (policy, model,
    data, reference).

Left out, because they measure when and how fast a run went and not what it
found (the same exclusions as the executor-equivalence test,
``tests/scale/test_streamed.py``): ``results[].duration_s``,
``results[].details.timings``, and the manifest's ``started_at``, ``finished_at``,
``wall_time_s``, ``timings`` and ``execution`` (executor, partitions, workers).
So the same data, policy and seed give the same digest on every executor (the
values of ``latency.*`` checks are measurements of this machine and are covered).

Canonical form: ``json.dumps(sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False)`` encoded as UTF-8, on the parsed JSON
(numbers as JSON gives them back). Each part is hashed on its own and the run
digest is the SHA-256 of the canonical ``{"version": 1, "parts": {...}}``; the
part hashes are stored beside it (``manifest.run_digest_parts``) so that
``audit verify`` can say which part changed.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from audit.results import AuditResult

__all__ = ["DIGEST_VERSION", "VOLATILE_MANIFEST_KEYS", "canonical_json", "sha256_hex", "digest_parts",
           "run_digest", "with_digest"]

DIGEST_VERSION = 1

#: Manifest keys the digest leaves out: wall-clock times, timings, how the run was executed,
#: and the digest itself.
VOLATILE_MANIFEST_KEYS = ("started_at", "finished_at", "wall_time_s", "timings", "execution",
                          "run_digest", "run_digest_parts")


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of a JSON value (sorted keys, no whitespace, no NaN)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _stable_results(results: list) -> list:
    out = []
    for r in results:
        r = dict(r)
        r.pop("duration_s", None)
        details = r.get("details")
        if isinstance(details, dict) and "timings" in details:
            r["details"] = {k: v for k, v in details.items() if k != "timings"}
        out.append(r)
    return out


def digest_parts(doc: dict) -> dict[str, str]:
    """The SHA-256 of each covered part of a parsed ``results.json`` (see the module docstring).

    Parameters
    ----------
    doc : dict
        ``json.loads`` of a results.json (or ``json.loads(result.model_dump_json())``).

    Returns
    -------
    dict
        ``{"results", "summary", "evalsets", "manifest", "policy", "inputs"}`` -> hex SHA-256.
    """
    manifest = {k: v for k, v in (doc.get("manifest") or {}).items() if k not in VOLATILE_MANIFEST_KEYS}
    files = manifest.get("files") or {}
    inputs = {name: (entry or {}).get("sha256") for name, entry in sorted(files.items())
              if isinstance(entry, dict)}
    head = {"schema_version": doc.get("schema_version"), "policy_name": doc.get("policy_name")}
    return {
        "results": sha256_hex(canonical_json(_stable_results(doc.get("results") or []))),
        "summary": sha256_hex(canonical_json(doc.get("summary"))),
        "evalsets": sha256_hex(canonical_json(doc.get("evalsets") or {})),
        "manifest": sha256_hex(canonical_json({**head, "manifest": manifest})),
        "policy": sha256_hex((doc.get("policy_text") or "").encode("utf-8")),
        "inputs": sha256_hex(canonical_json(inputs)),
    }


def run_digest(doc: dict, parts: dict[str, str] | None = None) -> str:
    """The run digest of a parsed ``results.json``: SHA-256 over its part hashes."""
    parts = digest_parts(doc) if parts is None else parts
    return sha256_hex(canonical_json({"version": DIGEST_VERSION, "parts": parts}))


def with_digest(result: AuditResult) -> AuditResult:
    """A copy of ``result`` whose manifest holds ``run_digest`` and ``run_digest_parts``.

    Computed on the JSON the result serialises to, i.e. on exactly what ``results.json``
    will hold, so a reader recomputes the same value from the file.
    """
    doc = json.loads(result.model_dump_json())
    parts = digest_parts(doc)
    manifest = copy.deepcopy(result.manifest)
    manifest["run_digest"] = run_digest(doc, parts)
    manifest["run_digest_parts"] = parts
    return result.model_copy(update={"manifest": manifest})
