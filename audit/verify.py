"""``audit verify``: is a report folder still what the audit wrote, from the inputs it names?

:func:`verify_report` recomputes the run digest (:mod:`audit.digest`) from
``results.json`` and compares it, part by part, with the digest the runner stored;
compares ``policy.yaml`` and the embedded policy with the policy hash recorded at run
time; re-hashes the input files (model, data, reference) that are present at the
recorded paths; checks the copies of ``results.json`` and the policy attached to
``report.pdf`` (when the PDF has attachments); and checks Ed25519 signatures
(``signature-<key id>.json``) against the public keys given.

:func:`sign_report` signs a verified report: the signature covers the run digest and
the SHA-256 of every file in the folder, so after signing no byte of any file can
change unnoticed. Signing needs the ``cryptography`` package (extra ``sign``).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from audit.digest import canonical_json, digest_parts, run_digest, sha256_hex
from audit.errors import InputError
from audit.extras import import_extra
from audit.manifest import utc_now

__all__ = ["Finding", "Verification", "verify_report", "sign_report", "SIGNATURE_FORMAT", "PART_NAMES"]

SIGNATURE_FORMAT = "audit-signature/1"
SIGNATURE_GLOB = "signature-*.json"

#: What each digest part covers, for the reader.
PART_NAMES = {
    "results": "check results (values, intervals, groups, verdicts, messages)",
    "summary": "summary (counts, decision, reason, exit code)",
    "evalsets": "evaluation-set descriptions",
    "manifest": "manifest (policy facts, model and data entries, seed, library versions, hardware)",
    "policy": "embedded policy text",
    "inputs": "recorded input hashes (policy, model, data, reference)",
}

OK, CHANGED, UNCHECKED = "ok", "changed", "not checked"


@dataclass
class Finding:
    """One thing verified: what, its status (``ok``, ``changed``, ``not checked``) and why."""

    what: str
    status: str
    detail: str

    def to_json(self) -> dict:
        return {"what": self.what, "status": self.status, "detail": self.detail}


@dataclass
class Verification:
    """The outcome of :func:`verify_report`; ``ok`` when nothing changed."""

    folder: Path
    stored_digest: str | None
    digest: str | None
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.status != CHANGED for f in self.findings)

    def add(self, what: str, status: str, detail: str) -> None:
        self.findings.append(Finding(what, status, detail))

    def to_json(self) -> dict:
        return {"folder": str(self.folder), "ok": self.ok, "exit_code": 0 if self.ok else 1,
                "run_digest": self.stored_digest, "recomputed_digest": self.digest,
                "findings": [f.to_json() for f in self.findings]}


def _folder_of(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.is_dir():
        folder, results = p, p / "results.json"
    else:
        folder, results = p.parent, p
    if not results.is_file():
        raise InputError(f"{results}: not found; expected a report folder holding results.json "
                         "(as `audit run` writes it)")
    return folder, results


def verify_report(path: str | os.PathLike, *, public_keys=(), check_inputs: bool = True) -> Verification:
    """Verify a report folder (or its ``results.json``); see the module docstring.

    Parameters
    ----------
    path : str or path-like
        The report folder, or its ``results.json``.
    public_keys : sequence of path-like
        Ed25519 public keys (PEM); each must have signed the report.
    check_inputs : bool
        Re-hash the model, data and reference files found at their recorded paths.

    Returns
    -------
    Verification
        ``ok`` is False when anything changed (the command's exit code 1).

    Raises
    ------
    InputError
        No results.json in the folder, or an unreadable key (exit code 2).
    """
    folder, results_path = _folder_of(path)
    raw = results_path.read_bytes()
    try:
        doc = json.loads(raw)
        if not isinstance(doc, dict):
            raise ValueError("the top level is not an object")
    except ValueError as exc:
        v = Verification(folder, None, None)
        v.add("results.json", CHANGED, f"not valid JSON any more ({exc}); it was altered or truncated")
        return v
    manifest = doc.get("manifest") if isinstance(doc.get("manifest"), dict) else {}
    stored, stored_parts = manifest.get("run_digest"), manifest.get("run_digest_parts") or {}
    parts = digest_parts(doc)
    digest = run_digest(doc, parts)
    v = Verification(folder, stored, digest)
    if not stored:
        v.add("run digest", CHANGED, "results.json records no run digest (written before results schema 1.2, "
                                     "or the field was removed): nothing to verify against")
    elif stored == digest:
        v.add("run digest", OK, f"recomputed {digest}: equal to the digest recorded at run time")
    else:
        changed = [f"{PART_NAMES.get(k, k)}" for k in parts if stored_parts.get(k) not in (None, parts[k])]
        where = ("; changed: " + "; ".join(changed)) if changed else ""
        v.add("run digest", CHANGED, f"recorded {stored}, recomputed {digest}: results.json was altered "
                                     f"after the run{where}")
    _verify_policy(v, folder, doc, manifest)
    if check_inputs:
        _verify_inputs(v, manifest)
    _verify_pdf(v, folder, raw, doc, digest)
    _verify_signatures(v, folder, stored, public_keys)
    return v


def _verify_policy(v: Verification, folder: Path, doc: dict, manifest: dict) -> None:
    text = doc.get("policy_text") or ""
    recorded = ((manifest.get("files") or {}).get("policy") or {}).get("sha256")
    if recorded:
        got = sha256_hex(text.encode("utf-8"))
        if got == recorded:
            v.add("embedded policy", OK, f"SHA-256 {got} equals the policy file hash recorded at run time")
        else:
            v.add("embedded policy", CHANGED, f"SHA-256 {got}, but the policy file audited had {recorded}")
    pf = folder / "policy.yaml"
    if pf.is_file():
        if pf.read_bytes() == text.encode("utf-8"):
            v.add("policy.yaml", OK, "identical to the policy embedded in results.json")
        else:
            v.add("policy.yaml", CHANGED, "differs from the policy embedded in results.json")


def _verify_inputs(v: Verification, manifest: dict) -> None:
    from audit.data.loading import table_sha256
    from audit.models.loading import file_sha256

    files = manifest.get("files") or {}
    for name in ("model", "data", "reference"):
        entry = files.get(name)
        if not isinstance(entry, dict) or not entry.get("sha256"):
            continue
        if name == "model":
            loc = entry.get("module_file") or entry.get("source") or entry.get("path")
        else:
            loc = entry.get("path")
        label = f"input {name}"
        p = Path(str(loc)) if loc else None
        # "<DataFrame>", an entry point "pkg.mod:attr" or an MLflow URI: nothing on disk to re-hash.
        if p is None or str(loc).startswith("<") or (":" in str(loc) and not p.exists()):
            v.add(label, UNCHECKED, f"{loc or 'no path'}: not a file this command can re-read")
            continue
        if not (p.exists() or any(ch in str(p) for ch in "*?[")):
            v.add(label, UNCHECKED, f"{p}: not present here; its recorded SHA-256 is {entry['sha256']}")
            continue
        try:
            got = table_sha256(p) if name != "model" else file_sha256(p)
        except (OSError, ValueError) as exc:
            v.add(label, UNCHECKED, f"{p}: could not be read ({exc})")
            continue
        if got == entry["sha256"]:
            v.add(label, OK, f"{p}: SHA-256 unchanged")
        else:
            v.add(label, CHANGED, f"{p}: SHA-256 {got}, but the audit read {entry['sha256']}")


def _pdf_attachments(pdf: Path) -> dict[str, bytes] | None:
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    reader = PdfReader(str(pdf))
    return {name: data[0] for name, data in reader.attachments.items() if data}


def _verify_pdf(v: Verification, folder: Path, raw: bytes, doc: dict, digest: str) -> None:
    pdf = folder / "report.pdf"
    if not pdf.is_file():
        return
    try:
        att = _pdf_attachments(pdf)
    except Exception as exc:  # noqa: BLE001 - a corrupt PDF is a finding, not a crash
        v.add("report.pdf", CHANGED, f"cannot be read as a PDF any more ({type(exc).__name__}: {exc})")
        return
    if att is None:
        v.add("report.pdf attachments", UNCHECKED, "pypdf is not installed (pip install 'audit[sign]')")
        return
    if not att:
        v.add("report.pdf attachments", UNCHECKED, "the PDF carries no attachments")
        return
    if "results.json" in att:
        try:
            attached = json.loads(att["results.json"])
            got = run_digest(attached)
        except ValueError as exc:
            v.add("report.pdf: attached results.json", CHANGED, f"not valid JSON ({exc})")
        else:
            if got == digest and att["results.json"] == raw:
                v.add("report.pdf: attached results.json", OK, "identical to results.json")
            elif got == digest:
                v.add("report.pdf: attached results.json", OK, "same run digest as results.json "
                                                              "(formatting differs)")
            else:
                v.add("report.pdf: attached results.json", CHANGED,
                      f"run digest {got} differs from results.json's {digest}")
    for name in ("policy.yaml",):
        if name in att:
            same = att[name] == (doc.get("policy_text") or "").encode("utf-8")
            v.add(f"report.pdf: attached {name}", OK if same else CHANGED,
                  "identical to the embedded policy" if same else "differs from the policy in results.json")


# -- signatures ------------------------------------------------------------------------------

def _crypto():
    return import_extra("cryptography.hazmat.primitives.serialization", "sign", "signing and verifying reports")


def _raw_public(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _key_id(raw_public: bytes) -> str:
    return sha256_hex(raw_public)[:16]


def _load_key(path: str | os.PathLike, private: bool):
    ser = _crypto()
    from cryptography.hazmat.primitives.asymmetric import ed25519

    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the key ({exc.strerror or exc})") from None
    kind = "private" if private else "public"
    try:
        if private:
            pw = os.environ.get("AUDIT_SIGN_KEY_PASSWORD")
            key = ser.load_pem_private_key(data, password=pw.encode() if pw else None)
        else:
            key = ser.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        hint = (" (an encrypted key needs its password in AUDIT_SIGN_KEY_PASSWORD)"
                if private and "password" in str(exc).lower() else "")
        raise InputError(f"{p}: expected a PEM Ed25519 {kind} key; could not load it: {exc}{hint}") from None
    want = ed25519.Ed25519PrivateKey if private else ed25519.Ed25519PublicKey
    if not isinstance(key, want):
        raise InputError(f"{p}: expected an Ed25519 {kind} key, found {type(key).__name__.lstrip('_')}")
    return key


def _folder_files(folder: Path) -> dict[str, str]:
    return {p.name: sha256_hex(p.read_bytes()) for p in sorted(folder.iterdir())
            if p.is_file() and not p.match(SIGNATURE_GLOB) and not p.name.startswith(".")}


def _payload(sig: dict) -> bytes:
    return canonical_json({k: v for k, v in sig.items() if k != "signature"})


def sign_report(path: str | os.PathLike, private_key: str | os.PathLike, *, signer: str | None = None) -> Path:
    """Sign a report folder with an Ed25519 private key; returns the signature file.

    Writes ``signature-<key id>.json``: the run digest, the SHA-256 of every file in the
    folder, the public key, when, and the signature over all of it. Refuses a report
    that does not verify (its inputs are not re-read: a signature vouches for the folder).
    """
    folder, _ = _folder_of(path)
    key = _load_key(private_key, private=True)
    check = verify_report(folder, check_inputs=False)
    if not check.ok:
        bad = "; ".join(f"{f.what}: {f.detail}" for f in check.findings if f.status == CHANGED)
        raise InputError(f"{folder}: will not sign a report that fails verification: {bad}")
    pub = _raw_public(key.public_key())
    kid = _key_id(pub)
    out = folder / f"signature-{kid}.json"
    if out.exists():
        raise InputError(f"{out}: this key has already signed the report; remove the file to sign again")
    sig = {"format": SIGNATURE_FORMAT, "run_digest": check.stored_digest, "files": _folder_files(folder),
           "public_key": base64.b64encode(pub).decode(), "key_id": kid, "signed_at": utc_now(),
           "signer": signer}
    sig["signature"] = base64.b64encode(key.sign(_payload(sig))).decode()
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(json.dumps(sig, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return out


def _verify_signatures(v: Verification, folder: Path, stored: str | None, public_keys) -> None:
    found = {}
    for p in sorted(folder.glob(SIGNATURE_GLOB)):
        try:
            sig = json.loads(p.read_text(encoding="utf-8"))
            found[str(sig.get("key_id"))] = (p, sig)
        except ValueError as exc:
            v.add(p.name, CHANGED, f"not valid JSON ({exc})")
    keys = [(k, _load_key(k, private=False)) for k in public_keys]
    wanted = set()
    if keys:
        from cryptography.exceptions import InvalidSignature
    for path, key in keys:
        pub = _raw_public(key)
        kid = _key_id(pub)
        wanted.add(kid)
        label = f"signature of {Path(path).name} (key {kid})"
        if kid not in found:
            v.add(label, CHANGED, "the report carries no signature by this key")
            continue
        p, sig = found[kid]
        if base64.b64decode(sig.get("public_key", "")) != pub:
            v.add(label, CHANGED, f"{p.name} names another public key")
            continue
        try:
            key.verify(base64.b64decode(sig.get("signature", "")), _payload(sig))
        except (InvalidSignature, ValueError):
            v.add(label, CHANGED, f"{p.name}: the signature does not match its content (altered)")
            continue
        problems = []
        if sig.get("run_digest") != stored or sig.get("run_digest") != v.digest:
            problems.append(f"signed run digest {sig.get('run_digest')} is not this report's {v.digest}")
        now = _folder_files(folder)
        for name, h in sorted((sig.get("files") or {}).items()):
            if name not in now:
                problems.append(f"{name} was removed")
            elif now[name] != h:
                problems.append(f"{name} changed since it was signed")
        extra = sorted(set(now) - set(sig.get("files") or {}))
        if problems:
            v.add(label, CHANGED, "; ".join(problems))
        else:
            note = f"; not covered (added after signing): {', '.join(extra)}" if extra else ""
            who = f" by {sig['signer']}" if sig.get("signer") else ""
            v.add(label, OK, f"valid, signed{who} at {sig.get('signed_at')}: run digest and "
                             f"{len(sig.get('files') or {})} files unchanged{note}")
    for kid, (p, sig) in sorted(found.items()):
        if kid not in wanted:
            v.add(p.name, UNCHECKED, f"signed by key {kid} at {sig.get('signed_at')}; pass --public-key "
                                     "with that key to check it")
