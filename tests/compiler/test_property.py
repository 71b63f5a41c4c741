"""Random and mutated sources end in a Pipeline or a diagnostic, never another exception.

And each outcome is sound: a Pipeline is IR the JSON boundary accepts unchanged (the
checks `rtc run` applies to IR files), a refusal carries documented codes, messages and
positions inside the file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from compiler_cases import REPO, example_files
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtc.compiler import compile_file
from rtc.base.diagnostics import CompileError, RtcError
from rtc.compiler.ir import Pipeline
from rtc.compiler.ir_check import ir_problems

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


DOCUMENTED_CODES = set(re.findall(r"\bE\d{3}\b", (REPO / "docs" / "diagnostics.md").read_text(encoding="utf-8")))


def _compile(text: str, suffix: str, folder: Path | None = None) -> Pipeline | RtcError:
    """Compile `text`, and check the outcome is one a user can rely on (any other exception fails the test)."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = (Path(tmp) if folder is None else folder) / f"mutated-{Path(tmp).name}{suffix}"
        path.write_text(text, encoding="utf-8")
        try:
            pipeline = compile_file(str(path))
        except RtcError as exc:
            _check_refusal(exc, text)
            return exc
        _check_pipeline(pipeline, path.parent)
        return pipeline


def _check_pipeline(pipeline: Pipeline, folder: Path) -> None:
    """What compiles is IR the JSON boundary accepts as it is: valid, checked, the same after a round trip."""
    problems = ir_problems(pipeline, folder)
    assert not problems, problems
    text = pipeline.to_json()
    assert Pipeline.model_validate_json(text).to_json() == text


def _check_refusal(exc: RtcError, text: str) -> None:
    """A refusal says why: documented codes, messages, and positions inside the file (or just past its end)."""
    rendered = exc.render()
    assert rendered.strip() and "Traceback" not in rendered
    if not isinstance(exc, CompileError):
        assert str(exc).strip()
        return
    assert exc.diagnostics
    lines = text.count("\n") + 2  # a position just past the last line is where an unexpected end is
    for d in exc.diagnostics:
        assert d.code in DOCUMENTED_CODES, (d.code, d.message)
        assert d.message.strip(), d
        if d.span is not None and Path(d.span.file).name.startswith("mutated-"):
            assert 1 <= d.span.line <= lines and d.span.col >= 1, (d, lines)


@SETTINGS
@given(st.lists(st.sampled_from(TOKENS), max_size=60), st.sampled_from([".rt", ".yaml"]))
def test_token_soup(tokens, suffix):
    _compile("".join(tokens), suffix)


@SETTINGS
@given(st.sampled_from(sorted(SOURCES)), st.data())
def test_mutated_examples(suffix, data):
    text = SOURCES[suffix]
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 40)))
        insert = data.draw(st.one_of(st.just(""), st.sampled_from(TOKENS), st.text(max_size=8)))
        text = text[:start] + insert + text[end:]
    _compile(text, suffix, _FOLDER)


def test_examples_exist_for_mutation():
    assert {".rt", ".yaml"} <= set(SOURCES), sorted(SOURCES)


