"""Random `.rt` programs for the formatter and language-server property tests.

`programs()` draws a pipeline that compiles (envs, nodes with typed ports,
a graph whose steps wire outputs to inputs of the same type) as a list of
tokens; `layouts()` joins such tokens with random whitespace, commas between
statements and comments, which the grammar all ignores. So one program comes
in many layouts, and every layout must format to the same text and compile to
the same IR.
"""

from __future__ import annotations

import json

from hypothesis import strategies as st

TYPES = ["str", "int", "float", "bool", "list[str]", "dict[str, int]"]
LITERALS = {
    "str": lambda draw: json.dumps(draw(st.text("abc xyz#{}\"\\é", max_size=8))),
    "int": lambda draw: str(draw(st.integers(-5, 500))),
    "float": lambda draw: draw(st.sampled_from(["1.5", "0.25", "-2.0", "1e3"])),
    "bool": lambda draw: draw(st.sampled_from(["true", "false"])),
    "list[str]": lambda draw: None,  # built from tokens below
    "dict[str, int]": lambda draw: None,
}
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in {"env", "node", "graph", "codespec", "run", "namespace", "import", "mount", "copy",
                        "expose", "daemon", "init", "command", "after", "true", "false", "null", "each",
                        "params", "readonly", "all_done", "all_success", "on", "service"}
)
STATEMENT_END = "\x00"  # a marker: where a statement ends (a comma may follow)


def _literal(draw, type_: str) -> list[str]:
    if type_ == "list[str]":
        items = draw(st.lists(st.sampled_from(['"a"', '"b b"', '"""\n  multi\n    line\n  """']), max_size=4))
        out = ["["]
        for i, item in enumerate(items):
            out += [item, ","] if i < len(items) - 1 or draw(st.booleans()) else [item]
        return out + ["]"]
    if type_ == "dict[str, int]":
        out = ["{"]
        for key in draw(st.lists(st.sampled_from(["A", "b_c", '"a key"']), unique=True, max_size=3)):
            out += [key, "=", str(draw(st.integers(0, 9)))] + ([","] if draw(st.booleans()) else [])
        return out + ["}"]
    return [LITERALS[type_](draw)]


@st.composite
def programs(draw) -> list[str]:
    """The tokens of a pipeline that compiles."""
    tokens: list[str] = ["namespace", "prog"]
    tokens += ["env", "py", "{", "base", "=", '"python:3.11-slim"', STATEMENT_END]
    if draw(st.booleans()):
        tokens += ["pip", "=", "[", '"tabulate==0.9.0"', "]", STATEMENT_END]
    if draw(st.booleans()):
        tokens += ["environ", "=", "{", "A", "=", '"1"', "}", STATEMENT_END]
    tokens += ["}"]

    names = draw(st.lists(NAMES, min_size=1, max_size=4, unique=True))
    nodes = {}
    for index, name in enumerate(names):
        node = f"N{index}{name}"
        inputs = draw(st.dictionaries(NAMES, st.sampled_from(TYPES), max_size=3))
        outputs = draw(st.dictionaries(NAMES, st.sampled_from(TYPES), max_size=3))
        nodes[node] = (inputs, outputs)
        tokens += ["node", node, "{", "env", "=", "py", STATEMENT_END]
        for kind, ports in (("inputs", inputs), ("outputs", outputs)):
            if ports:
                tokens += [kind, "{"]
                for i, (port, type_) in enumerate(ports.items()):
                    tokens += [port, ":"] + _type_tokens(type_) + ([","] if i < len(ports) - 1 else [])
                tokens += ["}", STATEMENT_END]
        tokens += ["command", "=", "[", '"sh"', ",", '"-c"', ",", '"""\n    echo hi\n  """', "]", STATEMENT_END]
        if draw(st.booleans()):
            tokens += ["timeout", "=", draw(st.sampled_from(["30s", "1.5h", "2h45m", "500ms"])), STATEMENT_END]
        if draw(st.booleans()):
            tokens += ["retry", "{", "max_retries", "=", "2", "delay", "=", "1s", "}", STATEMENT_END]
        tokens += ["}"]

    tokens += ["graph", "g", "{"]
    if draw(st.booleans()):
        tokens += ["tags", "=", "[", '"x"', "]", STATEMENT_END]
    tokens += ["params", "{", "p", ":", "str", "=", '"v"', "}", STATEMENT_END]
    steps: list[tuple[str, str]] = []
    for index in range(draw(st.integers(1, 4))):
        node = draw(st.sampled_from(sorted(nodes)))
        inputs, _ = nodes[node]
        step = f"s{index}"
        tokens += [step, "=", node, "("]
        for i, (port, type_) in enumerate(inputs.items()):
            tokens += [port, "="] + _value(draw, type_, steps, nodes, "params.p") + ([","] if i < len(inputs) - 1 else [])
        tokens += [")"]
        if steps and draw(st.booleans()):
            tokens += ["after", "[", steps[-1][0], "]"]
        if draw(st.booleans()):
            tokens += ["after", "all_done"]
        tokens += [STATEMENT_END]
        steps.append((step, node))
    tokens += ["}"]
    return tokens


def _type_tokens(type_: str) -> list[str]:
    return {"list[str]": ["list", "[", "str", "]"], "dict[str, int]": ["dict", "[", "str", ",", "int", "]"]}.get(type_, [type_])


def _value(draw, type_, steps, nodes, param) -> list[str]:
    sources = [f"{step}.{out}" for step, node in steps for out, t in nodes[node][1].items() if t == type_]
    if type_ == "str":
        sources.append(param)
    if sources and draw(st.booleans()):
        return [draw(st.sampled_from(sources))]
    return _literal(draw, type_)


COMMENTS = st.sampled_from(["# a comment", "#", "# = { } [ ] \"\"\" ", "#!x"])


@st.composite
def layouts(draw, tokens: list[str]) -> str:
    """`tokens` joined with random whitespace, optional statement commas and comments."""
    out: list[str] = []
    for token in tokens:
        if token == STATEMENT_END:
            if draw(st.integers(0, 3)) == 0:
                out.append(",")
            continue
        gap = draw(st.sampled_from([" ", " ", " ", "\n", "  ", "\n\n", "\n\n\n  ", "\t", "comment"]))
        if gap == "comment":
            gap = "  " + draw(COMMENTS) + "\n" + draw(st.sampled_from(["", "  ", "\n"]))
        out.append(gap)
        out.append(token)
    return "".join(out).lstrip(" \t") + draw(st.sampled_from(["", "\n", "\n\n", "  # end\n"]))
