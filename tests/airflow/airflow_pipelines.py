"""IR pipelines built directly, with ready images (busybox, rtc-test/python:1), for the Airflow tests."""

from __future__ import annotations

from rtc.compiler.ir import (
    Codespec,
    Environment,
    Graph,
    LiteralValue,
    Mount,
    Node,
    OutputRef,
    Param,
    ParamRef,
    Pipeline,
    Port,
    RetryPolicy,
    Run,
    Step,
    StepInput,
)

PY_IMAGE = "rtc-test/python:1"
BUSYBOX = "rtc-test/busybox:1"

# A tiny program that turns RTC_INPUTS into outputs, run by python3 -c.
ECHO_PY = """
import json, os, sys
inputs = json.loads(os.environ["RTC_INPUTS"])
out = {"inputs": inputs, "argv": sys.argv[1:], "env": {k: os.environ.get(k) for k in sys.argv[1:2]}}
with open(os.environ["RTC_OUTPUTS_FILE"], "w") as f:
    json.dump(out, f)
"""


def port(name: str, type_: str) -> Port:
    return Port(name=name, type=type_)


def step(id_: str, node: str, inputs=(), upstream=(), mapped=False, trigger="all_success") -> Step:
    return Step(id=id_, node=node, inputs=list(inputs), upstream=sorted(upstream), mapped=mapped, trigger=trigger)


def py_node(name: str, code: str, inputs=(), outputs=(), **kw) -> Node:
    return Node(name=name, env="py", inputs=list(inputs), outputs=list(outputs),
                command=["python3", "-c", code], **kw)


def etl_pipeline(source: str = "/tmp/etl.rt") -> Pipeline:
    """load -> clean (fan-out over rows) -> report (fan-in) -> notify (all_done); with params and a secret."""
    load = py_node(
        "Load",
        "import json,os\ni=json.loads(os.environ['RTC_INPUTS'])\n"
        "rows=[f'{r}-{i[\"prefix\"]}' for r in ['a','b','c'][:i['limit']]]\n"
        "json.dump({'rows': rows, 'count': len(rows)}, open(os.environ['RTC_OUTPUTS_FILE'],'w'))",
        inputs=[port("prefix", "str"), port("limit", "int")],
        outputs=[port("rows", "list[str]"), port("count", "int")],
        retry=RetryPolicy(max_retries=2, strategy="exponential", delay_seconds=1, max_delay_seconds=30),
        timeout_seconds=120,
    )
    clean = py_node(
        "Clean",
        "import json,os\ni=json.loads(os.environ['RTC_INPUTS'])\n"
        "json.dump({'result': i['row'].upper() + ':' + os.environ['RTC_MAP_INDEX']}, open(os.environ['RTC_OUTPUTS_FILE'],'w'))",
        inputs=[port("row", "str")],
        outputs=[port("result", "str")],
    )
    report = py_node(
        "Report",
        "import json,os\ni=json.loads(os.environ['RTC_INPUTS'])\n"
        "json.dump({'summary': {'n': i['n'], 'cleaned': i['cleaned'], 'key': os.environ['API_KEY']}},"
        " open(os.environ['RTC_OUTPUTS_FILE'],'w'))",
        inputs=[port("n", "int"), port("cleaned", "list[str]")],
        outputs=[port("summary", "json")],
        secrets=["API_KEY"],
    )
    notify = Node(name="Notify", env="box", command=["sh", "-c", "echo notified"])
    steps = [
        step("load", "Load", [StepInput(name="prefix", binding=ParamRef(param="prefix"), type="str"),
                              StepInput(name="limit", binding=ParamRef(param="limit"), type="int")]),
        step("clean", "Clean", [StepInput(name="row", binding=OutputRef(step="load", output="rows"), each=True,
                                          type="str")], upstream=["load"], mapped=True),
        step("report", "Report", [StepInput(name="n", binding=OutputRef(step="load", output="count"), type="int"),
                                  StepInput(name="cleaned", binding=OutputRef(step="clean", output="result"),
                                            type="list[str]")], upstream=["clean", "load"]),
        step("notify", "Notify", upstream=["report"], trigger="all_done"),
    ]
    graph = Graph(
        name="etl", schedule="0 2 * * *", workers=4, tags=["etl"],
        params=[Param(name="prefix", type="str", default="x", required=False),
                Param(name="limit", type="int", default=3, required=False)],
        steps=steps, order=["load", "clean", "report", "notify"],
    )
    return Pipeline(
        namespace="Demo", source=source,
        environments={"py": Environment(name="py", image=PY_IMAGE, environ={"MODE": "test"}),
                      "box": Environment(name="box", image=BUSYBOX)},
        nodes={n.name: n for n in (load, clean, report, notify)},
        graphs={"etl": graph},
    )


