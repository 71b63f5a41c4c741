"""Property: the language server's features answer for any text and any position; none raises.

Random edits of the corpus and of generated programs (the same mutations as
tests/dsl/test_fuzz.py) are fed to the server's layers in this process, as
the editor would send them, keystroke after keystroke, with an import beside
the edited file. tests/editor/test_lsp_e2e.py does the same through a real
`rtc lsp` process.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rt_sources import layouts, programs

from rtc.base.diagnostics import CompileError
from rtc.dsl.format import format_rt
from rtc.lsp.complete import complete
from rtc.lsp.features import Navigator
from rtc.lsp.project import Project

REPO = Path(__file__).resolve().parents[2]
CORPUS = sorted(p.read_text() for p in (REPO / "examples").rglob("*.rt"))
TOKENS = ["{", "}", "[", "]", "(", ")", "=", ":", ",", ".", "->", '"', '"""', "#", "\n", " ", "node", "graph",
          "env", "import", "after", "each(", "params.", "load.", "x = ", "A(", "\x00", "\u00e9", "\U0001F600"]


@st.composite
def edits(draw):
    text = draw(st.one_of(st.sampled_from(CORPUS), programs().flatmap(layouts)))
    versions = [text]
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(text)))
        if draw(st.booleans()) and text:
            text = text[:pos] + text[pos + draw(st.integers(1, 30)):]
        else:
            text = text[:pos] + draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=4))) + text[pos:]
        versions.append(text)
    return versions


@settings(max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", 60)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture])
@given(versions=edits(), data=st.data())
def test_every_feature_answers_for_any_edit(versions, data, tmp_path):
    (tmp_path / "envs.rt").write_text('env py { base = "python:3.11-slim" }\nenv shell { image = "busybox" }\n')
    path = str(tmp_path / "pipeline.rt")
    project = Project((str(tmp_path),))
    nav = Navigator(project)
    for text in versions:
        project.set_text(path, 'import "envs.rt"\n' + text)
        checked = project.check(path)
        for d in checked.for_file(path) + project.import_summaries(checked):
            assert d.code.startswith("E")
        source = project.text(path)
        lines = source.split("\n")
        line = data.draw(st.integers(0, len(lines) - 1))
        character = data.draw(st.integers(0, len(lines[line]) + 2))
        complete(nav, path, source, line, character)
        nav.hover(path, line, character)
        nav.definition(path, line, character)
        nav.references(path, line, character)
        try:
            nav.rename(path, line, character, "renamed")
        except ValueError:
            raise AssertionError("a valid new name was refused") from None
        nav.outline(path)
        try:
            assert format_rt(format_rt(source)) == format_rt(source)
        except CompileError:
            pass
