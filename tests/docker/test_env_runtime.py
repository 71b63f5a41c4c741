"""`rtc env up|run|down|list`: envd's runtime as a long-lived container, against the real engine."""

from __future__ import annotations

import re
import urllib.request
import uuid

from tyger_support import rtc, wait_for


def _env_file(tmp_path, body: str) -> tuple[str, str]:
    ns = f"envtest{uuid.uuid4().hex[:8]}"
    path = tmp_path / "env.rt"
    path.write_text(f"namespace {ns}\n{body}")
    return str(path), ns


def _containers(docker_client, ns):
    return docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={ns}"})


def test_up_serves_on_a_picked_port_runs_commands_and_goes_down(tmp_path, docker_client):
    path, ns = _env_file(tmp_path, """
env web {
  image   = "rtc-test/python:1"
  environ = { GREETING = "hi" }
  mount "./site" -> "/site"
  expose 8000 -> 0 service "api"
  daemon ["python3", "-m", "http.server", "8000", "--directory", "/site"]
  init   ["echo served > /site/index.html"]
  command hello = "echo $GREETING from $(pwd); echo oops >&2; exit 3"
}
""")
    try:
        up = rtc("env", "up", path, "web")
        assert up.returncode == 0, up.stderr.decode()
        match = re.fullmatch(r"api: 127\.0\.0\.1:(\d+) -> 8000\n", up.stdout.decode())
        assert match, up.stdout
        port = int(match.group(1))
        assert port != 0
        assert (tmp_path / "site" / "index.html").read_text() == "served\n"  # init ran, mount is live

        def fetch():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read()
            except OSError:
                return None

        assert wait_for(fetch, what="the daemon to serve") == b"served\n"
        (container,) = _containers(docker_client, ns)
        assert b"GET /index.html" in container.exec_run(["cat", "/var/log/rtc/daemon-0.log"]).output

        ran = rtc("env", "run", path, "web", "--command", "hello")
        # Commands run in the project folder, mounted at /home/envd/<its name> as envd does (issue 20, item 1).
        where = f"/home/envd/{tmp_path.name}".encode()
        assert (ran.returncode, ran.stdout, ran.stderr) == (3, b"hi from " + where + b"\n", b"oops\n")
        unknown = rtc("env", "run", path, "web", "--command", "nope")
        assert unknown.returncode == 1 and "its commands: hello" in unknown.stderr.decode()
        again = rtc("env", "up", path, "web")
        assert again.returncode == 1 and "already up" in again.stderr.decode()
        assert f"{ns}/web\trunning" in rtc("env", "list").stdout.decode()

        down = rtc("env", "down", path, "web")
        assert down.returncode == 0 and "removed" in down.stderr.decode()
        assert _containers(docker_client, ns) == []
        not_up = rtc("env", "run", path, "web", "--command", "hello")  # starts it first, as `envd run` does
        assert not_up.returncode == 3 and "was not up; started it" in not_up.stderr.decode()
        assert rtc("env", "down", path, "web").returncode == 0
    finally:
        for c in _containers(docker_client, ns):
            c.remove(force=True)


def test_failing_init_is_a_clear_error_and_leaves_nothing(tmp_path, docker_client):
    path, ns = _env_file(tmp_path, """
env bad {
  image = "rtc-test/busybox:1"
  init  ["echo preparing", "echo broken >&2; exit 5"]
}
""")
    up = rtc("env", "up", path, "bad")
    err = up.stderr.decode()
    assert up.returncode == 1
    assert "init command 'echo broken >&2; exit 5' failed with exit code 5" in err and "broken" in err
    assert "Traceback" not in err
    assert _containers(docker_client, ns) == []


def test_daemons_are_restarted_when_they_exit(tmp_path, docker_client):
    path, ns = _env_file(tmp_path, """
env flaky {
  image  = "rtc-test/busybox:1"
  daemon ["echo", "started;", "exit", "1"]   # one shell line, as envd's supervisor runs it
}
""")
    try:
        up = rtc("env", "up", path, "flaky")  # up reports the daemon that exits at once, and leaves it restarting
        assert up.returncode == 1 and "a daemon keeps exiting" in up.stderr.decode(), up.stderr
        (container,) = _containers(docker_client, ns)

        def restarts():
            log = container.exec_run(["cat", "/var/log/rtc/daemon-0.log"]).output.decode()
            return log.count("started") >= 3 and "restarting in 2s" in log

        wait_for(restarts, timeout=15, what="the daemon to be restarted twice")
        log = container.exec_run(["cat", "/var/log/rtc/daemon-0.log"]).output.decode()
        # A daemon that keeps failing at once is restarted after longer and longer pauses.
        assert log.index("restarting in 1s") < log.index("restarting in 2s"), log
    finally:
        rtc("env", "down", path, "flaky")
    assert _containers(docker_client, ns) == []


def test_ctrl_c_on_env_run_stops_the_command_inside_the_environment(tmp_path, docker_client):
    import os
    import signal
    import subprocess
    import sys

    path, ns = _env_file(tmp_path, """
env work {
  image = "rtc-test/busybox:1"
  command sleepy = "echo going to sleep; sleep 300"
}
""")
    try:
        assert rtc("env", "up", path, "work").returncode == 0
        (container,) = _containers(docker_client, ns)

        def sleeping():
            return "sleep 300" in container.exec_run(["ps"]).output.decode()

        proc = subprocess.Popen([sys.executable, "-m", "rtc", "env", "run", "--command", "sleepy", path, "work"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
        wait_for(sleeping, timeout=20, what="the command to start in the environment")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 130
        wait_for(lambda: not sleeping(), timeout=10, what="the command to stop inside the environment")
    finally:
        rtc("env", "down", path, "work")
    assert _containers(docker_client, ns) == []
