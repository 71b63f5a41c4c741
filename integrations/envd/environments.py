"""envd's runtime on its own: a long-lived container per environment.

`up` starts the environment's container (labelled `rtc.env=<namespace>/<env>`)
with its `environ`, mounts and exposed ports, runs its `init` commands once
(a failure removes the container and reports the command's output), then
starts each `daemon` under a small supervisor that restarts it when it
exits, with its output appended to `/var/log/rtc/daemon-N.log` in the
container. A daemon's words are joined into one shell command line, as
envd's supervisor gets them (`rtc.runtime.contract.daemon_command`), so envd's own
`[..., ">>serving.log", "2>&1"]` redirects. `run_command` runs a named
`command` with `docker exec` (`ensure_up` first starts the environment when
it is not up, as `envd run` does); `down` removes the container. The
container's main process only waits, so daemons can die and come back
without taking the environment down.
"""

from __future__ import annotations

import re
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rtc.runtime import contract
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Environment, Pipeline
from rtc.integrations.engine import containers as engine

LABEL_ENV = "rtc.env"
LABEL_WORKDIR = "rtc.env.workdir"  # where `run` runs commands: the project folder, or the env's workdir
DAEMON_LOG = "/var/log/rtc/daemon-{}.log"
INIT_OUTPUT_TAIL = 20
# envd mounts the folder holding build.envd at /home/envd/<folder name> and works there.
PROJECT_ROOT = "/home/envd"
# `up` watches the daemons this long: one that exits meanwhile is reported (it would crash-loop unseen).
DAEMON_WATCH_SECONDS = 3.0
DAEMON_EXITED = "rtc: daemon exited with code"

# PID 1 of the environment: wait forever, stop at once on `docker stop`.
_IDLE = "trap 'exit 0' TERM INT; while :; do sleep 3600 & wait $!; done"
# Restart the daemon (argv after $1) whenever it exits; $1 is its log file. The pause
# doubles after each quick exit (1, 2, 4 ... 60 s), so a daemon that cannot start does
# not spin; one that ran for a minute or more is restarted after 1 s again.
_SUPERVISE = (
    'log=$1; shift; mkdir -p "$(dirname "$log")"; delay=1; '
    'while :; do started=$(date +%s); "$@" >>"$log" 2>&1; code=$?; '
    'if [ $(( $(date +%s) - started )) -ge 60 ]; then delay=1; fi; '
    'echo "rtc: daemon exited with code $code; restarting in ${delay}s" >>"$log"; sleep $delay; '
    'delay=$(( delay * 2 )); if [ $delay -gt 60 ]; then delay=60; fi; done'
)


# Signal ($2) every process of one named command: each carries RTC_COMMAND_ID=$1 in its
# environment, inherited by its children and kept across exec; /proc is all it needs.
# Exits 0 when it found one (so it doubles as "is anything of it left?" with signal 0).
_STOP_COMMAND = (
    'found=1; for f in /proc/[0-9]*/environ; do grep -q "RTC_COMMAND_ID=$1" "$f" 2>/dev/null || continue; '
    'p=${f#/proc/}; kill -"$2" "${p%/environ}" 2>/dev/null && found=0; done; exit $found'
)
# Ctrl-C on `rtc env run`: TERM, then KILL for what still runs this much later (as `docker stop`).
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Published:
    service: str | None
    container_port: int
    host_ip: str
    host_port: int

    def __str__(self) -> str:
        name = self.service or f"port {self.container_port}"
        return f"{name}: {self.host_ip}:{self.host_port} -> {self.container_port}"


def env_key(pipeline: Pipeline, env_name: str) -> str:
    return f"{pipeline.namespace}/{env_name}"


def container_name(pipeline: Pipeline, env_name: str) -> str:
    return "rtc-env-" + re.sub(r"[^a-zA-Z0-9_.-]+", "-", f"{pipeline.namespace}-{env_name}").strip("-")


