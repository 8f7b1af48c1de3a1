"""The pre-commit hook, run by the real pre-commit against a throwaway git repository.

The hook repository is a git repository holding this project's .pre-commit-hooks.yaml, so
pre-commit clones it as it would from a forge, offline. The test uses the
`audit-validate-system` hook (language: system: nothing to install, the `audit` command on
PATH runs); `audit-validate` (language: python) would pip-install the toolkit into an
isolated environment, which needs the package index.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pre_commit")

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
version: 1
name: good
model: {path: model.skops}
data: {path: holdout.parquet, target: repaid, sensitive: [sex]}
checks:
  - id: performance.accuracy
    threshold: {min: 0.6}
"""
BAD = GOOD.replace("name: good", "name: bad").replace("{min: 0.6}", "{minimum: 0.6}")


def _run(cmd, cwd, env, check=True):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    if check and out.returncode:
        raise AssertionError(f"{cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}")
    return out


@pytest.fixture
def env(tmp_path):
    # `audit` on PATH runs this checkout (not whatever is installed), as the project's venv would.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "audit"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m audit "$@"\n')
    shim.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", PYTHONPATH=str(ROOT), HOME=str(home),
               PRE_COMMIT_HOME=str(tmp_path / "pre-commit-cache"), GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.org")
    return env


def _hooks_repo(tmp_path, env) -> tuple[Path, str]:
    repo = tmp_path / "hooks"
    repo.mkdir()
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", repo / ".pre-commit-hooks.yaml")
    _run(["git", "init", "-q"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    _run(["git", "commit", "-qm", "hooks"], repo, env)
    return repo, _run(["git", "rev-parse", "HEAD"], repo, env).stdout.strip()


def test_pre_commit_fails_on_the_bad_policy_and_names_the_key(tmp_path, env):
    hooks, rev = _hooks_repo(tmp_path, env)
    project = tmp_path / "project"
    (project / "policies").mkdir(parents=True)
    (project / "policies" / "good.yaml").write_text(GOOD)
    (project / "policies" / "bad.yaml").write_text(BAD)
    (project / "ci").mkdir()
    (project / "ci" / "pipeline.yaml").write_text("not: [a, policy]\n")    # outside policies/: ignored
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks}\n    rev: {rev}\n    hooks:\n      - id: audit-validate-system\n")
    _run(["git", "init", "-q"], project, env)
    _run(["git", "add", "-A"], project, env)

    run = [sys.executable, "-m", "pre_commit", "run", "--color", "never"]
    out = _run([*run, "--all-files"], project, env, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 1, text
    assert "audit policy files (installed audit)" in text and "Failed" in text
    assert "policies/bad.yaml:7: checks[0].threshold.minimum: unknown key 'minimum'" in text
    assert "did you mean 'min'?" in text
    assert "policies/good.yaml: valid (policy 'good', 1 checks)" in text       # both files were given
    assert "pipeline.yaml" not in text

    _run(["git", "rm", "-q", "--cached", "policies/bad.yaml"], project, env)
    (project / "policies" / "bad.yaml").unlink()
    out = _run([*run, "--all-files"], project, env, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Passed" in out.stdout
