"""The `.rt` front end: each construct's tree, positions, and every class of syntax error."""

from __future__ import annotations

import pytest

from rtc.base.diagnostics import CompileError
from rtc.dsl import ast
from rtc.dsl.dump import to_data
from rtc.dsl.parser import parse_rt


def items(source: str) -> list:
    return to_data(parse_rt(source, "t.rt").blocks[0].items)


def first_error(source: str):
    with pytest.raises(CompileError) as info:
        parse_rt(source, "t.rt")
    return info.value.diagnostics[0]


def S(v):
    return {"_": "Str", "value": v}


def I(v):
    return {"_": "Int", "value": v}


def R(*parts):
    return {"_": "Ref", "parts": list(parts)}


def attr(name, value):
    return {"_": "Attr", "name": name, "value": value}


def L(*xs):
    return {"_": "ListExpr", "items": list(xs)}


def port(name, type_=None, default=None):
    return {"_": "PortDecl", "name": name, "type": type_, "default": default}


def step(name, node, args=(), trigger=None, after=()):
    return {
        "_": "StepStmt",
        "name": name,
        "node": R(node),
        "args": [{"_": "StepArg", "name": n, "value": v} for n, v in args],
        "trigger": trigger,
        "after": list(after),
    }


CONSTRUCTS = [
    # env (envd)
    ('env e { base = "python:3.11-slim" }', [attr("base", S("python:3.11-slim"))]),
    ('env e { image = "org/img:tag" }', [attr("image", S("org/img:tag"))]),
    ('env e { pip = ["a==1", "b"], apt = ["jq"] }', [attr("pip", L(S("a==1"), S("b"))), attr("apt", L(S("jq")))]),
    ('env e { workdir = "/app" }', [attr("workdir", S("/app"))]),
    (
        'env e { environ = { A = "b", "a key" = 1 } }',
        [attr("environ", {"_": "MapExpr", "entries": [
            {"_": "MapEntry", "key": "A", "value": S("b")},
            {"_": "MapEntry", "key": "a key", "value": I(1)},
        ]})],
    ),
    ('env e { mount "./d" -> "/d" }', [{"_": "MountStmt", "host": S("./d"), "container": S("/d"), "read_only": False}]),
    ('env e { mount "./d" -> "/d" readonly }', [{"_": "MountStmt", "host": S("./d"), "container": S("/d"), "read_only": True}]),
    ('env e { copy "./n" -> "/app" }', [{"_": "CopyStmt", "host": S("./n"), "container": S("/app")}]),
    ('env e { expose 8000 }', [{"_": "ExposeStmt", "container_port": I(8000), "host_port": None, "host_ip": None, "service": None}]),
    (
        'env e { expose 8000 -> 0 on "0.0.0.0" service "api" }',
        [{"_": "ExposeStmt", "container_port": I(8000), "host_port": I(0), "host_ip": S("0.0.0.0"), "service": S("api")}],
    ),
    ('env e { expose 80 service "web" }', [{"_": "ExposeStmt", "container_port": I(80), "host_port": None, "host_ip": None, "service": S("web")}]),
    ('env e { daemon ["python3", "s.py"] }', [{"_": "DaemonStmt", "argv": L(S("python3"), S("s.py"))}]),
    ('env e { init ["pip check"] init [] }', [{"_": "InitStmt", "commands": L(S("pip check"))}, {"_": "InitStmt", "commands": L()}]),
    ('env e { command train = "python t.py" }', [{"_": "CommandStmt", "name": "train", "command": S("python t.py")}]),
    # node (Exosphere)
    ("node n { env = py }", [attr("env", R("py"))]),
    (
        "node n { inputs { path: str, limit: int } }",
        [{"_": "PortBlock", "kind": "inputs", "ports": [port("path", "str"), port("limit", "int")]}],
    ),
    (
        "node n { outputs { rows: list[str] m: dict[ str , list[int] ] j: json } }",
        [{"_": "PortBlock", "kind": "outputs", "ports": [
            port("rows", "list[str]"), port("m", "dict[str, list[int]]"), port("j", "json")]}],
    ),
    ("node n { secrets { API_KEY, OTHER } }", [{"_": "PortBlock", "kind": "secrets", "ports": [port("API_KEY"), port("OTHER")]}]),
    ('node n { python = "m:C" }', [attr("python", S("m:C"))]),
    ('node n { command = ["sh", "-c", "x"] }', [attr("command", L(S("sh"), S("-c"), S("x")))]),
    ("node n { fanout = true, retries = 3 }", [attr("fanout", {"_": "Bool", "value": True}), attr("retries", I(3))]),
    (
        'node n { retry { max_retries = 3  strategy = "exponential"  delay = 2s  max_delay = 1m  jitter = false } }',
        [{"_": "SubBlock", "kind": "retry", "items": [
            attr("max_retries", I(3)), attr("strategy", S("exponential")),
            attr("delay", {"_": "Duration", "text": "2s", "seconds": 2.0}),
            attr("max_delay", {"_": "Duration", "text": "1m", "seconds": 60.0}),
            attr("jitter", {"_": "Bool", "value": False})]}],
    ),
    # graph (Exosphere)
    ('graph g { schedule = "@daily" workers = 8 tags = ["a"] }',
     [attr("schedule", S("@daily")), attr("workers", I(8)), attr("tags", L(S("a")))]),
    (
        'graph g { params { source: str = "/in", limit: int = 10, day: str } }',
        [{"_": "PortBlock", "kind": "params", "ports": [
            port("source", "str", S("/in")), port("limit", "int", I(10)), port("day", "str")]}],
    ),
    ("graph g { load = Load(path = params.source) }", [step("load", "Load", [("path", R("params", "source"))])]),
    (
        "graph g { clean = Clean(row = each(load.rows)) }",
        [step("clean", "Clean", [("row", {"_": "Call", "func": "each", "args": [R("load", "rows")]})])],
    ),
    ("graph g { r = Report() }", [step("r", "Report")]),
    ("graph g { n = Notify(ok = r.ok) after all_done }", [step("n", "Notify", [("ok", R("r", "ok"))], trigger=S("all_done"))]),
    ("graph g { a = A(x = 1) after [l, c] }", [step("a", "A", [("x", I(1))], after=[R("l"), R("c")])]),
    ("graph g { a = A() after l after all_success }", [step("a", "A", after=[R("l")], trigger=S("all_success"))]),
    # codespec / run (Tyger)
    ("codespec c { inputs = [input, \"out-2\"] }", [attr("inputs", L(R("input"), S("out-2")))]),
    ('codespec c { resources { cpu = "1" gpu = "1" } }',
     [{"_": "SubBlock", "kind": "resources", "items": [attr("cpu", S("1")), attr("gpu", S("1"))]}]),
    ("codespec my-codespec { kind = \"worker\" endpoints = { http = 8080 } }",
     [attr("kind", S("worker")), attr("endpoints", {"_": "MapExpr", "entries": [{"_": "MapEntry", "key": "http", "value": I(8080)}]})]),
    ('run r { codespec = "hello/versions/2" }', [attr("codespec", S("hello/versions/2"))]),
    ("run r { worker { codespec = w  replicas = 2 } }",
     [{"_": "SubBlock", "kind": "worker", "items": [attr("codespec", R("w")), attr("replicas", I(2))]}]),
    # literals
    ("env e { a = 1.5 b = -3 c = null d = 1e3 }",
     [attr("a", {"_": "Float", "value": 1.5}), attr("b", I(-3)), attr("c", {"_": "Null"}), attr("d", {"_": "Float", "value": 1000.0})]),
    ('env e { a = "tab\\there \\u00e9 \\"q\\"" }', [attr("a", S('tab\there \u00e9 "q"'))]),
    ("env e { a = [1, 2,] b = {} }", [attr("a", L(I(1), I(2))), attr("b", {"_": "MapExpr", "entries": []})]),
    ('env e { # comment\n a = 1 # another\n }', [attr("a", I(1))]),
]


