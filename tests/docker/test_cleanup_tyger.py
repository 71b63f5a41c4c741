"""Nothing left behind: every way a Tyger run ends removes its labelled containers (and network)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from rtc.compiler.ir import Run, WorkerSpec
from rtc.integrations.tyger import runs as tyger
from rtc.integrations.tyger.store import Store
from rtc.integrations.tyger.spec import Overrides
from tyger_support import busybox, leftovers, pipeline, rtc, wait_for

SLEEP = busybox("sleeper", "echo up; sleep 60")


def _running(docker_client):
    return bool(leftovers(docker_client))


def test_success_failure_and_timeout_leave_nothing(docker_client):
    for script, status in (("true", "Succeeded"), ("exit 2", "Failed")):
        record = tyger.execute_run(pipeline(busybox("c", script)), "c", overrides=Overrides(replicas=2))
        assert record.status == status
        assert leftovers(docker_client) == []
    record = tyger.execute_run(pipeline(SLEEP), "sleeper", overrides=Overrides(timeout_seconds=1))
    assert record.status == "Failed" and "timed out" in record.status_reason
    assert leftovers(docker_client) == []


def test_cancel_with_workers_removes_containers_and_network(docker_client):
    worker = busybox("w", "sleep 60", kind="worker")
    run = Run(name="r", codespec="sleeper", worker=WorkerSpec(codespec="w", replicas=2), replicas=2)
    store = Store()
    record = tyger.create_run(store, tyger.build_spec(pipeline(SLEEP, worker), run))
    tyger.spawn_detached(store, record.id)
    # two workers and two job replicas are up
    wait_for(lambda: len(docker_client.containers.list(filters={"label": f"rtc.store={store.key}"})) == 4,
             what="four containers")
    assert rtc("run", "cancel", str(record.id)).returncode == 0
    wait_for(lambda: store.get_run(record.id).status == "Canceled", what="Canceled")
    assert leftovers(docker_client) == []


def test_ctrl_c_on_exec_cancels_and_removes_containers(tmp_path, docker_client):
    (tmp_path / "s.yml").write_text('name: s\nimage: busybox\ncommand: ["sh", "-c", "echo up; sleep 60"]\n')
    proc = subprocess.Popen([sys.executable, "-m", "rtc", "exec", "-f", str(tmp_path / "s.yml")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    try:
        wait_for(lambda: _running(docker_client), what="the container")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    assert leftovers(docker_client) == []
    assert Store().get_run(1).status == "Canceled"


def test_killed_detached_executor_cleans_up_and_dead_executor_can_be_canceled(tmp_path, docker_client):
    store = Store()
    spec = tyger.build_spec(pipeline(SLEEP), Run(name="s", codespec="sleeper"))
    record = tyger.create_run(store, spec)
    pid = tyger.spawn_detached(store, record.id)
    wait_for(lambda: _running(docker_client), what="the container")
    os.kill(pid, signal.SIGTERM)  # like stopping the background process: the run is canceled cleanly
    wait_for(lambda: store.get_run(record.id).terminal, what="a terminal status")
    assert store.get_run(record.id).status == "Canceled"
    assert leftovers(docker_client) == []

    # a run whose executor is gone (never started here) is canceled by `rtc run cancel` itself
    orphan = tyger.create_run(store, spec)
    assert rtc("run", "cancel", str(orphan.id)).returncode == 0
    assert store.get_run(orphan.id).status == "Canceled"
