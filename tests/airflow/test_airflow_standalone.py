"""Airflow needs no rtc: the generated DAG files and their runtime module import and run with rtc blocked."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

from airflow_pipelines import BUSYBOX, port, step, tyger_pipeline

from rtc.compiler.ir import Environment, Graph, Node, OutputRef, Pipeline, StepInput
from rtc.integrations.airflow import render

NO_RTC = Path(__file__).resolve().parents[1] / "no_rtc.py"
PROBE = Path(__file__).with_name("airflow_probe.py")


def airflow_env(home):
    import importlib.util

    spec = importlib.util.spec_from_file_location("airflow_conftest", Path(__file__).with_name("conftest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.airflow_env(home)


def probe_without_rtc(home, *args):
    proc = subprocess.run([sys.executable, str(NO_RTC), str(PROBE), *args], env=airflow_env(home),
                          capture_output=True, text=True, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("RTC-PROBE "):
            return json.loads(line[len("RTC-PROBE "):]), proc.stdout + proc.stderr
    raise AssertionError(proc.stdout[-3000:] + proc.stderr[-3000:])


def two_steps(namespace: str) -> Pipeline:
    first = Node(name="First", env="bb", outputs=[port("n", "int")],
                 command=["sh", "-c", 'echo \'{"n": 41}\' > "$RTC_OUTPUTS_FILE"'])
    second = Node(name="Second", env="bb", inputs=[port("n", "int")], outputs=[port("m", "int")],
                  command=["sh", "-c", 'echo "{\\"m\\": $(echo "$RTC_INPUTS" | tr -dc 0-9)1}" > "$RTC_OUTPUTS_FILE"'])
    steps = [step("first", "First"),
             step("second", "Second", [StepInput(name="n", binding=OutputRef(step="first", output="n"), type="int")],
                  upstream=["first"])]
    return Pipeline(namespace=namespace, source="/tmp/standalone.rt",
                    environments={"bb": Environment(name="bb", image=BUSYBOX)},
                    nodes={"First": first, "Second": second},
                    graphs={"g": Graph(name="g", steps=steps, order=["first", "second"])})


def test_dags_import_and_run_with_rtc_absent(airflow_home, docker_client):
    namespace = f"alone_{uuid.uuid4().hex[:8]}"
    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for pipeline in (two_steps(namespace), tyger_pipeline()):
        for name, text in render(pipeline).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(text, encoding="utf-8")
    bag, log = probe_without_rtc(airflow_home, "dagbag", str(folder))
    assert bag["errors"] == {}, bag
    assert sorted(bag["dags"]) == sorted([f"{namespace}.g", "Demo.run.greet"])
    run, log = probe_without_rtc(airflow_home, "test", str(folder), f"{namespace}.g", "{}", "{}")
    assert run["state"] == "success", log[-3000:]
    assert run["xcom"]["second:return_value"] == {"m": 411}
