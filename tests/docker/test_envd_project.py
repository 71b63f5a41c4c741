"""Issue 20, items 1 and 3: envd's project folder, a daemon that dies at once, `rtc env logs`, `~` in mounts,
and `rtc env run --command NAME` with no file or env argument — the seed's own build.envd text, run for real."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from tyger_support import wait_for

# The seed's (envd-runtime-api.md) command and daemon, as written.
SEED = '''\
def build():
    """The seed's runtime, in a project folder holding train.py and serving.py."""
    base(image="python:3.11-slim")
    runtime.command(commands={
        "train": "python train.py --epoch 20 --notify me@tensorchord.ai",
        "where": "pwd",
    })
    runtime.daemon(commands=[
        ["python3", "serving.py", ">>serving.log", "2>&1"],
    ])
'''

TRAIN = "import sys\nprint('training', ' '.join(sys.argv[1:]))\nopen('model.txt', 'w').write('trained\\n')\n"
SERVING = "import time\nprint('serving', flush=True)\ntime.sleep(3600)\n"


def rtc(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=cwd, env=env or dict(os.environ))


def project(tmp_path: Path, build: str = SEED, **files: str) -> Path:
    folder = tmp_path / f"proj{uuid.uuid4().hex[:8]}"  # build.envd files share the namespace `build`: names must differ
    folder.mkdir()
    (folder / "build.envd").write_text(build)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def env_containers(docker_client, folder: Path):
    return docker_client.containers.list(all=True, filters={"label": f"rtc.env=build/{folder.name}"})


def test_the_seed_runs_in_its_project_folder_with_no_arguments(tmp_path, docker_client):
    folder = project(tmp_path, **{"train.py": TRAIN, "serving.py": SERVING})
    try:
        up = rtc("env", "up", cwd=folder)  # FILE and ENV from the folder, as `envd up`
        assert up.returncode == 0, up.stderr
        assert f"is /home/envd/{folder.name}" in up.stderr
        ran = rtc("env", "run", "--command", "train", cwd=folder)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "training --epoch 20 --notify me@tensorchord.ai\n"
        assert (folder / "model.txt").read_text() == "trained\n"  # written in the project folder, on the host
        assert rtc("env", "run", "--command", "where", cwd=folder).stdout == f"/home/envd/{folder.name}\n"
        # The daemon's `>>serving.log 2>&1` wrote the log in the project folder too.
        assert wait_for(lambda: (folder / "serving.log").exists() and "serving" in (folder / "serving.log").read_text(),
                        what="the daemon's serving.log")
    finally:
        assert rtc("env", "down", cwd=folder).returncode == 0
    assert env_containers(docker_client, folder) == []


def test_no_project_turns_the_mount_off(tmp_path, docker_client):
    folder = project(tmp_path, SEED.replace('    runtime.daemon(commands=[\n        ["python3", "serving.py", ">>serving.log", "2>&1"],\n    ])\n', ""),
                     **{"train.py": TRAIN})
    try:
        up = rtc("env", "up", str(folder / "build.envd"), "--no-project")
        assert up.returncode == 0, up.stderr
        ran = rtc("env", "run", str(folder / "build.envd"), "--command", "train")
        assert ran.returncode != 0 and "train.py" in ran.stderr  # not there: nothing was mounted
        (container,) = env_containers(docker_client, folder)
        assert not any(m["Destination"].startswith("/home/envd") for m in container.attrs["Mounts"])
    finally:
        rtc("env", "down", str(folder / "build.envd"))


def test_up_reports_a_daemon_that_dies_at_once_and_logs_show_it(tmp_path, docker_client):
    build = SEED.replace('["python3", "serving.py", ">>serving.log", "2>&1"]', '["python3", "serving.py"]')
    folder = project(tmp_path, build, **{"serving.py": "print('cannot serve: no model')\nraise SystemExit(3)\n"})
    try:
        up = rtc("env", "up", cwd=folder)
        assert up.returncode == 1
        assert "a daemon keeps exiting" in up.stderr and "daemon 0 ('python3 serving.py')" in up.stderr
        assert "| cannot serve: no model" in up.stderr and "exited with code 3" in up.stderr
        assert "Traceback" not in up.stderr
        logs = rtc("env", "logs", cwd=folder)
        assert logs.returncode == 0 and "==> daemon 0: python3 serving.py <==" in logs.stdout
        assert "cannot serve: no model" in logs.stdout
        # `env run` still runs the command, with a warning, when it had to start the environment.
        rtc("env", "down", cwd=folder)
        ran = rtc("env", "run", "--command", "where", cwd=folder)
        assert ran.returncode == 0 and "warning: environment" in ran.stderr and ran.stdout == f"/home/envd/{folder.name}\n"
    finally:
        rtc("env", "down", cwd=folder)
    assert env_containers(docker_client, folder) == []


def test_a_tilde_mount_is_the_home_folder(tmp_path, docker_client):
    home = tmp_path / "home"
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "a.csv").write_text("x,y\n")
    folder = project(tmp_path, 'def build():\n    base(image="python:3.11-slim")\n'
                     '    runtime.mount(host_path="~/datasets", envd_path="/data")\n'
                     '    runtime.command(commands={"show": "cat /data/a.csv"})\n')
    env = {**os.environ, "HOME": str(home)}
    try:
        assert rtc("check", "build.envd", cwd=folder, env=env).returncode == 0
        ran = rtc("env", "run", "--command", "show", cwd=folder, env=env)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout == "x,y\n"
        assert not (folder / "~").exists()
    finally:
        rtc("env", "down", cwd=folder, env=env)


def test_several_environments_need_a_name(tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "pipeline.rt").write_text('namespace two\nenv a { image = "rtc-test/busybox:1" }\nenv b { image = "rtc-test/busybox:1" }\n')
    done = rtc("env", "up", cwd=folder)
    assert done.returncode == 1 and "has 2 environments; name one" in done.stderr and "a | b" in done.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    none = rtc("env", "run", "--command", "x", cwd=empty)
    assert none.returncode == 1 and "no build.envd" in none.stderr


# Issue 20, item 2: envd's build language as its users write it (written from envd's documentation).
USERS_BUILD = '''\
# syntax=v1
"""A team's environment: envd's default base, Python, a helper, a requirements file, an entrypoint."""


