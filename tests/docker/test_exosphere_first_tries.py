"""Issue 20, item 4: Exosphere graphs as their users write them — a branch step reading two fields of the
fanout node's outputs runs once per output with both; a template with no nodes file says where rtc looked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

RTC = [sys.executable, "-m", "rtc"]

NODES = r'''namespace NS
env box { image = "rtc-test/busybox:1" }
node Split {
  env = box
  inputs { text: str }
  outputs { chunk: str, index: str }
  fanout = true
  command = ["sh", "-c", "printf '[{\"chunk\": \"a\", \"index\": \"0\"}, {\"chunk\": \"bb\", \"index\": \"1\"}]' > $RTC_OUTPUTS_FILE"]
}
node Label {
  env = box
  inputs { chunk: str, index: str }
  outputs { label: str }
  command = ["sh", "-c", "echo \"$RTC_INPUTS\"; printf '{\"label\": \"%s\"}' \"$(echo $RTC_INPUTS | tr -d '{}\\\" ')\" > $RTC_OUTPUTS_FILE"]
}
'''

TEMPLATE = """\
name: docs
nodes:
  - node_name: Split
    namespace: {ns}
    identifier: split
    inputs: {{text: "${{{{ store.text }}}}"}}
    next_nodes: [label]
  - node_name: Label
    namespace: {ns}
    identifier: label
    inputs:
      chunk: "${{{{ split.outputs.chunk }}}}"
      index: "${{{{ split.outputs.index }}}}"
store_config:
  default_values: {{text: "a bb"}}
