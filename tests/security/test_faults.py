"""Faults leave nothing behind: SIGHUP, SIGKILL of `rtc run`/`rtc exec`, `rtc gc`, env-run escalation,
and secrets masked in the local runner's output (issue 11, items 17, 18, 19). Real engine, real signals."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path


from fault_support import RTC, containers, rtc, wait_for  # noqa: F401



def sleeper_file(tmp_path, ns, secret=False) -> Path:
    path = tmp_path / "sleep.rt"
    secrets = "secrets { API_KEY }" if secret else ""
    path.write_text(
        f'namespace {ns}\nenv bb {{ image = "rtc-test/busybox:1" }}\n'
        f'node Sleep {{ env = bb {secrets} command = ["sh", "-c", "echo up; sleep 300"] }}\n'
        "graph g { a = Sleep() b = Sleep() }\n"
    )
    return path


def io_folders(run_id: str) -> list[str]:
    return [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(f"rtc-{run_id}-")]


def graph_run(home: Path, run_id: str):
    db = sqlite3.connect(home / "store.db")
    try:
        return db.execute("SELECT status, status_reason FROM graph_runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()


def start_run(path, env) -> subprocess.Popen:
    return subprocess.Popen([*RTC, "run", str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)


def running_run_id(docker_client, ns) -> str:
    found = wait_for(lambda: [c for c in containers(docker_client, ns) if c.status == "running"] if len(
        containers(docker_client, ns)) >= 2 else None, what="both step containers")
    return found[0].attrs["Labels"]["rtc.run"]


# ---------------------------------------------------------------- item 17


def test_sigkill_of_rtc_run_is_reconciled_when_the_store_is_next_opened(tmp_path, ns, docker_client):
    home = tmp_path / "home"
    env = {**os.environ, "RTC_HOME": str(home)}
    proc = start_run(sleeper_file(tmp_path, ns), env)
    try:
        run_id = running_run_id(docker_client, ns)
        assert io_folders(run_id), "the run made its io folder"
        assert graph_run(home, run_id)[0] == "Running"
        proc.kill()  # SIGKILL: no handler runs; containers and io folder stay behind
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(containers(docker_client, ns)) == 2, "SIGKILL left the containers (as expected)"

    listed = rtc("run", "list", env=env)  # any command that opens the run store
    assert listed.returncode == 0, listed.stderr
    assert containers(docker_client, ns) == []
    assert io_folders(run_id) == []
    status, reason = graph_run(home, run_id)
    assert status == "Failed" and f"pid {proc.pid}" in reason and "removed" in reason, reason


def test_sigkill_of_rtc_exec_is_reconciled(tmp_path, docker_client):
    home = tmp_path / "home"
    env = {**os.environ, "RTC_HOME": str(home)}
    spec = tmp_path / "s.yml"
    spec.write_text('name: s\nimage: rtc-test/busybox:1\ncommand: ["sh", "-c", "echo up; sleep 300"]\n')
    proc = subprocess.Popen([*RTC, "exec", "-f", str(spec)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, start_new_session=True)
    from rtc.integrations.tyger.store import Store

    try:
        def mine():
            return [c for c in docker_client.containers.list(sparse=True, filters={"label": "rtc.tyger.run=1"})
                    if c.attrs["Labels"].get("rtc.store") == Store(home, reconcile=False).key]
        (container,) = wait_for(mine, what="the job container")
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    container.reload()
    assert container.status == "running", "SIGKILL left the container running"
    assert Store(home, reconcile=False).get_run(1).status == "Running"

    shown = rtc("run", "show", "1", env=env)
    assert shown.returncode == 0, shown.stderr
    assert '"status": "Failed"' in shown.stdout and "ended without finishing it" in shown.stdout, shown.stdout
    assert not docker_client.containers.list(all=True, sparse=True, filters={"id": container.id})


def test_sighup_of_rtc_run_cancels_and_cleans_up(tmp_path, ns, docker_client):
    home = tmp_path / "home"
    env = {**os.environ, "RTC_HOME": str(home)}
    proc = start_run(sleeper_file(tmp_path, ns), env)
    try:
        run_id = running_run_id(docker_client, ns)
        proc.send_signal(signal.SIGHUP)  # the terminal closed
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert containers(docker_client, ns) == []
    assert io_folders(run_id) == []
    assert graph_run(home, run_id)[0] == "Canceled"


def test_sighup_of_rtc_exec_cancels_and_cleans_up(tmp_path, docker_client):
    home = tmp_path / "home"
    env = {**os.environ, "RTC_HOME": str(home)}
    spec = tmp_path / "s.yml"
    spec.write_text('name: s\nimage: rtc-test/busybox:1\ncommand: ["sh", "-c", "echo up; sleep 300"]\n')
    proc = subprocess.Popen([*RTC, "exec", "-f", str(spec)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    from rtc.integrations.tyger.store import Store

    key = Store(home, reconcile=False).key
    try:
        wait_for(lambda: docker_client.containers.list(sparse=True, filters={"label": f"rtc.store={key}"}), what="the job container")
        proc.send_signal(signal.SIGHUP)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert docker_client.containers.list(all=True, sparse=True, filters={"label": f"rtc.store={key}"}) == []
    assert Store(home, reconcile=False).get_run(1).status == "Canceled"


def test_gc_removes_what_no_live_process_owns_and_spares_the_rest(tmp_path, ns, docker_client):
    """A run killed under one RTC_HOME is collected by `rtc gc` under another: ownership is on the containers."""
    env_a = {**os.environ, "RTC_HOME": str(tmp_path / "a")}
    env_b = {**os.environ, "RTC_HOME": str(tmp_path / "b")}
    victim = start_run(sleeper_file(tmp_path, ns), env_a)
    other_ns = ns + "live"
    (tmp_path / "live").mkdir()
    alive = start_run(sleeper_file(tmp_path / "live", other_ns), env_a)
    try:
        run_id = running_run_id(docker_client, ns)
        running_run_id(docker_client, other_ns)
        victim.kill()
        victim.wait(timeout=30)
        dry = rtc("gc", "--dry-run", env=env_b)
        assert dry.returncode == 0 and dry.stdout.count("would remove container") >= 2, dry
        assert len(containers(docker_client, ns)) == 2, "a dry run removes nothing"
        done = rtc("gc", env=env_b)
        assert done.returncode == 0, done.stderr
        assert containers(docker_client, ns) == []
        assert io_folders(run_id) == []
        assert len([c for c in containers(docker_client, other_ns) if c.status == "running"]) == 2, "a live run is spared"
    finally:
        for p in (victim, alive):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        alive.communicate(timeout=60)
    assert containers(docker_client, other_ns) == []


def test_gc_spares_environments(tmp_path, docker_client):
    ns = f"gcenv{uuid.uuid4().hex[:8]}"
    path = tmp_path / "env.rt"
    path.write_text(f'namespace {ns}\nenv idle {{ image = "rtc-test/busybox:1" }}\n')
    try:
        assert rtc("env", "up", str(path), "idle").returncode == 0
        assert rtc("gc").returncode == 0
        assert [c.status for c in containers(docker_client, ns)] == ["running"]
    finally:
        rtc("env", "down", str(path), "idle")


# ---------------------------------------------------------------- item 18


def test_env_run_ctrl_c_escalates_to_kill_when_term_is_ignored(tmp_path, docker_client):
    ns = f"envstop{uuid.uuid4().hex[:8]}"
    path = tmp_path / "env.rt"
    path.write_text(
        f'namespace {ns}\nenv box {{\n  image = "rtc-test/busybox:1"\n'
        '  command stubborn = "trap \'echo ignoring TERM\' TERM; echo started; while :; do sleep 0.2; done"\n'
        '  command polite = "echo started; exec sleep 300"\n}\n'
    )
    try:
        assert rtc("env", "up", str(path), "box").returncode == 0
        (container,) = containers(docker_client, ns)

        def command_processes():
            script = 'for f in /proc/[0-9]*/environ; do grep -q RTC_COMMAND_ID "$f" 2>/dev/null && echo "$f"; done'
            return container.exec_run(["sh", "-c", script]).output.decode().split()

        for command, most_seconds, killed in (("polite", 8, False), ("stubborn", 25, True)):
            proc = subprocess.Popen([*RTC, "env", "run", str(path), "box", "--command", command],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                assert proc.stdout.readline() == "started\n"
                began = time.monotonic()
                proc.send_signal(signal.SIGINT)
                _, err = proc.communicate(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
            took = time.monotonic() - began
            assert proc.returncode == 130, err
            assert took < most_seconds, took
            assert ("killing it" in err) == killed, err
            assert command_processes() == [], f"{command} left processes behind"
    finally:
        rtc("env", "down", str(path), "box")


# ---------------------------------------------------------------- item 19


def test_secret_values_are_masked_in_the_log_and_the_failure_summary(tmp_path, docker_client):
    ns = f"mask{uuid.uuid4().hex[:8]}"
    path = tmp_path / "m.rt"
    path.write_text(
        f'namespace {ns}\nenv bb {{ image = "rtc-test/busybox:1" }}\n'
        'node Leak { env = bb secrets { API_KEY } command = ["sh", "-c", '
        '"echo key=$API_KEY; printf \'{\\"v\\": \\"%s\\"}\' \\"$API_KEY\\" > $RTC_OUTPUTS_FILE; echo last $API_KEY >&2; exit 3"] }\n'
        "graph g { leak = Leak() }\n"
    )
    secret = "s3cr3t-" + uuid.uuid4().hex
    done = rtc("run", str(path), env={**os.environ, "API_KEY": secret})
    assert done.returncode == 1
    assert secret not in done.stdout and secret not in done.stderr, done.stdout + done.stderr
    assert "[leak] key=***" in done.stdout
    assert "| last ***" in done.stderr  # the failure summary's tail of the log
    short = rtc("run", str(path), env={**os.environ, "API_KEY": "abc"})  # too short to mask: ordinary text
    assert "[leak] key=abc" in short.stdout
