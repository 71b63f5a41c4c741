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
from pathlib import Path

from rtc.compiler.diagnostics import RtcError

WORK_POOL_TYPE = "process"  # the flow process drives Docker itself; it needs no container of its own


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


def deploy(deployments: list[dict], folder: Path, work_pool: str) -> list[dict]:
    """Register every deployment; return what was registered (id, full name, cron, next run)."""
    from prefect.client.orchestration import get_client
    from prefect.deployments.runner import RunnerDeployment
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
                work_pool_name=work_pool,
            )
            deployment_id = deployment.apply(work_pool_name=work_pool)
            registered.append({
                "id": str(deployment_id),
                "full_name": f"{deployment.flow_name}/{deployment.name}",
                "cron": d["cron"],
                "schedule": d["schedule"],
                "next_run": next_run(d["cron"]),
            })
    except RtcError:
        raise
    except Exception as exc:  # noqa: BLE001 - httpx/Prefect errors become one readable line
        raise RtcError(f"deploying to the Prefect API at {url} failed: {type(exc).__name__}: {exc}") from None
    for r in registered:
        r["created_pool"] = created_pool
    return registered
