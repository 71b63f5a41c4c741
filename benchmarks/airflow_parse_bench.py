"""Airflow parse cost: an rtc-generated DAG file against an equivalent hand-written one.

For 10, 100 and 1,000 tasks (a chain: each step takes the previous step's output),
Airflow's DagBag parses, in this one process:
  - the folder `rtc compile --target airflow` writes: the DAG file, rtc's runtime module
    beside it (imported by the DAG; the first, unmeasured parse of each folder imports it,
    as a DAG processor does once) and the .airflowignore that keeps it out of the parse;
  - a hand-written DAG of plain DockerOperators with the same image, command,
    environment, mount, retries, timeout and dependencies, each reading the previous
    result through XCom, built in a loop as people write them;
  - dag-factory's YAML loader for the same pipeline, when dag-factory is installed.
It prints the median CPU time of several interleaved parses of each and the ratio
generated/hand-written (goal <= 1.1).

    .venv/bin/python benchmarks/airflow_parse_bench.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# What a person writes with plain DockerOperator for the same chain: a loop, the same image,
# command, environment, mount, retries (exponential back-off), timeout and container settings;
# each step reads the previous step's result through XCom in a templated environment variable
# (as rtc's steps read theirs), and `>>` sets the dependency.
HAND_WRITTEN = '''\
from datetime import datetime, timedelta, timezone

from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG
from docker.types import Mount

with DAG(
    dag_id="hand.chain",
    schedule=None,
    start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    tags=["hand"],
) as dag:
    previous = None
    for i in range({n}):
        environment = {{"MODE": "bench"}}
        if previous is not None:
            environment["INPUT"] = "{{{{ ti.xcom_pull(task_ids='step_%d') }}}}" % (i - 1)
        task = DockerOperator(
            task_id=f"step_{{i}}",
            image="rtc-test/busybox:1",
            command=["sh", "-c", "echo step"],
            environment=environment,
            mounts=[Mount("/data", {data!r}, type="bind", read_only=True)],
            retries=1,
            retry_delay=timedelta(seconds=5),
            retry_exponential_backoff=2.0,
            execution_timeout=timedelta(seconds=60),
            mount_tmp_dir=False,
            auto_remove="force",
        )
        if previous is not None:
            previous >> task
        previous = task
'''
DATA = "/tmp/rtc-bench-data"


def chain_pipeline(n: int):
    from rtc.compiler.ir import (Environment, Graph, Mount, Node, OutputRef, Pipeline, Port, RetryPolicy, Step,
                                 StepInput)

    node = Node(name="Work", env="box", inputs=[Port(name="x", type="json")], outputs=[Port(name="y", type="json")],
                command=["sh", "-c", "echo step"], retry=RetryPolicy(max_retries=1, delay_seconds=5),
                timeout_seconds=60)
    steps = []
    for i in range(n):
        inputs = [] if i == 0 else [StepInput(name="x", binding=OutputRef(step=f"step_{i - 1}", output="y"),
                                              type="json")]
        steps.append(Step(id=f"step_{i}", node="Work", inputs=inputs, upstream=[] if i == 0 else [f"step_{i - 1}"]))
    graph = Graph(name="chain", steps=steps, order=[s.id for s in steps])
    env = Environment(name="box", image="rtc-test/busybox:1", environ={"MODE": "bench"},
                      mounts=[Mount(host_path=DATA, container_path="/data", read_only=True)])
    return Pipeline(namespace="bench", source="bench.rt", environments={"box": env}, nodes={"Work": node},
                    graphs={"chain": graph})


def dag_factory_yaml(n: int) -> str:
    lines = ["chain_factory:", "  default_args:", "    start_date: 2024-01-01", "  schedule: null", "  catchup: false",
             "  tasks:"]
    for i in range(n):
        lines += [f"    step_{i}:", "      operator: airflow.providers.docker.operators.docker.DockerOperator",
                  "      image: rtc-test/busybox:1", "      command: [sh, -c, echo step]",
                  "      environment: {MODE: bench}", "      retries: 1", "      retry_exponential_backoff: 2.0",
                  "      mount_tmp_dir: false"]
        if i:
            lines.append(f"      dependencies: [step_{i - 1}]")
    return "\n".join(lines) + "\n"


def parse_once(folder: Path) -> tuple[float, int]:
    """CPU time of this process for one DagBag parse: on a shared machine, wall time mostly measures the others."""
    from airflow.dag_processing.dagbag import DagBag

    start = time.process_time()
    bag = DagBag(dag_folder=str(folder), safe_mode=False)
    elapsed = time.process_time() - start
    if bag.import_errors:
        raise SystemExit(f"import errors in {folder}: {bag.import_errors}")
    return elapsed, sum(len(d.tasks) for d in bag.dags.values())


def median_parses(folders: list[Path], runs: int) -> list[tuple[float, int]]:
    """Median parse time of each folder; runs are interleaved so that machine noise hits all alike.

    One unmeasured parse of each first: it pays one-time imports, which a DAG processor pays once too.
    """
    times: list[list[float]] = [[] for _ in folders]
    tasks = [0] * len(folders)
    for folder in folders:
        parse_once(folder)
    for _ in range(runs):
        for i, folder in enumerate(folders):
            elapsed, tasks[i] = parse_once(folder)
            times[i].append(elapsed)
    return [(statistics.median(t), n) for t, n in zip(times, tasks)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    args = parser.parse_args()

    if "AIRFLOW_HOME" not in os.environ or os.environ.get("RTC_BENCH_CHILD") != "1":
        # Airflow reads its configuration at import: re-run in a child with a throwaway AIRFLOW_HOME.
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, AIRFLOW_HOME=home, AIRFLOW__CORE__LOAD_EXAMPLES="False", RTC_BENCH_CHILD="1",
                       AIRFLOW__LOGGING__LOGGING_LEVEL="ERROR")
            raise SystemExit(subprocess.call([sys.executable, __file__, *sys.argv[1:]], env=env))

    from rtc.integrations.airflow import render

    try:
        import dagfactory  # noqa: F401

        has_dag_factory = True
    except ImportError:
        has_dag_factory = False

    print(f"Airflow DagBag parse, CPU milliseconds, median of {args.runs} interleaved runs")
    print(f"{'tasks':>6}  {'rtc-generated':>13}  {'hand-written':>12}  {'ratio':>6}  {'dag-factory':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            gen, hand, fac = (Path(tmp) / f"{kind}{n}" for kind in ("gen", "hand", "fac"))
            for folder in (gen, hand, fac):
                folder.mkdir()
            for name, text in render(chain_pipeline(n)).items():
                (gen / name).parent.mkdir(parents=True, exist_ok=True)  # rtc_runtime_<hash>/ beside the DAG
                (gen / name).write_text(text)
            (hand / "hand.py").write_text(HAND_WRITTEN.format(n=n, data=DATA))
            folders = [gen, hand]
            if has_dag_factory:
                (fac / "chain.yaml").write_text(dag_factory_yaml(n))
                (fac / "load.py").write_text(
                    "import dagfactory, os\n"
                    "dagfactory.load_yaml_dags(globals_dict=globals(), dags_folder=os.path.dirname(__file__))\n")
                folders.append(fac)
            results = median_parses(folders, args.runs)
            (gen_t, gen_tasks), (hand_t, hand_tasks) = results[:2]
            assert gen_tasks == hand_tasks == n, (gen_tasks, hand_tasks)
            fac_text = f"{results[2][0] * 1000:.1f}" if has_dag_factory else "not installed"
            print(f"{n:>6}  {gen_t * 1000:>13.1f}  {hand_t * 1000:>12.1f}  {gen_t / hand_t:>6.2f}  {fac_text:>11}")
    if not has_dag_factory:
        print("dag-factory is not installed here, so its YAML loader is not measured.")


if __name__ == "__main__":
    main()
