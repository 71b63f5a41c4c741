"""The YAML front end: rtc YAML, Exosphere spellings, Tyger files, positions and errors."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rtc.base.diagnostics import CompileError
from rtc.dsl import load_modules, parse_file, yaml_nodes
from rtc.dsl.dump import to_data
from rtc.dsl.parser import parse_rt
from rtc.dsl.yaml_frontend import parse_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def blocks_of(path: Path) -> dict:
    return {(b.kind, b.name): to_data(b) for m in load_modules(path) for b in m.blocks}


def first_error(source: str, file: str = "t.yaml"):
    with pytest.raises(CompileError) as info:
        parse_yaml(source, file)
    return info.value.diagnostics[0]


@pytest.mark.parametrize("example", ["etl", "ml", "tyger"])
def test_yaml_and_rt_forms_of_each_example_give_the_same_tree(example):
    rt = blocks_of(EXAMPLES / example / "pipeline.rt")
    yml = blocks_of(EXAMPLES / example / "pipeline.yaml")
    assert rt.keys() == yml.keys()
    for key in rt:
        assert rt[key] == yml[key], key


# Each YAML snippet and the .rt snippet it must equal (spans aside).
EQUIVALENT = [
    (
        "envs: {e: {mounts: [{host: ./d, container: /d, readonly: true}], copy: [{host: ./n, container: /app}]}}",
        'env e { mount "./d" -> "/d" readonly  copy "./n" -> "/app" }',
    ),
    (
        "envs: {e: {expose: [{port: 8000, host_port: 0, host_ip: 0.0.0.0, service: api}, 9000]}}",
        'env e { expose 8000 -> 0 on "0.0.0.0" service "api"  expose 9000 }',
    ),
    (
        "envs: {e: {daemons: [[a, b]], init: [x], commands: {train: python t.py}, environ: {A: b}}}",
        'env e { daemon ["a", "b"] init ["x"] command train = "python t.py" environ = { A = "b" } }',
    ),
    (
        "nodes: {N: {env: py, inputs: {a: 'dict[str,list[int]]'}, secrets: [K], retries: 3, timeout: 1.5h}}",
        "node N { env = py  inputs { a: dict[str, list[int]] }  secrets { K }  retries = 3  timeout = 1.5h }",
    ),
    (
        "nodes: {N: {retry_policy: {max_retries: 3, strategy: EXPONENTIAL, backoff_factor: 2000, max_delay: 1m, jitter: true}}}",
        'node N { retry_policy { max_retries = 3 strategy = "EXPONENTIAL" backoff_factor = 2000ms max_delay = 1m jitter = true } }',
    ),
    (
        "graphs: {g: {params: {s: {type: str, default: x}, d: {type: str}, n: int}}}",
        'graph g { params { s: str = "x", d: str, n: int } }',
    ),
    (
        "graphs: {g: {steps: {c: {node: C, inputs: {row: '${{ each(l.outputs.rows) }}', n: '${{ store.n }}', lit: 3, p: '${{params.p}}', s: '${{ l.rows }}'}}}}}",
        "graph g { c = C(row = each(l.rows), n = params.n, lit = 3, p = params.p, s = l.rows) }",
    ),
    (
        "graphs: {g: {steps: {n: {node: N, unites: ALL_DONE, after: [a]}, a: {node: A, next_nodes: [b]}, b: {node: B}}}}",
        "graph g { n = N() after all_done after [a]  a = A()  b = B() after [a] }",
    ),
    (
        "graphs: {g: {steps: {n: {node: N, unites: {identifier: a, strategy: ALL_SUCCESS}}}}}",
        "graph g { n = N() after [a] after all_success }",
    ),
    (
        "codespecs: {c: {image: u, buffers: {inputs: [i], outputs: [o]}, workingDir: /w, maxReplicas: 2, "
        "resources: {requests: {cpu: '1', memory: 1Gi}, limits: {cpu: '2'}, gpu: '1'}, kind: worker, endpoints: {http: 8080}}}",
        'codespec c { image = "u" inputs = [i] outputs = [o] workdir = "/w" max_replicas = 2 '
        'resources { cpu = "1" memory = "1Gi" cpu_limit = "2" gpu = "1" } kind = "worker" endpoints = { http = 8080 } }',
    ),
    (
        "runs: {r: {job: {codespec: c/versions/2, buffers: {i: abc}, nodePool: p, replicas: 2, tags: {k: v}}, "
        "cluster: cl, timeoutSeconds: 300, schedule: '@daily', worker: {codespec: w, replicas: 2, nodePool: g}}}",
        'run r { codespec = "c/versions/2" buffers = { i = "abc" } node_pool = "p" replicas = 2 tags = { k = "v" } '
        'cluster = "cl" timeout = 300s schedule = "@daily" worker { codespec = w replicas = 2 node_pool = "g" } }',
    ),
]


@pytest.mark.parametrize("yaml_text,rt_text", EQUIVALENT, ids=[e[1][:40] for e in EQUIVALENT])
def test_yaml_construct_equals_rt_construct(yaml_text, rt_text):
    assert to_data(parse_yaml(yaml_text, "t.yaml").blocks) == to_data(parse_rt(rt_text, "t.rt").blocks)


def test_namespace_and_imports():
    module = parse_yaml("namespace: P\nimports: [envs.yaml, other.rt]\n", "t.yaml")
    assert module.namespace == "P"
    assert [(i.path, i.span.line, i.span.col) for i in module.imports] == [("envs.yaml", 2, 11), ("other.rt", 2, 22)]


def test_positions_of_keys_and_values():
    source = "nodes:\n  Load:\n    env: py\n    timeout: 10m\n"
    node = parse_yaml(source, "p.yaml").blocks[0]
    assert (node.span.line, node.span.col) == (2, 3)
    env, timeout = node.items
    assert (env.span.line, env.span.col) == (3, 5)
    assert (env.value.span.line, env.value.span.col) == (3, 10)
    assert (timeout.value.span.line, timeout.value.span.col, timeout.value.seconds) == (4, 14, 600.0)


def test_seed_tyger_codespec_file():
    module = parse_file(EXAMPLES / "tyger" / "hello.yml")
    (block,) = module.blocks
    assert (block.kind, block.name) == ("codespec", "hello")
    data = {i["name"]: i["value"] for i in to_data(block.items)}
    assert data["inputs"] == {"_": "ListExpr", "items": [{"_": "Ref", "parts": ["input"]}]}
    assert data["command"]["items"][2]["value"] == (
        'set -euo pipefail\ninp=$(cat "$INPUT_PIPE")\necho "Hello ${inp}" > "$OUTPUT_PIPE"\n'
    )


def test_seed_codespec_matches_the_rt_codespec():
    tyger = to_data(parse_file(EXAMPLES / "tyger" / "hello.yml").blocks[0])
    rt = blocks_of(EXAMPLES / "tyger" / "pipeline.rt")[("codespec", "hello")]
    assert tyger == rt


def test_tyger_run_spec_by_name_imports_the_codespec_file_beside_it():
    modules = load_modules(EXAMPLES / "tyger" / "run-hello.yml")
    assert [(b.kind, b.name) for m in modules for b in m.blocks] == [("run", "run-hello"), ("codespec", "hello")]
    run = to_data(modules[0].blocks[0])
    values = {i["name"]: i["value"] for i in run["items"]}
    assert values["codespec"] == {"_": "Ref", "parts": ["hello"]}
    assert values["timeout"] == {"_": "Duration", "text": "600s", "seconds": 600.0}


def test_tyger_run_spec_with_inline_codespec():
    module = parse_file(EXAMPLES / "tyger" / "run-inline.yml")
    assert [(b.kind, b.name) for b in module.blocks] == [("run", "run-inline"), ("codespec", "run-inline-codespec")]
    assert to_data(module.blocks[0].items[0]) == {
        "_": "Attr", "name": "codespec", "value": {"_": "Ref", "parts": ["run-inline-codespec"]}
    }


def test_tyger_seed_run_spec_with_versioned_codespec(tmp_path):
    spec = tmp_path / "spec.yml"
    spec.write_text(
        "job:\n  codespec: mycodespec/versions/22\n  buffers:\n    input: lopoahtz7chepdpmgvunuvtqke\n"
        "  tags:\n    mykey: myvalue\n  nodePool: cpunp\n  replicas: 1\ncluster: mycluster\ntimeoutSeconds: 43200\n"
    )
    (run,) = parse_file(spec).blocks
    values = {i["name"]: i["value"] for i in to_data(run.items)}
    assert values["codespec"] == {"_": "Str", "value": "mycodespec/versions/22"}
    assert values["node_pool"] == {"_": "Str", "value": "cpunp"}
    assert values["timeout"]["seconds"] == 43200.0
    assert set(values) == {"codespec", "buffers", "tags", "node_pool", "replicas", "cluster", "timeout"}


YAML_ERRORS = [
    # (source, code, fragment, line, col)
    ("envs:\n\tpy: {}\n", "E005", "tab character", 2, 1),
    ("envs: [1\n", "E005", "bad YAML", 2, 1),
    ("a: 1\n---\nb: 2\n", "E005", "bad YAML", 2, 1),
    ("- a\n- b\n", "E006", "must be a mapping of top-level keys", 1, 1),
    ("envs: [py]\n", "E006", "envs must be a mapping", 1, 7),
    ("nodes: {N: {inputs: [a, b]}}\n", "E006", "inputs must be a mapping", 1, 21),
    ("enviroments: {}\n", "E006", "unknown top-level key 'enviroments'", 1, 1),
    ("graphs: {g: {steps: {a: {inputs: {}}}}}\n", "E006", "step 'a' needs `node`", 1, 22),
    ("graphs: {g: {steps: {a: {node: N, unites: SOME}}}}\n", "E006", "unknown unites strategy", 1, 43),
    ("graphs: {g: {steps: {a: {node: N, inputs: {x: 'pre ${{ a.b }}'}}}}}\n", "E006", "whole value", 1, 47),
    ("graphs: {g: {steps: {a: {node: N, inputs: {x: '${{ a + b }}'}}}}}\n", "E006", "cannot read the mapping", 1, 47),
    ("nodes: {N: {timeout: 5x}}\n", "E003", "bad duration '5x'", 1, 22),
    ("envs: {e: {expose: [{port: http}]}}\n", "E006", "whole number", 1, 28),
    ("envs: {e: {mounts: [{host: ./d}]}}\n", "E006", "needs `container`", 1, 21),
    ("<<: 3\nnodes: {}\n", "E005", "expected a mapping or list of mappings for merging", 1, 5),
    ("x-a: &x [*x]\nnodes: {N: {python: *x}}\n", "E006", "alias that contains itself", 1, 6),
]


@pytest.mark.parametrize("source,code,fragment,line,col", YAML_ERRORS, ids=[e[0][:30] for e in YAML_ERRORS])
def test_yaml_error_message_and_position(source, code, fragment, line, col):
    diag = first_error(source)
    assert diag.code == code, diag
    assert fragment in diag.message, diag.message
    assert (diag.span.line, diag.span.col) == (line, col), diag


def test_empty_yaml_is_an_empty_module():
    module = parse_yaml("", "t.yaml")
    assert module.blocks == [] and module.namespace is None


def test_alias_bomb_is_refused_not_expanded():
    # Each level repeats the one before ten times: the last expands to 10**depth values, past the budget.
    depth = 1 + math.ceil(math.log10(yaml_nodes.MAX_NODES))
    lines = ["  a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, depth):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    # Under an extension key (x-), which is allowed: the only thing wrong is the size.
    source = "x-bomb:\n" + "\n".join(lines) + f"\nnodes: {{N: {{env: e, command: *a{depth - 1}}}}}\n"
    diag = first_error(source)
    assert diag.message == "the document is too large once its aliases are expanded", diag


def test_merge_keys_and_extension_keys():
    source = "x-base: &base {base: python:3.11-slim, workdir: /app}\nenvs:\n  py: {<<: *base, pip: [a]}\n"
    names = [i.name for i in parse_yaml(source, "t.yaml").blocks[0].items]
    assert names == ["base", "workdir", "pip"]
