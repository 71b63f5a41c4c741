"""Depth, size, file kind and text bounds of every front end and of `--param` (issue 11, items 10, 11, 13, 14)."""

from __future__ import annotations

import os

import pytest

from rtc.compiler import compile_file
from rtc.base.diagnostics import CompileError, RtcError
from rtc.compiler.ir import Graph, Param
from rtc.integrations.local.params import parse_value, resolve
from rtc.base.limits import MAX_NESTING, MAX_SOURCE_BYTES, LimitError, loads_json, read_regular_file

ENV_NODE = 'env e { image = "busybox" }\nnode N { env = e  inputs { x: json }  command = ["true"] }\n'


def diagnostics_of(path) -> list:
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    return info.value.diagnostics


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 400, 5000, 100_000])
@pytest.mark.parametrize("shape", ["list", "map", "call", "type", "param-type"])
def test_rt_nesting_beyond_the_bound_is_E010(tmp_path, depth, shape):
    if shape == "list":
        body = ENV_NODE + "graph g { a = N(x = " + "[" * depth + "]" * depth + ") }\n"
    elif shape == "map":
        body = ENV_NODE + "graph g { a = N(x = " + "{ k = " * depth + "1" + " }" * depth + ") }\n"
    elif shape == "call":
        body = ENV_NODE + "graph g { a = N(x = " + "each(" * depth + "params.p" + ")" * depth + ") }\n"
    elif shape == "type":
        body = 'env e { image = "busybox" }\nnode N { env = e  inputs { x: ' + "list[" * depth + "str" + "]" * depth + ' }  command = ["true"] }\n'
    else:
        body = "graph g { params { p: " + "dict[str, " * depth + "int" + "]" * depth + " } }\n"
    path = tmp_path / "deep.rt"
    path.write_text(body)
    codes = {d.code for d in diagnostics_of(path)}
    assert codes & {"E010", "E400"}, codes  # a type is refused by the front end or, just past the bound, as a bad type


def test_nesting_at_the_bound_compiles(tmp_path):
    path = tmp_path / "ok.rt"
    path.write_text(ENV_NODE + "graph g { a = N(x = " + "[" * MAX_NESTING + "]" * MAX_NESTING + ") }\n")
    assert compile_file(str(path)).graphs["g"].steps[0].id == "a"


@pytest.mark.parametrize("depth", [MAX_NESTING + 1, 3000])
def test_yaml_nesting_beyond_the_bound_is_a_diagnostic(tmp_path, depth):
    path = tmp_path / "deep.yaml"
    path.write_text(
        "envs: {e: {image: busybox}}\n"
        "nodes: {N: {env: e, inputs: {x: json}, command: ['true']}}\n"
        "graphs: {g: {steps: {a: {node: N, inputs: {x: " + "[" * depth + "]" * depth + "}}}}}\n"
    )
    codes = {d.code for d in diagnostics_of(path)}
    assert codes & {"E010", "E005", "E006"}, codes


def test_a_file_over_the_size_bound_is_E007(tmp_path):
    path = tmp_path / "big.rt"
    with open(path, "wb") as f:
        f.truncate(MAX_SOURCE_BYTES + 1)  # sparse: no disk, the size alone is refused
    [d] = diagnostics_of(path)
    assert d.code == "E007" and "at most" in d.message


@pytest.mark.parametrize("kind", ["fifo", "dev-zero", "dev-zero-import", "fifo-import", "folder-import"])
def test_files_that_are_not_regular_are_refused_without_reading(tmp_path, kind):
    main = tmp_path / "main.rt"
    target = tmp_path / ("other.rt" if kind.endswith("import") else "main.rt")
    if kind.startswith("fifo"):
        os.mkfifo(target)  # a blocking open or read would hang this test
    elif kind.startswith("dev-zero"):
        target.symlink_to("/dev/zero")  # a read would eat memory without bound
    else:
        target.mkdir()
    if kind.endswith("import"):
        main.write_text('import "other.rt"\n')
    [d] = diagnostics_of(main)
    assert d.code in ("E007", "E008"), d
    if kind.endswith("import"):
        assert d.span is not None and d.span.line == 1, "reported at the import"


@pytest.mark.parametrize("suffix, text", [
    (".yaml", 'namespace: x\nenvs:\n  e: {image: busybox, environ: {A: "\\ud800"}}\n'),
    (".yaml", 'namespace: x\nenvs:\n  e: {image: busybox, environ: {"\\udfff": "v"}}\n'),
    (".rt", 'env e { image = "busybox"  environ = { A = "x\\udc80y" } }\n'),
    (".rt", 'graph g { params { p: str = "\\ud83d" } }\n'),
    (".yml", 'name: hello\nimage: busybox\ncommand: ["echo", "\\ud800"]\n'),
])
def test_lone_surrogates_are_E011(tmp_path, suffix, text):
    path = tmp_path / f"s{suffix}"
    path.write_text(text)
    codes = [d.code for d in diagnostics_of(path)]
    assert "E011" in codes, codes


def test_a_surrogate_pair_is_fine(tmp_path):
    path = tmp_path / "ok.rt"
    path.write_text('env e { image = "busybox"  environ = { A = "\\ud83d\\ude00" } }\n')
    assert compile_file(str(path)).environments["e"].environ["A"] == "\U0001f600"


# ---------------------------------------------------------------- --param values


@pytest.mark.parametrize("text, type_text", [
    ("nan", "float"), ("NaN", "float"), ("inf", "float"), ("-Infinity", "float"), ("1e999", "float"),
    ("0x10", "float"), ("yes", "bool"), ("1", "bool"), ("no", "bool"), ("True", "bool"), ("on", "bool"),
    ("[NaN]", "list[float]"), ('{"a": Infinity}', "dict[str, float]"), ("[1e999]", "json"),
    ("[" * 100 + "]" * 100, "json"), ("[" * 100_000 + "]" * 100_000, "list[json]"),
    ("x\udcff", "str"), ("1" * 5000, "int"),
])
def test_bad_param_values_are_messages(text, type_text):
    with pytest.raises(RtcError) as info:
        parse_value(text, type_text, "p")
    assert "p" in str(info.value)
    assert len(str(info.value)) < 400, "the message quotes a bounded part of the value"


@pytest.mark.parametrize("text, type_text, value", [
    ("true", "bool", True), ("false", "bool", False), ("1.5", "float", 1.5), ("-2e3", "float", -2000.0),
    ("3", "float", 3.0), ("12", "int", 12), ('["a"]', "list[str]", ["a"]), ("x\U0001f600", "str", "x\U0001f600"),
])
def test_good_param_values(text, type_text, value):
    assert parse_value(text, type_text, "p") == value


def test_resolve_refuses_before_any_container():
    graph = Graph(name="g", params=[Param(name="f", type="float")])
    with pytest.raises(RtcError, match="not a valid float"):
        resolve(graph, {"f": "nan"})


def test_loads_json_bounds():
    assert loads_json("[" * MAX_NESTING + "]" * MAX_NESTING) is not None
    for text in ("[" * (MAX_NESTING + 1) + "]" * (MAX_NESTING + 1), "NaN", "[-Infinity]", "1e400"):
        with pytest.raises(LimitError):
            loads_json(text)


def test_read_regular_file_reads_no_more_than_the_bound(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, 100) == b"x" * 100
    with pytest.raises(LimitError):
        read_regular_file(path, 99)
