"""Exosphere's retry policies: every strategy and jitter, graph defaults, and the same delays under every target.

The delays of the local runner come from `RetryPolicy.delay_for`; Airflow's
and Prefect's from the code printed into their runtime modules, executed here
from the file's text (the real Airflow and Prefect runs are in tests/airflow
and tests/prefect). With the same random seed every target draws the same delays.
"""

from __future__ import annotations

import ast
import random
import textwrap

import pytest

from rtc.runtime import contract
from rtc.compiler import compile_file
from rtc.compiler.bounds import MAX_DURATION_SECONDS
from rtc.base.diagnostics import CompileError
from rtc.compiler.ir import RetryPolicy
from rtc.integrations import airflow, prefect

# Exosphere's documented examples (docs/exosphere/retry-policy.md), backoff_factor 2000 ms, exponent 2.
EXOSPHERE_TABLE = [
    ("exponential", "none", [2.0, 4.0, 8.0]),
    ("linear", "none", [2.0, 4.0, 6.0]),
    ("fixed", "none", [2.0, 2.0, 2.0]),
]
RANGES = [  # (strategy, jitter) -> [(low, high) per retry]
    ("exponential", "full", [(0, 2), (0, 4), (0, 8)]),
    ("exponential", "equal", [(1, 2), (2, 4), (4, 8)]),
    ("linear", "full", [(0, 2), (0, 4), (0, 6)]),
    ("linear", "equal", [(1, 2), (2, 4), (3, 6)]),
    ("fixed", "full", [(0, 2), (0, 2), (0, 2)]),
    ("fixed", "equal", [(1, 2), (1, 2), (1, 2)]),
]


@pytest.mark.parametrize("strategy,jitter,expected", EXOSPHERE_TABLE)
def test_delays_without_jitter_match_exosphere(strategy, jitter, expected):
    policy = RetryPolicy(max_retries=3, strategy=strategy, jitter=jitter, delay_seconds=2.0)
    assert [policy.delay_for(n) for n in (1, 2, 3)] == expected


@pytest.mark.parametrize("strategy,jitter,ranges", RANGES)
def test_jitter_draws_within_exosphere_ranges(strategy, jitter, ranges):
    policy = RetryPolicy(max_retries=3, strategy=strategy, jitter=jitter, delay_seconds=2.0)
    assert [policy.delay_range(n) for n in (1, 2, 3)] == [(float(a), float(b)) for a, b in ranges]
    rng = random.Random(7)
    for n, (low, high) in enumerate(ranges, 1):
        draws = [policy.delay_for(n, rng.uniform) for _ in range(200)]
        assert all(low <= d <= high for d in draws)
        assert max(draws) - min(draws) > (high - low) / 2  # really random, not a constant


def test_exponent_and_max_delay_cap():
    policy = RetryPolicy(max_retries=5, strategy="exponential", delay_seconds=2.0, exponent=3, max_delay_seconds=30)
    assert [policy.delay_for(n) for n in range(1, 6)] == [2.0, 6.0, 18.0, 30.0, 30.0]


def test_a_huge_exponential_stays_finite():
    policy = RetryPolicy(max_retries=2000, strategy="exponential", delay_seconds=1.0, exponent=10)
    assert policy.delay_for(2000) == contract.MAX_RETRY_DELAY
    assert contract.MAX_RETRY_DELAY == MAX_DURATION_SECONDS  # the ceiling is rtc's longest duration


def test_ir_files_with_boolean_jitter_still_load():
    assert RetryPolicy.model_validate({"jitter": True}).jitter == "full"
    assert RetryPolicy.model_validate({"jitter": False}).jitter == "none"


