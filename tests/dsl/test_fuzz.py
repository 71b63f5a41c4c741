"""Property: any text, however mangled, ends in a Module or a CompileError; never another exception."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtc.base.diagnostics import CompileError
from rtc.dsl import ast
from rtc.dsl.parser import parse_rt
from rtc.dsl.yaml_frontend import parse_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RT_SOURCES = sorted(p.read_text() for p in EXAMPLES.rglob("*.rt"))
YAML_SOURCES = sorted(p.read_text() for p in list(EXAMPLES.rglob("*.yaml")) + list(EXAMPLES.rglob("*.yml")))

RT_TOKENS = [
    "{", "}", "[", "]", "(", ")", "=", ":", ",", ".", "->", '"', '"""', "#", "\n", " ", "\t",
    "env", "node", "graph", "codespec", "run", "namespace", "import", "mount", "copy", "expose",
    "daemon", "init", "command", "after", "all_done", "each", "readonly", "on", "service",
    "5x", "1.5h", "2h45m", "-1", "1e5", "true", "null", "x", "\\", "\u00e9", "\x00",
]
YAML_TOKENS = [
    ":", "- ", "{", "}", "[", "]", ",", "\n", "  ", "\t", "&a ", "*a", "<<: ", "---", "'", '"', "|", ">",
    "${{ ", " }}", "each(", ")", "envs", "nodes", "graphs", "steps", "job", "codespec", "image",
    "buffers", "params", "!!python/object ", "!!binary ", "? ", "%YAML 1.1\n", "\x00",
]


def check(parse, text: str, file: str) -> None:
    try:
        result = parse(text, file)
    except CompileError as exc:
        assert exc.diagnostics, "a CompileError carries at least one diagnostic"
        for d in exc.diagnostics:
            assert d.code.startswith("E0"), d
            if d.span is not None:
                assert d.span.line >= 1 and d.span.col >= 1
        return
    assert isinstance(result, ast.Module)


@st.composite
def mutated(draw, sources, tokens):
    text = draw(st.sampled_from(sources))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "insert", "duplicate", "token", "swap"]))
        pos = draw(st.integers(0, len(text)))
        if op == "delete":
            end = min(len(text), pos + draw(st.integers(1, 20)))
            text = text[:pos] + text[end:]
        elif op == "insert":
            text = text[:pos] + draw(st.text(max_size=5)) + text[pos:]
        elif op == "duplicate":
            end = min(len(text), pos + draw(st.integers(1, 40)))
            text = text[:pos] + text[pos:end] + text[pos:]
        elif op == "token":
            text = text[:pos] + draw(st.sampled_from(tokens)) + text[pos:]
        else:
            other = draw(st.integers(0, len(text)))
            a, b = sorted((pos, other))
            text = text[:a] + text[b:] + text[a:b]
    return text


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mutated(RT_SOURCES, RT_TOKENS))
def test_mutated_rt_sources_end_in_a_module_or_a_diagnostic(text):
    check(parse_rt, text, "fuzz.rt")


@SETTINGS
@given(mutated(YAML_SOURCES, YAML_TOKENS))
def test_mutated_yaml_sources_end_in_a_module_or_a_diagnostic(text):
    check(parse_yaml, text, "fuzz.yaml")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(RT_TOKENS), max_size=40).map(" ".join) | st.text(max_size=200))
def test_random_rt_text(text):
    check(parse_rt, text, "fuzz.rt")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(YAML_TOKENS), max_size=40).map("".join) | st.text(max_size=200))
def test_random_yaml_text(text):
    check(parse_yaml, text, "fuzz.yaml")
