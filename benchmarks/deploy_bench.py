"""Time from deploying to the first scheduled run completed, rtc against the orchestrator's own floor.

On the deployment tier's services (scripts/services/: Postgres, Redis, Airflow with the
CeleryExecutor and two workers, a Prefect server with a long-running worker), per orchestrator:

- Airflow: from the DAG file landing in the DAG folder (rtc: `rtc compile -o`; floor: a
  hand-written one-task DockerOperator DAG running the same busybox command) to its first
  *scheduled* run succeeded. Each new DAG is unpaused through the REST API as soon as it is
  parsed; with catchup=False the scheduler then runs the latest slot at once.
- Prefect: from `rtc deploy` (floor: a hand-written flow whose task runs the same container with
  the docker SDK, registered with `RunnerDeployment.apply`, as `flow.deploy` does) to its first
  scheduled run completed. Both deploy at the same moment, so both wait for the same minute
  slot; "after slot" is completion minus the run's scheduled start (free of that wait).

Rounds alternate the two (Airflow) or run them together (Prefect); medians and ratios printed.

    .venv/bin/python benchmarks/deploy_bench.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "deploy"))
from tier_services import SERVICES, AirflowApi, read_env  # noqa: E402  (the tier's own helpers)

RTC = [sys.executable, "-m", "rtc"]
IMAGE = "busybox:latest"

RTC_SOURCE = textwrap.dedent(r'''
    namespace NS
    env bb { image = "busybox:latest" }
    node Tick {
      env     = bb
      outputs { greeting: str }
      command = ["sh", "-c", "printf '{\"greeting\": \"tick\"}' > $RTC_OUTPUTS_FILE"]
    }
    graph every_minute {
      schedule = "* * * * *"
      tick = Tick()
    }
''')

HAND_DAG = textwrap.dedent('''
    from datetime import datetime, timezone

    from airflow.providers.docker.operators.docker import DockerOperator
    from airflow.sdk import DAG

    with DAG(dag_id=DAG_ID, schedule="* * * * *", start_date=datetime(2024, 1, 1, tzinfo=timezone.utc),
             catchup=False):
        DockerOperator(task_id="tick", image="busybox:latest", command=["sh", "-c", "echo tick"],
                       auto_remove="force", mount_tmp_dir=False)
''')

HAND_FLOW = textwrap.dedent('''
    import docker
    from prefect import flow, task


    @task
    def tick():
        return docker.from_env().containers.run("busybox:latest", ["sh", "-c", "echo tick"], remove=True).decode()


    @flow
    def hand_tick():
        return tick()
''')

HAND_DEPLOY = textwrap.dedent('''
    import sys
    from prefect.deployments.runner import RunnerDeployment
    from prefect.runner.storage import LocalStorage

    folder, name, pool = sys.argv[1:]
    RunnerDeployment.from_storage(storage=LocalStorage(folder), entrypoint="hand_flow.py:hand_tick", name=name,
                                  cron="* * * * *", work_pool_name=pool).apply(work_pool_name=pool)
''')

PREFECT_RUNS = textwrap.dedent('''
    import json, sys
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    with get_client(sync_client=True) as client:
        d = client.read_deployment_by_name(sys.argv[1])
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[d.id])))
        print(json.dumps([{"state": r.state_type.value, "expected": r.expected_start_time.timestamp(),
                           "end": r.end_time.timestamp() if r.end_time else None} for r in runs]))
''')


def sh(*argv: str, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    done = subprocess.run(list(argv), env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return done


def poll(what: str, probe, timeout: float = 600, every: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = probe()
        except OSError:
            found = None
        if found:
            return found
        time.sleep(every)
    raise SystemExit(f"timed out waiting for {what}")


def airflow_round(api: AirflowApi, dags: Path, kind: str) -> float:
    """Seconds from the file landing to the first scheduled run succeeded."""
    ns = f"bench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="rtc-deploy-bench-"))
    began = time.monotonic()
    if kind == "rtc":
        (work / "b.rt").write_text(RTC_SOURCE.replace("namespace NS", f"namespace {ns}"))
        sh(*RTC, "compile", str(work / "b.rt"), "--target", "airflow", "-o", str(dags / ns))
        dag_id = f"{ns}.every_minute"
    else:
        dag_id = f"{ns}.hand"
        (work / "dag.py").write_text(f"DAG_ID = {dag_id!r}\n" + HAND_DAG)
        (work / "dag.py").replace(dags / f"{ns}_hand.py")  # lands at once, like rtc's atomic write
    poll(f"{dag_id} parsed", lambda: dag_id in {d["dag_id"] for d in api.get("/api/v2/dags?limit=1000")["dags"]})
    api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def succeeded():
        runs = api.get(f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
        for r in runs:
            if r["state"] == "failed":
                tis = api.get(f"/api/v2/dags/{dag_id}/dagRuns/{r['dag_run_id']}/taskInstances")["task_instances"]
                raise SystemExit(f"{dag_id}: run {r['dag_run_id']} failed: "
                                 f"{[(t['task_id'], t['state'], t['hostname']) for t in tis]}")
        return any(r["run_type"] == "scheduled" and r["state"] == "success" for r in runs)

    poll(f"{dag_id}'s first scheduled run", succeeded)
    took = time.monotonic() - began
    api.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})  # no more runs competing with the next round
    shutil.rmtree(work, ignore_errors=True)
    return took


def prefect_round(env: dict, pool: str) -> dict[str, tuple[float, float]]:
    """Deploy rtc's and the hand-written flow at the same moment; (deploy->done, slot->done) each."""
    ns = f"bench_{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix="rtc-deploy-bench-"))
    (work / "b.rt").write_text(RTC_SOURCE.replace("namespace NS", f"namespace {ns}"))
    hand = work / "hand"
    hand.mkdir()
    (hand / "hand_flow.py").write_text(HAND_FLOW)
    began: dict[str, float] = {}

    def deploy_rtc():
        began["rtc"] = time.time()
        sh(*RTC, "deploy", str(work / "b.rt"), "--work-pool", pool, "-o", str(work / "flows"), env=env)

    def deploy_hand():
        began["hand"] = time.time()
        sh(sys.executable, "-c", HAND_DEPLOY, str(hand), ns, pool, env=env)

    threads = [threading.Thread(target=f) for f in (deploy_rtc, deploy_hand)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    names = {"rtc": f"{ns}.every_minute/every_minute", "hand": f"hand-tick/{ns}"}
    out = {}
    for kind, name in names.items():
        def completed(name=name):
            runs = json.loads(sh(sys.executable, "-c", PREFECT_RUNS, name, env=env).stdout)
            if any(r["state"] in ("FAILED", "CRASHED") for r in runs):
                raise SystemExit(f"{name}: a run failed")
            done = [r for r in runs if r["state"] == "COMPLETED" and r["end"]]
            return min(done, key=lambda r: r["expected"]) if done else None

        first = poll(f"{name}'s first scheduled run", completed, every=2)
        out[kind] = (first["end"] - began[kind], first["end"] - first["expected"])
    # Pause both, so their later runs do not load the next round.
    pause = "import sys\nfrom prefect.client.orchestration import get_client\nwith get_client(sync_client=True) as c:\n" \
            "    for n in sys.argv[1:]: c.pause_deployment(c.read_deployment_by_name(n).id)\n"
    sh(sys.executable, "-c", pause, *names.values(), env=env)
    shutil.rmtree(work, ignore_errors=True)
    return out


def line(label: str, rtc: list[float], hand: list[float]) -> str:
    r, h = statistics.median(rtc), statistics.median(hand)
    return f"{label:<34} rtc {r:7.1f} s   hand-written {h:7.1f} s   ratio {r / h:5.2f}   (n={len(rtc)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="rtc-deploy-bench-services-"))
    keep = False
    try:
        sh(str(SERVICES / "install.sh"))
        sh(str(SERVICES / "postgres.sh"), "start", str(root), "airflow", "prefect")
        sh(str(SERVICES / "redis.sh"), "start", str(root))
        sh(str(SERVICES / "prefect.sh"), "start", str(root))
        sh(str(SERVICES / "airflow.sh"), "start", str(root))
        airflow_env, prefect_env = read_env(root / "airflow.env"), read_env(root / "prefect.env")
        import os

        penv = {**os.environ, **prefect_env}
        pool = "bench-pool"
        sh(*RTC, "deploy", str(REPO / "tests" / "deploy" / "tier.rt"), "--work-pool", pool,
           "-o", str(root / "warm"), env=penv)  # creates the pool; warms imports
        sh(sys.executable, "-c", "import sys\nfrom prefect.client.orchestration import get_client\n"
           "with get_client(sync_client=True) as c:\n"
           "    for n in sys.argv[1:]: c.pause_deployment(c.read_deployment_by_name(n).id)\n",
           "rtc_tier.every_minute/every_minute", env=penv)
        sh(str(SERVICES / "prefect.sh"), "worker", str(root), pool)
        api = AirflowApi(airflow_env)
        dags = Path(airflow_env["AIRFLOW__CORE__DAGS_FOLDER"])

        timings: dict[str, list[float]] = {"rtc": [], "hand": []}
        for i in range(args.rounds):
            for kind in (("rtc", "hand") if i % 2 == 0 else ("hand", "rtc")):
                timings[kind].append(airflow_round(api, dags, kind))
                print(f"airflow round {i + 1} {kind}: {timings[kind][-1]:.1f} s", file=sys.stderr)
        prefect: dict[str, list[tuple[float, float]]] = {"rtc": [], "hand": []}
        for i in range(args.rounds):
            for kind, t in prefect_round(penv, pool).items():
                prefect[kind].append(t)
                print(f"prefect round {i + 1} {kind}: deploy->done {t[0]:.1f} s, slot->done {t[1]:.1f} s",
                      file=sys.stderr)
        print(line("airflow: file lands -> 1st sched. run", timings["rtc"], timings["hand"]))
        print(line("prefect: deploy -> 1st sched. run", [t[0] for t in prefect["rtc"]],
                   [t[0] for t in prefect["hand"]]))
        print(line("prefect: its slot -> run completed", [t[1] for t in prefect["rtc"]],
                   [t[1] for t in prefect["hand"]]))
    except BaseException:
        keep = True
        print(f"services' logs kept in {root}", file=sys.stderr)
        raise
    finally:
        for script, verb in (("prefect.sh", "stop"), ("airflow.sh", "stop"), ("redis.sh", "stop"),
                             ("postgres.sh", "stop")):
            subprocess.run([str(SERVICES / script), verb, str(root)], capture_output=True, timeout=120)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
