"""The effective policy as YAML: what runs, after every baseline is merged."""

from __future__ import annotations

import yaml

from audit.policy.provenance import Provenance

__all__ = ["effective_yaml"]


class _Dumper(yaml.SafeDumper):
    # Values shared through YAML aliases are written out in full: no &id001 in the output.
    def ignore_aliases(self, data):
        return True


def _dump(value) -> str:
    return yaml.dump(value, Dumper=_Dumper, sort_keys=False, default_flow_style=False,
                     allow_unicode=True, width=100)


def effective_yaml(document: dict, provenance: Provenance) -> str:
    """The merged policy as a standalone YAML policy, with where each check came from.

    Parameters
    ----------
    document : dict
        The merged policy document (``LoadedPolicy.document``).
    provenance : Provenance
        Its provenance (``LoadedPolicy.provenance``).

    Returns
    -------
    str
        YAML that loads, from the loaded policy's folder, to the same policy:
        no ``extends`` or ``remove`` left, baselines' file paths rewritten
        relative to that folder; comments name the source files (with their
        SHA-256), the file that added and changed each check, and the removed
        checks with their reasons.
    """
    head = [f"# Effective policy {provenance.policy}: the files below merged, later over earlier."]
    for f in provenance.files:
        ext = f" (extends {', '.join(f.extends)})" if f.extends else ""
        head.append(f"#   {f.name}  sha256:{f.sha256}{ext}")
    rest = {k: v for k, v in document.items() if k != "checks"}
    out = "\n".join(head) + "\n"
    if rest:
        out += _dump(rest)
    checks = document.get("checks")
    if not isinstance(checks, list):
        return out + (_dump({"checks": checks}) if "checks" in document else "")
    out += "checks:\n"
    origins = {c.index: c for c in provenance.checks}
    for i, entry in enumerate(checks):
        o = origins.get(i)
        if o is not None:
            note = f"# from {o.added_by.file}"
            if o.changed_by:
                note += f", changed by {', '.join(o.changed_by)}"
            if o.locked_in:
                note += f"; threshold locked in {o.locked_in}"
            out += note + "\n"
        out += _dump([entry])
    for r in provenance.removed:
        name = f" named {r.name!r}" if r.name else ""
        out += (f"# removed by {r.removed_by.file}: {r.id} on {r.evalset}{name} "
                f"(from {r.defined_in.file}); reason: {' '.join(r.reason.split())}\n")
    return out
