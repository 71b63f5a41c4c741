"""Issue 20, item 9: graph runs of `rtc run FILE` are records (`rtc run list|show|logs`), beside Tyger runs."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from docker_pipelines import RetryPolicy, node, out, pipeline, sh, step, write_ir

RTC = [sys.executable, "-m", "rtc"]


def rtc(*args, timeout=120, **kw):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, timeout=timeout, **kw)


def graph_ids(kind="graph", **filters):
    args = ["run", "list", "--kind", kind]
    for key, value in filters.items():
        args += [f"--{key}", value]
    done = rtc(*args)
    assert done.returncode == 0, done.stderr
    return [r["id"] for r in json.loads(done.stdout)]


def test_a_graph_run_is_listed_shown_and_its_logs_kept(tmp_path, namespace):
    p = pipeline(
        tmp_path,
        [node("Make", sh('echo making; printf \'{"items": ["x", "y"]}\' > "$RTC_OUTPUTS_FILE"'), outputs=[("items", "list[str]")]),
         node("Use", sh('echo "use $RTC_INPUTS"; printf \'{"n": 1}\' > "$RTC_OUTPUTS_FILE"'), inputs=[("item", "str")], outputs=[("n", "int")])],
        [step("make", "Make"), step("use", "Use", [("item", out("make", "items"), "str", True)])],
        namespace=namespace, name="etl",
    )
    done = rtc("run", str(write_ir(tmp_path, p)))
    assert done.returncode == 0, done.stderr
    assert 'rtc: use: {"n": [1, 1]}' in done.stderr  # a finished run prints its last steps' outputs
    [run_id] = graph_ids()
    assert f"rtc run show {run_id}" in done.stderr

    shown = json.loads(rtc("run", "show", run_id).stdout)
    assert shown["status"] == "Succeeded" and shown["graph"] == "etl" and shown["kind"] == "graph"
    steps = {s["step"]: s for s in shown["steps"]}
    assert steps["make"]["outputs"] == {"items": ["x", "y"]} and steps["make"]["attempts"] == 1
    assert steps["use"]["elements"] == 2 and steps["use"]["outputs"] == {"n": [1, 1]}
    assert all(isinstance(s["durationSeconds"], (int, float)) for s in steps.values())

    logs = rtc("run", "logs", run_id).stdout.splitlines()
    assert "[make] making" in logs and '[use#1] use {"item": "y"}' in logs
    only_use = rtc("run", "logs", run_id, "use").stdout.splitlines()
    assert only_use and all(line.startswith("[use#") for line in only_use)
    bad = rtc("run", "logs", run_id, "nope")
    assert bad.returncode == 1 and "has no step 'nope'" in bad.stderr and "make, use" in bad.stderr

    # Both kinds in one list, newest first; filters by kind, graph and status.
    tyger = tmp_path / "hello.yml"
    tyger.write_text("kind: job\nimage: rtc-test/busybox:1\ncommand: [sh, -c, 'echo hi']\n")
    created = rtc("run", "create", "-f", str(tyger))
    assert created.returncode == 0, created.stderr
    tyger_id = int(created.stdout)
    for _ in range(200):
        if json.loads(rtc("run", "show", str(tyger_id)).stdout)["status"] in ("Succeeded", "Failed"):
            break
        time.sleep(0.1)
    listed = json.loads(rtc("run", "list").stdout)
    assert [r["id"] for r in listed] == [tyger_id, run_id]
    assert graph_ids(kind="tyger") == [tyger_id]
    assert graph_ids(graph="etl") == [run_id] and graph_ids(graph="other") == []
    assert graph_ids(status="Succeeded") == [run_id] and graph_ids(status="Failed") == []

    # Owner-only, as the rest of the run store.
    home = Path(os.environ["RTC_HOME"])
    log = home / "logs" / run_id / "run.log"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_failed_step_records_its_attempts_and_message(tmp_path, namespace):
    p = pipeline(
        tmp_path,
        [node("Flaky", sh("echo trying; exit 3"), retry=RetryPolicy(max_retries=1, strategy="fixed", delay_seconds=0.1)),
         node("After", sh("true"))],
        [step("flaky", "Flaky"), step("after", "After", upstream=["flaky"])],
        namespace=namespace,
    )
    done = rtc("run", str(write_ir(tmp_path, p)))
    assert done.returncode == 1
    [run_id] = graph_ids(status="Failed")
    assert f"rtc run show {run_id}" in done.stderr
    shown = json.loads(rtc("run", "show", run_id).stdout)
    steps = {s["step"]: s for s in shown["steps"]}
    assert steps["flaky"]["status"] == "Failed" and steps["flaky"]["attempts"] == 2
    assert steps["flaky"]["message"] == "exited with code 3"
    assert steps["after"]["status"] == "Skipped"
    assert rtc("run", "logs", run_id, "flaky").stdout.splitlines() == ["[flaky] trying", "[flaky] trying"]


def test_secrets_are_masked_in_the_record(tmp_path, namespace):
    p = pipeline(
        tmp_path,
        [node("Tell", sh('echo "token=$TOKEN"; printf \'{"t": "%s"}\' "$TOKEN" > "$RTC_OUTPUTS_FILE"'), outputs=[("t", "str")],
              secrets=["TOKEN"])],
        [step("tell", "Tell")],
        namespace=namespace,
    )
    done = rtc("run", str(write_ir(tmp_path, p)), env={**os.environ, "TOKEN": "hunter2-secret"})
    assert done.returncode == 0, done.stderr
    [run_id] = graph_ids()
    assert "hunter2-secret" not in rtc("run", "show", run_id).stdout
    assert "hunter2-secret" not in rtc("run", "logs", run_id).stdout
    assert "hunter2-secret" not in done.stderr


def test_a_killed_graph_run_is_finished_by_the_next_command(tmp_path, namespace):
    p = pipeline(tmp_path, [node("Sleep", sh("echo sleeping; sleep 60"))], [step("sleep", "Sleep")], namespace=namespace)
    proc = subprocess.Popen([*RTC, "run", str(write_ir(tmp_path, p))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        run_id = None
        while time.monotonic() < deadline:
            ids = graph_ids()
            if ids:
                run_id = ids[0]
                if "sleeping" in rtc("run", "logs", run_id).stdout:
                    break
            time.sleep(0.2)
        assert run_id is not None
        shown = json.loads(rtc("run", "show", run_id).stdout)
        assert shown["status"] == "Running" and shown["steps"][0]["status"] == "Running"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    shown = json.loads(rtc("run", "show", run_id).stdout)  # opening the store reconciles: containers removed
    assert shown["status"] == "Failed" and "ended without finishing it" in shown["statusReason"]
    assert shown["steps"][0]["status"] == "Failed" and "before this step did" in shown["steps"][0]["message"]


def test_watch_follows_a_graph_run_and_unknown_ids_are_named(tmp_path, namespace):
    p = pipeline(tmp_path, [node("Nap", sh("sleep 1; echo up"))], [step("nap", "Nap")], namespace=namespace)
    proc = subprocess.Popen([*RTC, "run", str(write_ir(tmp_path, p))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not graph_ids():
            time.sleep(0.1)
        [run_id] = graph_ids()
        watched = rtc("run", "watch", run_id)
        lines = [json.loads(line) for line in watched.stdout.splitlines()]
        assert lines[-1]["status"] == "Succeeded" and lines[-1]["steps"] == {"nap": "Succeeded"}
    finally:
        proc.communicate(timeout=60)
    missing = rtc("run", "show", "etl-20260101-000000-abcdef")
    assert missing.returncode == 1 and "graph run etl-20260101-000000-abcdef not found" in missing.stderr


def test_two_runs_and_their_fan_outs_write_the_store_at_once(tmp_path, namespace):
    """Concurrent writers: two `rtc run` processes, each with worker threads recording elements, lose nothing."""
    items = json.dumps({"items": [str(i) for i in range(8)]}).replace('"', '\\"')
    p = pipeline(
        tmp_path,
        [node("Make", sh(f'printf "{items}" > "$RTC_OUTPUTS_FILE"'), outputs=[("items", "list[str]")]),
         node("Echo", sh('echo "got $RTC_INPUTS"'), inputs=[("item", "str")])],
        [step("make", "Make"), step("echo", "Echo", [("item", out("make", "items"), "str", True)])],
        namespace=namespace, workers=4,
    )
    path = write_ir(tmp_path, p)
    procs = [subprocess.Popen([*RTC, "run", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    ids = graph_ids(status="Succeeded")
    assert len(ids) == 2
    for run_id in ids:
        steps = {s["step"]: s for s in json.loads(rtc("run", "show", run_id).stdout)["steps"]}
        assert steps["echo"]["elements"] == 8 and steps["echo"]["status"] == "Succeeded"
        logs = rtc("run", "logs", run_id, "echo").stdout.splitlines()
        assert sorted(logs) == sorted(f'[echo#{i}] got {{"item": "{i}"}}' for i in range(8))