def compile_text(tmp_path, text, name="p.rt"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return compile_file(str(path))


GRAPH_DEFAULT_RT = """
    env box { image = "busybox" }
    node Own { env = box  command = ["true"]  retry { max_retries = 1  strategy = "fixed"  delay = 3s } }
    node Plain { env = box  command = ["true"] }
    graph g {
      retry_policy { max_retries = 4  strategy = "LINEAR_EQUAL_JITTER"  backoff_factor = 500ms  exponent = 3  max_delay = 1s }
      own = Own()
      plain = Plain()
    }
    graph h { plain = Plain() }
"""


def test_graph_default_applies_to_nodes_without_their_own(tmp_path):
    p = compile_text(tmp_path, GRAPH_DEFAULT_RT)
    steps = {s.id: s for s in p.graphs["g"].steps}
    own = steps["own"].retry_policy(p.nodes["Own"])
    plain = steps["plain"].retry_policy(p.nodes["Plain"])
    assert (own.max_retries, own.strategy, own.delay_seconds) == (1, "fixed", 3.0)
    assert plain == RetryPolicy(max_retries=4, strategy="linear", jitter="equal", delay_seconds=0.5, exponent=3,
                                max_delay_seconds=1.0)
    assert p.graphs["h"].steps[0].retry_policy(p.nodes["Plain"]).max_retries == 0


def test_yaml_retry_policy_in_milliseconds_with_exosphere_defaults(tmp_path):
    p = compile_text(tmp_path, """
        envs: {box: {image: busybox}}
        nodes:
          A: {env: box, command: ["true"], retry_policy: {strategy: FIXED_FULL_JITTER, max_delay: 1500}}
        graphs:
          g:
            retry_policy: {max_retries: 2, backoff_factor: 250, exponent: 4}
            steps: {a: {node: A}, b: {node: A}}
    """, "p.yaml")
    node = p.nodes["A"]
    # Exosphere's defaults: 3 retries, 2000 ms; max_delay in ms.
    assert node.retry == RetryPolicy(max_retries=3, strategy="fixed", jitter="full", delay_seconds=2.0,
                                     max_delay_seconds=1.5)
    assert all(s.retry is None for s in p.graphs["g"].steps)  # the node's own policy wins


@pytest.mark.parametrize("body,code,message", [
    ('retry { strategy = "SPIRAL" }', "E208", "unknown retry strategy"),
    ('retry { exponent = 0 }', "E208", "must be greater than 0"),
    ('retry { strategy = "FIXED_FULL_JITTER"  jitter = "equal" }', "E205", "contradicts"),
    ('retry { delay = 1s  backoff_factor = 2s }', "E205", "both `delay` and `backoff_factor`"),
    ('retry { max_retries = 1 } retry_policy { max_retries = 2 }', "E205", "both `retry` and `retry_policy`"),
    ('retry { jitter = "sometimes" }', "E208", "unknown jitter"),
])
def test_bad_policies_are_reported_at_their_position(tmp_path, body, code, message):
    with pytest.raises(CompileError) as err:
        compile_text(tmp_path, f'env box {{ image = "busybox" }}\nnode N {{ env = box  command = ["true"]  {body} }}\n')
    found = [(d.code, d.message, d.span.line) for d in err.value.diagnostics]
    assert any(message in msg and line == 2 for _, msg, line in found), found
    assert code in {c for c, _, _ in found}, found


# ---------------------------------------------------------------- the same delays under every target

CROSS_TARGET_RT = """
    namespace Delays
    env box { image = "busybox" }
    node Exp { env = box  command = ["true"]
      retry_policy { max_retries = 6  strategy = "EXPONENTIAL_EQUAL_JITTER"  backoff_factor = 700ms  exponent = 3  max_delay = 20s } }
    node Lin { env = box  command = ["true"]  retry_policy { max_retries = 4  strategy = "LINEAR_FULL_JITTER" } }
    node Fix { env = box  command = ["true"]  retry_policy { max_retries = 3  strategy = "FIXED" } }
    node Many { env = box  command = ["true"]  retry_policy { max_retries = 60  strategy = "LINEAR"  backoff_factor = 10ms } }
    graph g { exp = Exp()  lin = Lin()  fix = Fix()  many = Many() }
"""


def _functions(source: str, names: set[str]) -> dict:
    """Execute the named top-level functions (and constants) of a generated file's text."""
    tree = ast.parse(source)
    keep = [n for n in tree.body if (isinstance(n, ast.FunctionDef) and n.name in names)
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") in ("MAX_RETRY_DELAY", "RETRY_DEFAULTS", "MAX_PREFECT_DELAYS") for t in n.targets))]
    scope: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), "<generated>", "exec"), scope)  # noqa: S102 - our own output
    return scope


def _airflow_policies(text: str) -> dict:
    """RtcNode name -> the policy dict a DAG file gives it (`retry=`; the runtime's RtcRetry takes it)."""
    out = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "RtcNode":
            name = ast.literal_eval(node.args[0])
            for kw in node.keywords:
                if kw.arg == "retry":
                    out[name] = ast.literal_eval(kw.value)
    return out


