"""Airflow and Prefect deployed the way users run them, with scheduled runs that fire untriggered.

One module, so one worker of the test session owns the `stack` (see conftest.py). The Prefect
deployment is registered first; its every-minute runs fire while the Airflow tests run, and the
last test collects them: the tier costs about its services' start-up plus two minutes.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tier_services import REPO, AirflowApi, deploy_with_worker, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.airflow, pytest.mark.prefect]

TIER = Path(__file__).with_name("tier.rt")
RTC = [sys.executable, "-m", "rtc"]
EXAMPLES = [REPO / "examples" / name / "pipeline.rt" for name in ("etl", "ml", "tyger")] + [
    REPO / "examples" / "tyger" / name for name in ("run-hello.yml", "run-inline.yml")]

# Read back what the server holds, in a process with the tier's Prefect settings (this test
# process may carry another PREFECT_HOME, set by tests/prefect/conftest.py at collection).
READ_RUNS = r'''
import json, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
with get_client(sync_client=True) as client:
    deployment = client.read_deployment_by_name(sys.argv[1])
    out = []
    for run in client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id]))):
        done = run.state is not None and run.state.is_completed()
        out.append({"state": run.state_type.value, "auto_scheduled": run.auto_scheduled,
                    "created_by": run.created_by.type if run.created_by else None,
                    "expected": run.expected_start_time.isoformat(),
                    "result": run.state.result() if done else None, "parameters": run.parameters})
print(json.dumps(out))
'''


@pytest.fixture(scope="module")
def prefect_deployed(stack, docker_client, tmp_path_factory):
    """`rtc deploy` of the tier's pipeline, then a long-running `prefect worker` on its pool."""
    pool, output = deploy_with_worker(stack, TIER, tmp_path_factory.mktemp("flows"), "tier")
    return {"pool": pool, "output": output, "deployed_at": time.time()}


