"""What the Airflow UI shows of a run (issue 23), read back from a real `dags test`: operators named after
the nodes, mapped elements named by their inputs, a failure naming the step and element with an excerpt
of what the container wrote."""

from __future__ import annotations

import uuid

import pytest

from rtc.compiler import compile_file
from rtc.integrations.airflow import render
from ui_names_case import ui_names_source

pytestmark = [pytest.mark.airflow, pytest.mark.docker]

SOURCE = ui_names_source("UiNamesT")


def write(folder, files):
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
    return folder


def test_names_and_failures_as_the_ui_shows_them(airflow, airflow_home, docker_client, tmp_path):
    source = tmp_path / "pipeline.rt"
    source.write_text(SOURCE, encoding="utf-8")
    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir()
    write(folder, render(compile_file(str(source))))

    tasks = airflow.dagbag(folder)["dags"]["UiNamesT.g"]["tasks"]
    assert {t: tasks[t]["operator"] for t in ("make", "double", "sink")} == {
        "make": "Make", "double": "Double", "sink": "Sink"}  # the nodes, not RtcStep / RtcMappedStep
    assert tasks["double.each"]["operator"] == "rtc: elements of a fan-out"

    result = airflow.dags_test(folder, "UiNamesT.g")
    assert result["state"] == "failed"
    ran = result["tasks"]
    # Each element is named by its input, not only by 0, 1, 2.
    assert [ran[f"double[{i}]"]["name"] for i in range(3)] == ["x=1", "x=2", "x=3"]
    assert [ran[f"double[{i}]"]["state"] for i in range(3)] == ["success", "failed", "success"]
    # The failure names the step and the element, and quotes what the container wrote.
    assert "step 'double' element 1 wrote outputs that are not valid JSON" in result["log"]
    assert """it wrote: '{"y": "unterminated'""" in result["log"]
    assert ran["sink"]["state"] == "upstream_failed"
    # Rendered Templates shows a step's command and where its inputs come from, and the data it read.
    shown = result["rendered"]["double[0]"]
    assert shown["rtc_shown"]["inputs"] == {"x": "each: element of 'x'"}, shown
    assert shown["rtc_shown"]["command"][:2] == ["sh", "-c"], shown
    assert result["rendered"]["make"]["rtc_shown"]["inputs"] == {}
