"""`rtc deploy --target prefect`: register compiled flows as deployments with the Prefect API.

The flow modules must already be written to `folder` (the CLI writes them
atomically first); each deployment points at that folder (Prefect's
`LocalStorage`), so a process worker on the same machine or one that sees
the same path runs them. Deployments go through `RunnerDeployment.apply`,
the call `flow.deploy` makes, without its image build or console tables.
"""

from __future__ import annotations

import datetime
import os
import time
from pathlib import Path

from rtc.base.diagnostics import RtcError

WORK_POOL_TYPE = "process"  # the flow process drives Docker itself; it needs no container of its own
# How long to wait for the server's scheduler to create the first run of a new schedule. Its
# "recent deployments" loop looks every 5 s; a server whose scheduler fails never creates one.
SCHEDULE_WAIT_SECONDS = 30.0


def api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        raise RtcError(
            "PREFECT_API_URL is not set: rtc deploy needs a running Prefect server",
            hint="start one with `prefect server start` and export PREFECT_API_URL=http://127.0.0.1:4200/api",
        )
    return url


def _check_reachable(client, url: str) -> None:
    problem = client.api_healthcheck()
    if problem is not None:
        raise RtcError(f"cannot reach the Prefect API at {url}: {problem}",
                       hint="is `prefect server start` running, and PREFECT_API_URL right?")


def ensure_work_pool(client, name: str) -> bool:
    """Create the work pool (type process) when it does not exist; True when it was created."""
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        client.read_work_pool(name)
        return False
    except ObjectNotFound:
        client.create_work_pool(WorkPoolCreate(
            name=name, type=WORK_POOL_TYPE, base_job_template=ProcessWorker.get_default_base_job_template(),
        ))
        return True


def next_run(cron: str | None, now: datetime.datetime | None = None) -> datetime.datetime | None:
    """The next time a cron schedule fires, in UTC (Prefect's default schedule time zone)."""
    if cron is None:
        return None
    from croniter import croniter

    now = now or datetime.datetime.now(datetime.timezone.utc)
    return croniter(cron, now).get_next(datetime.datetime)


def server_next_runs(client, deployment_ids: list[str], wait: float) -> dict[str, datetime.datetime | None]:
    """The start time of each deployment's next scheduled run, as the server holds it.

    Polls until every deployment has one or `wait` seconds passed; None for those without one:
    the schedule is registered, but the server's scheduler created no run for it.
    """
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    found: dict[str, datetime.datetime | None] = {i: None for i in deployment_ids}
    deadline = time.monotonic() + wait
    while True:
        for deployment_id in [i for i, when in found.items() if when is None]:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
                flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                    type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))),
                sort=FlowRunSort.EXPECTED_START_TIME_ASC, limit=1,
            )
            if runs:
                found[deployment_id] = runs[0].expected_start_time.astimezone(datetime.timezone.utc)
        if all(found.values()) or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def deploy(deployments: list[dict], folder: Path, work_pool: str,
           schedule_wait: float = SCHEDULE_WAIT_SECONDS) -> list[dict]:
    """Register every deployment; return what was registered (id, full name, cron, next run).

    `next_run` is read back from the server (its scheduler's first run), not computed here, so a
    server that does not schedule shows as None; `local_next_run` is what the cron alone says.
    """
    from prefect.client.orchestration import get_client
    from prefect.deployments.runner import RunnerDeployment
    from prefect.events import DeploymentEventTrigger
    from prefect.runner.storage import LocalStorage

    url = api_url()
    folder = Path(folder).resolve()
    registered = []
    try:
        with get_client(sync_client=True) as client:
            _check_reachable(client, url)
            created_pool = ensure_work_pool(client, work_pool)
        for d in deployments:
            deployment = RunnerDeployment.from_storage(
                storage=LocalStorage(str(folder)),
                entrypoint=d["entrypoint"],
                name=d["name"],
                cron=d["cron"],
                parameters=d["parameters"],
                tags=d["tags"],
                triggers=[DeploymentEventTrigger(**t) for t in d.get("triggers") or []],
                work_pool_name=work_pool,
            )
            deployment_id = deployment.apply(work_pool_name=work_pool)
            registered.append({
                "id": str(deployment_id),
                "full_name": f"{deployment.flow_name}/{deployment.name}",
                "cron": d["cron"],
                "schedule": d["schedule"],
                "local_next_run": next_run(d["cron"]),
                "next_run": None,
            })
        scheduled = [r["id"] for r in registered if r["cron"]]
        if scheduled:
            with get_client(sync_client=True) as client:
                from_server = server_next_runs(client, scheduled, schedule_wait)
            for r in registered:
                r["next_run"] = from_server.get(r["id"])
    except RtcError:
        raise
    except Exception as exc:  # noqa: BLE001 - httpx/Prefect errors become one readable line
        raise RtcError(f"deploying to the Prefect API at {url} failed: {type(exc).__name__}: {exc}") from None
    for r in registered:
        r["created_pool"] = created_pool
    return registered
