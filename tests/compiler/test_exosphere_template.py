"""Exosphere graph templates taken as they are: every field, fan-out lowered to each(), refusals with positions.

examples/exosphere/text-graph.yaml is the template; text-rewrite.rt is the same
graph in rtc's language. tests/docker/test_exosphere_template_run.py runs both.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from rtc.compiler import compile_file
from rtc.base.diagnostics import CompileError
from rtc.compiler.ir import RetryPolicy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "exosphere"


def ir_without_source(path: Path) -> dict:
    data = json.loads(compile_file(str(path)).to_json(spans=False))
    data.pop("source")
    return data


def test_the_template_lowers_to_the_same_ir_as_its_rtc_rewrite():
    assert ir_without_source(EXAMPLE / "text-graph.yaml") == ir_without_source(EXAMPLE / "text-rewrite.rt")


def test_every_template_field_maps():
    p = compile_file(str(EXAMPLE / "text-graph.yaml"))
    assert p.namespace == "MyProject"  # the nodes' namespace
    g = p.graphs["text"]  # `name:`
    assert g.schedule == "0 9 * * 1-5"  # triggers
    assert [(x.name, x.type, x.default, x.required) for x in g.params] == [
        ("text", "str", "hello big world", False), ("sep", "str", " ", False)]  # store_config
    steps = {s.id: s for s in g.steps}
    assert {s.id: s.mapped for s in g.steps} == {"split": False, "shout": True, "measure": True, "merge": False,
                                                  "report": False}
    assert [i.each for i in steps["shout"].inputs] == [True, False]
    assert steps["measure"].inputs[1].binding.value == 2  # "2" read by the input's type (int)
    assert steps["merge"].upstream == ["measure", "shout", "split"]  # unites split
    assert steps["report"].trigger == "all_done"  # unites ... strategy ALL_DONE
    assert steps["split"].retry == RetryPolicy(max_retries=2, strategy="exponential", jitter="equal",
                                              delay_seconds=0.5, exponent=3, max_delay_seconds=4.0)
    assert p.nodes["SplitNode"].fanout and not p.nodes["ShoutNode"].fanout
    assert "not read from here" not in p.to_json()  # secret values stay in the file


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


NODES = """
    env box { image = "busybox" }
    node Fan  { env = box  command = ["true"]  outputs { part: str, n: int }  fanout = true }
    node Fan2 { env = box  command = ["true"]  inputs { part: str }  outputs { piece: str }  fanout = true }
    node Each { env = box  command = ["true"]  inputs { part: str }  outputs { out: str } }
    node Two  { env = box  command = ["true"]  inputs { a: str, b: str } }
    node Tick { env = box  command = ["true"] }
    node Nums { env = box  command = ["true"]  inputs { n: int, f: float, ok: bool, xs: list[int], s: str } }
"""


def compile_template(tmp_path, body):
    write(tmp_path, "nodes.rt", NODES)
    return compile_file(str(write(tmp_path, "t.yaml", body)))


def diagnostics(tmp_path, body):
    with pytest.raises(CompileError) as err:
        compile_template(tmp_path, body)
    return [(d.code, d.span.line, d.span.col, d.message) for d in err.value.diagnostics]


def test_string_encoded_values_are_read_by_type(tmp_path):
    p = compile_template(tmp_path, """
        nodes:
          - {node_name: Nums, identifier: n, inputs: {n: "42", f: "1.5", ok: "true", xs: "[1, 2]", s: "42"}}
    """)
    values = {i.name: i.binding.value for i in p.graphs["t"].steps[0].inputs}
    assert values == {"n": 42, "f": 1.5, "ok": True, "xs": [1, 2], "s": "42"}


def test_a_string_that_is_not_of_the_type_is_a_type_error(tmp_path):
    found = diagnostics(tmp_path, """
        nodes:
          - {node_name: Nums, identifier: n, inputs: {n: "forty", f: "1", ok: "true", xs: "[]", s: x}}
    """)
    assert [(c, line) for c, line, _, _ in found] == [("E401", 3)]


@pytest.mark.parametrize("body,line,message", [
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}, next_nodes: [t]}
          - {node_name: Tick, identifier: t, inputs: {}}
    """, 4, "reads no output of that branch"),
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Each, identifier: e, inputs: {part: "${{ f.outputs.part }}"}}
          - {node_name: Each, identifier: d, inputs: {part: "${{ f.outputs.part }}"}}
          - {node_name: Two, identifier: t, inputs: {a: "${{ d.outputs.out }}", b: "${{ e.outputs.out }}"}}
    """, 6, "reads values of steps `d`, `e` of that branch, which run side by side"),
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Each, identifier: e, inputs: {part: "${{ f.outputs.part }}"}, next_nodes: [g]}
          - {node_name: Fan, identifier: g, inputs: {}}
    """, 5, "runs once per output of fanout step `f` in Exosphere, but reads no output of that branch"),
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Fan2, identifier: g, inputs: {part: "${{ f.outputs.part }}"}}
          - {node_name: Two, identifier: t, inputs: {a: "${{ g.outputs.piece }}", b: "${{ f.outputs.part }}"}}
    """, 5, "reads `f.part`, a value of the fan-out of `f` around it"),
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Fan, identifier: h, inputs: {}}
          - {node_name: Fan2, identifier: g, inputs: {part: "${{ f.outputs.part }}"}}
          - node_name: Two
            identifier: u
            inputs: {a: "${{ g.outputs.piece }}", b: "${{ h.outputs.part }}"}
            unites: {identifier: g}
    """, 7, "step `u` unites `g` but is still in the fan-out of `h`"),
    ("""
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Fan, identifier: h, inputs: {}}
          - {node_name: Two, identifier: t, inputs: {a: "${{ f.outputs.part }}", b: "${{ h.outputs.part }}"}}
    """, 5, "is in the fan-outs of `f`, `h`, side by side"),
])
def test_fan_outs_rtc_cannot_express_are_refused_at_the_step(tmp_path, body, line, message):
    found = diagnostics(tmp_path, body)
    assert any(code == "E410" and at == line and message in text for code, at, _, text in found), found


