"""The language server's incremental parse equals a whole parse, edit after edit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rt_sources import layouts, programs

from rtc.base.diagnostics import CompileError
from rtc.dsl.dump import to_data
from rtc.dsl.parser import parse_rt
from rtc.lsp.incremental import IncrementalParser, pieces

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted(p for folder in ("examples", "tests") for p in (REPO / folder).rglob("*.rt"))


def whole(text: str):
    try:
        return to_data(parse_rt(text, "f.rt"), spans=True)
    except CompileError as exc:
        return exc


def incremental(parser: IncrementalParser, text: str):
    try:
        return to_data(parser.parse(text), spans=True)
    except CompileError as exc:
        return exc


def test_pieces_cut_before_each_top_level_item_and_cover_the_text():
    text = 'namespace n\nimport "a.rt"\nenv a { x = { y = 1 } } env b {}\n# end\n'
    cut = pieces(text)
    assert "".join(p for _, _, p in cut) == text
    assert [p.split()[0] for _, _, p in cut] == ["namespace", "import", "env", "env"]
    assert [line for _, line, _ in cut] == [0, 1, 2, 2]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: str(p.relative_to(REPO)))
def test_corpus_files_parse_the_same(path):
    text = path.read_text()
    assert incremental(IncrementalParser("f.rt"), text) == whole(text)


@settings(max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_sequence_of_edits_parses_as_the_whole_text_does(data):
    text = data.draw(st.one_of(st.sampled_from([p.read_text() for p in CORPUS[:8]]), programs().flatmap(layouts)))
    parser = IncrementalParser("f.rt")
    assert incremental(parser, text) == whole(text)
    for _ in range(data.draw(st.integers(1, 6))):
        pos = data.draw(st.integers(0, len(text)))
        edit = data.draw(st.sampled_from(["\n", "\n\n", " ", "x", "}", "{", '"', "# c\n", "env e {}\n", ""]))
        cut = data.draw(st.integers(0, 3))
        text = text[:pos] + edit + text[pos + cut:]
        expected, got = whole(text), incremental(parser, text)
        if isinstance(expected, CompileError):
            # Broken text: the first error of the whole parse is among the pieces' errors.
            assert isinstance(got, CompileError)
            first = expected.diagnostics[0]
            assert (first.code, first.span.line, first.span.col) in {(d.code, d.span.line, d.span.col) for d in got.diagnostics}
        else:
            assert got == expected


def test_a_block_named_like_a_keyword_is_not_cut():
    text = "env node { image = \"x\" }\nnode env {}\ngraph  # c\n  run {}\n"
    assert [p for _, _, p in pieces(text)] == ['env node { image = "x" }\n', "node env {}\n", "graph  # c\n  run {}\n"]
    assert incremental(IncrementalParser("f.rt"), text) == whole(text)