def environment(pipeline: Pipeline, env_name: str) -> Environment:
    env = pipeline.environments.get(env_name)
    if env is None:
        known = ", ".join(sorted(pipeline.environments)) or "none"
        raise RtcError(f"no environment {env_name!r} in {pipeline.source}", hint=f"environments: {known}")
    return env


def find(client, pipeline: Pipeline, env_name: str):
    """The environment's container, or None (also when it disappears while we look)."""
    import docker.errors

    for summary in client.api.containers(all=True, filters={"label": f"{LABEL_ENV}={env_key(pipeline, env_name)}"}):
        try:
            return client.containers.get(summary["Id"])
        except docker.errors.NotFound:
            continue
    return None


def ensure_up(client, pipeline: Pipeline, env_name: str, progress: Callable[[str], None] | None = None,
              project: bool = True) -> list[Published] | None:
    """Start the environment unless it is up (as `envd run` does); the ports when it was started, else None."""
    container = find(client, pipeline, env_name)
    if container is not None and container.status == "running":
        return None
    return up(client, pipeline, env_name, progress, project=project)


def check_command(pipeline: Pipeline, env_name: str, name: str) -> None:
    env = environment(pipeline, env_name)
    if name not in env.commands:
        known = ", ".join(sorted(env.commands)) or "none"
        raise RtcError(f"environment {env_name!r} has no command {name!r}", hint=f"its commands: {known}")


def project_folder(pipeline: Pipeline, env: Environment) -> Path:
    """The folder of the file that defines the environment (a build.envd's folder, as envd takes it)."""
    source = pipeline.host_path(env.span.file) if env.span is not None and env.span.file else pipeline.source
    return Path(source).resolve().parent


def project_path(pipeline: Pipeline, env: Environment) -> str:
    """Where the project folder is mounted: /home/envd/<its name>, as envd does."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", project_folder(pipeline, env).name).strip("-.") or "project"
    return f"{PROJECT_ROOT}/{name}"


def host_mount_path(pipeline: Pipeline, path: str) -> Path:
    """A mount's host path: `~` and `~user` are home folders (as envd expands them), relative is beside the file."""
    return Path(pipeline.host_path(path))


@dataclass(frozen=True)
class DaemonExit:
    index: int
    command: str
    log_tail: list[str]


def up(client, pipeline: Pipeline, env_name: str, progress: Callable[[str], None] | None = None,
       project: bool = True, watch_seconds: float = DAEMON_WATCH_SECONDS) -> list[Published]:
    """Start the environment; returns the ports as the engine bound them.

    With `project` (the default, as envd), the folder holding the file is mounted at
    /home/envd/<name> and commands, init and daemons run there unless the env sets `workdir`.
    A daemon that exits within `watch_seconds` raises DaemonsExited (the environment stays up).
    """
    from rtc.integrations.images.build import ensure_image

    env = environment(pipeline, env_name)
    old = find(client, pipeline, env_name)
    if old is not None:
        old.reload()
        if old.status == "running":
            raise RtcError(
                f"environment {env_key(pipeline, env_name)} is already up ({old.name})",
                hint=f"`rtc env down {pipeline.source} {env_name}` first",
            )
        engine.remove_labelled(client, **{LABEL_ENV: env_key(pipeline, env_name)})
    base_dir = Path(pipeline.source).resolve().parent
    image = ensure_image(client, env, base_dir, progress, namespace=pipeline.namespace, source=pipeline.source)
    mounts = []
    workdir = env.workdir
    if project:
        mounts.append((str(project_folder(pipeline, env)), project_path(pipeline, env), False))
        workdir = workdir or project_path(pipeline, env)
    for m in env.mounts:
        host = host_mount_path(pipeline, m.host_path)
        if not host.exists():
            host.mkdir(parents=True)  # as the runner does: a missing host folder is created
        mounts.append((str(host), m.container_path, m.read_only))
    labels = {LABEL_ENV: env_key(pipeline, env_name), "rtc.pipeline": pipeline.namespace, "rtc.step": f"env:{env_name}"}
    if workdir:
        labels[LABEL_WORKDIR] = workdir
    spec = engine.ContainerSpec(
        image=image,
        argv=[],
        entrypoint=["sh", "-c", _IDLE],
        env=dict(env.environ),
        mounts=mounts,
        ports=[(e.container_port, e.host_ip, e.host_port) for e in env.expose],
        labels=labels,
        workdir=workdir,
        name=container_name(pipeline, env_name),
    )
    container = engine.start_container(client, spec)
    try:
        for command in env.init:
            _run_init(container, command, workdir)
        for i, daemon in enumerate(env.daemons):
            line = contract.daemon_command(daemon)
            container.exec_run(["sh", "-c", _SUPERVISE, "rtc-daemon", DAEMON_LOG.format(i), "sh", "-c", line],
                               detach=True, workdir=workdir)
        bound = engine.published_ports(container)
    except BaseException:
        engine.remove_labelled(client, **{LABEL_ENV: env_key(pipeline, env_name)})
        raise
    published = [
        Published(e.service, e.container_port, *bound.get(e.container_port, (e.host_ip, e.host_port)))
        for e in env.expose
    ]
    if env.daemons and watch_seconds > 0:
        exited = watch_daemons(container, env, watch_seconds)
        if exited:
            raise DaemonsExited(env_key(pipeline, env_name), exited, published)
    return published


