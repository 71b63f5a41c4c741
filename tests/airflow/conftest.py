"""A temporary AIRFLOW_HOME (SQLite, migrated once per session) and a way to run Airflow in it.

Airflow runs in child processes (tests/airflow/airflow_probe.py): it reads its
configuration at import, and the pytest process must stay free of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("airflow_probe.py")
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_env(home: Path) -> dict:
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    return env


@pytest.fixture(scope="session")
def airflow_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    proc = subprocess.run([str(AIRFLOW), "db", "migrate"], env=airflow_env(home), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return home


class Probe:
    def __init__(self, home: Path):
        self.home = home

    def __call__(self, *args: str, timeout: float = 240, env: dict | None = None) -> dict:
        proc = subprocess.run([sys.executable, str(PROBE), *args], env={**airflow_env(self.home), **(env or {})},
                              capture_output=True, text=True, timeout=timeout)
        for line in proc.stdout.splitlines():
            if line.startswith("RTC-PROBE "):
                result = json.loads(line[len("RTC-PROBE "):])
                for one in result if isinstance(result, list) else [result]:
                    one["log"] = proc.stdout + proc.stderr
                return result
        raise AssertionError(f"probe {args[:3]} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")

    def dagbag(self, folder: Path) -> dict:
        return self("dagbag", str(folder))

    def dags_test(self, folder: Path, dag_id: str, conf: dict | None = None, variables: dict | None = None) -> dict:
        return self("test", str(folder), dag_id, json.dumps(conf or {}), json.dumps(variables or {}))

    def dags_test_many(self, jobs: list[tuple[Path, str, dict, int]], timeout: float = 1800,
                       env: dict | None = None) -> list[dict]:
        """`dags_test` of each (folder, DAG id, variables, runs) job, in one process; the last run's result of each.
        `env`: variables added to the process's environment (the workers' settings)."""
        return self("test-many", json.dumps([[str(f), d, v, n] for f, d, v, n in jobs]), timeout=timeout, env=env)


@pytest.fixture(scope="session")
def airflow_cli_env(airflow_home) -> dict:
    """The environment in which the `airflow` command uses the session's AIRFLOW_HOME."""
    return airflow_env(airflow_home)


@pytest.fixture(scope="session")
def airflow(airflow_home) -> Probe:
    return Probe(airflow_home)