def _prefect_specs(text: str) -> dict:
    """step -> {"retry": ...} from the flow module: each `NODE_x = Node(..., retry=...)`, the node task whose
    body runs it (`return NODE_x.run(...)`), and the flow's calls `Task.with_options(task_run_name=step("id"))`."""
    tree = ast.parse(text)
    retry_of = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(getattr(node.value, "func", None), "id", "") == "Node":
            kw = {k.arg: k.value for k in node.value.keywords}
            retry_of[node.targets[0].id] = ast.literal_eval(kw["retry"]) if "retry" in kw else None
    node_of_task = {fn.name: n.value.id for fn in tree.body if isinstance(fn, ast.FunctionDef) for n in ast.walk(fn)
                    if isinstance(n, ast.Attribute) and n.attr == "run" and getattr(n.value, "id", "") in retry_of}
    specs = {}
    for n in ast.walk(tree):
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "with_options":
            [name] = [k.value for k in n.keywords if k.arg == "task_run_name"]
            specs[ast.literal_eval(name.args[0])] = {"retry": retry_of[node_of_task[n.func.value.id]]}
    if not specs:
        raise AssertionError("no step calls in the flow module")
    return specs


def _split(files: dict, adapter: str) -> tuple[str, str]:
    """(the shipped runtime package's contract and `adapter` module, the one generated Python file) of a rendered folder."""
    runtime = "\n".join(text for name, text in sorted(files.items())
                        if name.startswith("rtc_runtime_") and name.endswith(("/contract.py", "/step.py", f"/{adapter}.py")))
    [module] = [text for name, text in files.items() if name.endswith(".py") and not name.startswith("rtc_runtime_")]
    return runtime, module


def test_every_target_computes_the_same_delays(tmp_path):
    pipeline = compile_text(tmp_path, CROSS_TARGET_RT)
    steps = {s.id: s for s in pipeline.graphs["g"].steps}
    # The functions come from the runtime modules beside the DAGs and flows, the policies from those files.
    af_runtime, af_dag = _split(airflow.render(pipeline), "airflow")
    af = _functions(af_runtime, {"retry_delay"})
    af_policies = _airflow_policies(af_dag)
    pf_runtime, pf_flow = _split(prefect.render(pipeline), "prefect")
    pf = _functions(pf_runtime, {"retry_delay", "retry_rest", "prefect_delays", "smallest_retry_delay"})
    pf_specs = _prefect_specs(pf_flow)

    for step_id, node_name in (("exp", "Exp"), ("lin", "Lin"), ("fix", "Fix"), ("many", "Many")):
        policy = steps[step_id].retry_policy(pipeline.nodes[node_name])
        retry = pf_specs[step_id]["retry"]
        assert retry["retries"] == policy.max_retries
        prefect_delays = pf["prefect_delays"](retry)
        assert len(prefect_delays) <= 50  # Prefect refuses more
        for n in range(1, policy.max_retries + 1):
            random.seed(n)
            local = policy.delay_for(n)
            random.seed(n)
            in_airflow = af["retry_delay"](af_policies[node_name], n)
            random.seed(n)
            # Prefect waits its listed delay, then run_step sleeps the rest (attempt n + 1 is run_count n + 1).
            in_prefect = prefect_delays[min(n, len(prefect_delays)) - 1] + pf["retry_rest"](pf_specs[step_id], n + 1)
            assert local == in_airflow == pytest.approx(in_prefect, abs=1e-9), (step_id, n)


def test_jitter_is_drawn_at_each_failure(tmp_path, monkeypatch):
    """Each delay makes a new draw (here the smallest possible value, then the largest), none is reused."""
    pipeline = compile_text(tmp_path, CROSS_TARGET_RT)
    [step] = [s for s in pipeline.graphs["g"].steps if s.id == "exp"]
    policy = step.retry_policy(pipeline.nodes["Exp"])
    draws = []

    def uniform(a, b):
        draws.append((a, b))
        return b if len(draws) % 2 == 0 else a

    monkeypatch.setattr(random, "uniform", uniform)
    first, second = policy.delay_for(2), policy.delay_for(2)
    low, high = policy.delay_range(2)
    assert len(draws) == 2 and (first, second) == (low, high) and low < high, (draws, first, second)


def test_the_contracts_retry_defaults_are_the_irs():
    from rtc.compiler.ir import RetryPolicy
    from rtc.runtime.contract import RETRY_DEFAULTS

    default = RetryPolicy()
    assert default.as_contract() == {}  # generated files write only what differs
    assert RETRY_DEFAULTS == {"strategy": default.strategy, "jitter": default.jitter, "delay": default.delay_seconds,
                              "exponent": default.exponent, "max_delay": default.max_delay_seconds}
