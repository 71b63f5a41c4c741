"""`on` in a graph (issue 22): the IR it lowers to, its YAML form, its checks, and the targets that refuse it for now."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from rtc.base.diagnostics import CompileError
from rtc.compiler import compile_file, ir

NODES = """\
env e { image = "busybox" }
node Train { env = e  inputs { data: str = "d" }  outputs { model: file, score: float, parts: list[str] }  command = ["true"] }
node Score { env = e  inputs { model: file }  outputs { ok: bool }  command = ["true"] }
node Each { env = e  inputs { part: str }  command = ["true"] }
node Note { env = e  inputs { x: float }  command = ["true"] }
"""


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def errors(path) -> list[tuple[str, int, int, str]]:
    with pytest.raises(CompileError) as info:
        compile_file(str(path))
    return [(d.code, d.span.line, d.span.col, d.message) for d in info.value.diagnostics]


def test_on_lowers_to_triggers_and_trigger_bound_inputs(tmp_path):
    path = write(tmp_path, "p.rt", NODES + """\
graph nightly { train = Train() }
graph scoring {
  on       = [nightly.train.model, nightly]
  schedule = "@daily"
  score    = Score(model = nightly.train.model)
  part     = Each(part = each(nightly.train.parts))
}
""")
    p = compile_file(str(path))
    g = p.graphs["scoring"]
    assert [(t.graph, t.step, t.output, t.label) for t in g.triggers] == [
        ("nightly", "train", "model", "nightly.train.model"), ("nightly", None, None, "nightly")]
    assert g.schedule == "@daily"  # either fires the graph
    assert g.triggers[0].span.line == 8 and g.triggers[0].span.col == 15
    [(step, given), (step2, given2)] = g.trigger_inputs()
    assert (step.id, given.name, given.type, given.binding) == ("score", "model", "file", ir.TriggerRef(graph="nightly", step="train", output="model"))
    assert (step2.id, given2.each, given2.binding.output) == ("part", True, "parts")
    assert step.upstream == [] and p.graphs["nightly"].triggers == []
    # The IR JSON carries it, and reads back through the checked loader.
    data = json.loads(p.to_json())
    assert data["graphs"]["scoring"]["triggers"][0] == {"graph": "nightly", "step": "train", "output": "model",
                                                        "span": {"file": "p.rt", "line": 8, "col": 15}}
    assert data["graphs"]["scoring"]["steps"][0]["inputs"][0]["binding"] == {
        "kind": "trigger", "graph": "nightly", "step": "train", "output": "model"}
    assert ir.Pipeline.model_validate(data) == p


def test_yaml_form_gives_the_same_ir(tmp_path):
    rt = write(tmp_path, "a.rt", NODES + """\
namespace same
graph nightly { train = Train() }
graph scoring { on = [nightly, nightly.train.model]  score = Score(model = nightly.train.model) }
""")
    yml = write(tmp_path, "a.yaml", """\
namespace: same
envs: {e: {image: busybox}}
nodes:
  Train: {env: e, inputs: {data: {type: str, default: d}}, outputs: {model: file, score: float, parts: "list[str]"}, command: ["true"]}
  Score: {env: e, inputs: {model: file}, outputs: {ok: bool}, command: ["true"]}
  Each: {env: e, inputs: {part: str}, command: ["true"]}
  Note: {env: e, inputs: {x: float}, command: ["true"]}
graphs:
  nightly:
    steps: {train: {node: Train}}
  scoring:
    on: [nightly, nightly.train.model]
    steps:
      score: {node: Score, inputs: {model: "${{ nightly.train.outputs.model }}"}}
