"""Small IR pipelines built directly (ready images only), for the Prefect tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from rtc.compiler.ir import (
    Codespec, Environment, Graph, LiteralValue, Mount, Node, OutputRef, Param, ParamRef, Pipeline, Port, RetryPolicy,
    Run, Step, StepInput, WorkerSpec,
)

BUSYBOX = Environment(name="bb", image="busybox:latest")
PYTHON = Environment(name="py", image="rtc-test/python:1")


def make_state_dir(tmp_path):
    """A folder steps can write into whatever user their container runs as (mounted at /state)."""
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    return state


def labelled(docker_client, namespace):
    """The containers of a pipeline that are still there (must be none after a flow run)."""
    return docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={namespace}"})


def graph_pipeline(namespace, nodes, steps, params=(), envs=(BUSYBOX,), source="/tmp/tests.rt", **graph):
    order = [s.id for s in steps]
    g = Graph(name="g", params=list(params), steps=list(steps), order=order, **graph)
    return Pipeline(namespace=namespace, source=source, environments={e.name: e for e in envs},
                    nodes={n.name: n for n in nodes}, graphs={g.name: g})


def fanout_pipeline(ns="FanT"):
    """gen -> up (mapped over gen.items) -> join (the mapped outputs arrive as a list)."""
    nodes = [
        Node(name="Gen", env="bb", outputs=[Port(name="items", type="list[str]")],
             command=["sh", "-c", 'echo \'{"items": ["a","b","c"]}\' > "$RTC_OUTPUTS_FILE"']),
        Node(name="Up", env="py", inputs=[Port(name="x", type="str")], outputs=[Port(name="y", type="str")],
             command=["python3", "-c", "import json,os; x=json.loads(os.environ['RTC_INPUTS'])['x']; "
                      "json.dump({'y': x.upper() + os.environ['RTC_MAP_INDEX']}, open(os.environ['RTC_OUTPUTS_FILE'],'w'))"]),
        Node(name="Join", env="bb", inputs=[Port(name="ys", type="list[str]"), Port(name="tag", type="str")],
             outputs=[Port(name="all", type="json")],
             command=["sh", "-c", 'echo "{\\"all\\": $RTC_INPUTS}" > "$RTC_OUTPUTS_FILE"']),
    ]
    steps = [
        Step(id="gen", node="Gen"),
        Step(id="up", node="Up", mapped=True, upstream=["gen"],
             inputs=[StepInput(name="x", binding=OutputRef(step="gen", output="items"), each=True, type="str")]),
        Step(id="join", node="Join", upstream=["up"],
             inputs=[StepInput(name="ys", binding=OutputRef(step="up", output="y"), type="list[str]"),
                     StepInput(name="tag", binding=ParamRef(param="tag"), type="str")]),
    ]
    params = [Param(name="tag", type="str", default="v1", required=False)]
    return graph_pipeline(ns, nodes, steps, params, envs=(BUSYBOX, PYTHON), workers=2)


def retry_pipeline(state_dir, ns="RetryT"):
    """A step that fails on its first attempt (it leaves a marker in a mounted folder) and then succeeds."""
    env = Environment(name="bb", image="busybox:latest", mounts=[Mount(host_path=str(state_dir), container_path="/state")])
    script = ('if [ -f /state/tried ]; then echo \'{"attempts": 2}\' > "$RTC_OUTPUTS_FILE"; '
              'else touch /state/tried; echo first attempt fails; exit 3; fi')
    node = Node(name="Flaky", env="bb", outputs=[Port(name="attempts", type="int")], command=["sh", "-c", script],
                retry=RetryPolicy(max_retries=2, strategy="fixed", delay_seconds=0.5))
    return graph_pipeline(ns, [node], [Step(id="flaky", node="Flaky")], envs=(env,))


def contract_pipeline(state_dir, ns="ContractT"):
    """Two steps that break the contract (a wrong type, an undeclared key), each counting its containers.

    Both have retries: a broken contract must still run exactly one container.
    """
    env = Environment(name="bb", image="busybox:latest", mounts=[Mount(host_path=str(state_dir), container_path="/state")])
    retry = RetryPolicy(max_retries=2, strategy="fixed", delay_seconds=0)

    def node(name, outputs_json):
        script = f'echo run >> /state/{name}; echo \'{outputs_json}\' > "$RTC_OUTPUTS_FILE"'
        return Node(name=name, env="bb", outputs=[Port(name="n", type="int")], command=["sh", "-c", script], retry=retry)

    nodes = [node("wrongtype", '{"n": "3"}'), node("extrakey", '{"n": 3, "x": 1}')]
    steps = [Step(id="wrongtype", node="wrongtype"), Step(id="extrakey", node="extrakey")]
    return graph_pipeline(ns, nodes, steps, envs=(env,))


def all_done_pipeline(state_dir, ns="AllDoneT"):
    """good and bad (exits 1) -> join (after all_done, records its inputs); bad -> after (all_success)."""
    env = Environment(name="bb", image="busybox:latest", mounts=[Mount(host_path=str(state_dir), container_path="/state")])
    nodes = [
        Node(name="Good", env="bb", outputs=[Port(name="v", type="int")],
             command=["sh", "-c", 'echo \'{"v": 1}\' > "$RTC_OUTPUTS_FILE"']),
        Node(name="Bad", env="bb", outputs=[Port(name="v", type="int")], command=["sh", "-c", "echo broken; exit 1"]),
        Node(name="Join", env="bb", inputs=[Port(name="a", type="int"), Port(name="b", type="int")],
             outputs=[Port(name="seen", type="json")],
             command=["sh", "-c", ('echo "$RTC_INPUTS" > /state/join.json; '
                                   'echo "{\\"seen\\": $RTC_INPUTS}" > "$RTC_OUTPUTS_FILE"')]),
        Node(name="After", env="bb", inputs=[Port(name="b", type="int")], command=["sh", "-c", "touch /state/after"]),
    ]
    steps = [
        Step(id="good", node="Good"),
        Step(id="bad", node="Bad"),
        Step(id="join", node="Join", upstream=["bad", "good"], trigger="all_done",
             inputs=[StepInput(name="a", binding=OutputRef(step="good", output="v"), type="int"),
                     StepInput(name="b", binding=OutputRef(step="bad", output="v"), type="int")]),
        Step(id="after", node="After", upstream=["bad"],
             inputs=[StepInput(name="b", binding=OutputRef(step="bad", output="v"), type="int")]),
    ]
    return graph_pipeline(ns, nodes, steps, envs=(env,))


def worker_pipeline(ns="WorkerT"):
    """A Tyger run with a worker section: two busybox httpd workers, a job that asks each of them."""
    serve = 'mkdir -p /www && echo "pong from $REPLICA_INDEX" > /www/index.html && exec httpd -f -p 8080 -h /www'
    ask = ('for a in $(echo "$TYGER_HTTP_WORKER_ENDPOINT_ADDRESSES" | tr -d \'[]"\' | tr , " "); do '
           'wget -qO- "http://$a/"; done > "$OUTPUT_PIPE"; cat "$INPUT_PIPE" >> "$OUTPUT_PIPE"; '
           'echo "$TYGER_WORKER_NODES" >&2')
    worker = Codespec(name="web", kind="worker", image="busybox:latest", command=["sh", "-c"], args=[serve],
                      endpoints={"http": 8080})
    job = Codespec(name="asker", image="busybox:latest", inputs=["input"], outputs=["output"],
                   command=["sh", "-c", ask])
    run = Run(name="dist", codespec="asker", worker=WorkerSpec(codespec="web", replicas=2), timeout_seconds=60)
    return Pipeline(namespace=ns, source="/tmp/tests.rt", codespecs={"web": worker, "asker": job}, runs={"dist": run})


def timeout_pipeline(ns="TimeoutT"):
    node = Node(name="Sleepy", env="bb", command=["sleep", "300"], timeout_seconds=2)
    return graph_pipeline(ns, [node], [Step(id="sleepy", node="Sleepy")])


def secret_pipeline(secret, ns="SecretT"):
    node = Node(name="Peek", env="py", secrets=[secret], outputs=[Port(name="value", type="str")],
                command=["python3", "-c", f"import json,os; json.dump({{'value': os.environ[{secret!r}]}}, "
                         "open(os.environ['RTC_OUTPUTS_FILE'],'w'))"])
    return graph_pipeline(ns, [node], [Step(id="peek", node="Peek")], envs=(PYTHON,))


HOSTILE = [
    "quote ' and \" and ''' and \"\"\"",
    "back\\slash \\n \\x00 \\'",
    "new\nline\r\n",
    "{{ jinja }} {% if x %} {# c #}",
    "__import__('os').system('touch /tmp/pwned')",
    "'); __import__('os').system('x') #",
    "${HOME} $(id) `id`",
]


def hostile_pipeline():
    """Every user string of the IR is hostile; the container echoes what it received."""
    h = "\n".join(HOSTILE)
    env = Environment(name="e'\"\n" + h, image="rtc-test/python:1", environ={"HOSTILE": h, "PLAIN": "x"})
    echo = ("import json,os,sys; json.dump({'inputs': json.loads(os.environ['RTC_INPUTS']), "
            "'env': os.environ['HOSTILE'], 'argv': sys.argv[1:]}, open(os.environ['RTC_OUTPUTS_FILE'],'w'))")
    node = Node(name="N'\"" + h, env=env.name, inputs=[Port(name="lit", type="str"), Port(name="par", type="str")],
                outputs=[Port(name="inputs", type="json"), Port(name="env", type="str"), Port(name="argv", type="list[str]")],
                command=["python3", "-c", echo, *HOSTILE])
    step = Step(id="s'\"" + h, node=node.name, inputs=[
        StepInput(name="lit", binding=LiteralValue(value=h), type="str"),
        StepInput(name="par", binding=ParamRef(param="p'\"\n" + h), type="str"),
    ])
    g = Graph(name="g'\"/%&<>\n" + h, params=[Param(name="p'\"\n" + h, type="str", default=h, required=False)],
              steps=[step], order=[step.id], tags=HOSTILE)
    return Pipeline(namespace="ns'\"" + h, source="/tmp/x'\"\n" + h + ".rt", environments={env.name: env},
                    nodes={node.name: node}, graphs={g.name: g})


def flow_file(folder: Path, name: str) -> Path:
    """The module of graph `name` (or `run__<run>`) in a compiled folder: `<namespace>__<name>.py`."""
    [path] = Path(folder).glob(f"*__{name}.py")
    return path


def load_module(path: Path):
    """Import a generated flow module from its file, under a unique name."""
    name = f"rtc_generated_{path.stem}_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _state_env(state_dir):
    return Environment(name="bb", image="busybox:latest", mounts=[Mount(host_path=str(state_dir), container_path="/state")])


def _sh(name, script, inputs=(), outputs=(), **node):
    return Node(name=name, env="bb", inputs=[Port(name=n, type=t) for n, t in inputs],
                outputs=[Port(name=n, type=t) for n, t in outputs], command=["sh", "-c", script], **node)


def _out(step, output, name=None, type="int"):
    return StepInput(name=name or output, binding=OutputRef(step=step, output=output), type=type)


def prune_pipeline(state_dir, ns="PruneT"):
    """src prunes (and writes outputs, which lose) -> down (data) -> later (after only); other -> join (all_done, src too);
    gen -> each (mapped, element 1 prunes) -> collect (gets the list). Every container leaves a file in /state."""
    record = 'echo "$RTC_INPUTS" > /state/{0}.json; '
    nodes = [
        _sh("Src", 'touch /state/src; echo \'{"v": 1}\' > "$RTC_OUTPUTS_FILE"; echo \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE"',
            outputs=[("v", "int")]),
        _sh("Down", record.format("down") + 'echo \'{"w": 2}\' > "$RTC_OUTPUTS_FILE"', inputs=[("v", "int")],
            outputs=[("w", "int")]),
        _sh("Later", "touch /state/later"),
        _sh("Other", 'echo \'{"v": 2}\' > "$RTC_OUTPUTS_FILE"', outputs=[("v", "int")]),
        _sh("Join", record.format("join"), inputs=[("a", "int"), ("b", "int")]),
        _sh("Gen", 'echo \'{"items": [10, 11, 12]}\' > "$RTC_OUTPUTS_FILE"', outputs=[("items", "list[int]")]),
        _sh("Each", 'if [ "$RTC_MAP_INDEX" = 1 ]; then echo \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE"; '
                    'else echo "{\\"y\\": $RTC_MAP_INDEX}" > "$RTC_OUTPUTS_FILE"; fi',
            inputs=[("x", "int")], outputs=[("y", "int")]),
        _sh("Collect", record.format("collect"), inputs=[("ys", "list[int]")]),
    ]
    steps = [
        Step(id="src", node="Src"),
        Step(id="down", node="Down", upstream=["src"], inputs=[_out("src", "v")]),
        Step(id="later", node="Later", upstream=["down"]),
        Step(id="other", node="Other"),
        Step(id="join", node="Join", upstream=["other", "src"], trigger="all_done",
             inputs=[_out("src", "v", "a"), _out("other", "v", "b")]),
        Step(id="gen", node="Gen"),
        Step(id="each", node="Each", upstream=["gen"], mapped=True,
             inputs=[StepInput(name="x", binding=OutputRef(step="gen", output="items"), each=True, type="int")]),
        Step(id="collect", node="Collect", upstream=["each"], inputs=[_out("each", "y", "ys", "list[int]")]),
    ]
    return graph_pipeline(ns, nodes, steps, envs=(_state_env(state_dir),))


def pruned_map_source_pipeline(state_dir, ns="PruneMapT"):
    """src prunes -> each (mapped over src.items) -> after (after edge): no container below src starts.

    gen outputs an empty list; empty (mapped over it, also after src) is pruned and so is below (after empty);
    plain (mapped over it, nothing pruned above) hands on an empty list to got.
    """
    nodes = [
        _sh("Src", 'echo \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE"', outputs=[("items", "list[int]")]),
        _sh("Each", "touch /state/each", inputs=[("x", "int")], outputs=[("y", "int")]),
        _sh("After", "touch /state/after"),
        _sh("Gen", 'echo \'{"items": []}\' > "$RTC_OUTPUTS_FILE"', outputs=[("items", "list[int]")]),
        _sh("Got", 'echo "$RTC_INPUTS" > /state/got.json', inputs=[("ys", "list[int]")]),
    ]

    def mapped(step_id, source, after=()):
        return Step(id=step_id, node="Each", upstream=sorted([source, *after]), mapped=True,
                    inputs=[StepInput(name="x", binding=OutputRef(step=source, output="items"), each=True, type="int")])

    steps = [
        Step(id="src", node="Src"),
        mapped("each", "src"),
        Step(id="after", node="After", upstream=["each"]),
        Step(id="gen", node="Gen"),
        mapped("empty", "gen", after=["src"]),
        Step(id="below", node="After", upstream=["empty"]),
        mapped("plain", "gen"),
        Step(id="got", node="Got", upstream=["plain"], inputs=[_out("plain", "y", "ys", "list[int]")]),
    ]
    return graph_pipeline(ns, nodes, steps, envs=(_state_env(state_dir),))


def requeue_pipeline(state_dir, ns="RequeueT"):
    """flaky asks to be re-queued (delay 1 s) on its first run and writes outputs on its second -> use.

    Each run takes 2.5 s against a 4 s timeout: the timeout applies to each container, not the whole task.
    """
    flaky = ('echo run >> /state/runs; sleep 2.5; if [ -f /state/requeued ]; then echo \'{"n": 7}\' > "$RTC_OUTPUTS_FILE"; '
             'else touch /state/requeued; echo \'{"signal": "requeue", "delay_seconds": 1}\' > "$RTC_SIGNAL_FILE"; fi')
    nodes = [
        _sh("Flaky", flaky, outputs=[("n", "int")], timeout_seconds=4),
        _sh("Use", 'echo "$RTC_INPUTS" > /state/use.json', inputs=[("n", "int")]),
    ]
    steps = [Step(id="flaky", node="Flaky"), Step(id="use", node="Use", upstream=["flaky"], inputs=[_out("flaky", "n")])]
    return graph_pipeline(ns, nodes, steps, envs=(_state_env(state_dir),))


def signal_loop_pipeline(state_dir, signal, ns):
    """One step that writes `signal` on every run (counted in /state/runs), with retries that must not be used."""
    script = f'echo run >> /state/runs; echo {signal!r} > "$RTC_SIGNAL_FILE"'
    retry = RetryPolicy(max_retries=2, strategy="fixed", delay_seconds=0)
    return graph_pipeline(ns, [_sh("Loop", script, retry=retry)], [Step(id="loop", node="Loop")],
                          envs=(_state_env(state_dir),))


def pipeline_edges(graph) -> set[tuple[str, str]]:
    """(upstream step, step) of every data and `after` edge of a graph."""
    return {(up, step.id) for step in graph.steps for up in step.upstream}


def drawn_edges(flow_state) -> set[tuple[str, str]]:
    """(upstream step, step) of every edge in a flow run's task inputs, as Prefect's run graph draws them.

    A task run is named after its step (an element of a mapped step `step[i] ...`); an edge is any
    upstream task run in its inputs, `wait_for` included.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    flow_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_state.state_details.flow_run_id]))
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=flow_filter)
    step_of = {run.id: run.name.split("[")[0] for run in runs}
    edges = set()
    for run in runs:
        for inputs in run.task_inputs.values():
            for ref in inputs:
                edges.add((step_of.get(getattr(ref, "id", None), f"not a task run of this flow: {ref}"),
                           step_of[run.id]))
    return edges
