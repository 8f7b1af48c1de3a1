"""docs/methods.md and docs/compliance.md are exactly what the YAML files generate."""

from __future__ import annotations

from pathlib import Path

from audit.checks import all_checks
from audit.compliance import frameworks, methods
from audit.compliance.__main__ import main as docs_main
from audit.compliance._docs import render_compliance_markdown, render_methods_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_are_generated_from_the_yaml_files():
    expected = {
        "docs/methods.md": render_methods_markdown(methods()),
        "docs/compliance.md": render_compliance_markdown(frameworks()),
    }
    for rel, text in expected.items():
        current = (ROOT / rel).read_text(encoding="utf-8")
        assert current == text, (
            f"{rel} is stale: regenerate it with `python -m audit.compliance docs`"
        )


def test_docs_mention_every_check_interval_and_clause():
    methods_md = (ROOT / "docs/methods.md").read_text(encoding="utf-8")
    for cid in all_checks():
        assert f"### `{cid}`" in methods_md
    for label in methods().intervals:
        assert f"### `{label}`" in methods_md
    compliance_md = (ROOT / "docs/compliance.md").read_text(encoding="utf-8")
    for fw in frameworks().values():
        for c in fw.clauses:
            assert f"### {c.clause}" in compliance_md


def test_docs_command_writes_then_reports_fresh(tmp_path, capsys):
    assert docs_main(["docs", "--root", str(tmp_path), "--check"]) == 1
    assert "docs/methods.md: stale" in capsys.readouterr().out
    assert docs_main(["docs", "--root", str(tmp_path)]) == 0
    assert docs_main(["docs", "--root", str(tmp_path), "--check"]) == 0
    assert (tmp_path / "docs/methods.md").read_text(encoding="utf-8") == render_methods_markdown(
        methods()
    )
