"""Hostile strings (quotes, triple quotes, backslashes, newlines, Jinja markers, __import__ calls)
flow through every field as data: the file imports cleanly and the container receives them unchanged."""

from __future__ import annotations

import ast
import uuid

from airflow_pipelines import HOSTILE, hostile_pipeline

from rtc.integrations.airflow import render


def test_hostile_strings_are_data_from_source_to_container(airflow, airflow_home, docker_client, tmp_path):
    mount_dir = tmp_path / f"m {HOSTILE.replace('/', '_').replace(chr(0), '')}"
    mount_dir.mkdir()
    files = render(hostile_pipeline(str(mount_dir)))
    (text,) = [body for name, body in files.items() if "__" in name and "/" not in name]  # the DAG file, not the runtime
    tree = ast.parse(text)
    # No call to __import__, eval, exec or system anywhere in the code: they exist only inside strings.
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    assert not called & {"__import__", "eval", "exec", "system"}
    assert HOSTILE in {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}

    folder = airflow_home / "dags" / uuid.uuid4().hex
    folder.mkdir()
    for name, body in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(body, encoding="utf-8")
    bag = airflow.dagbag(folder)
    assert bag["errors"] == {}
    dag = bag["dags"]["Hostile.hostile"]
    assert HOSTILE in dag["tags"]
    assert dag["params"] == {"p": HOSTILE}

    result = airflow.dags_test(folder, "Hostile.hostile")
    assert result["state"] == "success", result["log"][-3000:]
    out = result["xcom"]["echo:return_value"]
    assert out["argv"] == ["HOSTILE_ENV", HOSTILE]
    assert out["env"] == {"HOSTILE_ENV": HOSTILE}
    assert out["inputs"] == {"from_param": HOSTILE, "literal": {HOSTILE: [HOSTILE, 1, None, True]}, HOSTILE: HOSTILE}
