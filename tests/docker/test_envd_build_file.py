"""envd's build.envd as an environment: `rtc env up` serves its port, runs its daemon (as one shell command
line, as envd's supervisor does) and init, mounts and sets environ, exactly as the `.rt` version does;
`rtc env run --command` starts an environment that is not up; `rtc env list` survives containers vanishing."""

from __future__ import annotations

import re
import shutil
import threading
import urllib.request
import uuid
from pathlib import Path

import pytest

from rtc.integrations.envd import environments as envd
from tyger_support import rtc, wait_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "envd"


def copy_example(tmp_path: Path, source: str) -> tuple[str, str]:
    """The example under a namespace of its own (tests run side by side)."""
    folder = tmp_path / "envd"
    shutil.copytree(EXAMPLE, folder)
    ns = f"envdtest{uuid.uuid4().hex[:8]}"
    path = folder / source
    path.write_text(path.read_text().replace("namespace envd_demo", f"namespace {ns}"))
    return str(path), ns


def containers(docker_client, ns):
    return docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={ns}"})


@pytest.mark.parametrize("source", ["pipeline.rt", "pipeline-rt.rt"], ids=["build.envd", "rt"])
def test_up_serves_runs_daemon_and_init_mounts_and_sets_environ(tmp_path, docker_client, source):
    path, ns = copy_example(tmp_path, source)
    try:
        up = rtc("env", "up", path, "trainer", timeout=900)
        assert up.returncode == 0, up.stderr.decode()
        match = re.fullmatch(r"web: 127\.0\.0\.1:(\d+) -> 8000\n", up.stdout.decode())
        assert match, up.stdout

        def fetch():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{match.group(1)}/index.html", timeout=2).read()
            except OSError:
                return None

        # The daemon serves the mounted folder on the exposed port.
        assert wait_for(fetch, what="the daemon to serve") == b"served from the mounted folder\n"
        (container,) = containers(docker_client, ns)
        # Its words were one shell command line: `>>/tmp/serving.log 2>&1` redirected its log.
        log = wait_for(lambda: container.exec_run(["cat", "/tmp/serving.log"]).output, what="the daemon's log")
        assert b"GET /index.html" in log
        assert container.exec_run(["cat", "/tmp/init-ran"]).output == b"init ran\n"
        ran = rtc("env", "run", path, "trainer", "--command", "hello")
        assert ran.returncode == 0, ran.stderr.decode()
        out = ran.stdout.decode()
        assert out.startswith("hello from envd\n") and "envd    rtc" in out  # environ, pip package, copied code
        assert "/app/bin" in container.exec_run(["sh", "-c", "echo $PATH"]).output.decode()
    finally:
        rtc("env", "down", path, "trainer")
        assert containers(docker_client, ns) == []


def test_run_command_starts_an_environment_that_is_not_up(tmp_path, docker_client):
    path = tmp_path / "env.rt"
    ns = f"envdtest{uuid.uuid4().hex[:8]}"
    path.write_text(f'namespace {ns}\nenv box {{ image = "rtc-test/busybox:1"  environ = {{ X = "42" }}\n'
                    '  command show = "echo x=$X" }\n')
    try:
        unknown = rtc("env", "run", str(path), "box", "--command", "nope")
        assert unknown.returncode == 1 and "its commands: show" in unknown.stderr.decode()
        assert containers(docker_client, ns) == []  # an unknown command starts nothing
        ran = rtc("env", "run", str(path), "box", "--command", "show")
        assert (ran.returncode, ran.stdout) == (0, b"x=42\n"), ran.stderr.decode()
        assert f"environment {ns}/box was not up; started it" in ran.stderr.decode()
        again = rtc("env", "run", str(path), "box", "--command", "show")
        assert again.returncode == 0 and b"was not up" not in again.stderr
        assert f"{ns}/box\trunning" in rtc("env", "list").stdout.decode()
    finally:
        rtc("env", "down", str(path), "box")


def test_list_survives_containers_removed_while_it_lists(docker_client):
    label = f"envdrace{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    errors = []

    def churn():
        while not stop.is_set():
            try:
                c = docker_client.containers.create("rtc-test/busybox:1", ["true"],
                                                    labels={envd.LABEL_ENV: f"{label}/x", "rtc.pipeline": label})
                c.remove(force=True)
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(60):
            envd.list_envs(docker_client)  # raised docker.errors.NotFound before
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors, errors[:3]
    assert containers(docker_client, label) == []
