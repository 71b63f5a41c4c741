"""A built environment reaches a second engine that never built it: pushed by `rtc build --push`, pulled
by the local runner, by Airflow (`airflow dags test`) and by a Prefect worker, each bound to that engine
through DOCKER_HOST. A worker whose engine lacks the image and cannot pull it fails the step with a
message naming the image and `rtc build --push`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import RTC

pytestmark = [pytest.mark.docker]

BIN = Path(sys.executable).parent


def _on_engine2(engine2: str, **extra) -> dict:
    return {**os.environ, "DOCKER_HOST": engine2, **extra}


def _run(args, env, timeout=300, cwd=None):
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)


def _assert_pulled(engine2_client, pushed):
    image = engine2_client.images.get(pushed["ref"])
    assert any(d.endswith(pushed["digest"]) for d in image.attrs["RepoDigests"]), image.attrs["RepoDigests"]


def test_the_registry_holds_what_rtc_build_pushed(pushed):
    host, _, rest = pushed["ref"].partition("/")
    repository, _, tag = rest.rpartition(":")
    with urllib.request.urlopen(f"http://{host}/v2/{repository}/tags/list", timeout=5) as answer:
        assert tag in json.load(answer)["tags"]
    request = urllib.request.Request(f"http://{host}/v2/{repository}/manifests/{tag}", method="HEAD", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        assert answer.headers["Docker-Content-Digest"] == pushed["digest"]


def test_local_runner_on_the_second_engine_pulls_and_runs(absent_on_engine2, engine2, engine2_client):
    pushed = absent_on_engine2
    done = _run([*RTC, "run", str(pushed["file"]), "hello", "--registry", pushed["registry"], "-p", "who=runner"],
                _on_engine2(engine2))
    assert done.returncode == 0, done.stderr
    assert f"pulling {pushed['ref']}" in done.stderr
    _assert_pulled(engine2_client, pushed)


def test_local_runner_fails_clearly_when_the_image_cannot_be_pulled(pushed, engine2):
    elsewhere = pushed["registry"] + "-unpushed"
    done = _run([*RTC, "run", str(pushed["file"]), "hello", "--registry", elsewhere], _on_engine2(engine2))
    assert done.returncode == 1
    ref = pushed["ref"].replace(pushed["registry"], elsewhere)
    assert f"\nerror: image {ref!r} is not on this Docker engine ({engine2}) and cannot be pulled: " in done.stderr
    assert f"rtc build FILE --push --registry {elsewhere}" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- Airflow


def _airflow_env(home: Path, dags: Path, engine2: str) -> dict:
    return _on_engine2(
        engine2,
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",  # so that `dags test` prints its "DagRun Finished ... state=" line
    )


def _dag_state(output: str, dag_id: str) -> str | None:
    match = re.search(r"DagRun Finished: dag_id=" + re.escape(dag_id) + r".*?state=(\w+)", output)
    return match.group(1) if match else None


@pytest.mark.airflow
def test_airflow_dags_test_bound_to_the_second_engine(absent_on_engine2, engine2, engine2_client, tmp_path):
    """DockerOperator reads DOCKER_HOST when the DAG file is parsed in the worker's process, and pulls a missing image."""
    pushed = absent_on_engine2
    dags, home = tmp_path / "dags", tmp_path / "airflow"
    compiled = _run([*RTC, "compile", str(pushed["file"]), "-t", "airflow", "-o", str(dags), "--registry", pushed["registry"]],
                    os.environ)
    assert compiled.returncode == 0, compiled.stderr
    env = _airflow_env(home, dags, engine2)
    migrated = _run([str(BIN / "airflow"), "db", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    dag_id = f"{pushed['namespace']}.hello"

    done = _run([str(BIN / "airflow"), "dags", "test", dag_id, "-c", json.dumps({"who": "airflow"})], env)
    output = done.stdout + done.stderr
    assert done.returncode == 0 and _dag_state(output, dag_id) == "success", output[-4000:]
    assert f"Pulling docker image {pushed['ref']}" in output
    _assert_pulled(engine2_client, pushed)

    # Compiled for a registry that never received the image: the step fails, saying what to do.
    elsewhere = pushed["registry"] + "-unpushed"
    missing = _run([*RTC, "compile", str(pushed["file"]), "-t", "airflow", "-o", str(dags), "--registry", elsewhere],
                   os.environ)
    assert missing.returncode == 0, missing.stderr
    failed = _run([str(BIN / "airflow"), "dags", "test", dag_id], env)
    output = failed.stdout + failed.stderr
    assert failed.returncode != 0 and _dag_state(output, dag_id) == "failed", output[-4000:]
    ref = pushed["ref"].replace(pushed["registry"], elsewhere)
    assert f"image {ref!r} is not on this Docker engine ({engine2}) and cannot be pulled: " in output
    assert "rtc build FILE --push --registry REGISTRY" in output


# ---------------------------------------------------------------- Prefect


@pytest.fixture(scope="module")
def prefect_api(tmp_path_factory):
    """A `prefect server` on 127.0.0.1 for this module, stopped by its PID."""
    import socket
    import time

    home = tmp_path_factory.mktemp("prefect-home")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    log = open(home / "server.log", "w")
    server = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 150
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                break
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail("prefect server did not start:\n" + (home / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    yield {**env, "PREFECT_API_URL": url}
    server.terminate()
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


READ_RUN = """
import json, sys
from prefect.client.orchestration import get_client
with get_client(sync_client=True) as client:
    state = client.read_flow_run(sys.argv[1]).state
    print(json.dumps({"type": state.type.value, "message": state.message,
                      "result": state.result(raise_on_failure=False) if state.is_completed() else None}))
"""


@pytest.mark.prefect
def test_prefect_worker_bound_to_the_second_engine(absent_on_engine2, engine2, engine2_client, prefect_api, tmp_path):
    pushed = absent_on_engine2
    pool = f"e2-{uuid.uuid4().hex[:6]}"
    deployed = _run([*RTC, "deploy", str(pushed["file"]), "--work-pool", pool, "-o", str(tmp_path / "flows"),
                     "--registry", pushed["registry"]], prefect_api, timeout=180)
    assert deployed.returncode == 0, deployed.stderr
    name = f"{pushed['namespace']}.hello/hello"
    started = _run([str(BIN / "prefect"), "deployment", "run", name, "--param", "who=prefect"], prefect_api, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    run_id = re.search(r"UUID: ([0-9a-f-]{36})", started.stdout).group(1)

    # The worker, and the flow-run process it starts, are bound to the second engine.
    worker = _run([str(BIN / "prefect"), "worker", "start", "--pool", pool, "--run-once"],
                  {**prefect_api, "DOCKER_HOST": engine2}, timeout=300)
    assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
    state = json.loads(_run([sys.executable, "-c", READ_RUN, run_id], prefect_api).stdout)
    assert state["type"] == "COMPLETED", (state, worker.stdout[-3000:])
    assert state["result"] == {"greet": {"text": "hello prefect"}}
    _assert_pulled(engine2_client, pushed)


@pytest.mark.prefect
def test_prefect_flow_fails_clearly_when_the_image_cannot_be_pulled(pushed, engine2, prefect_api, tmp_path):
    elsewhere = pushed["registry"] + "-unpushed"
    flows = tmp_path / "flows"
    compiled = _run([*RTC, "compile", str(pushed["file"]), "-t", "prefect", "-o", str(flows), "--registry", elsewhere],
                    os.environ)
    assert compiled.returncode == 0, compiled.stderr
    module = f"{pushed['namespace']}__hello"
    run = f"import {module} as m; state = m.hello(return_state=True); print('STATE', state.type.value)"
    done = _run([sys.executable, "-c", run], {**prefect_api, "DOCKER_HOST": engine2}, cwd=flows)
    output = done.stdout + done.stderr
    assert "STATE FAILED" in done.stdout, output[-3000:]
    ref = pushed["ref"].replace(pushed["registry"], elsewhere)
    assert f"image {ref!r} is not on this Docker engine ({engine2}) and cannot be pulled: " in output
    assert "rtc build FILE --push --registry REGISTRY" in output