def tyger_pipeline(source: str = "/tmp/tyger.rt", replicas: int = 2) -> Pipeline:
    """A codespec reading its input buffer and writing its output buffer, run as a Tyger run."""
    spec = Codespec(
        # `my-output` -> MY_OUTPUT_PIPE, as under every target; each replica knows its index.
        name="hello", image=BUSYBOX, inputs=["input"], outputs=["my-output"],
        command=["sh", "-c", 'printf "Hello %s from %s #%s" "$(cat "$INPUT_PIPE")" "$GREETER" "$REPLICA_INDEX" '
                             '> "$MY_OUTPUT_PIPE"'],
        env={"GREETER": "tyger"},
    )
    run = Run(name="greet", codespec="hello", replicas=replicas, timeout_seconds=60, tags={"team": "x"},
              node_pool="cpunp", schedule="@daily")
    return Pipeline(namespace="Demo", source=source, codespecs={"hello": spec}, runs={"greet": run})


def failures_pipeline(state_dir: str) -> Pipeline:
    """Graph `checks`: a step failing twice then succeeding (linear back-off), a step that times out, and a
    join after them. Graph `secrets`: a missing secret, a first step that must not start, and a join."""
    flaky = Node(
        name="Flaky", env="box", outputs=[port("attempt", "int")],
        command=["sh", "-c", 'printf x >> /state/attempts; n=$(wc -c < /state/attempts); '
                 '[ "$n" -ge 3 ] || exit 3; printf \'{"attempt": %d}\' "$n" > "$RTC_OUTPUTS_FILE"'],
        retry=RetryPolicy(max_retries=3, strategy="linear", delay_seconds=1),
    )
    slow = Node(name="Slow", env="box", command=["sleep", "60"], timeout_seconds=3)
    secretive = Node(name="Secretive", env="box", command=["true"], secrets=["RTC_TEST_MISSING_SECRET"],
                     retry=RetryPolicy(max_retries=3, delay_seconds=1))
    marker = Node(name="Marker", env="box", command=["sh", "-c", "printf ran >> /state/started"])
    join = Node(name="Join", env="box", command=["sh", "-c", "printf join >> /state/started"])
    checks = Graph(
        name="checks",
        steps=[step("flaky", "Flaky"), step("slow", "Slow"),
               step("after", "Join", upstream=["flaky", "slow"], trigger="all_done")],
        order=["flaky", "slow", "after"],
    )
    secrets = Graph(
        name="secrets",
        steps=[step("first", "Marker"), step("needs_secret", "Secretive", upstream=["first"]),
               step("after", "Join", upstream=["needs_secret"], trigger="all_done")],
        order=["first", "needs_secret", "after"],
    )
    return Pipeline(
        namespace="Fail", source="/tmp/fail.rt",
        environments={"box": Environment(name="box", image=BUSYBOX,
                                         mounts=[Mount(host_path=state_dir, container_path="/state")])},
        nodes={n.name: n for n in (flaky, slow, secretive, marker, join)},
        graphs={"checks": checks, "secrets": secrets},
    )


HOSTILE = "q'\"'''\"\"\"\\ \\n\n{{ x }} {% if y %}{# c #} __import__('os').system('x') ${{ params.p }} \t end"


def hostile_pipeline(mount_dir: str) -> Pipeline:
    """Hostile strings in every field that takes one: environ, argv, param default, literal, tags, mount path, source."""
    echo = Node(
        name="Echo", env="py", command=["python3", "-c", ECHO_PY, "HOSTILE_ENV", HOSTILE],
        inputs=[port("from_param", "str"), port("literal", "json"), port(HOSTILE, "str")],
        outputs=[port("inputs", "json"), port("argv", "list[str]"), port("env", "json")],
    )
    graph = Graph(
        name="hostile", tags=[HOSTILE],
        params=[Param(name="p", type="str", default=HOSTILE, required=False)],
        steps=[step("echo", "Echo", [
            StepInput(name="from_param", binding=ParamRef(param="p"), type="str"),
            StepInput(name="literal", binding=LiteralValue(value={HOSTILE: [HOSTILE, 1, None, True]}), type="json"),
            StepInput(name=HOSTILE, binding=LiteralValue(value=HOSTILE), type="str"),
        ])],
        order=["echo"],
    )
    env = Environment(name="py", image=PY_IMAGE, environ={"HOSTILE_ENV": HOSTILE},
                      mounts=[Mount(host_path=mount_dir, container_path="/data", read_only=True)])
    return Pipeline(namespace="Hostile", source=f"/tmp/{HOSTILE}.rt", environments={"py": env},
                    nodes={"Echo": echo}, graphs={"hostile": graph})


