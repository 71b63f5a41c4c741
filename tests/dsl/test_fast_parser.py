"""The fast `.rt` reader against Lark, the reference: same tree, never more permissive.

`rtc.dsl.fast_parser.try_parse` may refuse a valid file (Lark then reads it),
but when it accepts one, Lark must accept it too and build the very same
syntax tree, spans included. Checked on every `.rt` file of the repository
and on random mutations of them; and the reader must match the grammar it
was written against.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtc.base.diagnostics import CompileError
from rtc.dsl import fast_parser, parse_text
from rtc.dsl.limits import _first_bracket_deeper_than, text_nesting_problem
from rtc.dsl.parser import _lark, parse_rt, parse_rt_with_lark

REPO = Path(__file__).resolve().parents[2]
RT_FILES = sorted(p for p in REPO.rglob("*.rt") if ".venv" not in p.parts)
RT_SOURCES = [p.read_text(encoding="utf-8") for p in RT_FILES]

# Words and marks that stress the keyword rules and the token boundaries.
PIECES = [
    "{", "}", "[", "]", "(", ")", "=", ":", ",", ".", "->", '"', '"""', "#", "\n", " ",
    "env", "node", "graph", "codespec", "run", "namespace", "import", "mount", "copy", "expose",
    "daemon", "init", "command", "after", "all_done", "all_success", "each", "readonly", "on",
    "service", "true", "false", "null", "inputs", "outputs", "secrets", "params", "retry",
    "x", "x: int", "x = 1", "s = N(a = 1)", "after [a]", "5x", "1.5h", "2h45m", "-1", "1e5",
    '"a\\qb"', '"\\u00e9"', '"""\n  a\n  b"""', "\u00b5", "\\",
]


def lark_or_none(text: str, file: str = "t.rt"):
    try:
        return parse_rt_with_lark(text, file)
    except CompileError:
        return None


def test_the_grammar_is_the_one_the_reader_was_written_for():
    text = (REPO / "grammars" / "rtc.lark").read_bytes()
    assert hashlib.sha256(text).hexdigest() == fast_parser.GRAMMAR_SHA256, (
        "grammars/rtc.lark changed: update rtc/dsl/fast_parser.py to read the new syntax "
        "(or to refuse it), then set its GRAMMAR_SHA256"
    )


def test_token_patterns_are_the_grammars():
    patterns = {t.name: t.pattern.value for t in _lark().terminals}
    for name in ("NAME", "NUMBER", "LONG_STRING", "STRING", "COMMENT", "WS"):
        assert patterns[name] == getattr(fast_parser, name), name


@pytest.mark.parametrize("path", RT_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_repository_file_reads_the_same(path):
    text = path.read_text(encoding="utf-8")
    read = fast_parser.read_with_depth(text, str(path))
    reference = lark_or_none(text, str(path))
    if reference is None:
        assert read is None, "the fast reader accepted a file Lark rejects"
    else:
        assert read is not None, "a well-formed repository file should not need Lark"
        assert read[0] == reference
        assert read[1] == scan_depth(text)


def scan_depth(text: str) -> int:
    """How deep the brackets of `text` nest by the text scan of rtc.dsl.limits (which parse_text skips
    when the reader says the depth is within bounds)."""
    depth = 0
    while _first_bracket_deeper_than(text, depth, yaml=False) is not None:
        depth += 1
    return depth


def test_the_reader_counts_the_depth_the_text_scan_finds():
    deep = "[" * 70 + "]" * 70
    text = f'node n {{ a = [{{ k = f([1, "[[", """ ]]]"""]) }}] # (((\n b = {deep} }}'
    read = fast_parser.read_with_depth(text, "t.rt")
    assert read is not None and read[1] == scan_depth(text) == 71


def test_a_long_string_ending_in_a_backslash_hides_no_brackets():
    # A backslash escapes nothing in a long string, so `"""x\"""` ends there and the brackets of the
    # next long string are text, not nesting (the text scan once read past the end and refused the file).
    text = 'env e { a = """x\\""" b = """' + "[" * 100 + '""" }'
    assert text_nesting_problem(text, "t.rt") is None
    assert parse_text(text, "t.rt") == parse_rt_with_lark(text, "t.rt")


def test_refused_files_still_get_lark_diagnostics():
    with pytest.raises(CompileError) as exc:
        parse_text("env e { a = 5x }", "t.rt")
    assert exc.value.diagnostics[0].code == "E003"
    assert fast_parser.try_parse("env e { a = 5x }", "t.rt") is None


def test_keywords_follow_the_grammar_contexts():
    # `env`, `run`, `node` are names inside a block; statement keywords are keywords at a statement's start.
    text = 'node n { env = py run = 1 command = ["a"] }\nenv py { mount "a" -> "b" readonly expose 1 -> 2 on "0.0.0.0" service "s" }'
    fast = fast_parser.try_parse(text, "t.rt")
    assert fast is not None
    assert fast == parse_rt(text, "t.rt") == parse_rt_with_lark(text, "t.rt")


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(RT_SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["delete", "insert", "duplicate"]))
        if op == "delete":
            text = text[:pos] + text[min(len(text), pos + draw(st.integers(1, 12))):]
        elif op == "insert":
            piece = draw(st.sampled_from(PIECES))
            text = text[:pos] + draw(st.sampled_from(["", " "])) + piece + draw(st.sampled_from(["", " "])) + text[pos:]
        else:
            text = text[:pos] + text[pos:pos + draw(st.integers(1, 30))] + text[pos:]
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_read_the_same_or_go_to_lark(text):
    read = fast_parser.read_with_depth(text, "m.rt")
    if read is None:
        return
    reference = lark_or_none(text, "m.rt")
    assert reference is not None, "the fast reader accepted a file Lark rejects"
    assert read[0] == reference
    assert read[1] == scan_depth(text)
