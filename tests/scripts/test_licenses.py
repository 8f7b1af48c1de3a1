"""scripts/licenses.py: the allow-list decision on fake metadata, and the script end to end."""

from __future__ import annotations

import importlib.util
import sys
from email.message import Message
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lic():
    spec = importlib.util.spec_from_file_location("licenses_script", ROOT / "scripts" / "licenses.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    try:
        spec.loader.exec_module(mod)
        yield mod
    finally:
        sys.modules.pop(spec.name, None)


def meta(name, license=None, expression=None, classifiers=()):
    m = Message()
    m["Name"], m["Version"] = name, "1.0"
    if license is not None:
        m["License"] = license
    if expression is not None:
        m["License-Expression"] = expression
    for c in classifiers:
        m["Classifier"] = c
    return m


BSD3_TEXT = """Copyright (c) 2020, Someone
Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met: ... Neither the name of the copyright holder ..."""

PERMISSIVE = [
    (meta("exprpkg", expression="MIT"), None),
    (meta("shortpkg", license="Apache 2.0"), None),
    (meta("classpkg", classifiers=["License :: OSI Approved :: ISC License (ISCL)"]), None),
    (meta("bsdpkg", classifiers=["License :: OSI Approved :: BSD License"]), BSD3_TEXT),
    (meta("mplpkg", license="MPL-2.0 AND MIT"), None),
    (meta("dualpkg", expression="GPL-2.0-or-later OR MIT"), None),
    (meta("llvmpkg", expression="Apache-2.0 WITH LLVM-exception"), None),
    (meta("filepkg", classifiers=["License :: OSI Approved"]),
     "MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a copy"),
]
GPL = (meta("gplpkg", classifiers=["License :: OSI Approved :: GNU General Public License v3 (GPLv3)"]), None)
BSL = (meta("bslpkg", license="Business Source License 1.1",
            classifiers=["License :: Other/Proprietary License"]), None)


def test_permissive_set_passes(lic):
    rows = lic.evaluate(PERMISSIVE)
    assert [r.status for r in rows] == ["ok"] * len(PERMISSIVE)
    by = {r.name: r for r in rows}
    assert by["bsdpkg"].licence == "BSD-3-Clause" and by["bsdpkg"].source == "classifier + licence file"
    assert by["classpkg"].licence == "ISC"
    assert by["filepkg"].licence == "MIT" and by["filepkg"].source == "licence file"
    assert "used under MIT" in by["dualpkg"].reason
    assert "weak copyleft" in by["mplpkg"].reason


def test_gpl_and_bsl_fail(lic):
    rows = {r.name: r for r in lic.evaluate([*PERMISSIVE, GPL, BSL])}
    assert rows["gplpkg"].status == "FAIL" and rows["gplpkg"].licence == "GPL-3.0-only"
    assert "copyleft" in rows["gplpkg"].reason
    assert rows["bslpkg"].status == "FAIL" and rows["bslpkg"].licence == "BUSL-1.1"
    assert "commercial licence" in rows["bslpkg"].reason
    assert {n for n, r in rows.items() if r.status == "FAIL"} == {"gplpkg", "bslpkg"}


@pytest.mark.parametrize("expression, ok", [
    ("LGPL-2.1-only", False),
    ("AGPL-3.0-or-later", False),
    ("GPL-2.0-only WITH Classpath-exception-2.0", False),
    ("MIT AND LGPL-3.0-only", False),
    ("(MIT OR GPL-3.0-only) AND BSD-2-Clause", True),
    ("SSPL-1.0", False),
    ("LicenseRef-Custom", False),
    ("MIT AND (", False),
    ("UNKNOWN", False),
    ("PSF-2.0", True),
])
def test_judge(lic, expression, ok):
    assert lic.judge(expression)[0] is ok


def test_undeclared_licence_fails(lic):
    (row,) = lic.evaluate([(meta("mystery"), None)])
    assert (row.licence, row.status) == ("UNKNOWN", "FAIL")
    assert "check it by hand" in row.reason


def test_script_on_this_environment(lic, tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    out = tmp_path / "THIRD_PARTY_LICENSES.md"
    pyproject.write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["pyyaml>=6", "jinja2"]\n')
    assert lic.main(["--pyproject", str(pyproject), "--output", str(out)]) == 0
    text = out.read_text()
    assert "| **PyYAML** |" in text and "| MarkupSafe |" in text  # jinja2's own requirement
    pyproject.write_text('[project]\nname = "x"\nversion = "0"\ndependencies = ["no-such-dist-xyz"]\n')
    assert lic.main(["--pyproject", str(pyproject), "--output", str(out)]) == 2
    assert lic.main(["--pyproject", str(tmp_path / "missing.toml"), "--output", "-"]) == 2
