"""One table of step behaviours, and what every target must make of each row (issue 18).

Each row is a small pipeline (graph `g`) and the outcome a user relies on: how the
run ends, how its plain steps end, and what its steps left in a state folder
mounted at /state (sinks write the inputs they received to `/state/<step>.json`,
counters append a line per container to `/state/runs-<step>`). The same rows run
under `rtc run` (tests/docker/test_conformance_local.py), `airflow dags test`
(tests/airflow/test_conformance_airflow.py) and Prefect flow runs
(tests/prefect/test_conformance_prefect.py): a row added here runs on all three with no
new code. docs/runtime.md states the rules the rows hold.

Step statuses, as every target can tell them: "succeeded"; "failed"; "skipped"
(it started no container: it pruned itself, or a step above it failed or was
pruned). Fanned-out steps are judged by what the step below them received.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

IMAGE = "rtc-test/busybox:1"
SINK = 'printf "%s" "$RTC_INPUTS" > "/state/$RTC_STEP.json"'
COUNT = 'echo x >> "/state/runs-$RTC_STEP"'
PRUNE = "echo '{\"signal\": \"prune\"}' > \"$RTC_SIGNAL_FILE\""
NUMBER = 'v=$(printf "%s" "$RTC_INPUTS" | tr -dc 0-9)'


def node(name: str, script: str, inputs: str = "", outputs: str = "", extra: str = "") -> str:
    ports = (f"  inputs {{ {inputs} }}\n" if inputs else "") + (f"  outputs {{ {outputs} }}\n" if outputs else "")
    return f'node {name} {{\n  env = bb\n{ports}{extra}  command = ["sh", "-c", """{script}\n"""]\n}}\n'


def sink(name: str, inputs: str) -> str:
    return node(name, SINK, inputs=inputs)


def writes(json_text: str) -> str:
    """A script that writes `json_text` as its outputs file."""
    return f"printf '%s' '{json_text}' > \"$RTC_OUTPUTS_FILE\""


@dataclass
class Row:
    name: str
    nodes: list[str]
    graph: str
    run: str = "succeeded"  # how the (last) run ends
    steps: dict[str, str] = field(default_factory=dict)  # plain step -> succeeded | failed | skipped
    files: dict[str, object] = field(default_factory=dict)  # state file -> JSON value (.json) or text; None: absent
    runs: int = 1  # the graph runs this many times, one state folder
    secrets: dict[str, str] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        return "conf_" + self.name

    def source(self, state: Path) -> str:
        return (f"namespace {self.namespace}\n"
                f'env bb {{\n  image = "{IMAGE}"\n  mount "{state}" -> "/state"\n}}\n'
                + "".join(self.nodes) + f"graph g {{\n{self.graph}\n}}\n")


@dataclass
class Outcome:
    """What one target made of a row."""

    run: str
    steps: dict[str, str]
    files: dict[str, object]


def state_files(state: Path) -> dict[str, object]:
    out = {}
    for path in sorted(state.iterdir()):
        text = path.read_text(encoding="utf-8")
        out[path.name] = json.loads(text) if path.suffix == ".json" else text
    return out


def check(row: Row, outcome: Outcome, target: str) -> None:
    where = f"row {row.name!r} under {target}"
    assert outcome.run == row.run, f"{where}: the run {outcome.run}, expected {row.run}"
    for step, status in row.steps.items():
        assert outcome.steps.get(step) == status, f"{where}: step {step!r} {outcome.steps.get(step)}, expected {status}"
    for name, value in row.files.items():
        assert outcome.files.get(name) == value, f"{where}: /state/{name} is {outcome.files.get(name)!r}, expected {value!r}"


MAKE_N = node("Make", writes('{"n": 3, "s": "\u00e9"}'), outputs="n: int, s: str")
SINK_N = sink("Sink", "n: int")
LIST = lambda xs: node("Make", writes(json.dumps({"xs": xs})), outputs="xs: list[int]")  # noqa: E731
DOUBLE = node("Double", f'{NUMBER}; printf \'{{"y": %d}}\' $((v * 2)) > "$RTC_OUTPUTS_FILE"',
              inputs="x: int", outputs="y: int")
EVEN_DOUBLE = node("Double", f'{NUMBER}; if [ $((v % 2)) -eq 1 ]; then {PRUNE}; '
                             f'else printf \'{{"y": %d}}\' $((v * 2)) > "$RTC_OUTPUTS_FILE"; fi',
                   inputs="x: int", outputs="y: int")
SINK_YS = sink("Sink", "ys: list[int]")
FAN = "  make = Make()\n  double = Double(x = each(make.xs))\n  sink = Sink(ys = double.y)"


PAIR = node("Pair", f'{NUMBER}; printf \'{{"z": %d}}\' "$v" > "$RTC_OUTPUTS_FILE"', inputs="a: int, b: int", outputs="z: int")
SINK_ZS = sink("Sink", "zs: list[int]")
PAIRED = ("  make = Make()\n  double = Double(x = each(make.xs))\n  pair = Pair(a = each(make.xs), b = each(double.y))\n"
          "  sink = Sink(zs = pair.z)")


def failing(script: str, outputs: str = "n: int", extra: str = "") -> list[str]:
    """A step `bad` running `script`, a step below it, and a join `after all_done` that records what it got."""
    return [node("Bad", script, outputs=outputs, extra=extra), sink("Below", "n: int"), sink("Join", "n: int")]


FAILING_GRAPH = "  bad = Bad()\n  below = Below(n = bad.n)\n  join = Join(n = bad.n) after all_done"
FAILED = dict(run="failed", steps={"bad": "failed", "below": "skipped", "join": "succeeded"},
              files={"join.json": {"n": None}, "below.json": None})

ROWS = [
    Row("outputs_reach_the_next_step", [MAKE_N, sink("Sink", "n: int, s: str")],
        "  make = Make()\n  sink = Sink(n = make.n, s = make.s)",
        steps={"make": "succeeded", "sink": "succeeded"}, files={"sink.json": {"n": 3, "s": "\u00e9"}}),
    Row("an_empty_outputs_file_is_no_outputs", [node("Quiet", ': > "$RTC_OUTPUTS_FILE"'), sink("Sink", "m: int")],
        "  quiet = Quiet()\n  sink = Sink(m = 1) after [quiet]",
        steps={"quiet": "succeeded", "sink": "succeeded"}, files={"sink.json": {"m": 1}}),
    Row("an_empty_outputs_file_fails_a_step_with_outputs", failing(': > "$RTC_OUTPUTS_FILE"'), FAILING_GRAPH, **FAILED),
    Row("no_outputs_file_fails_a_step_with_outputs", failing("true"), FAILING_GRAPH, **FAILED),
    Row("an_output_of_the_wrong_type_fails", failing(writes('{"n": "three"}')), FAILING_GRAPH, **FAILED),
    Row("an_undeclared_output_fails", failing(writes('{"n": 1, "extra": 2}')), FAILING_GRAPH, **FAILED),
    Row("nan_is_no_json_number", failing(writes('{"n": NaN}')), FAILING_GRAPH, **FAILED),
    Row("outputs_nested_past_64_levels_fail",
        failing("printf '{\"n\": ' > \"$RTC_OUTPUTS_FILE\"; i=0; while [ $i -lt 100 ]; do printf '[' >> \"$RTC_OUTPUTS_FILE\"; "
                "i=$((i + 1)); done; i=0; while [ $i -lt 100 ]; do printf ']' >> \"$RTC_OUTPUTS_FILE\"; i=$((i + 1)); done; "
                "printf '}' >> \"$RTC_OUTPUTS_FILE\"", outputs="n: json"),
        FAILING_GRAPH.replace("Join(n = bad.n)", "Join(n = bad.n)"), **FAILED),
    Row("a_list_from_a_plain_node_fails", failing(writes('[{"n": 1}]')), FAILING_GRAPH, **FAILED),
    Row("a_non_zero_exit_fails_and_all_done_joins_receive_null", failing("exit 3"), FAILING_GRAPH, **FAILED),
    Row("a_symlinked_outputs_file_fails", failing('ln -s /etc/passwd "$RTC_OUTPUTS_FILE"'), FAILING_GRAPH, **FAILED),
    Row("a_fifo_outputs_file_fails", failing('mkfifo "$RTC_OUTPUTS_FILE"'), FAILING_GRAPH, **FAILED),
    Row("outputs_over_64_mib_fail",
        failing("printf '{\"n\": \"' > \"$RTC_OUTPUTS_FILE\"; head -c 68000000 /dev/zero | tr '\\000' a >> \"$RTC_OUTPUTS_FILE\"; "
                "printf '\"}' >> \"$RTC_OUTPUTS_FILE\"", outputs="n: str"),
        FAILING_GRAPH.replace("Below(n = bad.n)", "Below(n = 1) after [bad]").replace("Join(n = bad.n)", "Join(n = 1)"),
        run="failed", steps={"bad": "failed", "below": "skipped", "join": "succeeded"},
        files={"join.json": {"n": 1}, "below.json": None}),
    Row("a_bad_signal_file_fails", failing("echo '{\"signal\": \"stop\"}' > \"$RTC_SIGNAL_FILE\""), FAILING_GRAPH, **FAILED),
    Row("a_timeout_fails_the_step", failing("sleep 30", extra="  timeout = 2s\n"), FAILING_GRAPH, **FAILED),
    Row("a_retry_runs_the_step_again",
        [node("Flaky", f'{COUNT}; [ "$(wc -l < /state/runs-flaky)" -ge 2 ] || exit 1; ' + writes('{"n": 7}'),
              outputs="n: int", extra="  retries = 1\n"), SINK_N],
        "  flaky = Flaky()\n  sink = Sink(n = flaky.n)",
        steps={"flaky": "succeeded"}, files={"runs-flaky": "x\nx\n", "sink.json": {"n": 7}}),
    Row("a_requeue_runs_the_step_again_not_as_a_retry",
        [node("Poll", f'{COUNT}; if [ "$(wc -l < /state/runs-poll)" -lt 2 ]; then '
                      "echo '{\"signal\": \"requeue\", \"delay_seconds\": 1}' > \"$RTC_SIGNAL_FILE\"; else "
                      + writes('{"n": 5}') + "; fi", outputs="n: int"), SINK_N],
        "  poll = Poll()\n  sink = Sink(n = poll.n)",
        steps={"poll": "succeeded"}, files={"runs-poll": "x\nx\n", "sink.json": {"n": 5}}),
    Row("a_fan_out_over_nothing_hands_on_an_empty_list", [LIST([]), DOUBLE, SINK_YS], FAN,
        steps={"sink": "succeeded"}, files={"sink.json": {"ys": []}}),
    Row("a_fan_out_over_one_element", [LIST([4]), DOUBLE, SINK_YS], FAN, files={"sink.json": {"ys": [8]}}),
    Row("a_fan_out_over_many_elements_keeps_their_order", [LIST([1, 2, 3, 4, 5]), DOUBLE, SINK_YS], FAN,
        files={"sink.json": {"ys": [2, 4, 6, 8, 10]}}),
    Row("pruned_elements_drop_out_of_the_list", [LIST([1, 2, 3, 4]), EVEN_DOUBLE, SINK_YS], FAN,
        files={"sink.json": {"ys": [4, 8]}}),
    Row("when_every_element_prunes_itself_the_step_below_gets_an_empty_list", [LIST([1, 3]), EVEN_DOUBLE, SINK_YS], FAN,
        steps={"sink": "succeeded"}, files={"sink.json": {"ys": []}}),
    # last(...) reads one element of a list: of a mapped step's, the last one in map-index order that was not
    # pruned (an Exosphere uniting node's `str` field, which Exosphere fills from the branch that finished last).
    Row("last_reads_the_last_element_not_pruned_in_map_order",
        [LIST([2, 1, 4, 3]), EVEN_DOUBLE, sink("Sink", "y: int"),
         node("Split", writes('[{"n": 1}, {"n": 2}, {"n": 3}]'), outputs="n: int", extra="  fanout = true\n"),
         sink("Pick", "n: int"), sink("Param", "p: str")],
        "  params { names: list[str] = [\"a\", \"b\"] }\n  make = Make()\n  double = Double(x = each(make.xs))\n"
        "  sink = Sink(y = last(double.y))\n  split = Split()\n  pick = Pick(n = last(split.n))\n"
        "  param = Param(p = last(params.names))",
        steps={"sink": "succeeded", "pick": "succeeded"},
        files={"sink.json": {"y": 8}, "pick.json": {"n": 3}, "param.json": {"p": "b"}}),
    Row("last_of_an_empty_list_fails_the_step", [LIST([1, 3]), EVEN_DOUBLE, sink("Sink", "y: int")],
        "  make = Make()\n  double = Double(x = each(make.xs))\n  sink = Sink(y = last(double.y))",
        run="failed", steps={"sink": "failed"}, files={"sink.json": None}),
    Row("a_fanout_node_hands_on_one_list_per_output",
        [node("Split", writes('[{"n": 1}, {"n": 2}, {"n": 3}]'), outputs="n: int", extra="  fanout = true\n"),
         sink("Sink", "ns: list[int]")],
        "  split = Split()\n  sink = Sink(ns = split.n)", files={"sink.json": {"ns": [1, 2, 3]}}),
    # A fanout node fanned out: each element's list, concatenated in map-index order (Exosphere's fan-out inside a
    # fan-out, flattened); a step can fan out again over that list.
    Row("a_fanned_out_fanout_node_concatenates_its_lists",
        [LIST([1, 0, 2]), node("Split", f'{NUMBER}; i=0; printf "[" > "$RTC_OUTPUTS_FILE"; while [ $i -lt $v ]; do '
                                        '[ $i -gt 0 ] && printf "," >> "$RTC_OUTPUTS_FILE"; '
                                        'printf \'{"n": %d}\' $((v * 10 + i)) >> "$RTC_OUTPUTS_FILE"; i=$((i + 1)); done; '
                                        'printf "]" >> "$RTC_OUTPUTS_FILE"',
                               inputs="x: int", outputs="n: int", extra="  fanout = true\n"),
         node("Double", f'{NUMBER}; printf \'{{"y": %d}}\' $((v * 2)) > "$RTC_OUTPUTS_FILE"', inputs="n: int", outputs="y: int"),
         sink("Sink", "ns: list[int], ys: list[int]")],
        "  make = Make()\n  split = Split(x = each(make.xs))\n  double = Double(n = each(split.n))\n"
        "  sink = Sink(ns = split.n, ys = double.y)",
        files={"sink.json": {"ns": [10, 20, 21], "ys": [20, 40, 42]}}),
    # each() over steps each mapped over the one before: their lists pair up element by element; when an element was
    # pruned in between, the lengths differ and the step fails, saying so (it never pairs the wrong elements).
    Row("each_over_steps_mapped_one_after_another_pairs_their_elements", [LIST([1, 2, 3]), DOUBLE, PAIR, SINK_ZS],
        PAIRED, files={"sink.json": {"zs": [12, 24, 36]}}),
    Row("each_over_lists_a_pruned_element_made_unequal_fails", [LIST([1, 2, 3, 4]), EVEN_DOUBLE, PAIR, SINK_ZS],
        PAIRED, run="failed", steps={"sink": "skipped"}, files={"sink.json": None}),
    Row("a_pruned_step_skips_what_is_below_but_not_an_all_done_join",
        [node("Gate", PRUNE + "; " + writes('{"n": 1}'), outputs="n: int"), sink("Below", "n: int"),
         sink("Later", "m: int"), sink("Join", "n: int")],
        "  gate = Gate()\n  below = Below(n = gate.n)\n  later = Later(m = 2) after [below]\n"
        "  join = Join(n = gate.n) after all_done",
        steps={"gate": "skipped", "below": "skipped", "later": "skipped", "join": "succeeded"},
        files={"join.json": {"n": None}, "below.json": None, "later.json": None}),
    Row("a_cached_step_runs_once_for_the_same_work",
        [node("Count", f'{COUNT}; echo conf_cache; ' + writes('{"n": 1}'), outputs="n: int", extra="  cache = true\n"),
         SINK_N],
        "  count = Count()\n  sink = Sink(n = count.n)", runs=2,
        files={"runs-count": "x\n", "sink.json": {"n": 1}}),
    Row("a_secret_reaches_its_step",
        [node("Use", 'printf \'{"len": %d}\' "${#CONF_TOKEN}" > "$RTC_OUTPUTS_FILE"', outputs="len: int",
              extra="  secrets { CONF_TOKEN }\n"), sink("Sink", "len: int")],
        "  use = Use()\n  sink = Sink(len = use.len)", secrets={"CONF_TOKEN": "s3cret!"},
        files={"sink.json": {"len": 7}}),
]

# ---------------------------------------------------------------- files and folders between steps (issue 19)
# The same rows run again with an S3 store (SeaweedFS) under every target; the default store is each target's
# folder. A 50 MB file of a known content, so that every target's digest of it can be compared with one value.

FIFTY_MB = 50 * 1024 * 1024
FIFTY_MB_OF_AS = hashlib.sha256(b"a" * FIFTY_MB).hexdigest()
MAKE_FILES = node("Make", 'head -c 52428800 /dev/zero | tr "\\000" a > "$DATA_PATH"; mkdir -p "$TREE_PATH/sub"; '
                          'echo one > "$TREE_PATH/a.txt"; echo two > "$TREE_PATH/sub/b.txt"; ' + writes('{"n": 2}'),
                  outputs="data: file, tree: dir, n: int")
USE_FILES = node("Use", 'sha256sum "$DATA_PATH" | cut -c1-64 > /state/use-data; '
                        'cat "$TREE_PATH/a.txt" "$TREE_PATH/sub/b.txt" > /state/use-tree; ' + SINK,
                 inputs="data: file, tree: dir, n: int")


def failing_artifact(script: str, kind: str) -> list[str]:
    """`failing` for an artifact output `n` of `kind`: the step below and the join read it as one."""
    return [node("Bad", script, outputs=f"n: {kind}"), sink("Below", f"n: {kind}"), sink("Join", f"n: {kind}")]


ARTIFACT_ROWS = [
    Row("a_file_and_a_folder_reach_the_next_step_intact", [MAKE_FILES, USE_FILES],
        "  make = Make()\n  use = Use(data = make.data, tree = make.tree, n = make.n)",
        steps={"make": "succeeded", "use": "succeeded"},
        files={"use-data": FIFTY_MB_OF_AS + "\n", "use-tree": "one\ntwo\n",
               "use.json": {"data": "/rtc/in/data", "tree": "/rtc/in/tree", "n": 2}}),
    Row("a_symlink_left_at_a_file_output_fails", failing_artifact('ln -s /etc/passwd "$N_PATH"', "file"),
        FAILING_GRAPH, **FAILED),
    Row("nothing_left_at_a_file_output_fails", failing_artifact("true", "file"), FAILING_GRAPH, **FAILED),
    Row("a_fifo_in_a_folder_output_fails", failing_artifact('mkdir -p "$N_PATH"; mkfifo "$N_PATH/p"', "dir"),
        FAILING_GRAPH, **FAILED),
    Row("a_device_in_a_folder_output_fails", failing_artifact('mkdir -p "$N_PATH"; mknod "$N_PATH/d" c 1 3', "dir"),
        FAILING_GRAPH, **FAILED),
    Row("a_cached_step_with_an_unchanged_input_file_runs_once",
        [node("Make", f'{COUNT}; echo same > "$DATA_PATH"', outputs="data: file"),
         node("Use", f'{COUNT}; cat "$DATA_PATH" > /state/got', inputs="data: file", extra="  cache = true\n")],
        "  make = Make()\n  use = Use(data = make.data)", runs=2,
        files={"runs-make": "x\nx\n", "runs-use": "x\n", "got": "same\n"}),
    Row("files_from_a_fan_out_reach_the_step_below_as_a_list",
        [LIST([1, 2, 3]), node("Each", f'{NUMBER}; printf "%s" "$v" > "$F_PATH"', inputs="x: int", outputs="f: file"),
         node("Cat", 'cat "$FS_PATH/0" "$FS_PATH/1" "$FS_PATH/2" > /state/cat; ls "$FS_PATH" > /state/ls',
              inputs="fs: list[file]"),
         node("One", 'cat "$F_PATH" > /state/one', inputs="f: file")],
        "  make = Make()\n  each = Each(x = each(make.xs))\n  cat = Cat(fs = each.f)\n  one = One(f = last(each.f))",
        files={"cat": "123", "ls": "0\n1\n2\n", "one": "3"}),
    # A `file` param is a path on the host that runs the step, relative to the pipeline file's folder: here the
    # pipeline file itself, which every target writes beside its state folder.
    Row("a_file_param_is_a_host_path_stored_for_the_step",
        [node("Head", 'head -c 9 "$DATA_PATH" > /state/head', inputs="data: file")],
        '  params { data: file = "pipeline.rt" }\n  head = Head(data = params.data)', files={"head": "namespace"}),
]
ROWS += ARTIFACT_ROWS