def signals_pipeline(state_dir: str) -> Pipeline:
    """Graph `prune`: a step pruning itself, the step below it, a join `after all_done` reading its output,
    a fan-out whose element 2 prunes itself, and steps below a pruned step that Airflow's `none_failed` would run. Graph `requeue`: a step re-queued once (its state in a mounted
    folder), the step reading its outputs, and a step writing a malformed signal (retries set)."""
    prune = 'printf \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE"; printf \'{"x": 1}\' > "$RTC_OUTPUTS_FILE"'
    gate = Node(name="Gate", env="box", outputs=[port("x", "int")], command=["sh", "-c", prune])
    cut = Node(name="Cut", env="box", outputs=[port("items", "list[int]")], command=["sh", "-c", prune])
    late = Node(name="Late", env="box", command=["sh", "-c", "printf ran >> /state/late"])
    echo = py_node("Echo", "import json,os\njson.dump({'got': json.loads(os.environ['RTC_INPUTS'])},"
                   " open(os.environ['RTC_OUTPUTS_FILE'],'w'))",
                   inputs=[port("x", "json")], outputs=[port("got", "json")])
    make = py_node("Make", "import json,os\njson.dump({'items': [1, 2, 3]}, open(os.environ['RTC_OUTPUTS_FILE'],'w'))",
                   outputs=[port("items", "list[int]")])
    prune_two = ('case "$RTC_INPUTS" in *2*) printf \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE";; '
                 '*) printf \'{"v": %s}\' "$RTC_MAP_INDEX" > "$RTC_OUTPUTS_FILE";; esac')
    some = Node(name="Some", env="box", inputs=[port("item", "int")], outputs=[port("v", "int")],
                command=["sh", "-c", prune_two])
    requeue_once = ('printf x >> /state/runs; if [ "$(wc -c < /state/runs)" -ge 2 ]; '
                    'then printf \'{"n": 2}\' > "$RTC_OUTPUTS_FILE"; '
                    'else printf \'{"signal": "requeue", "delay_seconds": 1}\' > "$RTC_SIGNAL_FILE"; fi')
    again = Node(name="Again", env="box", outputs=[port("n", "int")], command=["sh", "-c", requeue_once])
    bad = Node(name="Bad", env="box", command=["sh", "-c", 'printf \'{"signal": "later"}\' > "$RTC_SIGNAL_FILE"'],
               retry=RetryPolicy(max_retries=2, delay_seconds=1))

    def output(name, step_id, out, type_="json"):
        return StepInput(name=name, binding=OutputRef(step=step_id, output=out), type=type_)

    prune_graph = Graph(
        name="prune",
        steps=[step("gate", "Gate"), step("below", "Echo", [output("x", "gate", "x")], upstream=["gate"]),
               step("join", "Echo", [output("x", "gate", "x")], upstream=["below", "gate"], trigger="all_done"),
               step("make", "Make"),
               step("some", "Some", [StepInput(name="item", binding=OutputRef(step="make", output="items"),
                                               each=True, type="int")], upstream=["make"], mapped=True),
               step("total", "Echo", [output("x", "some", "v", "list[int]")], upstream=["some"]),
               # Below a pruned step through `after` only, and after a mapped step (trigger none_failed).
               step("late", "Late", upstream=["gate", "some"]),
               # A fan-out over the outputs of a pruned step, and the step after it.
               step("cut", "Cut"),
               step("many", "Some", [StepInput(name="item", binding=OutputRef(step="cut", output="items"),
                                               each=True, type="int")], upstream=["cut"], mapped=True),
               step("after_many", "Echo", [output("x", "many", "v", "list[int]")], upstream=["many"])],
        order=["gate", "below", "join", "make", "some", "total", "late", "cut", "many", "after_many"],
    )
    requeue_graph = Graph(
        name="requeue",
        steps=[step("again", "Again"), step("use", "Echo", [output("x", "again", "n")], upstream=["again"]),
               step("bad", "Bad")],
        order=["again", "use", "bad"],
    )
    return Pipeline(
        namespace="Sig", source="/tmp/sig.rt",
        environments={"py": Environment(name="py", image=PY_IMAGE),
                      "box": Environment(name="box", image=BUSYBOX,
                                         mounts=[Mount(host_path=state_dir, container_path="/state")])},
        nodes={n.name: n for n in (gate, cut, late, echo, make, some, again, bad)},
        graphs={"prune": prune_graph, "requeue": requeue_graph},
    )