def test_a_fan_out_inside_a_fan_out_is_flattened(tmp_path):
    """Issue 20, item 4 (exosphereprojects' batch graph): a fanout node inside a fan-out branch runs once per element and
    its lists are concatenated; the steps after it map over that list, and one reading values of the inner fanout
    step and of a step mapped after it zips them (steps each mapped over the one before pair up)."""
    p = compile_template(tmp_path, """
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Fan2, identifier: g, inputs: {part: "${{ f.outputs.part }}"}}
          - {node_name: Each, identifier: e, inputs: {part: "${{ g.outputs.piece }}"}}
          - {node_name: Two, identifier: t, inputs: {a: "${{ e.outputs.out }}", b: "${{ g.outputs.piece }}"}}
    """)
    steps = {s.id: s for s in p.graphs["t"].steps}
    assert [(s, steps[s].mapped) for s in "fget"] == [("f", False), ("g", True), ("e", True), ("t", True)]
    assert [(i.name, i.binding.step, i.each) for i in steps["t"].inputs] == [("a", "e", True), ("b", "g", True)]


def test_two_outputs_of_one_branch_step_are_zipped(tmp_path):
    """Issue 20, item 4: Exosphere gives the step one state's fields; each() over both lists pairs them alike."""
    p = compile_template(tmp_path, """
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Two, identifier: t, inputs: {a: "${{ f.outputs.part }}", b: "${{ f.outputs.part }}"}}
    """)
    (step,) = [s for s in p.graphs["t"].steps if s.id == "t"]
    assert step.mapped and [i.each for i in step.inputs] == [True, True]


def test_unites_ends_the_branch(tmp_path):
    p = compile_template(tmp_path, """
        nodes:
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Each, identifier: e, inputs: {part: "${{ f.outputs.part }}"}}
          - {node_name: Tick, identifier: t, inputs: {}, unites: {identifier: f}}
          - {node_name: Each, identifier: after, inputs: {part: "literal"}, unites: {identifier: t}}
    """)
    steps = {s.id: s for s in p.graphs["t"].steps}
    assert steps["e"].mapped and not steps["t"].mapped and not steps["after"].mapped
    assert steps["t"].upstream == ["f"]


