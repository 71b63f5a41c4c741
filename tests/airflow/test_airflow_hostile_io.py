"""Hostile steps against their io folder under Airflow (`dag.test` on the real engine; issue 11, items 1-2)."""

from __future__ import annotations

import uuid

from hostile_io import HOSTILE, io_file, hostile_pipeline, non_root_image, secret_file

from rtc.integrations.airflow import render


def test_hostile_io_files_are_refused_and_a_non_root_step_still_writes(airflow, airflow_home, docker_client, tmp_path):
    non_root_image(docker_client)
    host_file, secret = secret_file(tmp_path)
    namespace = f"hostile_{uuid.uuid4().hex[:8]}"
    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for name, text in render(hostile_pipeline(namespace, str(tmp_path / "p.rt"), host_file)).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    result = airflow.dags_test(folder, f"{namespace}.g")
    tasks, log = result["tasks"], result["log"]
    for sid, (_, reason) in HOSTILE.items():
        assert tasks[sid]["state"] == "failed", (sid, tasks)
        assert f"step {sid!r}: {io_file(sid)} {reason}" in log, (sid, reason)
    assert tasks["non_root"]["state"] == "success", tasks
    assert result["xcom"]["non_root:return_value"] == {"mode": "2770", "uid": "4321"}
    assert secret not in log
    assert result["state"] == "failed"
    assert not docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={namespace}"})