class DaemonsExited(RtcError):
    """Daemons that exited right after `up` started them; the environment is up (they are being restarted)."""

    def __init__(self, key: str, exited: list[DaemonExit], published: list[Published]):
        self.published = published
        lines = []
        for d in exited:
            lines.append(f"daemon {d.index} ({d.command!r}) exited within {DAEMON_WATCH_SECONDS:g}s of its start; "
                         "it is restarted with growing pauses")
            lines += [f"    | {line}" for line in d.log_tail]
        super().__init__(
            f"environment {key} is up, but " + ("a daemon keeps exiting" if len(exited) == 1 else f"{len(exited)} daemons keep exiting")
            + "\n" + "\n".join(lines),
            hint="`rtc env logs FILE ENV` shows daemon output; a daemon that redirects its output (>>x.log) "
                 "writes it in the project folder; `rtc env down FILE ENV` stops it",
        )


def watch_daemons(container, env: Environment, seconds: float) -> list[DaemonExit]:
    """Daemons whose supervisor saw them exit within `seconds` (polled; stops at the first exit)."""
    deadline = time.monotonic() + seconds
    logs = [DAEMON_LOG.format(i) for i in range(len(env.daemons))]
    script = f'for f in "$@"; do if grep -q "{DAEMON_EXITED}" "$f" 2>/dev/null; then echo "$f"; fi; done'
    exited: list[str] = []
    while True:
        found = container.exec_run(["sh", "-c", script, "rtc-watch", *logs])
        exited = found.output.decode("utf-8", "replace").split()
        if exited or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    out = []
    for path in exited:
        index = logs.index(path) if path in logs else 0
        tail = container.exec_run(["tail", "-n", str(INIT_OUTPUT_TAIL), path]).output.decode("utf-8", "replace").splitlines()
        out.append(DaemonExit(index, contract.daemon_command(env.daemons[index]), tail))
    return out


def daemon_logs(client, pipeline: Pipeline, env_name: str, index: int | None = None) -> list[tuple[int, str, str]]:
    """(index, command, log text) of the environment's daemons (`rtc env logs`)."""
    env = environment(pipeline, env_name)
    container = find(client, pipeline, env_name)
    if container is None or container.status != "running":
        raise RtcError(f"environment {env_key(pipeline, env_name)} is not up",
                       hint=f"start it with `rtc env up {pipeline.source} {env_name}`")
    if not env.daemons:
        raise RtcError(f"environment {env_name!r} has no daemons", hint="`runtime.daemon(commands=[...])` starts some")
    if index is not None and not 0 <= index < len(env.daemons):
        raise RtcError(f"environment {env_name!r} has no daemon {index}", hint=f"its daemons: 0 to {len(env.daemons) - 1}")
    out = []
    for i, daemon in enumerate(env.daemons):
        if index is not None and i != index:
            continue
        text = container.exec_run(["sh", "-c", 'cat "$1" 2>/dev/null', "rtc-logs", DAEMON_LOG.format(i)]).output
        out.append((i, contract.daemon_command(daemon), text.decode("utf-8", "replace")))
    return out