def tools():
    """Shell tools, shared by every environment of the team."""
    install.apt_packages(name=["jq"])


def python_deps():
    install.python_packages(requirements="requirements.txt")


def build():
    \'\'\'Built on envd's default image (ubuntu:22.04).\'\'\'
    base(dev=True)
    install.python()
    tools()
    python_deps()
    shell("zsh")
    config.entrypoint(["python3", "-m", "http.server", "8000"])
    runtime.expose(envd_port=8000, host_port=0, service="web")
    runtime.command(commands={
        "versions": """python -c 'import tabulate; print("tabulate", tabulate.__version__)'; echo '{"a": 1}' | jq -c .a""",
    })
'''


def test_a_build_envd_as_users_write_it_comes_up(tmp_path, docker_client):
    import re
    import urllib.request

    docker_client.images.get("rtc-test/python:1").tag("ubuntu", "22.04")  # envd's default image; no registry here
    folder = project(tmp_path, USERS_BUILD, **{"requirements.txt": "# pinned\ntabulate==0.9.0  # tables\n",
                                                "index.html": "from the project\n"})
    try:
        up = rtc("env", "up", cwd=folder, timeout=900)
        assert up.returncode == 0, up.stderr
        port = re.fullmatch(r"web: 127\.0\.0\.1:(\d+) -> 8000\n", up.stdout).group(1)

        def fetch():
            try:
                return urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2).read()
            except OSError:
                return None

        # The entrypoint serves the project folder: it runs there, as every command does.
        assert wait_for(fetch, what="the entrypoint to serve") == b"from the project\n"
        ran = rtc("env", "run", "--command", "versions", cwd=folder)
        assert (ran.returncode, ran.stdout) == (0, "tabulate 0.9.0\n1\n"), ran.stderr
    finally:
        rtc("env", "down", cwd=folder)
    assert env_containers(docker_client, folder) == []


def test_what_rtc_cannot_build_is_refused_naming_the_function(tmp_path):
    folder = project(tmp_path, 'def build():\n    base(image="ubuntu:22.04")\n    install.conda_packages(name=["numpy"])\n'
                               '    install.r_lang()\n')
    done = rtc("env", "up", cwd=folder)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "build.envd:3:5: error[E004]: install.conda_packages() is not supported: rtc builds environments" in done.stderr
    assert "build.envd:4:5: error[E004]: install.r_lang() is not supported: rtc has no R environments" in done.stderr
    remote = project(tmp_path, 'envdlib = include("https://github.com/example/envdlib")\n\ndef build():\n    base()\n')
    done = rtc("check", "build.envd", cwd=remote)
    assert done.returncode == 1 and "build.envd:1:11: error[E004]: include() of remote files is not supported" in done.stderr
