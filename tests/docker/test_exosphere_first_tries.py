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


def test_a_uniting_str_input_reads_one_branch_value(tmp_path, docker_client):
    """Issue 20, item 4: Exosphere fills a uniting node's `str` field inside the fan-out from one branch (its state
    manager: the branch that finished last); rtc gives it `last(...)`, the last branch in map-index order, the same on
    every run. An input that takes the list keeps rtc's fan-in."""
    (tmp_path / "nodes.rt").write_text(JOIN_NODES.replace("NS", "P").replace("chunks: list[str]", "ups: str, chunk: str, all: list[str]"))
    (tmp_path / "t.yaml").write_text(
        "nodes:\n"
        '  - {node_name: Split, namespace: P, identifier: split, inputs: {text: "a b"}, next_nodes: [up]}\n'
        '  - {node_name: Up, namespace: P, identifier: up, inputs: {chunk: "${{ split.outputs.chunk }}"}, next_nodes: [join]}\n'
        "  - node_name: Join\n    namespace: P\n    identifier: join\n"
        '    inputs: {ups: "${{ up.outputs.up }}", chunk: "${{ split.outputs.chunk }}", all: "${{ up.outputs.up }}"}\n'
        "    unites: {identifier: split}\n")
    graph = rtc("graph", "t.yaml", cwd=tmp_path)
    assert graph.returncode == 0 and '"last(up → ups)"' in graph.stdout and '"up → all"' in graph.stdout, graph.stdout
    for _ in range(2):  # not "whichever finished last": the same value every run
        done = rtc("run", "t.yaml", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        joined = [line for line in done.stdout.splitlines() if "joined" in line]
        assert joined == ['[join] joined {"ups": "bb!", "chunk": "bb", "all": ["a!", "bb!"]}'], done.stdout


def test_a_list_read_whole_in_a_template_gets_a_template_hint(tmp_path):
    """A template step outside any fan-out reading a list into a `str` input: E401, with a hint in the template's terms
    (not .rt's each())."""
    (tmp_path / "nodes.rt").write_text(
        'namespace Q\nenv box { image = "rtc-test/busybox:1" }\n'
        'node Lines { env = box outputs { lines: list[str] } command = ["true"] }\n'
        'node Use { env = box inputs { line: str } command = ["true"] }\n')
    (tmp_path / "t.yaml").write_text(
        "nodes:\n"
        "  - {node_name: Lines, namespace: Q, identifier: lines, next_nodes: [use]}\n"
        '  - {node_name: Use, namespace: Q, identifier: use, inputs: {line: "${{ lines.outputs.lines }}"}}\n')
    done = rtc("check", "t.yaml", cwd=tmp_path)
    assert done.returncode == 1 and "t.yaml:3:68: error[E401]" in done.stderr and "each(" not in done.stderr
    assert "declare node `Use`'s input as `line: list[str]` (not str)" in done.stderr
    assert "fanout node" in done.stderr and "Traceback" not in done.stderr


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
    # A `str` input there is Exosphere's single value: the last branch's (in map-index order).
    (tmp_path / "s.yaml").write_text(JOIN_TEMPLATE.format(ns=ns).replace("chunks:", "chunk:"))
    (tmp_path / "nodes.rt").write_text(JOIN_NODES.replace("NS", ns).replace("chunks: list[str]", "chunk: str"))
    done = rtc("run", "s.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [line for line in done.stdout.splitlines() if "joined" in line] == ['[join] joined {"chunk": "bb"}'], done.stdout


# Issue 20, item 4: the shape of exosphereprojects' batch document graph (written here from Exosphere's docs, not copied):
# a fanout node (ChunkingNode) whose branch holds a second fanout node (SplitResultsNode), and steps after it that read
# values of two steps of the inner branch (ValidationNode's and SplitResultsNode's). Every field is a `str`.
BATCH_NODES = '''
import json

from exospherehost import BaseNode
from pydantic import BaseModel


class CSVInputNode(BaseNode):
    class Inputs(BaseModel):
        csv_file_path: str

    class Outputs(BaseModel):
        file_paths: str

    async def execute(self) -> Outputs:
        return self.Outputs(file_paths=json.dumps(self.inputs.csv_file_path.split(";")))


class ChunkingNode(BaseNode):
    class Inputs(BaseModel):
        file_paths: str
        chunk_size: str

    class Outputs(BaseModel):
        chunk: str

    async def execute(self) -> list[Outputs]:
        paths, size = json.loads(self.inputs.file_paths), int(self.inputs.chunk_size)
        return [self.Outputs(chunk=json.dumps(paths[i:i + size])) for i in range(0, len(paths), size)]


class FileParsingNode(BaseNode):
    class Inputs(BaseModel):
        chunk: str

    class Outputs(BaseModel):
        parsed_files: str
        task_id: str

    async def execute(self) -> Outputs:
        return self.Outputs(parsed_files=self.inputs.chunk, task_id="task-" + "+".join(json.loads(self.inputs.chunk)))


class BatchRequestNode(BaseNode):
    class Inputs(BaseModel):
        parsed_files: str
        task_id: str
        prompt: str

    class Outputs(BaseModel):
        task_id: str
        batch_info: str

    async def execute(self) -> Outputs:
        info = {"task": self.inputs.task_id, "files": json.loads(self.inputs.parsed_files)}
        return self.Outputs(task_id=self.inputs.task_id, batch_info=json.dumps(info))


class PollingNode(BaseNode):
    class Inputs(BaseModel):
        task_id: str
        batch_info: str

    class Outputs(BaseModel):
        task_result: str
        batch_info: str

    async def execute(self) -> Outputs:
        files = json.loads(self.inputs.batch_info)["files"]
        return self.Outputs(task_result=json.dumps([f.upper() for f in files]), batch_info=self.inputs.batch_info)


class SplitResultsNode(BaseNode):
    class Inputs(BaseModel):
        task_result: str
        batch_info: str

    class Outputs(BaseModel):
        individual_result: str
        batch_info: str

    async def execute(self) -> list[Outputs]:
        results = json.loads(self.inputs.task_result)
        if not results:
            return []
        return [self.Outputs(individual_result=r, batch_info=self.inputs.batch_info) for r in results]


class ValidationNode(BaseNode):
    class Inputs(BaseModel):
        individual_result: str
        batch_info: str

    class Outputs(BaseModel):
        validated_data: str
        validation_status: str

    async def execute(self) -> Outputs:
        return self.Outputs(validated_data=self.inputs.individual_result + "!", validation_status="valid")


class DatabaseWriteNode(BaseNode):
    class Inputs(BaseModel):
        validated_data: str
        batch_info: str

    class Outputs(BaseModel):
        write_status: str

    async def execute(self) -> Outputs:
        return self.Outputs(write_status=self.inputs.validated_data + " in " + json.loads(self.inputs.batch_info)["task"])
'''

BATCH_GRAPH = """\
nodes:
  - {node_name: CSVInputNode, namespace: Batch, identifier: csv_input,
     inputs: {csv_file_path: "${{ store.csv_file_path }}"}, next_nodes: [chunking]}
  - {node_name: ChunkingNode, namespace: Batch, identifier: chunking,
     inputs: {file_paths: "${{ csv_input.outputs.file_paths }}", chunk_size: "${{ store.chunk_size }}"}, next_nodes: [file_parsing]}
  - {node_name: FileParsingNode, namespace: Batch, identifier: file_parsing,
     inputs: {chunk: "${{ chunking.outputs.chunk }}"}, next_nodes: [batch_request]}
  - {node_name: BatchRequestNode, namespace: Batch, identifier: batch_request,
     inputs: {parsed_files: "${{ file_parsing.outputs.parsed_files }}", task_id: "${{ file_parsing.outputs.task_id }}",
              prompt: "${{ store.prompt }}"}, next_nodes: [polling]}
  - {node_name: PollingNode, namespace: Batch, identifier: polling,
     inputs: {task_id: "${{ batch_request.outputs.task_id }}", batch_info: "${{ batch_request.outputs.batch_info }}"},
     next_nodes: [split_results]}
  - {node_name: SplitResultsNode, namespace: Batch, identifier: split_results,
     inputs: {task_result: "${{ polling.outputs.task_result }}", batch_info: "${{ polling.outputs.batch_info }}"},
     next_nodes: [validation]}
  - {node_name: ValidationNode, namespace: Batch, identifier: validation,
     inputs: {individual_result: "${{ split_results.outputs.individual_result }}",
              batch_info: "${{ split_results.outputs.batch_info }}"}, next_nodes: [database_write]}
  - {node_name: DatabaseWriteNode, namespace: Batch, identifier: database_write,
     inputs: {validated_data: "${{ validation.outputs.validated_data }}", batch_info: "${{ split_results.outputs.batch_info }}"},
     next_nodes: []}
store_config:
  required_keys: [csv_file_path, chunk_size, prompt]
  default_values: {csv_file_path: "a.pdf;b.pdf;c.pdf", chunk_size: "2", prompt: "Extract key information"}
"""


def test_a_fan_out_inside_a_fan_out_runs_once_per_inner_output(tmp_path, docker_client):
    """Exosphere runs every node after SplitResultsNode once per result of every chunk, with that result's fields and
    its ancestors' (the chunk's batch_info). rtc flattens the inner fan-out (each chunk's results concatenated, in
    chunk order) and zips the lists of ValidationNode and SplitResultsNode, which pair up element by element."""
    from rtc.compiler import compile_file
    from rtc.integrations.local.runner import format_failures, run_graph

    (tmp_path / "nodes").mkdir()
    (tmp_path / "nodes" / "batch_nodes.py").write_text(BATCH_NODES, encoding="utf-8")
    names = ["CSVInputNode", "ChunkingNode", "FileParsingNode", "BatchRequestNode", "PollingNode", "SplitResultsNode",
             "ValidationNode", "DatabaseWriteNode"]
    (tmp_path / "nodes.rt").write_text(
        'namespace Batch\nenv py {\n  base = "python:3.11-slim"\n  copy "./nodes" -> "/app"\n}\n'
        + "".join(f'node {n} {{ env = py  python = "batch_nodes:{n}" }}\n' for n in names), encoding="utf-8")
    (tmp_path / "batch.yaml").write_text(BATCH_GRAPH, encoding="utf-8")
    pipeline = compile_file(str(tmp_path / "batch.yaml"))
    steps = {s.id: s for s in pipeline.graphs["batch"].steps}
    assert [s for s in steps if steps[s].mapped] == [
        "file_parsing", "batch_request", "polling", "split_results", "validation", "database_write"]
    result = run_graph(pipeline, "batch", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["database_write"].outputs == {"write_status": [
        "A.PDF! in task-a.pdf+b.pdf", "B.PDF! in task-a.pdf+b.pdf", "C.PDF! in task-c.pdf"]}
