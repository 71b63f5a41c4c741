"""The VS Code extension: built from its committed files by its own script, grammar tests included."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXTENSION = REPO / "editors" / "vscode"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """editors/vscode as a fresh clone has it (no node_modules, no .vsix), packaged by scripts/package.sh."""
    if not shutil.which("npm"):
        pytest.fail("npm is needed to build the VS Code extension")
    folder = tmp_path_factory.mktemp("clone") / "vscode"
    shutil.copytree(EXTENSION, folder, ignore=shutil.ignore_patterns("node_modules", "*.vsix"))
    result = subprocess.run(
        ["bash", "scripts/package.sh"], cwd=folder, capture_output=True, text=True, timeout=900,
        env=dict(os.environ, RTC_PYTHON=sys.executable),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, result


def test_the_vsix_holds_the_client_grammar_schema_and_language_client(built):
    folder, result = built
    version = json.loads((folder / "package.json").read_text())["version"]
    vsix = folder / f"rtc-{version}.vsix"
    names = set(zipfile.ZipFile(vsix).namelist())
    for needed in ("extension/package.json", "extension/extension.js", "extension/syntaxes/rt.tmLanguage.json",
                   "extension/language-configuration.json", "extension/schemas/rtc-yaml.schema.json",
                   "extension/node_modules/vscode-languageclient/package.json"):
        assert needed in names, needed
    assert not any(n.startswith("extension/test/") or "vscode-tmgrammar-test" in n for n in names)
    manifest = json.loads(zipfile.ZipFile(vsix).read("extension/package.json"))
    assert manifest["contributes"]["languages"][0]["extensions"] == [".rt"]
    assert "test/grammar/blocks.test.rt run successfuly" in result.stdout + result.stderr


def test_the_grammar_test_fails_on_a_wrong_scope(built):
    folder, _ = built
    wrong = folder / "test" / "grammar" / "wrong.test.rt"
    wrong.write_text('# SYNTAX TEST "source.rt" "a deliberately wrong expectation"\nenv py {}\n#   ^^ string.quoted.double.rt\n')
    try:
        result = subprocess.run(
            ["npx", "vscode-tmgrammar-test", "-g", "syntaxes/rt.tmLanguage.json", str(wrong)],
            cwd=folder, capture_output=True, text=True, timeout=300,
        )
    finally:
        wrong.unlink()
    assert result.returncode != 0
    assert "missing required scopes: string.quoted.double.rt" in result.stdout + result.stderr


def test_node_modules_and_packages_stay_out_of_git():
    ignored = (EXTENSION / ".gitignore").read_text().split()
    assert "node_modules/" in ignored and "*.vsix" in ignored
    tracked = subprocess.run(["git", "ls-files", "editors/vscode"], cwd=REPO, capture_output=True, text=True).stdout
    assert "node_modules" not in tracked and ".vsix" not in tracked