@pytest.mark.parametrize("source,expected", CONSTRUCTS, ids=[c[0][:40] for c in CONSTRUCTS])
def test_construct_parses_to_expected_tree(source, expected):
    assert items(source) == expected


@pytest.mark.parametrize(
    "text,seconds",
    [("300s", 300), ("1.5h", 5400), ("2h45m", 9900), ("10m", 600), ("500ms", 0.5), ("1d", 86400), ("1h30m15s", 5415)],
)
def test_durations(text, seconds):
    value = items(f"node n {{ timeout = {text} }}")[0]["value"]
    assert value == {"_": "Duration", "text": text, "seconds": seconds}


def test_multiline_string_is_dedented_and_first_newline_dropped():
    source = 'codespec c {\n  command = ["""\n    set -e\n      indented\n    done\n  """]\n}'
    assert items(source)[0]["value"]["items"][0]["value"] == "set -e\n  indented\ndone\n"


def test_top_level_namespace_imports_and_blocks():
    module = parse_rt('namespace MyProject\nimport "envs.rt"\nimport "more.yaml"\nenv a {}\nnode b {}\ngraph c {}\ncodespec d {}\nrun e {}', "t.rt")
    assert module.namespace == "MyProject"
    assert [i.path for i in module.imports] == ["envs.rt", "more.yaml"]
    assert [(b.kind, b.name) for b in module.blocks] == [("env", "a"), ("node", "b"), ("graph", "c"), ("codespec", "d"), ("run", "e")]


