"""Run digest and ``audit verify``: a fresh report verifies; one changed byte does not.

The digest is recomputed here from its documented definition (docs/results-schema.md,
"Run digest") with hashlib and json alone, not with audit.digest, so the code is held to the
document. Signatures are made and checked with the ``cryptography`` package.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from audit.cli import main
from audit.verify import verify_report

POLICY = """\
version: 1
name: verify-me
seed: 3
model: {{path: {model}}}
data: {{path: {data}, target: repaid, sensitive: [sex, age_band], reference: {ref}}}
defaults: {{n_boot: 200}}
checks:
  - id: performance.accuracy
    threshold: {{min: 0.6}}
  - id: fairness.equalized_odds_difference
    params: {{sensitive: [sex]}}
    threshold: {{max: 0.1}}
  - id: robustness.metric_drop
    evalset: perturbed.noise@0.2
    threshold: {{max: 0.05}}
  - id: shift.prediction_drift
    threshold: {{max: 0.25}}
"""


def _canon(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def independent_digest(doc: dict) -> tuple[str, dict]:
    """The run digest as docs/results-schema.md defines it."""
    sha = lambda b: hashlib.sha256(b).hexdigest()  # noqa: E731
    volatile = {"started_at", "finished_at", "wall_time_s", "timings", "execution", "run_digest",
                "run_digest_parts"}
    results = []
    for r in doc["results"]:
        r = {k: v for k, v in r.items() if k != "duration_s"}
        r["details"] = {k: v for k, v in r["details"].items() if k != "timings"}
        results.append(r)
    manifest = {k: v for k, v in doc["manifest"].items() if k not in volatile}
    parts = {
        "results": sha(_canon(results)),
        "summary": sha(_canon(doc["summary"])),
        "evalsets": sha(_canon(doc["evalsets"])),
        "manifest": sha(_canon({"schema_version": doc["schema_version"], "policy_name": doc["policy_name"],
                                "manifest": manifest})),
        "policy": sha(doc["policy_text"].encode("utf-8")),
        "inputs": sha(_canon({k: v.get("sha256") for k, v in sorted(doc["manifest"]["files"].items())})),
    }
    return sha(_canon({"version": 1, "parts": parts})), parts


@pytest.fixture(scope="module")
def report(demo_files, tmp_path_factory):
    """One real report (with its PDF) whose inputs live in their own folder, so tests may edit them."""
    root = tmp_path_factory.mktemp("verify")
    work = root / "work"
    work.mkdir()
    for k in ("model", "holdout", "train"):
        shutil.copy(demo_files[k], work / Path(demo_files[k]).name)
    policy = root / "policy.yaml"
    policy.write_text(POLICY.format(model=work / "model.skops", data=work / "holdout.parquet",
                                    ref=work / "train.parquet"))
    assert main(["run", str(policy), "--out", str(root / "reports"), "--quiet"]) == 1
    (folder,) = (root / "reports").iterdir()
    return folder


@pytest.fixture
def copy(report, tmp_path):
    """A copy of the report folder (and of its inputs, at the paths the manifest records)."""
    dst = tmp_path / report.name
    shutil.copytree(report, dst)
    return dst


def _findings(v) -> dict:
    return {f.what: f for f in v.findings}


def test_stored_digest_is_the_documented_one(report):
    doc = json.loads((report / "results.json").read_text())
    digest, parts = independent_digest(doc)
    assert doc["manifest"]["run_digest"] == digest
    assert doc["manifest"]["run_digest_parts"] == parts
    assert doc["manifest"]["files"]["policy"]["sha256"] == hashlib.sha256(doc["policy_text"].encode()).hexdigest()


def test_fresh_report_verifies(report, capsys):
    assert main(["verify", str(report)]) == 0
    out = capsys.readouterr().out
    assert "verified" in out and json.loads((report / "results.json").read_text())["manifest"]["run_digest"] in out
    v = verify_report(report)
    f = _findings(v)
    assert v.ok and f["run digest"].status == "ok"
    assert f["input model"].status == f["input data"].status == f["input reference"].status == "ok"
    assert f["policy.yaml"].status == "ok" and f["embedded policy"].status == "ok"


@pytest.mark.parametrize("path,part", [
    (("results", 0, "value"), "check results"),
    (("summary", "counts", "PASS"), "summary"),
    (("evalsets", "base", "rows"), "evaluation-set descriptions"),
    (("manifest", "seed"), "manifest"),
    (("manifest", "files", "data", "sha256"), "recorded input hashes"),
])
def test_one_changed_byte_fails_and_says_where(copy, path, part, capsys):
    raw = (copy / "results.json").read_bytes()
    # Walk down the keys in the file's text to the value, then change one byte of it, as a
    # careless edit would (list indices: the first element).
    i = 0
    for key in path:
        if isinstance(key, str):
            i = raw.index(b'"' + key.encode() + b'": ', i) + len(key) + 4
    j = next(k for k in range(i, i + 80) if raw[k:k + 1].isdigit() or raw[k:k + 1] in b"abcdef")
    new = b"1" if raw[j:j + 1] != b"1" else b"2"
    (copy / "results.json").write_bytes(raw[:j] + new + raw[j + 1:])
    assert len((copy / "results.json").read_bytes()) == len(raw)
    assert main(["verify", str(copy), "--no-inputs"]) == 1
    f = _findings(verify_report(copy, check_inputs=False))["run digest"]
    assert f.status == "changed" and part in f.detail, f.detail
    assert "FAILED" in capsys.readouterr().err


def test_changed_policy_text_and_policy_yaml(copy):
    doc = json.loads((copy / "results.json").read_text())
    doc["policy_text"] = doc["policy_text"].replace("min: 0.6", "min: 0.5")
    (copy / "results.json").write_text(json.dumps(doc, indent=2))
    f = _findings(verify_report(copy, check_inputs=False))
    assert f["run digest"].status == "changed" and "embedded policy text" in f["run digest"].detail
    assert f["embedded policy"].status == "changed" and f["policy.yaml"].status == "changed"


def test_timings_are_outside_the_digest(copy):
    doc = json.loads((copy / "results.json").read_text())
    doc["results"][0]["duration_s"] += 1.0
    doc["manifest"]["wall_time_s"] += 1.0
    doc["manifest"]["started_at"] = "2000-01-01T00:00:00Z"
    (copy / "results.json").write_text(json.dumps(doc, indent=2))
    assert verify_report(copy, check_inputs=False).ok  # documented: only a signature covers them


def test_changed_and_missing_input_files(copy, report):
    doc = json.loads((copy / "results.json").read_text())
    data = Path(doc["manifest"]["files"]["data"]["path"])
    ref = Path(doc["manifest"]["files"]["reference"]["path"])
    keep_data, keep_ref = data.read_bytes(), ref.read_bytes()
    try:
        data.write_bytes(keep_data + b"\0")
        ref.unlink()
        v = verify_report(copy)
        f = _findings(v)
        assert not v.ok and f["input data"].status == "changed" and hashlib.sha256(
            keep_data + b"\0").hexdigest() in f["input data"].detail
        assert f["input reference"].status == "not checked"  # absent: never reported as a pass
        assert verify_report(copy, check_inputs=False).ok
    finally:
        data.write_bytes(keep_data)
        ref.write_bytes(keep_ref)
    assert verify_report(report).ok


def _attach(folder: Path, results: bytes, policy: bytes) -> None:
    from weasyprint import HTML, Attachment

    from audit.report.pdf import safe_url_fetcher

    fetch = safe_url_fetcher()
    atts = [Attachment(string=results, name="results.json", url_fetcher=fetch),
            Attachment(string=policy, name="policy.yaml", url_fetcher=fetch)]
    (folder / "report.pdf").write_bytes(HTML(string="<p>report</p>").write_pdf(attachments=atts))


def test_pdf_attachments_must_match(copy):
    pytest.importorskip("pypdf")
    raw, policy = (copy / "results.json").read_bytes(), (copy / "policy.yaml").read_bytes()
    f = _findings(verify_report(copy, check_inputs=False))  # the report's own PDF/A-3b attachments
    assert f["report.pdf: attached results.json"].status == "ok"
    assert f["report.pdf: attached policy.yaml"].status == "ok"
    from weasyprint import HTML

    (copy / "report.pdf").write_bytes(HTML(string="<p>report</p>").write_pdf())
    f = _findings(verify_report(copy, check_inputs=False))
    assert f["report.pdf attachments"].status == "not checked"  # a PDF without attachments
    _attach(copy, raw, policy)
    f = _findings(verify_report(copy, check_inputs=False))
    assert f["report.pdf: attached results.json"].status == "ok"
    assert f["report.pdf: attached policy.yaml"].status == "ok"
    doc = json.loads(raw)
    doc["results"][0]["verdict"] = "PASS" if doc["results"][0]["verdict"] != "PASS" else "FAIL"
    _attach(copy, json.dumps(doc).encode(), policy + b"#")
    v = verify_report(copy, check_inputs=False)
    f = _findings(v)
    assert not v.ok and f["report.pdf: attached results.json"].status == "changed"
    assert f["report.pdf: attached policy.yaml"].status == "changed"


@pytest.fixture
def keys(tmp_path):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    out = {}
    for who in ("reviewer", "stranger"):
        k = ed25519.Ed25519PrivateKey.generate()
        priv, pub = tmp_path / f"{who}.pem", tmp_path / f"{who}.pub.pem"
        priv.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption()))
        pub.write_bytes(k.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo))
        out[who] = (priv, pub, k)
    return out


def test_sign_then_verify_with_the_public_key(copy, keys, capsys):
    import base64

    priv, pub, k = keys["reviewer"]
    assert main(["verify", str(copy), "--no-inputs", "--sign-key", str(priv), "--signer", "A. Reviewer"]) == 0
    (sig_file,) = copy.glob("signature-*.json")
    assert oct(sig_file.stat().st_mode & 0o777) == "0o644"
    sig = json.loads(sig_file.read_text())
    # The signature is checked here with cryptography directly, over the documented payload.
    payload = _canon({kk: v for kk, v in sig.items() if kk != "signature"})
    k.public_key().verify(base64.b64decode(sig["signature"]), payload)
    assert sig["run_digest"] == json.loads((copy / "results.json").read_text())["manifest"]["run_digest"]
    assert set(sig["files"]) == {"results.json", "report.html", "report.pdf", "junit.xml", "policy.yaml"}
    assert sig["files"]["report.pdf"] == hashlib.sha256((copy / "report.pdf").read_bytes()).hexdigest()
    capsys.readouterr()
    assert main(["verify", str(copy), "--no-inputs", "--public-key", str(pub)]) == 0
    assert "signed by A. Reviewer" in capsys.readouterr().out
    # Another key did not sign it.
    assert main(["verify", str(copy), "--no-inputs", "--public-key", str(keys["stranger"][1])]) == 1
    # One byte of a file the digest does not cover (the HTML) breaks the signature's file list.
    html = bytearray((copy / "report.html").read_bytes())
    html[len(html) // 2] ^= 1
    (copy / "report.html").write_bytes(bytes(html))
    v = verify_report(copy, public_keys=[pub], check_inputs=False)
    assert not v.ok and any("report.html changed since it was signed" in f.detail for f in v.findings)


def test_altered_signature_file_fails(copy, keys):
    priv, pub, _ = keys["reviewer"]
    assert main(["verify", str(copy), "--no-inputs", "--sign-key", str(priv)]) == 0
    (sig_file,) = copy.glob("signature-*.json")
    sig = json.loads(sig_file.read_text())
    sig["signed_at"] = "2000-01-01T00:00:00Z"
    sig_file.write_text(json.dumps(sig))
    v = verify_report(copy, public_keys=[pub], check_inputs=False)
    assert not v.ok and any("does not match its content" in f.detail for f in v.findings)


def test_a_changed_report_is_not_signed(copy, keys, capsys):
    doc = json.loads((copy / "results.json").read_text())
    doc["results"][0]["value"] = 0.99
    (copy / "results.json").write_text(json.dumps(doc))
    assert main(["verify", str(copy), "--no-inputs", "--sign-key", str(keys["reviewer"][0])]) == 1
    assert not list(copy.glob("signature-*.json"))
    assert "not signed" in capsys.readouterr().err


def test_no_report_exits_2(tmp_path, capsys):
    assert main(["verify", str(tmp_path / "nowhere")]) == 2
    assert "results.json" in capsys.readouterr().err


def test_bad_key_exits_2(tmp_path, keys, copy, capsys):
    (tmp_path / "rsa.pem").write_text("not a key")
    assert main(["verify", str(copy), "--public-key", str(tmp_path / "rsa.pem")]) == 2
    err = capsys.readouterr().err
    assert "rsa.pem" in err and "Ed25519" in err


def test_json_output(copy, capsys):
    assert main(["verify", str(copy), "--no-inputs", "--format", "json"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["ok"] and obj["exit_code"] == 0 and obj["run_digest"] == obj["recomputed_digest"]
    assert {f["what"] for f in obj["findings"]} >= {"run digest", "policy.yaml"}


def test_same_digest_on_every_executor(tmp_path):
    # Timings and the execution block are outside the digest: memory and 1,000-row partitions on
    # two threads give the same run digest (no latency checks here).
    from audit.data.demo import write_demo
    from audit.policy import load_policy
    from audit.runner import RunOptions, run_audit

    files = write_demo(tmp_path / "work", n_train=1500, n_test=2500)
    p = tmp_path / "policy.yaml"
    p.write_text(POLICY.format(model=files["model"], data=files["holdout"], ref=files["train"]))
    a = run_audit(load_policy(p), RunOptions(progress=False))
    b = run_audit(load_policy(p), RunOptions(progress=False, executor="local", partition_rows=1000, workers=2))
    assert b.manifest["execution"]["partitions"] > 1
    assert a.manifest["run_digest"] == b.manifest["run_digest"]
    assert a.manifest["run_digest"] == independent_digest(json.loads(a.model_dump_json()))[0]
