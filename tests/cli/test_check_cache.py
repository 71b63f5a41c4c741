"""`rtc check` remembers clean files (rtc/compile_cache.py): hits skip the compiler, any change is a miss."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from rtc import compile_cache
from rtc.cli import check_cmd

MAIN = 'namespace cc\nimport "envs.rt"\nnode N { env = py  command = ["true"] }\ngraph g { n = N() }\n'
ENVS = 'env py {\n  base = "python:3.11-slim"\n  copy "./code" -> "/app"\n}\n'


@pytest.fixture
def project(tmp_path):
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "a.py").write_text("print(1)\n")
    (tmp_path / "envs.rt").write_text(ENVS)
    (tmp_path / "p.rt").write_text(MAIN)
    return tmp_path


def check(path, fmt="text") -> int:
    return check_cmd.run(argparse.Namespace(files=[str(path)], format=fmt))


def compiles(monkeypatch) -> list[str]:
    """Record every real compile that `rtc check` does."""
    calls: list[str] = []
    real = check_cmd._compile

    def counting(file):
        calls.append(file)
        return real(file)

    monkeypatch.setattr(check_cmd, "_compile", counting)
    return calls


def test_a_clean_file_is_answered_from_the_cache_until_something_it_read_changes(project, monkeypatch, capsys):
    calls = compiles(monkeypatch)
    main = project / "p.rt"
    assert check(main) == 0 and len(calls) == 1
    assert check(main) == 0 and len(calls) == 1  # a hit: not compiled again
    assert capsys.readouterr().out.count("ok: ") == 2

    (project / "envs.rt").write_text(ENVS + "# a comment\n")  # an imported file changed
    assert check(main) == 0 and len(calls) == 2
    assert check(main) == 0 and len(calls) == 2

    (project / "code" / "a.py").write_text("print(2)\n")  # a copy source changed: the image tag changes
    assert compile_cache.lookup(str(main)) is None
    assert check(main) == 0 and len(calls) == 3

    monkeypatch.setattr(compile_cache, "_STAMPS", {compile_cache._CHECK_PACKAGES: "another rtc"})  # rtc itself changed
    assert compile_cache.lookup(str(main)) is None
    assert check(main) == 0 and len(calls) == 4


def test_errors_are_never_cached_and_reported_each_time(project, monkeypatch, capsys):
    calls = compiles(monkeypatch)
    main = project / "p.rt"
    assert check(main) == 0
    (project / "envs.rt").write_text("env py { base = 5 }\n")
    assert check(main) == 1
    assert check(main, "json") == 1
    assert len(calls) == 3
    out = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert out["files"][0]["ok"] is False and out["files"][0]["diagnostics"]


def test_a_damaged_entry_is_a_miss(project, monkeypatch):
    calls = compiles(monkeypatch)
    main = project / "p.rt"
    assert check(main) == 0
    (entry,) = compile_cache.cache_dir().glob("*.json")
    entry.write_text("{not json")
    assert check(main) == 0 and len(calls) == 2


def test_a_cache_hit_imports_neither_the_compiler_nor_pydantic(project):
    main = project / "p.rt"
    code = (
        "import sys; from rtc.cli import main; rc = main(['check', sys.argv[1]]); "
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic', 'lark', 'rtc.compiler.driver'))), file=sys.stderr); sys.exit(rc)"
    )
    first = subprocess.run([sys.executable, "-c", code, str(main)], capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    # The first check compiles, and a well-formed file needs neither Lark nor pydantic (the IR is plain dataclasses).
    assert first.stderr.strip().endswith("['rtc.compiler.driver']"), first.stderr
    second = subprocess.run([sys.executable, "-c", code, str(main)], capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert second.stderr.strip().endswith("[]"), second.stderr