def test_keywords_are_names_where_no_keyword_fits():
    # `env` is a block keyword at the top but an attribute inside a node; `run`, `node` likewise.
    assert items("node run { env = node }") == [attr("env", R("node"))]


def test_positions():
    source = 'env py {\n  base = "x"\n  mount "./d" -> "/d"\n}\ngraph g {\n  load = Load(path = params.source)\n}\n'
    module = parse_rt(source, "p.rt")
    env, graph = module.blocks
    assert (env.span.line, env.span.col, env.span.end_col) == (1, 5, 7)
    base = env.items[0]
    assert (base.span.line, base.span.col, base.span.end_col) == (2, 3, 7)
    assert (base.value.span.line, base.value.span.col, base.value.span.end_col) == (2, 10, 13)
    mount = env.items[1]
    assert (mount.span.line, mount.span.col) == (3, 3)
    assert (mount.container.span.line, mount.container.span.col) == (3, 18)
    load = graph.items[0]
    assert isinstance(load, ast.StepStmt)
    assert (load.span.line, load.span.col) == (6, 3)
    assert (load.node.span.line, load.node.span.col) == (6, 10)
    arg = load.args[0]
    assert (arg.span.line, arg.span.col) == (6, 15)
    assert (arg.value.span.line, arg.value.span.col, arg.value.span.end_col) == (6, 22, 35)
    assert load.span.file == "p.rt"


SYNTAX_ERRORS = [
    # (source, code, message fragment, line, col)
    ("env py { base }", "E001", "expected '=' or '{'", 1, 10),
    ("env py { base = }", "E001", "unexpected '}'; expected a value", 1, 17),
    ('env py { base: "x" }', "E001", "unexpected string \"x\"; expected a name", 1, 16),
    ("nod X {}", "E001", "unexpected name 'nod'; expected a block (env, node, graph, codespec, run)", 1, 1),
    ("env e {\n  x = [1 2]\n}", "E001", "unexpected number 2; expected ',' or ']'", 2, 10),
    ("graph g { a = F(b = 1", "E001", "unexpected end of file; expected ')' or ','", 1, 22),
    ("env e { x = 1", "E001", "unexpected end of file", 1, 14),
    ("env e x {}", "E001", "unexpected name 'x'; expected '{'", 1, 7),
    ('env e {\n  x = "abc\n}', "E002", "unterminated string", 2, 7),
    ('env e { t = """abc }', "E002", "unterminated multi-line string", 1, 13),
    ("env e { t = $ }", "E002", "unexpected character '$'", 1, 13),
    ('env e { x = "\\q" }', "E002", "bad escape", 1, 13),
    ("env e { x = 5x }", "E003", "bad number or duration '5x'", 1, 13),
    ("env e { x = 1.5.2 }", "E003", "bad number or duration", 1, 13),
    ("env e { expose 80.5 }", "E003", "a port is a whole number", 1, 16),
    ("env e { x = 1e }", "E003", "bad number or duration '1e'", 1, 13),
    ("env e { x = 1e-3e-4 }", "E003", "bad number or duration '1e-3e-4'", 1, 13),
    ("env e { x = 1e-3s }", "E003", "bad number or duration '1e-3s'", 1, 13),
    ("env e { x = 1e-x }", "E002", "unexpected character '-'", 1, 15),
    ("env e { x = " + "9" * 5000 + " }", "E003", "a whole number has at most 4,300 digits", 1, 13),
    ("env e { expose " + "9" * 5000 + " }", "E003", "a port is a whole number", 1, 16),
    ("graph g { a = F(1) }", "E004", "step arguments must be named", 1, 15),
    ("graph g { x = 1 after all_done }", "E004", "`after` only follows a step", 1, 17),
    ("env e { x = [each(a = 1)] }", "E004", "named argument 'a' is only allowed in a step", 1, 19),
    ("env e { inputs { a = 1 } }", "E004", "declares `name: type` entries", 1, 18),
    ("node n { retry { jitter } }", "E001", "unexpected name 'jitter'", 1, 18),
    ("namespace a\nnamespace b", "E004", "one namespace", 2, 11),
]


