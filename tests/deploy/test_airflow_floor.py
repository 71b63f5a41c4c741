"""The oldest Airflow rtc declares (pyproject's airflow extra) imports and runs the generated DAGs.

A second venv, `.venv-airflow-floor` (scripts/setup-airflow-floor.sh, from
constraints-airflow-floor.txt), holds that Airflow and its Docker provider and nothing of rtc:
the DAGs are compiled here, then parsed and run there by tests/airflow/airflow_probe.py. The
newest Airflow (constraints.txt) runs the same checks in tests/airflow/.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import uuid

import pytest
from packaging.version import Version
from tier_services import REPO

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

FLOOR_VENV = REPO / ".venv-airflow-floor"
PROBE = REPO / "tests" / "airflow" / "airflow_probe.py"
EXAMPLES = [REPO / "examples" / name / "pipeline.rt" for name in ("etl", "ml", "tyger")] + [
    REPO / "examples" / "tyger" / name for name in ("run-hello.yml", "run-inline.yml")]


def declared_floor() -> str:
    line = next(line for line in (REPO / "pyproject.toml").read_text().splitlines() if line.startswith("airflow = "))
    return re.search(r'"apache-airflow>=([0-9.]+)', line).group(1)


@pytest.fixture(scope="module")
def floor_airflow(tmp_path_factory):
    """(python, env) of the floor venv with a migrated SQLite AIRFLOW_HOME."""
    done = subprocess.run([str(REPO / "scripts" / "setup-airflow-floor.sh")], capture_output=True, text=True,
                          timeout=1200)
    assert done.returncode == 0, done.stderr[-4000:]
    home = tmp_path_factory.mktemp("airflow-floor-home")
    (home / "dags").mkdir()
    env = {"PATH": f"{FLOOR_VENV / 'bin'}:/usr/bin:/bin", "HOME": str(home),
           "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "AIRFLOW__CORE__UNIT_TEST_MODE": "False", "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING"}
    migrated = subprocess.run([str(FLOOR_VENV / "bin" / "airflow"), "db", "migrate"], env=env, cwd=home,
                              capture_output=True, text=True, timeout=600)
    assert migrated.returncode == 0, migrated.stderr[-4000:]
    return FLOOR_VENV / "bin" / "python", env, home


def probe(floor_airflow, *args: str) -> dict:
    python, env, _ = floor_airflow
    done = subprocess.run([str(python), str(PROBE), *args], env=env, cwd=env["HOME"], capture_output=True, text=True,
                          timeout=600)
    for line in done.stdout.splitlines():
        if line.startswith("RTC-PROBE "):
            return json.loads(line[len("RTC-PROBE "):])
    raise AssertionError(f"probe failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")


def test_the_floor_venv_holds_the_declared_floor_and_no_rtc(floor_airflow):
    python, env, _ = floor_airflow
    done = subprocess.run([str(python), "-c", "import airflow, importlib.util; print(airflow.__version__); "
                           "print(importlib.util.find_spec('rtc') is None)"], env=env, cwd=env["HOME"],
                          capture_output=True, text=True, timeout=120)
    version, no_rtc = done.stdout.split()
    assert Version(version) == Version(declared_floor()), done.stdout + done.stderr
    assert no_rtc == "True"  # the DAGs need only Airflow and its Docker provider


def test_every_example_imports_on_the_floor_with_zero_errors(floor_airflow):
    _, _, home = floor_airflow
    folder = home / "dags" / "examples"
    for source in EXAMPLES:
        done = subprocess.run([sys.executable, "-m", "rtc", "compile", str(source), "--target", "airflow",
                               "-o", str(folder / f"{source.parent.name}_{source.stem}")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    bag = probe(floor_airflow, "dagbag", str(folder))
    assert bag["errors"] == {}, bag["errors"]
    dag_files = [p for p in folder.rglob("*__*.py") if not p.parent.name.startswith("rtc_runtime_")]  # not the runtime
    assert len(bag["dags"]) == len(dag_files) >= 6, sorted(bag["dags"])


def _airflow_pipelines():
    spec = importlib.util.spec_from_file_location("rtc_floor_pipelines", REPO / "tests" / "airflow" / "airflow_pipelines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_fan_out_graph_runs_end_to_end_on_the_floor(floor_airflow, docker_client):
    from rtc.integrations.airflow import render

    _, _, home = floor_airflow
    folder = home / "dags" / uuid.uuid4().hex
    folder.mkdir()
    for name, text in render(_airflow_pipelines().etl_pipeline()).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    result = probe(floor_airflow, "test", str(folder), "Demo.etl", json.dumps({"prefix": "p"}),
                   json.dumps({"API_KEY": "s3cret"}))
    assert result["state"] == "success", result
    xcom = result["xcom"]
    assert [xcom[f"clean[{i}]:return_value"]["result"] for i in range(3)] == ["A-P:0", "B-P:1", "C-P:2"]
    assert xcom["report:return_value"] == {"summary": {"n": 3, "cleaned": ["A-P:0", "B-P:1", "C-P:2"],
                                                       "key": "s3cret"}}
