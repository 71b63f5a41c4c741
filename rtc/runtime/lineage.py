"""OpenLineage RunEvents for rtc's steps and graph runs, as plain dicts (standard library only).

Every target builds the same events from the same plain data: `rtc run` (through the
`openlineage-python` client, rtc.integrations.local.lineage), and later the Airflow and
Prefect adapters. Nothing here sends anything or imports a client.

- A graph run is the job `<graph>`; each step is the job `<graph>.<step>`, with a `parent`
  run facet naming the graph's run. Job namespace: the caller's (rtc uses the pipeline's
  namespace, or OPENLINEAGE_NAMESPACE).
- Run ids are UUIDs derived from rtc's run id (`run_uuid`), so every target and every retry
  of an emitter names the same run the same way; rtc's own id is in the `rtc_run` facet.
- `file`/`dir` values (artifact references, rtc.runtime.artifacts) are datasets: namespace =
  the artifact store's URL, name = the artifact's key (`sha256/<digest>`).
- Small JSON outputs travel in the `rtc_outputs` run facet of the COMPLETE event (each value
  at most MAX_FACET_VALUE_BYTES of JSON; larger ones are listed by size in `omitted`).

docs/lineage.md shows the events of one run.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
PRODUCER = "urn:rtc"  # who made the events (a URI, as the spec asks); callers may add a version
FACET_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet"
DATASET_FACET_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet"
JOB_TYPE_SCHEMA = "https://openlineage.io/spec/facets/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
PARENT_SCHEMA = "https://openlineage.io/spec/facets/1-1-0/ParentRunFacet.json#/$defs/ParentRunFacet"
ERROR_SCHEMA = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
MAX_FACET_VALUE_BYTES = 4096
EVENT_TYPES = ("START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER")
ARTIFACT_TYPES = ("file", "dir", "list[file]", "list[dir]")
_RUN_NAMESPACE = bytes.fromhex("5f1b2e6a6c0e4f439a570d3c8a1f2b71")  # rtc's, for uuid5 run ids


def run_uuid(run_id: str, step: str | None = None) -> str:
    """The OpenLineage runId of rtc run `run_id` (or of its step `step`): a UUID, the same on every call.

    RFC 4122's version 5 (uuid.uuid5 computes the same; written out with hashlib because the runtime
    package that ships beside DAGs and flows keeps to a short list of standard modules)."""
    name = run_id if step is None else f"{run_id}/{step}"
    digest = bytearray(hashlib.sha1(_RUN_NAMESPACE + name.encode("utf-8")).digest()[:16])  # noqa: S324 - a name, not a secret
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def event_time(seconds: float | None = None) -> str:
    """ISO 8601 with its zone, as the spec asks; now when `seconds` (a Unix time) is None."""
    moment = datetime.now(timezone.utc) if seconds is None else datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat()


def artifact_dataset(reference: dict, producer: str = PRODUCER) -> dict | None:
    """The dataset of one artifact reference ({"artifact", "sha256", "size", "uri"}); None for anything else."""
    if not isinstance(reference, dict) or reference.get("artifact") not in ("file", "dir"):
        return None
    uri, digest = str(reference.get("uri", "")), str(reference.get("sha256", ""))
    key = f"sha256/{digest}"
    store = uri[: -len(key) - 1] if uri.endswith("/" + key) else uri.rsplit("/", 2)[0]
    return {"namespace": store, "name": key, "facets": {"rtc_artifact": _facet(
        {"kind": reference["artifact"], "size": reference.get("size"), "uri": uri}, DATASET_FACET_SCHEMA, producer)}}


def artifact_datasets(values: dict, types: dict, producer: str = PRODUCER) -> list[dict]:
    """Datasets of the artifact values among `values` (port -> value), by `types` (port -> rtc type);
    lists (fan-in, mapped steps) give one dataset per element; repeats are dropped."""
    out, seen = [], set()
    for port in sorted(values):
        kind = types.get(port, "")
        value = values[port]
        if kind not in ARTIFACT_TYPES and not (kind.startswith("list[") and kind[5:-1] in ARTIFACT_TYPES):
            continue
        for ref in _references(value):
            ds = artifact_dataset(ref, producer)
            if ds is not None and (ds["namespace"], ds["name"]) not in seen:
                seen.add((ds["namespace"], ds["name"]))
                out.append(ds)
    return out


def _references(value):
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


def outputs_facet(outputs: dict, types: dict, limit: int = MAX_FACET_VALUE_BYTES, producer: str = PRODUCER) -> dict | None:
    """The `rtc_outputs` run facet: the step's JSON outputs (artifacts are datasets instead), each at most
    `limit` bytes of JSON; larger ones listed by size. None when the step has no JSON output."""
    shown, omitted = {}, {}
    for port in sorted(outputs):
        kind = types.get(port, "json")
        if kind in ARTIFACT_TYPES or (kind.startswith("list[") and kind[5:-1] in ARTIFACT_TYPES):
            continue
        text = json.dumps(outputs[port], sort_keys=True, ensure_ascii=False, default=str)
        if len(text.encode("utf-8")) <= limit:
            shown[port] = outputs[port]
        else:
            omitted[port] = len(text.encode("utf-8"))
    if not shown and not omitted:
        return None
    body = {"outputs": shown}
    if omitted:
        body["omitted"] = omitted
    return _facet(body, producer=producer)


def _facet(body: dict, schema: str = FACET_SCHEMA, producer: str = PRODUCER) -> dict:
    return {"_producer": producer, "_schemaURL": schema, **body}


def run_event(event_type: str, *, namespace: str, name: str, run_id: str, time: str | None = None,
              inputs: list | None = None, outputs: list | None = None, run_facets: dict | None = None,
              job_facets: dict | None = None, producer: str = PRODUCER) -> dict:
    """One RunEvent as the OpenLineage spec (2-0-2) writes it; `run_id` is the OpenLineage runId (a UUID)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown OpenLineage event type {event_type!r}")
    return {
        "eventType": event_type,
        "eventTime": time or event_time(),
        "run": {"runId": run_id, "facets": dict(run_facets or {})},
        "job": {"namespace": namespace, "name": name, "facets": dict(job_facets or {})},
        "inputs": list(inputs or []),
        "outputs": list(outputs or []),
        "producer": producer,
        "schemaURL": SCHEMA_URL,
    }


