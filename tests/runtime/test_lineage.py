"""rtc.runtime.lineage: OpenLineage RunEvents as plain dicts, the same for every target (issue 22)."""

from __future__ import annotations

import json
import uuid

import pytest

from rtc.runtime import lineage

DIGEST = "ab" * 32
REF = {"artifact": "file", "sha256": DIGEST, "size": 3, "uri": f"s3://bucket/prefix/sha256/{DIGEST}"}
TREE = {"artifact": "dir", "sha256": "cd" * 32, "size": 9, "uri": f"file:///var/store/sha256/{'cd' * 32}"}


def test_run_ids_are_uuids_and_stable():
    a, b = lineage.run_uuid("etl-20261207-101010-abcdef"), lineage.run_uuid("etl-20261207-101010-abcdef", "load")
    assert uuid.UUID(a) and uuid.UUID(b) and a != b
    assert a == lineage.run_uuid("etl-20261207-101010-abcdef")  # every target names the run alike
    namespace = uuid.UUID(bytes=lineage._RUN_NAMESPACE)
    assert a == str(uuid.uuid5(namespace, "etl-20261207-101010-abcdef"))  # RFC 4122 version 5
    assert b == str(uuid.uuid5(namespace, "etl-20261207-101010-abcdef/load"))


def test_an_artifact_is_a_dataset_in_its_store_named_by_its_key():
    assert lineage.artifact_dataset(REF)["namespace"] == "s3://bucket/prefix"
    assert lineage.artifact_dataset(REF)["name"] == f"sha256/{DIGEST}"
    assert lineage.artifact_dataset(TREE)["namespace"] == "file:///var/store"
    assert lineage.artifact_dataset({"not": "a reference"}) is None
    got = lineage.artifact_datasets({"m": REF, "ms": [REF, TREE], "n": 3, "s": {"artifact": "file"}},
                                    {"m": "file", "ms": "list[file]", "n": "int", "s": "json"})
    assert [d["name"] for d in got] == [f"sha256/{DIGEST}", f"sha256/{'cd' * 32}"]  # repeats dropped, json ignored


def test_small_json_outputs_are_a_facet_and_large_ones_are_listed_by_size():
    facet = lineage.outputs_facet({"n": 3, "big": "x" * 5000, "m": REF}, {"n": "int", "big": "str", "m": "file"})
    assert facet["outputs"] == {"n": 3} and facet["omitted"] == {"big": 5002}
    assert facet["_producer"] and facet["_schemaURL"].startswith("https://openlineage.io/spec/")
    assert lineage.outputs_facet({"m": REF}, {"m": "file"}) is None


def test_a_step_event():
    event = lineage.step_event("COMPLETE", namespace="proj", graph="etl", step="load", run_id="etl-1",
                               time="2026-12-07T10:00:00+00:00", inputs={"src": TREE}, input_types={"src": "dir"},
                               outputs={"m": REF, "n": 3}, output_types={"m": "file", "n": "int"})
    assert set(event) == {"eventType", "eventTime", "run", "job", "inputs", "outputs", "producer", "schemaURL"}
    assert event["eventType"] == "COMPLETE" and event["eventTime"] == "2026-12-07T10:00:00+00:00"
    assert event["job"]["namespace"] == "proj" and event["job"]["name"] == "etl.load"
    assert event["job"]["facets"]["jobType"]["jobType"] == "TASK"
    assert event["run"]["runId"] == lineage.run_uuid("etl-1", "load")
    assert event["run"]["facets"]["parent"]["run"] == {"runId": lineage.run_uuid("etl-1")}
    assert event["run"]["facets"]["parent"]["job"] == {"namespace": "proj", "name": "etl"}
    assert event["run"]["facets"]["rtc_outputs"]["outputs"] == {"n": 3}
    assert [d["name"] for d in event["inputs"]] == [f"sha256/{'cd' * 32}"]
    assert [d["name"] for d in event["outputs"]] == [f"sha256/{DIGEST}"]
    json.dumps(event)  # plain JSON data
    mine = lineage.step_event("COMPLETE", namespace="p", graph="g", step="s", run_id="g-1", producer="urn:rtc:9",
                              outputs={"m": REF, "n": 3}, output_types={"m": "file", "n": "int"})
    facets = [mine["outputs"][0]["facets"]["rtc_artifact"], *mine["run"]["facets"].values(), *mine["job"]["facets"].values()]
    assert {f["_producer"] for f in facets} == {"urn:rtc:9"} and mine["producer"] == "urn:rtc:9"


def test_start_and_fail_events():
    start = lineage.step_event("START", namespace="p", graph="g", step="s", run_id="g-1", outputs={"n": 1}, output_types={"n": "int"})
    assert "rtc_outputs" not in start["run"]["facets"]  # outputs are known at the end
    fail = lineage.graph_event("FAIL", namespace="p", graph="g", run_id="g-1", error="step 's' failed: exited with code 3")
    assert fail["run"]["facets"]["errorMessage"]["message"] == "step 's' failed: exited with code 3"
    assert fail["job"]["name"] == "g" and fail["job"]["facets"]["jobType"]["jobType"] == "DAG"
    assert fail["run"]["facets"]["rtc_run"]["runId"] == "g-1"
    with pytest.raises(ValueError):
        lineage.run_event("DONE", namespace="p", name="g", run_id=lineage.run_uuid("x"))


def test_the_client_sends_the_dicts_as_they_are(tmp_path, monkeypatch):
    pytest.importorskip("openlineage.client")
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport

    from rtc.integrations.local.lineage import as_client_event

    out = tmp_path / "events.jsonl"
    client = OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(out), append=True)))
    event = lineage.step_event("COMPLETE", namespace="p", graph="g", step="s", run_id="g-1", time="2026-12-07T10:00:00+00:00",
                               outputs={"m": REF, "n": 3}, output_types={"m": "file", "n": "int"})
    client.emit(as_client_event(event))
    [sent] = [json.loads(line) for line in out.read_text().splitlines()]
    for key in ("eventType", "eventTime", "job", "producer", "schemaURL"):
        assert sent[key] == event[key]
    assert sent["run"]["runId"] == event["run"]["runId"]
    assert {k: v for k, v in sent["run"]["facets"].items() if k != "tags"} == event["run"]["facets"]
    assert [(d["namespace"], d["name"], d["facets"]) for d in sent["outputs"]] == [
        (d["namespace"], d["name"], d["facets"]) for d in event["outputs"]]


def test_configured_only_by_what_the_client_reads(tmp_path, monkeypatch):
    from rtc.integrations.local.lineage import configured

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert not configured({})
    assert configured({"OPENLINEAGE_URL": "http://127.0.0.1:5000"})
    assert configured({"OPENLINEAGE__TRANSPORT__TYPE": "console"})
    assert not configured({"OPENLINEAGE_URL": "http://x", "OPENLINEAGE_DISABLED": "true"})
    (tmp_path / "openlineage.yml").write_text("transport:\n  type: console\n")
    assert configured({})
