"""One failing source per diagnostic code (tests/invalid/), plus the checks
that only show with several files or several errors."""

from __future__ import annotations

import re
import textwrap

import pytest
from compiler_cases import REPO, compile_relative, expectation, invalid_files

from rtc.compiler import codes, compile_file
from rtc.base.diagnostics import CompileError


@pytest.mark.parametrize("case", invalid_files(), ids=lambda p: p.stem)
def test_invalid_case_reports_its_diagnostic(case, monkeypatch):
    monkeypatch.chdir(REPO)
    code, line, col, message = expectation(case)
    with pytest.raises(CompileError) as info:
        compile_relative(case)
    first = info.value.diagnostics[0]
    assert (first.code, first.span.line, first.span.col, first.message) == (code, line, col, message)
    assert first.span.file == str(case.relative_to(REPO))


def test_every_code_has_a_case_and_a_doc():
    documented = set(re.findall(r"^## (E\d{3})", (REPO / "docs" / "diagnostics.md").read_text(), re.M))
    tested = {expectation(case)[0] for case in invalid_files()}
    assert set(codes.TITLES) <= documented, sorted(set(codes.TITLES) - documented)
    assert set(codes.TITLES) <= tested, sorted(set(codes.TITLES) - tested)


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_several_errors_in_one_run_sorted_by_position(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node A { env = pyy command = ["true"] timeout = "soon" }
        graph g { schedule = "61 * * * *" a = A() b = Nope() }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    got = [(d.code, d.span.line) for d in info.value.diagnostics]
    assert got == [("E300", 2), ("E501", 2), ("E502", 3), ("E301", 3)]
    text = info.value.render()
    assert "4 errors" in text and "^" in text


def test_duplicate_across_imported_files(tmp_path):
    _write(tmp_path, "envs.rt", 'env py { base = "python:3.11-slim" }\n')
    main = _write(tmp_path, "main.rt", 'import "envs.rt"\nenv py { base = "python:3.12-slim" }\n')
    with pytest.raises(CompileError) as info:
        compile_file(str(main))
    [d] = info.value.diagnostics
    assert d.code == "E310" and d.span.file.endswith("envs.rt")
    assert "first at main.rt:2" in d.message


def test_cycle_of_three_named_in_flow_order(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node C { env = py inputs { x: str } outputs { x: str } command = ["true"] }
        graph g { a = C(x = c.x) b = C(x = a.x) c = C(x = b.x) d = C(x = c.x) }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    assert [d.message for d in info.value.diagnostics] == ["cycle between steps: a -> b -> c -> a"]


def test_after_edges_count_for_cycles(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node C { env = py command = ["true"] }
        graph g { a = C() after [b]  b = C() after [a] }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    assert info.value.diagnostics[0].message == "cycle between steps: a -> b -> a"


def test_mapped_step_output_arrives_as_list(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node A { env = py outputs { rows: list[str] } command = ["true"] }
        node B { env = py inputs { row: str } outputs { out: int } command = ["true"] }
        node C { env = py inputs { total: int } command = ["true"] }
        graph g { a = A() b = B(row = each(a.rows)) c = C(total = b.out) }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    [d] = info.value.diagnostics
    assert d.code == "E401" and "`b.out` is list[int]" in d.message and "is int" in d.message


def test_fanout_node_output_arrives_as_list(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node S { env = py outputs { chunk: str } command = ["true"] fanout = true }
        node C { env = py inputs { chunks: list[str] } command = ["true"] }
        node D { env = py inputs { chunk: str } command = ["true"] }
        graph g { s = S() c = C(chunks = s.chunk) d = D(chunk = each(s.chunk)) }
        """)
    pipeline = compile_file(str(path))
    assert [i.type for i in pipeline.graphs["g"].steps[2].inputs] == ["str"]


def test_last_reads_one_element_of_a_list(tmp_path):
    """last(x) of a list[T] feeds T, the step is not mapped; of a mapped step's output too; and it is no fan-out."""
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node A { env = py outputs { rows: list[str] } command = ["true"] }
        node B { env = py inputs { row: str } outputs { out: int } command = ["true"] }
        node C { env = py inputs { n: int, row: str, tag: str } command = ["true"] }
        graph g {
          params { tags: list[str] = ["x"] }
          a = A()  b = B(row = each(a.rows))  c = C(n = last(b.out), row = last(a.rows), tag = last(params.tags))
        }
        """)
    c = compile_file(str(path)).graphs["g"].steps[2]
    assert not c.mapped and c.upstream == ["a", "b"]
    assert [(i.name, i.last, i.each, i.type) for i in c.inputs] == [
        ("n", True, False, "int"), ("row", True, False, "str"), ("tag", True, False, "str")]
    wrong = _write(tmp_path, "w.rt", path.read_text().replace("n = last(b.out)", "n = last(a.rows)"))
    with pytest.raises(CompileError) as info:
        compile_file(str(wrong))
    [d] = info.value.diagnostics
    assert d.code == "E401" and "`last(a.rows)` is str, but input `n` of node `C` is int" in d.message


def test_literal_argument_of_wrong_type(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env py { base = "python:3.11-slim" }
        node C { env = py inputs { n: int } command = ["true"] }
        graph g { c = C(n = "three") }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    [d] = info.value.diagnostics
    assert d.code == "E401" and "is int" in d.message and "'three'" in d.message


def test_a_broken_param_is_reported_once_and_a_misspelled_one_gets_a_hint(tmp_path):
    path = _write(tmp_path, "p.rt", """\
        env e { image = "busybox" }
        node L { env = e inputs { path: str } command = ["true"] }
        graph g {
          params { source: str = 3 }
          a = L(path = params.source)
          b = L(path = params.sorce)
        }
        """)
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    got = [(d.code, d.span.line, d.hint) for d in info.value.diagnostics]
    assert got == [("E404", 4, None), ("E304", 6, "did you mean `source`?")]