def _job_type(kind: str, integration: str, producer: str) -> dict:
    return _facet({"processingType": "BATCH", "integration": integration, "jobType": kind}, JOB_TYPE_SCHEMA, producer)


def _error(message: str, producer: str) -> dict:
    return _facet({"message": message, "programmingLanguage": "rtc"}, ERROR_SCHEMA, producer)


def graph_event(event_type: str, *, namespace: str, graph: str, run_id: str, time: str | None = None,
                pipeline: str | None = None, inputs: list | None = None, outputs: list | None = None,
                error: str | None = None, integration: str = "RTC", producer: str = PRODUCER,
                triggered_by: dict | None = None) -> dict:
    """A graph run's event: job `<graph>`; `run_id` is rtc's run id; `inputs`/`outputs` are datasets
    (for COMPLETE: the artifacts its steps read from outside the run and those they made).
    `triggered_by`: {"run": rtc run id, "graph": ...} of the run that started it (`on`)."""
    facets = {"rtc_run": _facet({"runId": run_id, "graph": graph, "pipeline": pipeline or namespace,
                                 **({"triggeredBy": triggered_by} if triggered_by else {})}, producer=producer)}
    if error and event_type in ("FAIL", "ABORT"):
        facets["errorMessage"] = _error(error, producer)
    return run_event(event_type, namespace=namespace, name=graph, run_id=run_uuid(run_id), time=time,
                     inputs=inputs, outputs=outputs, run_facets=facets,
                     job_facets={"jobType": _job_type("DAG", integration, producer)}, producer=producer)


def step_event(event_type: str, *, namespace: str, graph: str, step: str, run_id: str, time: str | None = None,
               inputs: dict | None = None, input_types: dict | None = None, outputs: dict | None = None,
               output_types: dict | None = None, error: str | None = None, integration: str = "RTC",
               producer: str = PRODUCER) -> dict:
    """A step's event: job `<graph>.<step>`, its parent the graph's run (`run_id` is rtc's run id).
    `inputs`/`outputs`: port -> value as the step got and made them (artifact references become
    datasets; on COMPLETE the small JSON outputs go in the `rtc_outputs` facet)."""
    facets = {
        "parent": _facet({"run": {"runId": run_uuid(run_id)}, "job": {"namespace": namespace, "name": graph}},
                         PARENT_SCHEMA, producer),
        "rtc_run": _facet({"runId": run_id, "graph": graph, "step": step}, producer=producer),
    }
    out_sets = artifact_datasets(outputs or {}, output_types or {}, producer)
    if event_type == "COMPLETE" and outputs:
        shown = outputs_facet(outputs, output_types or {}, producer=producer)
        if shown is not None:
            facets["rtc_outputs"] = shown
    if error and event_type in ("FAIL", "ABORT"):
        facets["errorMessage"] = _error(error, producer)
    return run_event(event_type, namespace=namespace, name=f"{graph}.{step}", run_id=run_uuid(run_id, step), time=time,
                     inputs=artifact_datasets(inputs or {}, input_types or {}, producer), outputs=out_sets,
                     run_facets=facets, job_facets={"jobType": _job_type("TASK", integration, producer)},
                     producer=producer)