@pytest.mark.parametrize("source,code,fragment,line,col", SYNTAX_ERRORS, ids=[e[0][:30] for e in SYNTAX_ERRORS])
def test_syntax_error_message_and_position(source, code, fragment, line, col):
    diag = first_error(source)
    assert diag.code == code
    assert fragment in diag.message
    assert (diag.span.file, diag.span.line, diag.span.col) == ("t.rt", line, col)


# Issue 21: floats in exponent notation, as users write them (and Python's repr of a float).
EXPONENTS = [("1e-3", 0.001), ("1E3", 1000.0), ("2.5e+2", 250.0), ("-1.5E-7", -1.5e-07), ("1e+16", 1e16),
             ("6.02e23", 6.02e23), ("1e5", 1e5), ("-2e-0", -2.0)]


@pytest.mark.parametrize("word,value", EXPONENTS)
def test_floats_in_exponent_notation(word, value):
    from rtc.dsl.fast_parser import try_parse
    from rtc.dsl.parser import parse_rt_with_lark

    source = f"env e {{ x = {word}, y = [{word},{word}] }}\nnode n {{ params {{ p: float = {word} }} }}"
    fast, lark = try_parse(source, "t.rt"), parse_rt_with_lark(source, "t.rt")
    assert fast is not None, "the fast reader reads it without falling back to Lark"
    assert fast == lark
    x, y = fast.blocks[0].items
    assert to_data([x])[0] == attr("x", {"_": "Float", "value": value})
    assert [item.value for item in y.value.items] == [value, value]
    assert (x.value.span.col, x.value.span.end_col) == (13, 13 + len(word))
    assert fast.blocks[1].items[0].ports[0].default.value == value


def test_several_literal_errors_are_reported_together():
    with pytest.raises(CompileError) as info:
        parse_rt("env e { a = 5x\n b = 7q }", "t.rt")
    assert [(d.code, d.span.line) for d in info.value.diagnostics] == [("E003", 1), ("E003", 2)]


def test_rendered_error_shows_line_and_caret():
    source = "env py {\n  base = }\n"
    with pytest.raises(CompileError) as info:
        parse_rt(source, "p.rt")
    text = info.value.render({"p.rt": source})
    assert text.splitlines()[0] == "p.rt:2:10: error[E001]: unexpected '}'; expected a value"
    assert "   2 |   base = }" in text
    assert text.splitlines()[2].endswith("^")


def test_grammar_is_lalr():
    from rtc.dsl.parser import _lark

    assert _lark().options.parser == "lalr"


def test_every_example_in_the_language_reference_parses():
    import re
    from pathlib import Path

    from rtc.dsl.yaml_frontend import parse_yaml

    doc = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text()
    blocks = re.findall(r"```(\w*)\n(.*?)```", doc, re.DOTALL)
    rt = [text for lang, text in blocks if lang == "" and "|" not in text.splitlines()[0]]
    yml = [text for lang, text in blocks if lang == "yaml"]
    assert len(rt) >= 7 and len(yml) >= 7
    for text in rt:
        parse_rt(text, "doc.rt")
    for text in yml:
        parse_yaml(text, "doc.yaml")