def read_prefect_runs(stack, deployment: str) -> list[dict]:
    done = subprocess.run([sys.executable, "-c", READ_RUNS, deployment], env=stack.env(stack.prefect),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_rtc_deploy_prints_the_next_run_the_server_holds(stack, prefect_deployed):
    line = next(line for line in prefect_deployed["output"].splitlines() if "every_minute/every_minute" in line)
    match = re.search(r"next run (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", line)
    assert match, line
    scheduled = [r for r in read_prefect_runs(stack, "rtc_tier.every_minute/every_minute") if r["auto_scheduled"]]
    # What rtc printed is one of the server's own scheduled runs, not a local computation.
    printed = match.group(1).replace(" ", "T") + "+00:00"
    assert printed in {r["expected"] for r in scheduled}, (printed, scheduled[:3])
    assert "rtc_tier.fanout/fanout  schedule manual  next run none (runs when triggered)" in prefect_deployed["output"]


@pytest.fixture(scope="module")
def airflow_dags(stack):
    """Every example and the tier's pipeline compiled into the DAG folder (one sub-folder each)."""
    dags = Path(stack.airflow["AIRFLOW__CORE__DAGS_FOLDER"])
    files = []
    for source in [TIER, *EXAMPLES]:
        out = dags / f"{source.parent.name}_{source.stem}"
        done = subprocess.run([*RTC, "compile", str(source), "--target", "airflow", "-o", str(out)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        files += [p.relative_to(dags).as_posix() for p in out.glob("*__*.py")]  # DAG files, not the runtime module
    api = AirflowApi(stack.airflow)

    def parsed():
        seen = {d["relative_fileloc"] for d in api.get("/api/v2/dags?limit=100")["dags"]}
        errors = api.get("/api/v2/importErrors")["import_errors"]
        return errors or (set(files) <= seen)

    outcome = wait_for("the dag-processor to parse every compiled file", parsed, timeout=180)
    return {"api": api, "files": files, "import_errors": outcome if isinstance(outcome, list) else []}


def test_every_compiled_example_imports_with_zero_errors(airflow_dags):
    assert len(airflow_dags["files"]) >= 7
    assert airflow_dags["import_errors"] == []
    assert airflow_dags["api"].get("/api/v2/importErrors")["total_entries"] == 0


def test_airflow_runs_an_every_minute_graph_on_schedule_without_a_trigger(stack, airflow_dags):
    api = airflow_dags["api"]
    dag = "rtc_tier.every_minute"
    assert api.get(f"/api/v2/dags/{dag}")["is_paused"] is True  # as Airflow creates new DAGs
    api.patch(f"/api/v2/dags/{dag}", {"is_paused": False})

    def scheduled_success():
        runs = api.get(f"/api/v2/dags/{dag}/dagRuns")["dag_runs"]
        failed = [r for r in runs if r["state"] == "failed"]
        assert not failed, failed
        return [r for r in runs if r["run_type"] == "scheduled" and r["state"] == "success"]

    runs = wait_for("a successful scheduled run of " + dag, scheduled_success, timeout=300)
    ti = api.get(f"/api/v2/dags/{dag}/dagRuns/{runs[0]['dag_run_id']}/taskInstances")["task_instances"]
    assert [(t["task_id"], t["state"]) for t in ti] == [("tick", "success")]
    value = api.get(f"/api/v2/dags/{dag}/dagRuns/{runs[0]['dag_run_id']}/taskInstances/tick/xcomEntries/return_value")
    assert "tick tier" in str(value["value"])
    assert not [r for r in api.get(f"/api/v2/dags/{dag}/dagRuns")["dag_runs"] if r["run_type"] == "manual"]


def test_airflow_fanout_spreads_mapped_steps_over_both_celery_workers(stack, airflow_dags):
    api = airflow_dags["api"]
    dag = "rtc_tier.fanout"
    api.patch(f"/api/v2/dags/{dag}", {"is_paused": False})
    run = api.post(f"/api/v2/dags/{dag}/dagRuns", {"logical_date": None})
    run_id = run["dag_run_id"]

    def finished():
        state = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    assert wait_for(f"run {run_id} to finish", finished, timeout=400) == "success"
    mapped = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances?task_id_pattern=work&limit=100")
    work = sorted(t["map_index"] for t in mapped["task_instances"] if t["task_id"] == "work")
    assert work == list(range(8))
    # Which worker ran each element: both celery workers log the task instance they execute.
    ran = {}
    for worker in ("airflow-worker1", "airflow-worker2"):
        for m in re.finditer(rf"task_id='work', dag_id='{re.escape(dag)}', run_id='{re.escape(run_id)}'.*?map_index=(\d+)",
                             stack.log(worker)):
            ran.setdefault(worker, set()).add(int(m.group(1)))
    assert set(ran) == {"airflow-worker1", "airflow-worker2"}, ran
    assert ran["airflow-worker1"] | ran["airflow-worker2"] == set(range(8))


def test_every_service_listens_on_loopback_only(stack, prefect_deployed):
    import psutil

    pids = [int((stack.dir / p).read_text()) for p in sorted(p.name for p in stack.dir.glob("*.pid"))]
    procs = []
    for pid in pids:
        parent = psutil.Process(pid)
        procs += [parent, *parent.children(recursive=True)]
    listening = []
    for proc in procs:
        try:
            conns = proc.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        listening += [(proc.name(), c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    assert listening, "no service listens at all?"
    assert all(ip == "127.0.0.1" for _, ip, _ in listening), listening


def test_prefect_runs_an_every_minute_deployment_twice_without_a_trigger(stack, prefect_deployed):
    name = "rtc_tier.every_minute/every_minute"

    def two_completed():
        runs = read_prefect_runs(stack, name)
        failed = [r for r in runs if r["state"] in ("FAILED", "CRASHED")]
        assert not failed, (failed, stack.log(f"prefect-worker-worker-{prefect_deployed['pool']}")[-3000:])
        done = [r for r in runs if r["state"] == "COMPLETED"]
        return done if len(done) >= 2 else None

    done = wait_for("two completed scheduled runs of " + name, two_completed, timeout=400, every=5)
    assert all(r["auto_scheduled"] and r["created_by"] == "SCHEDULE" for r in done), done
    assert all(r["result"] == {"tick": {"greeting": "tick tier"}} for r in done), done
    assert len({r["expected"] for r in done}) == len(done)  # distinct schedule slots, not retries


def unpause_when_parsed(api, dag: str) -> None:
    """Wait for the dag-processor to parse `dag`, then unpause it, as a user does in the UI."""
    wait_for(f"the dag-processor to parse {dag}", lambda: api.get(f"/api/v2/dags?dag_id_pattern={dag}")["dags"],
             timeout=180)
    api.patch(f"/api/v2/dags/{dag}", {"is_paused": False})


def run_by_hand(api, dag: str, timeout: float = 400) -> tuple[str, str]:
    """Start a run of `dag` through the REST API, as the UI's trigger button does; (its run id, how it ended)."""
    run_id = api.post(f"/api/v2/dags/{dag}/dagRuns", {"logical_date": None})["dag_run_id"]

    def finished():
        state = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}")["state"]
        return state if state in ("success", "failed") else None

    return run_id, wait_for(f"run {run_id} of {dag} to finish", finished, timeout=timeout)


def test_a_celery_worker_on_a_second_engine_pulls_and_runs_a_built_environment(stack, airflow_dags):
    """`rtc build --push` on the first host; DAGs compiled with `--registry`; worker 2's engine pulls."""
    import docker

    source = Path(__file__).with_name("tier_engine2.rt")
    registry = f"{stack.registry}/tier"
    built = subprocess.run([*RTC, "build", str(source), "--push", "--registry", registry, "-q"],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    ref = next(line.split()[2] for line in built.stderr.splitlines() if line.startswith("built: pushed "))
    engine2 = docker.DockerClient(base_url=stack.engine2)
    with pytest.raises(docker.errors.ImageNotFound):
        engine2.images.get(ref)  # the second host never built it

    api = airflow_dags["api"]
    out = Path(stack.airflow["AIRFLOW__CORE__DAGS_FOLDER"]) / "tier_engine2"
    done = subprocess.run([*RTC, "compile", str(source), "--target", "airflow", "--registry", registry, "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert any(ref in dag_file.read_text() for dag_file in out.glob("*.py"))
    dag = "rtc_tier_e2.spread"
    unpause_when_parsed(api, dag)
    since = int(time.time()) - 1
    _, state = run_by_hand(api, dag)
    assert state == "success", stack.log("airflow-worker2")[-3000:]
    assert ref in engine2.images.get(ref).tags  # pulled from the registry
    on_engine2 = list(engine2.events(since=since, until=int(time.time()) + 1, decode=True, filters={
        "type": "container", "event": "start", "label": "rtc.pipeline=rtc_tier_e2"}))
    assert on_engine2, "no step of the built environment ran on the second engine"
    assert all(e["Actor"]["Attributes"]["image"] == ref for e in on_engine2)
    engine2.close()


def test_a_file_passes_between_celery_workers_on_two_engines_only_through_the_store(stack, airflow_dags, docker_client):
    """Each element's file is made on one worker's engine and read on whichever worker runs its `use`: where the
    two differ, the bytes can only have come through the S3 store (AIRFLOW__RTC__STORE and the Connection rtc_store;
    the workers share no artifact folder, and none is made)."""
    import docker
    import fsspec

    api = airflow_dags["api"]
    out = Path(stack.airflow["AIRFLOW__CORE__DAGS_FOLDER"]) / "tier_files"
    done = subprocess.run([*RTC, "compile", str(Path(__file__).with_name("tier_files.rt")), "--target", "airflow",
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dag = "rtc_tier_files.handoff"
    unpause_when_parsed(api, dag)
    since = int(time.time()) - 1
    run_id, state = run_by_hand(api, dag)
    assert state == "success", stack.log("airflow-worker2")[-3000:]

    def sums(task):  # element -> the sha256 its container computed (the step's `sum` output), as the API gives it
        values = {}
        for i in range(8):
            value = api.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/{task}/xcomEntries/sum?map_index={i}")["value"]
            values[i] = json.loads(value) if isinstance(value, str) and value.startswith('"') else value
        return values

    made, used = sums("make"), sums("use")
    assert len(made) == 8 and made == used  # the same bytes in both containers, element by element

    def engines(client):  # step label (make#3) -> this engine, for the run's containers
        events = client.events(since=since, until=int(time.time()) + 1, decode=True, filters={
            "type": "container", "event": "start", "label": "rtc.pipeline=rtc_tier_files"})
        return {e["Actor"]["Attributes"]["rtc.step"] for e in events}

    engine2 = docker.DockerClient(base_url=stack.engine2)
    on1, on2 = engines(docker_client), engines(engine2)
    engine2.close()
    crossed = [i for i in range(8) if (f"make#{i}" in on1) != (f"use#{i}" in on1)]
    assert crossed, f"no element's two steps ran on different engines: engine 1 {sorted(on1)}, engine 2 {sorted(on2)}"
    fs = fsspec.filesystem("s3", skip_instance_cache=True, key=stack.s3["AWS_ACCESS_KEY_ID"],
                           secret=stack.s3["AWS_SECRET_ACCESS_KEY"], endpoint_url=stack.s3["AWS_ENDPOINT_URL"])
    for i in crossed:
        digest = made[i]
        assert fs.exists(f"{stack.s3['RTC_TEST_BUCKET']}/tier/sha256/{digest[:2]}/{digest}")
    assert not (Path(stack.airflow["AIRFLOW_HOME"]) / "rtc-artifacts").exists()  # no folder store on the workers


START_RUN = r'''
import sys
from prefect.deployments import run_deployment
print(run_deployment(sys.argv[1], timeout=0).id)
'''


def test_prefect_runs_the_graphs_that_are_on_a_graph_when_its_run_records_their_data(stack, prefect_deployed, tmp_path):
    """`on` under Prefect: one run of `nightly` started by hand; Prefect's automations start `scoring` (on its
    train.model, given the event's artifact reference) and `report` (on its success), nobody else."""
    source = Path(__file__).with_name("tier_triggers.rt")
    done = subprocess.run([*RTC, "deploy", str(source), "--target", "prefect", "--work-pool", prefect_deployed["pool"],
                           "-o", str(tmp_path / "flows")], env=stack.env(stack.prefect), capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    started = subprocess.run([sys.executable, "-c", START_RUN, "rtc_tier_on.nightly/nightly"], env=stack.env(stack.prefect),
                             capture_output=True, text=True, timeout=120)
    assert started.returncode == 0, started.stderr[-3000:]

    def completed(deployment):
        def check():
            runs = read_prefect_runs(stack, deployment)
            failed = [r for r in runs if r["state"] in ("FAILED", "CRASHED")]
            assert not failed, (failed, stack.log(f"prefect-worker-worker-{prefect_deployed['pool']}")[-3000:])
            return [r for r in runs if r["state"] == "COMPLETED"] or None
        return check

    [nightly] = wait_for("the nightly run", completed("rtc_tier_on.nightly/nightly"), timeout=300, every=3)
    model = nightly["result"]["train"]["model"]
    [scoring] = wait_for("the scoring run its trigger starts", completed("rtc_tier_on.scoring/scoring"), timeout=300, every=3)
    [report] = wait_for("the report run its trigger starts", completed("rtc_tier_on.report/report"), timeout=300, every=3)
    assert scoring["created_by"] == report["created_by"] == "AUTOMATION", (scoring, report)
    assert scoring["parameters"]["nightly_train_model"] == model  # the event's reference, as a JSON object
    assert scoring["result"]["score"]["got"].startswith("MODEL-")  # the bytes that run stored
    assert report["result"] == {"report": {"done": True}}


def test_airflow_runs_the_dags_on_a_graph_when_its_run_announces_their_assets(stack, airflow_dags):
    """`on` under Airflow: one run of `nightly` started by hand; Airflow's scheduler starts `scoring` (on the
    Asset of train.model, whose event carries the model's reference) and `report` (on nightly's run), nobody else."""
    api = airflow_dags["api"]
    out = Path(stack.airflow["AIRFLOW__CORE__DAGS_FOLDER"]) / "tier_triggers"
    done = subprocess.run([*RTC, "compile", str(Path(__file__).with_name("tier_triggers.rt")), "--target", "airflow",
                           "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    dags = [f"rtc_tier_on.{g}" for g in ("nightly", "scoring", "report")]
    for dag in dags:
        unpause_when_parsed(api, dag)
    run_id = api.post("/api/v2/dags/rtc_tier_on.nightly/dagRuns", {"logical_date": None})["dag_run_id"]

    def succeeded(dag):
        def check():
            runs = api.get(f"/api/v2/dags/{dag}/dagRuns")["dag_runs"]
            assert not [r for r in runs if r["state"] == "failed"], (runs, stack.log("airflow-worker1")[-2000:])
            return [r for r in runs if r["state"] == "success"] or None
        return check

    [nightly] = wait_for("the nightly run", succeeded("rtc_tier_on.nightly"), timeout=400, every=3)
    assert nightly["dag_run_id"] == run_id
    [scoring] = wait_for("the scoring run its Asset starts", succeeded("rtc_tier_on.scoring"), timeout=400, every=3)
    [report] = wait_for("the report run its Asset starts", succeeded("rtc_tier_on.report"), timeout=400, every=3)
    assert scoring["run_type"] == report["run_type"] == "asset_triggered", (scoring, report)

    def xcom(dag, run, task, key):
        value = api.get(f"/api/v2/dags/{dag}/dagRuns/{run}/taskInstances/{task}/xcomEntries/{key}")["value"]
        return json.loads(value) if isinstance(value, str) and value[:1] in '"{[' else value

    model = xcom("rtc_tier_on.nightly", run_id, "train", "model")
    assert model["artifact"] == "file" and model["uri"].startswith("s3://")  # the tier's store
    assert xcom("rtc_tier_on.scoring", scoring["dag_run_id"], "score", "got").startswith("MODEL-")
    events = api.get("/api/v2/assets/events?source_dag_id=rtc_tier_on.nightly")["asset_events"]
    assert {"value": model} in [e["extra"] for e in events]  # the event the scoring run was started by


# The UI screenshots (issue 23) run in this module: one tier stack per test session, not one per module's worker.
from screenshots_cases import (  # noqa: E402
    airflow_browser, airflow_runs, etl_images, prefect_browser, prefect_runs, shots,
    test_airflow_elements_task_says_what_it_read, test_airflow_failed_run_and_its_log, test_airflow_good_run, test_airflow_missing_secret,
    test_prefect_failed_run_and_its_task, test_prefect_good_run,
)

__all__ = [  # collected here (the tests) and used by name (the fixtures)
    "airflow_browser", "airflow_runs", "etl_images", "prefect_browser", "prefect_runs", "shots",
    "test_airflow_elements_task_says_what_it_read", "test_airflow_failed_run_and_its_log", "test_airflow_good_run",
    "test_airflow_missing_secret", "test_prefect_failed_run_and_its_task", "test_prefect_good_run",
]