"""


def rtc(*args, cwd=None):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=dict(os.environ))


def test_a_branch_step_reading_two_fields_runs_once_per_output(tmp_path, docker_client):
    ns = f"exo{uuid.uuid4().hex[:8]}"
    (tmp_path / "nodes.rt").write_text(NODES.replace("NS", ns))
    (tmp_path / "docs.yaml").write_text(TEMPLATE.format(ns=ns))
    done = rtc("run", "docs.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '[label#0] {"chunk": "a", "index": "0"}' in done.stdout
    assert '[label#1] {"chunk": "bb", "index": "1"}' in done.stdout
    [run] = json.loads(rtc("run", "list", "--kind", "graph").stdout)
    steps = {s["step"]: s for s in json.loads(rtc("run", "show", run["id"]).stdout)["steps"]}
    assert steps["label"]["outputs"] == {"label": ["chunk:a,index:0", "chunk:bb,index:1"]}
    assert docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={ns}"}) == []


def test_a_template_without_nodes_says_where_rtc_looked(tmp_path):
    (tmp_path / "docs.yaml").write_text(TEMPLATE.format(ns="x"))
    done = rtc("check", "docs.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "unknown node `Split`" in done.stderr
    assert f"rtc looked for nodes.rt, nodes.yaml or nodes.yml in {tmp_path}" in done.stderr


def test_a_json_template_is_checked_and_run(tmp_path, docker_client):
    """Issue 20, item 5: a template as Exosphere's docs write it, in JSON."""
    import yaml

    ns = f"exo{uuid.uuid4().hex[:8]}"
    (tmp_path / "nodes.rt").write_text(NODES.replace("NS", ns))
    (tmp_path / "words-template.json").write_text(json.dumps(yaml.safe_load(TEMPLATE.format(ns=ns)), indent=2))
    checked = rtc("check", "words-template.json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    done = rtc("run", "words-template.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '[label#1] {"chunk": "bb", "index": "1"}' in done.stdout
    # IR JSON is still IR JSON for `rtc run`, and `rtc check` says what it is.
    ir = rtc("compile", "words-template.json", "--target", "ir", cwd=tmp_path)
    (tmp_path / "ir.json").write_text(ir.stdout)
    assert rtc("run", "ir.json", cwd=tmp_path).returncode == 0
    bad = rtc("check", "ir.json", cwd=tmp_path)
    assert bad.returncode == 1 and "is rtc IR JSON" in bad.stderr


def test_a_template_under_graphs_runs_with_its_meaning(tmp_path, docker_client):
    """Issue 20, item 5: an Exosphere template nested under an rtc YAML file's `graphs:` (its nodes from the file)."""
    import textwrap

    ns = f"exo{uuid.uuid4().hex[:8]}"
    (tmp_path / "nodes.rt").write_text(NODES.replace("NS", ns))
    template = textwrap.indent(TEMPLATE.format(ns=ns).replace("name: docs\n", ""), "    ")
    (tmp_path / "pipeline.yaml").write_text(f"namespace: {ns}\nimports: [nodes.rt]\ngraphs:\n  docs:\n{template}")
    done = rtc("run", "pipeline.yaml", "docs", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert '[label#0] {"chunk": "a", "index": "0"}' in done.stdout
    wrong = (tmp_path / "pipeline.yaml").read_text().replace(f"namespace: {ns}\n        identifier: label",
                                                             "namespace: Other\n        identifier: label")
    assert "Other" in wrong
    (tmp_path / "wrong.yaml").write_text(wrong)
    bad = rtc("check", "wrong.yaml", cwd=tmp_path)
    assert bad.returncode == 1 and f"the template's nodes are in 2 namespaces ({ns}, Other)" in bad.stderr


def test_a_uniting_str_input_gets_a_template_hint(tmp_path):
    """Issue 20, item 4: the E401 hint speaks of the template, not of .rt's each()."""
    (tmp_path / "nodes.rt").write_text(
        'namespace P\nenv box { image = "rtc-test/busybox:1" }\n'
        'node Split { env = box inputs { text: str } outputs { chunk: str } fanout = true command = ["true"] }\n'
        'node Up { env = box inputs { chunk: str } outputs { up: str } command = ["true"] }\n'
        'node Join { env = box inputs { ups: str } command = ["true"] }\n')
    (tmp_path / "t.yaml").write_text(
        "nodes:\n"
        '  - {node_name: Split, namespace: P, identifier: split, inputs: {text: "a b"}, next_nodes: [up]}\n'
        '  - {node_name: Up, namespace: P, identifier: up, inputs: {chunk: "${{ split.outputs.chunk }}"}, next_nodes: [join]}\n'
        '  - {node_name: Join, namespace: P, identifier: join, inputs: {ups: "${{ up.outputs.up }}"}, unites: {identifier: split}}\n')
    done = rtc("check", "t.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "error[E401]" in done.stderr and "each(" not in done.stderr
    assert "declare node `Join`'s input as `ups: list[str]` (not str)" in done.stderr


JOIN_NODES = r'''namespace NS
env box { image = "rtc-test/busybox:1" }
node Start {
  env = box
  inputs { text: str }
  outputs { text: str }
  command = ["sh", "-c", "printf '{\"text\": \"a bb\"}' > $RTC_OUTPUTS_FILE"]
}
node Split {
  env = box
  inputs { text: str }
  outputs { chunk: str }
  fanout = true
  command = ["sh", "-c", "printf '[{\"chunk\": \"a\"}, {\"chunk\": \"bb\"}]' > $RTC_OUTPUTS_FILE"]
}
node Up {
  env = box
  inputs { chunk: str }
  outputs { up: str }
  command = ["sh", "-c", "printf '{\"up\": \"%s!\"}' \"$(echo $RTC_INPUTS | tr -d '{}\\\" ' | cut -d: -f2)\" > $RTC_OUTPUTS_FILE"]
}
node Join {
  env = box
  inputs { chunks: list[str] }
  command = ["sh", "-c", "echo joined $RTC_INPUTS"]
}
'''

JOIN_TEMPLATE = """\
nodes:
  - {{node_name: Start, namespace: {ns}, identifier: start, inputs: {{text: "go"}}, next_nodes: [split]}}
  - {{node_name: Split, namespace: {ns}, identifier: split, inputs: {{text: "${{{{ start.outputs.text }}}}"}}, next_nodes: [up]}}
  - {{node_name: Up, namespace: {ns}, identifier: up, inputs: {{chunk: "${{{{ split.outputs.chunk }}}}"}}, next_nodes: [join]}}
  - node_name: Join
    namespace: {ns}
    identifier: join
    inputs: {{chunks: "${{{{ split.outputs.chunk }}}}"}}
    unites: {{identifier: start}}
"""


def test_uniting_a_step_before_the_fan_out_joins_every_branch_once(tmp_path, docker_client):
    """Issue 20, item 4: Exosphere creates a uniting node once every state descending from the united step's state
    is done (its state manager: create_next_states / check_unites_satisfied), so `unites: start` with `start`
    before the fanout node `split` is one join of all branches (rtc: not mapped, its input the list of them), not
    a run per output."""
    ns = f"exo{uuid.uuid4().hex[:8]}"
    (tmp_path / "nodes.rt").write_text(JOIN_NODES.replace("NS", ns))
    (tmp_path / "t.yaml").write_text(JOIN_TEMPLATE.format(ns=ns))
    done = rtc("run", "t.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    joined = [line for line in done.stdout.splitlines() if "joined" in line]
    assert joined == ['[join] joined {"chunks": ["a", "bb"]}'], done.stdout
    # A `str` input there is Exosphere's single value, which rtc cannot hand yet: one positioned message saying so.
    (tmp_path / "s.yaml").write_text(JOIN_TEMPLATE.format(ns=ns).replace("chunks:", "chunk:"))
    (tmp_path / "nodes.rt").write_text(JOIN_NODES.replace("NS", ns).replace("chunks: list[str]", "chunk: str"))
    done = rtc("check", "s.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "s.yaml:8:21: error[E401]" in done.stderr and "Traceback" not in done.stderr
    assert "the branch that finished last" in done.stderr and "`chunk: list[str]` (not str)" in done.stderr