""")
    a, b = compile_file(str(rt)), compile_file(str(yml))
    assert json.loads(a.to_json(spans=False))["graphs"] == json.loads(b.to_json(spans=False))["graphs"]


def test_graphs_of_imported_files_may_be_named(tmp_path):
    write(tmp_path, "lib.rt", NODES + "graph nightly { train = Train() }\n")
    main = write(tmp_path, "main.rt", 'import "lib.rt"\ngraph scoring { on = [nightly.train.model]  s = Score(model = nightly.train.model) }\n')
    p = compile_file(str(main))
    assert p.graphs["scoring"].triggers[0].graph == "nightly" and "nightly" in p.graphs


def test_a_single_name_and_a_string_are_accepted(tmp_path):
    path = write(tmp_path, "p.rt", NODES + 'graph nightly { train = Train() }\ngraph a { on = nightly  n = Note(x = 1.0) }\n'
                                            'graph b { on = ["nightly.train.score"]  n = Note(x = nightly.train.score) }\n')
    p = compile_file(str(path))
    assert p.graphs["a"].triggers[0].label == "nightly" and p.graphs["b"].triggers[0].label == "nightly.train.score"


@pytest.mark.parametrize("graphs, expected", [
    ("graph a { on = [a]  n = Note(x = 1.0) }", ("E411", 7, 17, "cycle of triggers: a -> a")),
    ("graph a { on = [b]  n = Note(x = 1.0) }\ngraph b { on = [c]  n = Note(x = 1.0) }\ngraph c { on = [a.n.x]  n = Note(x = 1.0) }",
     ("E412", 9, 17, "`x` is an input of step `n` of graph `a` (node `Note`), not an output a run records (`on` of graph `c`)")),
    ("graph a { on = [b]  n = Note(x = 1.0) }\ngraph b { on = [c]  n = Note(x = 1.0) }\ngraph c { on = [a]  n = Note(x = 1.0) }",
     ("E411", 9, 17, "cycle of triggers: a -> c -> b -> a")),
    ("graph a { on = [nightly.params.day]  n = Note(x = 1.0) }",
     ("E412", 7, 17, "`nightly.params.day` in `on` of graph `a` is a param of graph `nightly`, not an output a run records")),
    ("graph a { on = [nightly.train]  n = Note(x = 1.0) }",
     ("E202", 7, 17, "`nightly.train` in `on` of graph `a` is neither GRAPH nor GRAPH.STEP.OUTPUT")),
    ("graph a { on = [1]  n = Note(x = 1.0) }", ("E202", 7, 17, "`on` in graph `a` lists graphs and step outputs, not an integer")),
    ("graph a { on = [nightly, nightly]  n = Note(x = 1.0) }",
     ("E311", 7, 26, "`nightly` is listed twice in `on` of graph `a` (first at line 7)")),
    ("graph a { on = [nightly.tran.model]  n = Note(x = 1.0) }", ("E302", 7, 17, "graph `nightly` has no step `tran` (`on` of graph `a`)")),
    ("graph a { on = [nightly.train.modle]  n = Note(x = 1.0) }",
     ("E303", 7, 17, "step `train` of graph `nightly` (node `Train`) has no output `modle` (`on` of graph `a`)")),
    ("graph a { on = [nightly]  n = Note(x = nightly.train.model) }",
     ("E401", 7, 40, "type mismatch: `nightly.train.model` is file, but input `x` of node `Note` is float")),
    ("graph a { on = [nightly]  n = Each(part = nightly.train.parts) }",
     ("E401", 7, 43, "type mismatch: `nightly.train.parts` is list[str], but input `part` of node `Each` is str")),
    ("run r { codespec = c }\ncodespec c { image = \"busybox\" }\ngraph a { on = [r]  n = Note(x = 1.0) }",
     ("E315", 9, 17, "unknown graph `r` in `on` of graph `a`")),
])
def test_checked_with_positions(tmp_path, graphs, expected):
    path = write(tmp_path, "p.rt", NODES + "graph nightly { train = Train() }\n" + graphs + "\n")
    assert errors(path)[0] == expected


def test_a_broken_graph_is_not_also_reported_as_unknown(tmp_path):
    path = write(tmp_path, "p.rt", NODES + "graph nightly { train = Nope() }\ngraph a { on = [nightly.train.model]  n = Note(x = 1.0) }\n")
    assert [e[0] for e in errors(path)] == ["E301"]


def test_the_ir_loader_refuses_triggers_that_name_nothing(tmp_path):
    from rtc.compiler.ir_check import load_ir_file

    path = write(tmp_path, "p.rt", NODES + "graph nightly { train = Train() }\ngraph a { on = [nightly]  n = Note(x = nightly.train.score) }\n")
    data = json.loads(compile_file(str(path)).to_json())
    data["graphs"]["a"]["triggers"][0]["graph"] = "gone"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(Exception) as info:
        load_ir_file(str(bad))
    assert "no graph 'gone'" in str(info.value) and "is not `on` graph 'nightly'" in str(info.value)
    data["graphs"]["a"]["triggers"][0]["graph"] = "a"  # a graph on itself
    bad.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(Exception) as info:
        load_ir_file(str(bad))
    assert "cycle of triggers: a -> a" in str(info.value)


@pytest.mark.parametrize("graphs, expected", [
    ("graph fan {\n  train = Train()\n  each = Each(part = each(train.parts))\n  n = Note(x = 1.0) after [each]\n}\n"
     "graph a {\n  on = [fan.each.x]\n  n = Note(x = 1.0)\n}\n", None),
    ("graph nightly { train = Train() }\ngraph a {\n  on = [nightly]\n  each = Each(part = each(nightly.train.parts))\n}\n",
     ("p.rt:9:3: error[E515]: step `each` of graph `a` runs once per element and reads another graph's output; "
      "the airflow target gives those to steps that run once")),
])
def test_airflow_refuses_what_assets_cannot_carry_with_a_position_and_writes_nothing(tmp_path, graphs, expected):
    nodes = NODES.replace("file", "str").replace("inputs { part: str }", "inputs { part: str }  outputs { x: float }")
    path = write(tmp_path, "p.rt", nodes + graphs)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(path), "--target", "airflow", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    if expected is None:  # `on` an output of a mapped step: E515 at the `on` entry
        assert "error[E515]: graph `a` is `on` `fan.each.x`, an output of a step that runs once per element" in done.stderr
        assert "p.rt:12:9:" in done.stderr, done.stderr
    else:
        assert expected in done.stderr, done.stderr
    assert done.returncode == 1 and "Traceback" not in done.stderr and not out.exists()
    prefect = subprocess.run([sys.executable, "-m", "rtc", "compile", str(path), "--target", "prefect", "-o", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert prefect.returncode == 0, prefect.stderr  # Prefect's events carry both


def test_rtc_check_reports_and_fmt_prints_canonically(tmp_path):
    path = write(tmp_path, "p.rt", NODES + "graph nightly { train = Train() }\n"
                 "graph a {\n    schedule=\"@daily\"\n  on=[ nightly,nightly.train.score ]\n  n = Note(x=nightly.train.score)\n}\n")
    done = subprocess.run([sys.executable, "-m", "rtc", "fmt", "-"], input=path.read_text(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert '  schedule = "@daily"\n  on       = [nightly, nightly.train.score]\n  n        = Note(x = nightly.train.score)\n' in done.stdout
    path.write_text(done.stdout.replace("nightly.train.score]", "nightly.train.scor]"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "rtc", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "error[E303]: step `train` of graph `nightly` (node `Train`) has no output `scor`" in done.stderr


def test_the_language_server_reports_on_problems_in_the_open_text(tmp_path):
    from rtc.lsp.project import Project

    (tmp_path / "lib.rt").write_text(NODES + "graph nightly { train = Train() }\n")
    path = str(tmp_path / "p.rt")
    text = 'import "lib.rt"\ngraph a {\n  on = [nightly.train.scroe]\n  n = Note(x = nightly.train.score)\n}\n'
    project = Project((str(tmp_path),))
    project.set_text(path, text)  # unsaved text, as the editor has it
    checked = project.check(path)
    got = [(d.code, d.span.line, d.span.col, d.message) for d in checked.for_file(path)]
    assert got == [("E303", 3, 9, "step `train` of graph `nightly` (node `Train`) has no output `scroe` (`on` of graph `a`)")]
    project.set_text(path, text.replace("scroe", "score"))
    assert project.check(path).for_file(path) == []


def test_rtc_graph_draws_on_between_graphs(tmp_path):
    from rtc.compiler.diagram import render_dot, render_mermaid

    path = write(tmp_path, "p.rt", NODES + "graph nightly { train = Train() }\n"
                 "graph scoring { on = [nightly.train.model]  s = Score(model = nightly.train.model) }\n"
                 "graph report { on = [scoring]  n = Note(x = 1.0) }\n")
    graphs = list(compile_file(str(path)).graphs.values())
    mermaid = render_mermaid(graphs)
    assert '  s0 -.->|"on nightly.train.model"| g1\n' in mermaid and '  g1 -.->|"on scoring"| g2\n' in mermaid
    dot = render_dot(graphs)
    assert "compound=true;" in dot
    assert 's0 -> s1 [label="on nightly.train.model", style=dotted, lhead=cluster_1];' in dot
    assert 's1 -> s2 [label="on scoring", style=dotted, lhead=cluster_2, ltail=cluster_1];' in dot
    assert "-.->" not in render_mermaid(graphs[2:])  # the triggering graph not shown: no edge


def test_the_editor_leads_from_on_and_triggered_inputs_to_the_graph_and_step(tmp_path):
    from rtc.lsp.features import Navigator
    from rtc.lsp.project import Project

    (tmp_path / "lib.rt").write_text(NODES + "graph nightly {\n  train = Train()\n}\n")
    path = str(tmp_path / "p.rt")
    text = 'import "lib.rt"\ngraph a {\n  on = [nightly.train.score]\n  n = Note(x = nightly.train.score)\n}\n'
    project = Project((str(tmp_path),))
    project.set_text(path, text)
    nav = Navigator(project)
    for line, col in ((2, 9), (3, 16)):  # `nightly` in on, and in the step's argument (0-based positions)
        found = nav.definition(path, line, col)
        assert found.file.endswith("lib.rt") and found.range.line == 5, (line, col, found)
    for line, col in ((2, 17), (3, 24)):  # `train`
        found = nav.definition(path, line, col)
        assert found.file.endswith("lib.rt") and found.range.line == 6, (line, col, found)