def _run_init(container, command: str, workdir: str | None) -> None:
    result = container.exec_run(["sh", "-c", command], workdir=workdir)
    if result.exit_code != 0:
        output = result.output.decode("utf-8", "replace").rstrip().splitlines()[-INIT_OUTPUT_TAIL:]
        detail = ("\n    " + "\n    ".join(output)) if output else ""
        raise RtcError(f"init command {command!r} failed with exit code {result.exit_code}{detail}")


def run_command(client, pipeline: Pipeline, env_name: str, name: str, out=None, err=None) -> int:
    """Run the named command in the running environment; returns its exit code."""
    env = environment(pipeline, env_name)
    check_command(pipeline, env_name, name)
    container = find(client, pipeline, env_name)
    if container is None or container.status != "running":
        raise RtcError(
            f"environment {env_key(pipeline, env_name)} is not up",
            hint=f"start it with `rtc env up {pipeline.source} {env_name}`",
        )
    out = out or sys.stdout.buffer
    err = err or sys.stderr.buffer
    api = client.api
    # The command's processes are marked by a unique variable, so that Ctrl-C here can
    # find and stop them there: the engine has no call to stop an exec.
    token = secrets.token_hex(8)
    workdir = (container.labels or {}).get(LABEL_WORKDIR) or env.workdir  # the project folder unless up said otherwise
    exec_id = api.exec_create(
        container.id, ["sh", "-c", env.commands[name]], workdir=workdir, environment={"RTC_COMMAND_ID": token}
    )["Id"]
    try:
        for stdout, stderr in api.exec_start(exec_id, stream=True, demux=True):
            if stdout:
                out.write(stdout)
                out.flush()
            if stderr:
                err.write(stderr)
                err.flush()
    except KeyboardInterrupt:
        stop_command(container, token)
        raise
    return int(api.exec_inspect(exec_id)["ExitCode"] or 0)


def stop_command(container, token: str, grace: float = STOP_GRACE_SECONDS) -> str:
    """TERM every process of the command; KILL those left after `grace` seconds (or at a second Ctrl-C).

    Returns how it ended: "exited" (nothing was running), "terminated" or "killed".
    """
    def signal_all(sig: str) -> bool:
        return container.exec_run(["sh", "-c", _STOP_COMMAND, "rtc-stop", token, sig]).exit_code == 0

    if not signal_all("TERM"):
        return "exited"
    deadline = time.monotonic() + grace
    try:
        while time.monotonic() < deadline:
            if not signal_all("0"):
                return "terminated"
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass  # a second Ctrl-C: no more waiting
    print(f"rtc: the command ignored SIGTERM for {grace:g}s; killing it", file=sys.stderr, flush=True)
    signal_all("KILL")
    return "killed"


def down(client, pipeline: Pipeline, env_name: str) -> int:
    environment(pipeline, env_name)
    return engine.remove_labelled(client, **{LABEL_ENV: env_key(pipeline, env_name)})


def list_envs(client) -> list[dict]:
    """Environments' containers, from one listing call: a container removed meanwhile is simply not
    there (looking each one up afterwards raised NotFound when one went away in between)."""
    out = []
    for c in client.api.containers(all=True, filters={"label": LABEL_ENV}):
        ports = sorted(f"{p['IP']}:{p['PublicPort']}->{p['PrivatePort']}" for p in c.get("Ports") or [] if p.get("PublicPort"))
        name = (c.get("Names") or ["/?"])[0].lstrip("/")
        out.append({"env": (c.get("Labels") or {}).get(LABEL_ENV), "container": name, "status": c.get("State"), "ports": ports})
    return sorted(out, key=lambda e: e["env"] or "")