def test_a_uniting_step_reads_one_value_of_the_fan_out_with_last(tmp_path):
    """Issue 20, item 4: a uniting node's `str` field inside the fan-out is one branch's value in Exosphere; rtc binds
    it with last(...). A field of the united step before the fan-out, or one whose type takes the list, is unchanged."""
    write(tmp_path, "nodes.rt", NODES)
    write(tmp_path, "more.rt", """
        import "nodes.rt"
        node Unite { env = box  command = ["true"]  inputs { out: str, part: str, outs: list[str], n: int, text: str } }
        node Start { env = box  command = ["true"]  outputs { text: str } }
    """)
    p = compile_file(str(write(tmp_path, "t.yaml", """
        imports: [more.rt]
        nodes:
          - {node_name: Start, identifier: s, inputs: {}, next_nodes: [f]}
          - {node_name: Fan, identifier: f, inputs: {}}
          - {node_name: Each, identifier: e, inputs: {part: "${{ f.outputs.part }}"}}
          - node_name: Unite
            identifier: u
            unites: {identifier: f}
            inputs: {out: "${{ e.outputs.out }}", part: "${{ f.outputs.part }}", outs: "${{ e.outputs.out }}",
                     n: "${{ f.outputs.n }}", text: "${{ s.outputs.text }}"}
    """)))
    (step,) = [s for s in p.graphs["t"].steps if s.id == "u"]
    assert not step.mapped
    assert {i.name: (i.last, i.each) for i in step.inputs} == {
        "out": (True, False), "part": (True, False), "outs": (False, False), "n": (True, False), "text": (False, False)}


@pytest.mark.parametrize("body,line,col,message", [
    ("""
        nodes: [{node_name: Tick, identifier: t, inputs: {}}]
        triggers:
          - {type: CRON, value: {expression: "0 9 * * *"}}
          - {type: CRON, value: {expression: "0 18 * * *"}}
    """, 5, 5, "2 different CRON triggers; an rtc graph runs on one schedule"),
    ("""
        nodes: [{node_name: Tick, identifier: t, inputs: {}}]
        triggers: [{type: CRON, value: {expression: "0 9 * * *", timezone: Europe/Paris}}]
    """, 3, 68, "timezone 'Europe/Paris': rtc schedules run in UTC"),
    ("""
        nodes: [{node_name: Tick, identifier: store, inputs: {}}]
    """, 2, 39, "`store` is reserved"),
    ("""
        nodes:
          - {node_name: Tick, identifier: t, inputs: {}, next_nodes: [nobody]}
    """, 3, 63, "`next_nodes` names 'nobody', which is not an identifier of this template"),
    ("""
        nodes: [{node_name: Tick, identifier: t, inputs: {}, colour: red}]
    """, 2, 54, "unknown key 'colour' in a node of the template"),
    ("""
        nodes: [{node_name: Tick, identifier: t}, {node_name: Tick, identifier: t}]
    """, 2, 73, "identifier 't' is used twice"),
    ("""
        nodes: [{node_name: Tick, identifier: t, unites: {identifier: t, strategy: SOMETIMES}}]
    """, 2, 76, "unknown unites strategy 'SOMETIMES'"),
])
def test_template_errors_have_positions(tmp_path, body, line, col, message):
    found = diagnostics(tmp_path, body)
    assert any(at == line and c == col and message in text for _, at, c, text in found), found


def test_store_keys_are_string_params_required_unless_defaulted(tmp_path):
    p = compile_template(tmp_path, """
        nodes: [{node_name: Each, identifier: e, inputs: {part: "${{ store.cursor }}"}}]
        store_config: {required_keys: [cursor, batch], default_values: {batch: 100}}
    """)
    params = {x.name: (x.type, x.required, x.default) for x in p.graphs["t"].params}
    assert params == {"cursor": ("str", True, None), "batch": ("str", False, "100")}


def test_namespaces_must_agree_with_each_other_and_the_nodes_file(tmp_path):
    """Issue 20, item 5: Exosphere finds a node by namespace and name."""
    write(tmp_path, "nodes.rt", "namespace Proj\n" + NODES)
    mixed = write(tmp_path, "t.yaml", """
        nodes:
          - {node_name: Tick, namespace: Proj, identifier: a, inputs: {}}
          - {node_name: Tick, namespace: Other, identifier: b, inputs: {}}
    """)
    with pytest.raises(CompileError) as err:
        compile_file(str(mixed))
    assert any("nodes are in 2 namespaces (Proj, Other)" in d.message and d.span.line == 4 for d in err.value.diagnostics)
    wrong = write(tmp_path, "t.yaml", """
        nodes:
          - {node_name: Tick, namespace: Wrong, identifier: a, inputs: {}}
    """)
    with pytest.raises(CompileError) as err:
        compile_file(str(wrong))
    assert any("namespace 'Wrong' is not the namespace of nodes.rt ('Proj')" in d.message for d in err.value.diagnostics)
    right = write(tmp_path, "t.yaml", """
        nodes:
          - {node_name: Tick, namespace: Proj, identifier: a, inputs: {}}
    """)
    assert compile_file(str(right)).namespace == "Proj"
