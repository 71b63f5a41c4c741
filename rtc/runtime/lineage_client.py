"""Sending rtc.runtime.lineage's events through the `openlineage-python` client, where it is configured.

For every target that sends events itself (`rtc run`, Prefect flows; Airflow's own OpenLineage provider sends
those of DAGs). Configured as OpenLineage users configure every producer, read by the client itself:
`OPENLINEAGE_URL` (with `OPENLINEAGE_API_KEY`, `OPENLINEAGE_ENDPOINT`), `OPENLINEAGE__TRANSPORT__*`
variables, `OPENLINEAGE_CONFIG` or an `openlineage.yml` in the working folder or in `~/.openlineage/`;
`OPENLINEAGE_DISABLED=true` turns it off. Not configured: nothing is imported and nothing is sent. The
client is imported only here, inside functions: the runtime package stays importable without it.

A lineage server that is down or refuses an event costs one warning, never the run.
"""

from __future__ import annotations

import os
import sys

EXTRA = "lineage"  # pip install 'rtc[lineage]'


def configured(environ=None) -> bool:
    """Whether the OpenLineage client would find a configuration (without importing it)."""
    environ = os.environ if environ is None else environ
    if environ.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OPENLINEAGE_URL") or environ.get("OPENLINEAGE_CONFIG"):
        return True
    if any(key.startswith("OPENLINEAGE__") for key in environ):
        return True
    return os.path.isfile(os.path.join(os.getcwd(), "openlineage.yml")) or os.path.isfile(
        os.path.join(os.path.expanduser("~/.openlineage"), "openlineage.yml"))


def open_client(warn=None):
    """An OpenLineageClient when OpenLineage is configured (the client reads os.environ and its files), else None.
    `warn(text)` says why a configured client could not start (default: stderr)."""
    warn = warn or (lambda text: print(f"rtc: {text}", file=sys.stderr))
    if not configured(os.environ):
        return None
    try:
        from openlineage.client import OpenLineageClient
    except ImportError:
        warn(f"OpenLineage is configured, but openlineage-python is not installed (pip install 'rtc[{EXTRA}]'); "
             "no lineage events are sent")
        return None
    try:
        return OpenLineageClient()
    except Exception as exc:  # noqa: BLE001 - a bad openlineage.yml costs the events, never the run
        warn(f"OpenLineage is configured, but its client could not start: {exc}; no lineage events are sent")
        return None


class Sender:
    """Emits event dicts through `client`; after the first failure it stops trying (no slow runs) and says so once."""

    def __init__(self, client, warn=None):
        self.client = client
        self.warn = warn or (lambda text: print(f"rtc: {text}", file=sys.stderr))
        self.failed = False
        self.sent = 0

    def send(self, event: dict) -> None:
        if self.failed:
            return
        try:
            self.client.emit(as_client_event(event))
            self.sent += 1
        except Exception as exc:  # noqa: BLE001 - the lineage server's trouble is not the run's
            self.warn(f"could not send an OpenLineage event: {exc}; no more are sent")
            self.failed = True

    def close(self) -> None:
        try:
            self.client.close(5)
        except Exception:  # noqa: BLE001
            pass


def as_client_event(event: dict):
    """The client's RunEvent for an event dict of rtc.runtime.lineage (the client emits only its classes).
    Facets stay the plain dicts they are: the client writes them as they are."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"], facets=dict(event["run"]["facets"])),  # copies: the client adds facets
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"], facets=dict(event["job"]["facets"])),
        inputs=[InputDataset(namespace=d["namespace"], name=d["name"], facets=dict(d.get("facets", {}))) for d in event["inputs"]],
        outputs=[OutputDataset(namespace=d["namespace"], name=d["name"], facets=dict(d.get("facets", {}))) for d in event["outputs"]],
        producer=event["producer"],
    )
