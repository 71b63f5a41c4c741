"""Random and mutated sources end in a Pipeline or a diagnostic, never another exception."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from compiler_cases import example_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtc.compiler import compile_file
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Pipeline

TOKENS = [
    "env", "node", "graph", "codespec", "run", "namespace", "import", " ", "\n", "{", "}", "[", "]", "(", ")",
    "=", ":", ",", ".", "->", '"', '"""', "#", "py", "A", "each", "params", "after", "all_done", "list[str]",
    "str", "int", "1", "-1", "0", "70000", "10m", "5x", "true", "null", '"python:3.11-slim"', '"@daily"',
    "inputs", "outputs", "secrets", "base", "image", "command", "python", "env = py", "retry", "mount", "copy",
    "expose", "worker", "replicas", "buffers", '"hello/versions/2"', "\t", "é", "\x00", "${{", "}}", "-", "*",
]
# Mutate the ETL example in a copy of its folder, so imports and copied files resolve.
_ETL = [p for p in example_files() if p.parent.name == "etl" and p.stem == "pipeline"]
SOURCES = {p.suffix: p.read_text(encoding="utf-8") for p in _ETL}
_FOLDER = Path(tempfile.mkdtemp(prefix="rtc-mutate-"))
if _ETL:
    shutil.copytree(_ETL[0].parent, _FOLDER, dirs_exist_ok=True)
# RTC_HYPOTHESIS_EXAMPLES=5000 for a longer hunt than CI's.
SETTINGS = settings(
    max_examples=int(os.environ.get("RTC_HYPOTHESIS_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _compile(text: str, suffix: str, folder: Path | None = None):
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = (Path(tmp) if folder is None else folder) / f"mutated-{Path(tmp).name}{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            return compile_file(str(path))
        except RtcError as exc:
            exc.render()  # rendering must not fail either
            return exc


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.sampled_from([".rt", ".yaml"]))
def test_token_soup(tokens, suffix):
    assert isinstance(_compile("".join(tokens), suffix), (Pipeline, RtcError))


@SETTINGS
@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_mutated_examples(suffix, data):
    text = SOURCES[suffix]
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 40)))
        insert = data.draw(st.one_of(st.just(""), st.sampled_from(TOKENS), st.text(max_size=8)))
        text = text[:start] + insert + text[end:]
    assert isinstance(_compile(text, suffix, _FOLDER), (Pipeline, RtcError))


def test_examples_exist_for_mutation():
    assert {".rt", ".yaml"} <= set(SOURCES), sorted(SOURCES)


