"""Runs inside a subprocess with AIRFLOW_HOME set: loads DAGs and runs them with dag.test().

Airflow reads its configuration once per process, at import; running it in a
child process keeps the test process (and other test areas) free of it.

    probe.py dagbag FOLDER                       -> JSON: import errors and each DAG's shape
    probe.py test FOLDER DAG_ID CONF VARIABLES   -> JSON: task instance states and XComs
    probe.py test-many JOBS                      -> JSON: a list of `test` results, one per job of the JSON
                                                    list JOBS ([folder, dag id, variables, runs]); one process
                                                    (Airflow's import and start-up) for all of them
"""

from __future__ import annotations

import json
import sys


def load(folder):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=folder, safe_mode=False)


def shape(dag) -> dict:
    tasks = {}
    for task in dag.tasks:
        tasks[task.task_id] = {
            "type": type(task).__name__,
            "operator": task.operator_name,  # what the UI shows as the task's operator
            "upstream": sorted(task.upstream_task_ids),
            "retries": task.retries,
            "retry_delay": task.retry_delay.total_seconds() if task.retry_delay else None,
            "retry_exponential_backoff": task.retry_exponential_backoff,
            "max_retry_delay": task.max_retry_delay.total_seconds() if task.max_retry_delay else None,
            "retry_policy": type(task.retry_policy).__name__ if getattr(task, "retry_policy", None) else None,
            "execution_timeout": task.execution_timeout.total_seconds() if task.execution_timeout else None,
            "trigger_rule": str(task.trigger_rule.value if hasattr(task.trigger_rule, "value") else task.trigger_rule),
            "mapped": bool(getattr(task, "is_mapped", False)),
            "setup": bool(getattr(task, "is_setup", False)),
            "queue": task.queue,
            "template_fields": list(task.template_fields),
        }
    timetable = dag.timetable
    return {
        "schedule": dag.schedule if isinstance(dag.schedule, str) or dag.schedule is None else str(dag.schedule),
        "timetable": type(timetable).__name__,
        "catchup": dag.catchup,
        "start_date": dag.start_date.isoformat() if dag.start_date else None,
        "max_active_tasks": dag.max_active_tasks,
        "tags": sorted(dag.tags),
        "params": {k: dag.params.get_param(k).resolve(suppress_exception=True) for k in dag.params},
        "param_schemas": {k: dag.params.get_param(k).schema for k in dag.params},
        "tasks": tasks,
    }


def dagbag(folder: str) -> dict:
    bag = load(folder)
    return {"errors": {k: str(v) for k, v in bag.import_errors.items()},
            "dags": {dag_id: shape(dag) for dag_id, dag in bag.dags.items()}}


def run_test(folder: str, dag_id: str, conf: dict, variables: dict) -> dict:
    from airflow.models import Variable
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from airflow.utils.cli import get_bagged_dag

    bag = load(folder)
    if bag.import_errors:
        return {"errors": {k: str(v) for k, v in bag.import_errors.items()}}
    for key, value in variables.items():
        Variable.set(key, value)
    # As `airflow dags test` does: parse, serialize into the database, then run in-process.
    dag = get_bagged_dag(None, dag_id, dagfile_path=folder)
    run = dag.test(run_conf=conf or None)
    out = {"state": str(run.state), "tasks": {}, "xcom": {}}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            out["tasks"][key] = {"state": str(ti.state), "try_number": ti.try_number}
            if ti.map_index >= 0:  # the element's name in the UI (map_index_template)
                out["tasks"][key]["name"] = ti.rendered_map_index
        from airflow.models.taskinstancehistory import TaskInstanceHistory

        history = session.query(TaskInstanceHistory).filter(TaskInstanceHistory.dag_id == dag_id,
                                                            TaskInstanceHistory.run_id == run.run_id)
        out["retries"] = sorted(
            [h.task_id, h.try_number, h.retry_delay_override, h.retry_reason] for h in history
            if h.retry_delay_override is not None
        )
        from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rtif

        out["rendered"] = {}  # what the UI's Rendered Templates shows of each task
        for row in session.query(Rtif).filter(Rtif.dag_id == dag_id, Rtif.run_id == run.run_id):
            key = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
            out["rendered"][key] = row.rendered_fields
        from airflow.models.asset import AssetEvent, AssetModel

        out["asset_events"] = [  # what this run announced (outlets), as the scheduler sees it
            {"uri": uri, "extra": extra} for uri, extra in session.query(AssetModel.uri, AssetEvent.extra)
            .join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run.run_id)
            .order_by(AssetEvent.id)]
        rows = session.query(XComModel).filter(XComModel.dag_id == dag_id, XComModel.run_id == run.run_id).all()
        for row in rows:
            key = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
            value = row.value
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out["xcom"][f"{key}:{row.key}"] = value
    return out


def run_many(jobs: list) -> list:
    results = []
    for folder, dag_id, variables, runs in jobs:
        for _ in range(runs):
            result = run_test(folder, dag_id, {}, variables)
        results.append(result)
    return results


def main() -> None:
    command = sys.argv[1]
    if command == "dagbag":
        result = dagbag(sys.argv[2])
    elif command == "test-many":
        result = run_many(json.loads(sys.argv[2]))
    else:
        result = run_test(sys.argv[2], sys.argv[3], json.loads(sys.argv[4]), json.loads(sys.argv[5]))
    print("RTC-PROBE " + json.dumps(result, default=str))


if __name__ == "__main__":
    main()
