"""`file` and `dir` port types: checked like every other type, with positions (issue 19)."""

from __future__ import annotations

import pytest

from rtc.base.diagnostics import CompileError
from rtc.compiler import compile_file
from rtc.compiler.types import is_assignable

HEAD = 'namespace t\nenv bb { image = "busybox" }\n'


def diagnostics(tmp_path, body):
    path = tmp_path / "p.rt"
    path.write_text(HEAD + body, encoding="utf-8")
    with pytest.raises(CompileError) as err:
        compile_file(str(path))
    return [(d.code, d.span.line, d.message) for d in err.value.diagnostics]


@pytest.mark.parametrize("source, target, ok", [
    ("file", "file", True), ("dir", "dir", True), ("list[file]", "list[file]", True),
    ("file", "str", False), ("str", "file", False), ("file", "dir", False), ("file", "json", False),
    ("json", "file", False), ("list[file]", "json", False), ("list[file]", "list[str]", False),
])
def test_artifacts_feed_only_their_own_type(source, target, ok):
    assert is_assignable(source, target) is ok


def test_wiring_a_file_into_a_str_input_is_an_error_at_its_position(tmp_path):
    found = diagnostics(tmp_path, 'node A { env = bb  outputs { f: file }  command = ["true"] }\n'
                                  'node B { env = bb  inputs { s: str }  command = ["true"] }\n'
                                  'graph g {\n  a = A()\n  b = B(s = a.f)\n}\n')
    assert found == [("E401", 7, "type mismatch: `a.f` is file, but input `s` of node `B` is str")]


def test_a_fanout_node_with_a_file_output_is_refused(tmp_path):
    found = diagnostics(tmp_path, 'node A { env = bb  fanout = true  outputs { f: file }  command = ["true"] }\n')
    assert [(code, line) for code, line, _ in found] == [("E205", 3)] and "fanout" in found[0][2]


def test_a_secret_named_like_a_contract_variable_is_refused(tmp_path):
    found = diagnostics(tmp_path, 'node A { env = bb  secrets { RTC_OUTPUTS_FILE }  command = ["true"] }\n')
    assert [(code, line) for code, line, _ in found] == [("E505", 3)] and "container contract" in found[0][2]
