"""Reading files and following imports: parse_file, load_modules."""

from __future__ import annotations

import pytest

from rtc.base.diagnostics import CompileError
from rtc.dsl import load_modules, parse_file


def errors(path) -> list:
    with pytest.raises(CompileError) as info:
        load_modules(path)
    return info.value.diagnostics


def test_imports_are_followed_relative_to_the_importing_file_and_parsed_once(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "main.rt").write_text('import "lib/envs.rt"\nimport "lib/nodes.yaml"\ngraph g {}\n')
    (tmp_path / "lib" / "envs.rt").write_text('env py { base = "python:3.11-slim" }\n')
    (tmp_path / "lib" / "nodes.yaml").write_text("imports: [envs.rt]\nnodes: {N: {env: py}}\n")
    modules = load_modules(tmp_path / "main.rt")
    assert [m.file.replace(str(tmp_path), "") for m in modules] == ["/main.rt", "/lib/envs.rt", "/lib/nodes.yaml"]
    assert [b.name for m in modules for b in m.blocks] == ["g", "py", "N"]


def test_missing_import_is_reported_at_the_import(tmp_path):
    (tmp_path / "main.rt").write_text('env a {}\n  import "nope.rt"\n')
    (diag,) = errors(tmp_path / "main.rt")
    assert diag.code == "E008" and "nope.rt" in diag.message
    assert (diag.span.line, diag.span.col) == (2, 3)


def test_import_cycle_is_reported_with_the_cycle(tmp_path):
    (tmp_path / "a.rt").write_text('import "b.rt"\n')
    (tmp_path / "b.rt").write_text('env x {}\nimport "a.rt"\n')
    (diag,) = errors(tmp_path / "a.rt")
    assert diag.code == "E009"
    assert diag.message == "import cycle: a.rt -> b.rt -> a.rt"
    assert diag.span.file.endswith("b.rt") and diag.span.line == 2


def test_self_import_is_a_cycle(tmp_path):
    (tmp_path / "a.yaml").write_text("imports: [a.yaml]\n")
    (diag,) = errors(tmp_path / "a.yaml")
    assert diag.code == "E009"


def test_errors_in_several_files_are_reported_together(tmp_path):
    (tmp_path / "a.rt").write_text('import "b.rt"\nimport "c.rt"\n')
    (tmp_path / "b.rt").write_text("env e { x = }\n")
    (tmp_path / "c.rt").write_text("env f { y = 5x }\n")
    diags = errors(tmp_path / "a.rt")
    assert sorted(d.code for d in diags) == ["E001", "E003"]


def test_import_of_an_unknown_kind_of_file(tmp_path):
    (tmp_path / "a.rt").write_text('import "b.txt"\n')
    (tmp_path / "b.txt").write_text("x")
    (diag,) = errors(tmp_path / "a.rt")
    assert diag.code == "E008" and ".rt, .yaml, .yml, .json and .envd" in diag.message


def test_missing_file_and_bad_encoding(tmp_path):
    with pytest.raises(CompileError, match="no such file"):
        parse_file(tmp_path / "none.rt")
    bad = tmp_path / "bad.rt"
    bad.write_bytes(b'env e {\n  x = "\xff"\n}\n')
    with pytest.raises(CompileError) as info:
        parse_file(bad)
    diag = info.value.diagnostics[0]
    assert "not UTF-8" in diag.message and (diag.span.line, diag.span.col) == (2, 8)


def test_suffix_picks_the_front_end(tmp_path):
    (tmp_path / "a.yml").write_text("envs: {e: {base: x}}\n")
    (tmp_path / "a.rt").write_text('env e { base = "x" }\n')
    assert parse_file(tmp_path / "a.yml").blocks[0].name == parse_file(tmp_path / "a.rt").blocks[0].name == "e"
    with pytest.raises(CompileError, match="unknown kind of file"):
        parse_file(tmp_path / "a.txt")
    (tmp_path / "b.json").write_text('{"envs": {"e": {"base": "x"}}}\n')  # JSON is YAML (issue 20, item 5)
    assert parse_file(tmp_path / "b.json").blocks[0].name == "e"
    (tmp_path / "ir.json").write_text('{"ir_version": 1}\n')
    with pytest.raises(CompileError, match="is rtc IR JSON"):
        parse_file(tmp_path / "ir.json")
