"""Every example's graphs and runs, compiled for Airflow and run end to end with dag.test() on the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((REPO / "examples").glob("*/pipeline.rt"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_runs_in_airflow(example, airflow, airflow_home, docker_client):
    from rtc.compiler import compile_file
    from rtc.integrations.airflow import render
    from rtc.integrations.images.build import ensure_image

    pipeline = compile_file(str(example))
    for env in pipeline.environments.values():
        ensure_image(docker_client, env, example.parent, namespace=pipeline.namespace, source=pipeline.source)
    files = render(pipeline)
    folder = airflow_home / "dags" / f"run-example-{example.parent.name}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    secrets = {s: f"value-of-{s}" for node in pipeline.nodes.values() for s in node.secrets}
    dag_ids = [f"{pipeline.namespace}.{g}" for g in pipeline.graphs]
    dag_ids += [f"{pipeline.namespace}.run.{r}" for r in pipeline.runs]
    assert dag_ids
    for dag_id in dag_ids:
        conf = {}
        if ".run." in dag_id:
            run = pipeline.runs[dag_id.rsplit(".", 1)[1]]
            conf = {name: "world" for name in pipeline.codespecs[run.codespec].inputs}
        result = airflow.dags_test(folder, dag_id, conf=conf, variables=secrets)
        assert result["state"] == "success", (dag_id, result["tasks"], result["log"][-4000:])
        assert result["xcom"], dag_id
