"""What a user sees in Airflow's and Prefect's UIs, captured by headless Chromium for the docs.

The ETL example (examples/etl) deployed on the tier's Airflow (api-server, scheduler, dag-processor,
Celery workers) and Prefect server (with a process worker): a good run, a run failing on a bad row
(a row holding a double quote makes `clean` write broken JSON), and on Airflow a run whose secret
is missing. Debian's `chromium` (installed by scripts/services/install.sh) loads each page logged in
as a user would be (Airflow: the simple auth manager's token as the `_token` cookie), and each page
is checked on its rendered text (the DOM Chromium built: step names, their states, the error)
before its PNG is kept. `scripts/screenshots.sh` runs this module with
RTC_SCREENSHOTS_DIR=docs/img to regenerate the images docs/airflow.md and docs/prefect.md show;
otherwise they go to a temporary folder. In the test suite these tests run inside tests/deploy/test_tier.py,
which imports them, so that one tier stack serves both (test workers split the suite by module).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import sys
import urllib.error
from pathlib import Path

import pytest

from browser import Browser, chromium
from tier_services import REPO, AirflowApi, deploy_with_worker, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.airflow, pytest.mark.prefect]

ETL = REPO / "examples" / "etl" / "pipeline.rt"
DAG = "etl_demo.etl"
RTC = [sys.executable, "-m", "rtc"]
BAD_SOURCE = 'alpha,be"ta,gamma'  # the second row breaks Clean's JSON
BAD_ELEMENT = 'clean[1] row="be\\"ta"'  # Prefect's name of that element's task run
STEPS = ["rtc.check_secrets", "extract", "clean.each", "clean [", "report", "rtc.steps_succeeded", "notify",
         "publish", "audit"]  # `clean [3]` once expanded: its node shows how many elements ran
AIRFLOW_PANELS = "react-resizable-panels:grid-ltr"  # where Airflow's UI keeps the grid's width


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("RTC_SCREENSHOTS_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def etl_images(stack):
    """The ETL example's images, built here and loaded into the second engine (Celery worker 2's host)."""
    built = subprocess.run([*RTC, "build", str(ETL)], capture_output=True, text=True, timeout=900)
    assert built.returncode == 0, built.stderr
    refs = sorted({m.group(1) for m in re.finditer(r"^\w+: .*\((\S+)\)\s*$", built.stdout + built.stderr, re.M)})
    assert refs, built.stdout + built.stderr
    for ref in refs:
        subprocess.run(f"docker save {ref} | DOCKER_HOST={stack.engine2} docker load -q", shell=True, check=True,
                       capture_output=True, timeout=600)
    return refs


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def keep(shots: Path, name: str, page, width: int, height: int) -> Path:
    """The page's PNG under `name`, made smaller by pngquant when it is installed (a palette of at most
    256 colours; screenshots of flat UIs lose nothing visible); checked to be a real capture."""
    data = page.png
    if shutil.which("pngquant"):
        done = subprocess.run(["pngquant", "--quality=60-95", "--speed=1", "--strip", "-"], input=data,
                              capture_output=True, timeout=120)
        if done.returncode == 0:
            data = done.stdout
    assert png_size(data) == (width, height)
    assert len(data) > 15_000, f"{name}: {len(data)} bytes, an empty page?"
    path = shots / name
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def graph_states(text: str, names: list[str]) -> dict[str, str]:
    """Each task's state as Airflow's Graph view shows it: its node reads `name`, `operator`, `state`
    (a name ending in `[` is the start of a mapped task's, `clean [3]`)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    states = {}
    for name in names:
        i = next(i for i, line in enumerate(lines) if line == name or (name.endswith("[") and line.startswith(name)))
        states[name] = lines[i + 2]
    return states


# ---------------------------------------------------------------------------------------------- Airflow


@pytest.fixture(scope="module")
def airflow_runs(stack, etl_images):
    """The ETL DAG in the tier's DAG folder; a run without its secret, then (secret set) a good and a bad run."""
    dags = Path(stack.airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    out = dags / "etl_pipeline"  # the folder tests/deploy/test_tier.py compiles it to: one DAG file, not two
    done = subprocess.run([*RTC, "compile", str(ETL), "--target", "airflow", "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    api = AirflowApi(stack.airflow)
    wait_for(f"the dag-processor to parse {DAG}", lambda: api.get(f"/api/v2/dags?dag_id_pattern={DAG}")["dags"],
             timeout=180)
    try:
        api._send("DELETE", "/api/v2/variables/API_TOKEN")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc
    api.patch(f"/api/v2/dags/{DAG}", {"is_paused": False})

    def finish(run_id):
        def state():
            s = api.get(f"/api/v2/dags/{DAG}/dagRuns/{run_id}")["state"]
            return s if s in ("success", "failed") else None
        return wait_for(f"run {run_id} to finish", state, timeout=400)

    api.post(f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None, "dag_run_id": "missing_secret"})
    states = {"missing_secret": finish("missing_secret")}
    api.post("/api/v2/variables", {"key": "API_TOKEN", "value": "not-a-real-token"})
    api.post(f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None, "dag_run_id": "good_run"})
    api.post(f"/api/v2/dags/{DAG}/dagRuns", {"logical_date": None, "dag_run_id": "bad_row",
                                            "conf": {"source": BAD_SOURCE}})
    states |= {run: finish(run) for run in ("good_run", "bad_row")}
    tasks = {run: api.get(f"/api/v2/dags/{DAG}/dagRuns/{run}/taskInstances?limit=100")["task_instances"]
             for run in states}
    return {"api": api, "states": states, "tasks": tasks, "why": lambda run: why(api, run, tasks[run])}


def why(api, run, tis) -> str:
    """The task states of a run and the end of each failed task's log, for an assertion's message."""
    lines = [f"{t['task_id']}[{t['map_index']}] {t['state']}" for t in tis]
    for t in tis:
        if t["state"] == "failed":
            index = f"?map_index={t['map_index']}" if t["map_index"] >= 0 else ""
            log = api.get(f"/api/v2/dags/{DAG}/dagRuns/{run}/taskInstances/{t['task_id']}/logs/{t['try_number']}{index}")
            for event in log.get("content", []):
                if isinstance(event, dict) and event.get("level") in ("error", "critical"):
                    lines.append(f"  {t['task_id']}: {event.get('event')}")
                    lines += [f"    {d.get('exc_type')}: {d.get('exc_value')}" for d in event.get("error_detail", [])]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def airflow_browser(stack, airflow_runs):
    assert chromium(), "no chromium: scripts/services/install.sh installs Debian's package"
    base = stack.airflow["AIRFLOW_API_URL"]
    with Browser() as browser:
        browser.set_cookie(base + "/", "_token", airflow_runs["api"].token)
        browser.base = base
        yield browser


def airflow_page(browser, path, wait_for_text, *, width, height, view="graph", collapse_details=False):
    browser.resize(width, height)
    browser.set_local_storage(browser.base + "/", {
        "default_dag_view": json.dumps(view), "log_wrap": "true", "log_show_source": "false",
        AIRFLOW_PANELS: json.dumps({"details-panel,main-panel": {"expandToSizes": {}, "layout": [23, 77]}}),
    })
    collapse = """(async () => {
      document.querySelector('button[aria-label="Collapse Details Panel"]').click();
      await new Promise(r => setTimeout(r, 800));
      document.querySelector('button[aria-label="Fit View"]').click();
    })()"""
    return browser.show(browser.base + path, wait_for_text, before=collapse if collapse_details else None)


def test_airflow_good_run(airflow_runs, airflow_browser, shots):
    assert airflow_runs["states"]["good_run"] == "success", airflow_runs["why"]("good_run")
    page = airflow_page(airflow_browser, f"/dags/{DAG}/runs/good_run", ["good_run", *STEPS, "clean [3]"], width=1200, height=600,
                        collapse_details=True)
    assert "Sign in" not in page.text and "Dag Run" in page.text
    assert set(graph_states(page.text, STEPS).values()) == {"success"}
    # Operators are the rtc nodes; the helpers say what they are.
    assert {"Extract", "Clean", "Report", "Publish", "Notify", "rtc: check secrets",
            "rtc: elements of a fan-out"} <= set(page.text.splitlines())
    keep(shots, "airflow-good-run.png", page, 1200, 600)


def test_airflow_elements_task_says_what_it_read(airflow_runs):
    api = airflow_runs["api"]
    log = json.dumps(api.get(f"/api/v2/dags/{DAG}/dagRuns/good_run/taskInstances/clean.each/logs/1"))
    assert "each(row) reads extract.output['rows']: a list of 3" in log, log[:3000]
    assert 'clean runs once per element, 3 container(s): row=\\"alpha\\"; row=\\"beta\\"; row=\\"gamma\\"' in log, \
        log[:3000]


def test_airflow_failed_run_and_its_log(airflow_runs, airflow_browser, shots):
    assert airflow_runs["states"]["bad_row"] == "failed", airflow_runs["why"]("bad_row")
    page = airflow_page(airflow_browser, f"/dags/{DAG}/runs/bad_row", ["bad_row", *STEPS, "clean [3]", "upstream_failed"],
                        width=1200, height=600, collapse_details=True)
    assert graph_states(page.text, STEPS) == {
        "rtc.check_secrets": "success", "extract": "success", "clean.each": "success", "clean [": "failed",
        "report": "upstream_failed", "publish": "upstream_failed", "audit": "upstream_failed",
        "notify": "success",  # the join ran, with ok = null
        "rtc.steps_succeeded": "failed",  # ... and the run fails, naming the step
    }
    keep(shots, "airflow-failed-run.png", page, 1200, 600)

    log = airflow_page(airflow_browser, f"/dags/{DAG}/runs/bad_row/tasks/clean/mapped/1",
                       ["not valid JSON", "Failed"], width=1320, height=920, view="grid")
    # The element is named by its input, and the error names step and element and quotes what it wrote.
    assert 'clean [row="be\\"ta"]' in log.text
    assert 'inputs: {"row": "be\\"ta"}' in log.text
    assert "step 'clean' element 1 wrote outputs that are not valid JSON" in log.text
    assert """it wrote: '{"result": "BE\\\\"}'""" in log.text, log.text[-3000:]
    keep(shots, "airflow-failed-log.png", log, 1320, 920)


def test_airflow_missing_secret(airflow_runs, airflow_browser, shots):
    assert airflow_runs["states"]["missing_secret"] == "failed"
    page = airflow_page(airflow_browser, f"/dags/{DAG}/runs/missing_secret", ["missing_secret", *STEPS],
                        width=1200, height=600, collapse_details=True)
    states = graph_states(page.text, STEPS)
    assert states["rtc.check_secrets"] == "failed"
    # Nothing else ran: every step, the join `notify` included, is upstream_failed (not failed, not skipped).
    assert {s for t, s in states.items() if t != "rtc.check_secrets"} == {"upstream_failed"}, states
    keep(shots, "airflow-missing-secret.png", page, 1200, 600)
    log = json.dumps(airflow_runs["api"].get(
        f"/api/v2/dags/{DAG}/dagRuns/missing_secret/taskInstances/rtc.check_secrets/logs/1"))
    assert "missing secret: API_TOKEN (needed by 'publish'); no container was started" in log, log[:3000]


# ---------------------------------------------------------------------------------------------- Prefect

PREFECT_RUNS = r'''
import json, sys
from prefect.blocks.system import Secret
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import run_deployment
Secret(value="not-a-real-token").save("api-token", overwrite=True)
out = {}
for name, params in (("good-run", {}), ("bad-row", {"source": sys.argv[1]})):
    run = run_deployment("etl_demo.etl/etl", parameters=params, flow_run_name=name, timeout=400)
    with get_client(sync_client=True) as client:
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
    out[name] = {"id": str(run.id), "state": run.state_type.value, "message": run.state.message,
                 "tasks": {t.name: {"id": str(t.id), "state": t.state_type.value, "message": t.state.message}
                           for t in tasks}}
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def prefect_runs(stack, etl_images, tmp_path_factory):
    """`rtc deploy` of the ETL example, a process worker on its pool, then a good and a bad run."""
    pool, _ = deploy_with_worker(stack, ETL, tmp_path_factory.mktemp("etl-flows"), "shots")
    ran = subprocess.run([sys.executable, "-c", PREFECT_RUNS, BAD_SOURCE], env=stack.env(stack.prefect),
                         capture_output=True, text=True, timeout=1000)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def prefect_browser(stack, prefect_runs):
    assert chromium(), "no chromium: scripts/services/install.sh installs Debian's package"
    with Browser() as browser:
        browser.base = stack.prefect["PREFECT_API_URL"].removesuffix("/api")
        yield browser


def test_prefect_good_run(prefect_runs, prefect_browser, shots):
    run = prefect_runs["good-run"]
    assert run["state"] == "COMPLETED", run
    assert sorted(run["tasks"]) == ['audit', 'clean[0] row="alpha"', 'clean[1] row="beta"', 'clean[2] row="gamma"',
                                    "extract", "notify", "publish", "report"]
    prefect_browser.resize(1320, 540)
    page = prefect_browser.show(f"{prefect_browser.base}/runs/flow-run/{run['id']}",
                                ["good-run", "Completed", "8 Task runs", "etl_demo.etl"], settle=4)
    # The run graph is drawn on a canvas (not in the DOM): its edges are tested through the API
    # (tests/prefect/test_examples.py); here, the run's state and that no task run failed.
    assert "Failed" not in page.text
    keep(shots, "prefect-good-run.png", page, 1320, 540)


def test_prefect_failed_run_and_its_task(prefect_runs, prefect_browser, shots):
    run = prefect_runs["bad-row"]
    assert run["state"] == "FAILED", run
    states = {name: t["state"] for name, t in run["tasks"].items()}
    assert BAD_ELEMENT in states, run
    assert states[BAD_ELEMENT] == "FAILED"
    assert "PENDING" not in states.values() and "RUNNING" not in states.values(), states
    prefect_browser.resize(1320, 540)
    page = prefect_browser.show(f"{prefect_browser.base}/runs/flow-run/{run['id']}",
                                ["bad-row", "Failed", "8 Task runs"], settle=4)
    keep(shots, "prefect-failed-run.png", page, 1320, 540)

    prefect_browser.resize(1320, 600)
    task_id = run["tasks"][BAD_ELEMENT]["id"]
    task = prefect_browser.show(f"{prefect_browser.base}/runs/task-run/{task_id}", ["not valid JSON"], settle=2)
    assert BAD_ELEMENT in task.text
    assert 'inputs: {"row": "be\\"ta"}' in task.text
    assert "failed: step 'clean' element 1 wrote outputs that are not valid JSON" in task.text
    assert """it wrote: '{"result": "BE\\\\"}'""" in task.text
    keep(shots, "prefect-failed-task.png", task, 1320, 600)
