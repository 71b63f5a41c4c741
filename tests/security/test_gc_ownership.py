"""`rtc gc` removes only what it can prove is rtc's and abandoned (issue 21, class 1). Real engine, real signals.

A pid means something only in the PID namespace that wrote it: a run started in
another namespace (here with `unshare --pid`, as a dev container or CI job
sharing the Docker socket) must survive gc on the host; so must `rtc env`
containers, containers with rtc-looking labels, labels of an older rtc and
look-alike /tmp folders. A run whose owner was really SIGKILLed is collected.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from rtc.integrations.engine import owners

from fault_support import RTC, containers, rtc, wait_for  # noqa: F401



def name_of(container) -> str:
    return container.attrs["Names"][0].lstrip("/")  # a sparse listing has no .name


def sleeper_file(folder: Path, ns: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sleep.rt"
    path.write_text(
        f'namespace {ns}\nenv bb {{ image = "rtc-test/busybox:1" }}\n'
        'node Sleep { env = bb command = ["sh", "-c", "echo up; sleep 300"] }\n'
        "graph g { a = Sleep() }\n"
    )
    return path


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def forged(docker_client, ns, labels: dict[str, str]):
    """A container not made by rtc, carrying the labels given (a sleeping busybox)."""
    return docker_client.containers.run("rtc-test/busybox:1", ["sleep", "300"], detach=True,
                                        labels={"rtc.pipeline": ns, **labels})


def gc_env(tmp_path):
    return {**os.environ, "RTC_HOME": str(tmp_path / "gc-home")}


def test_a_live_run_in_another_pid_namespace_survives_gc(tmp_path, ns, docker_client):
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.skip("needs unshare --pid (root)")
    env = {**os.environ, "RTC_HOME": str(tmp_path / "inner")}
    inner = subprocess.Popen(["unshare", "--pid", "--fork", "--mount-proc", *RTC, "run", str(sleeper_file(tmp_path, ns))],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    try:
        (container,) = wait_for(lambda: [c for c in containers(docker_client, ns) if c.status == "running"],
                                what="the step container")
        label = container.attrs["Labels"]["rtc.owner"]
        assert label.split(":")[2] != owners._pid_namespace(), "the run wrote its own PID namespace"
        assert owners.owner_state(label) == "unknown"
        done = rtc("gc", env=gc_env(tmp_path))
        assert done.returncode == 0, done.stderr
        assert "another PID namespace" in done.stderr and name_of(container) in done.stderr, done.stderr
        assert [c.status for c in containers(docker_client, ns)] == ["running"], "gc left the live run alone"
    finally:
        os.killpg(inner.pid, signal.SIGINT)  # the run's own Ctrl-C: it cleans up after itself
        try:
            inner.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(inner.pid, signal.SIGKILL)
            inner.communicate()
    assert containers(docker_client, ns) == []


def test_labels_gc_cannot_prove_are_left_alone_and_reported(tmp_path, ns, docker_client):
    pid = dead_pid()
    boot, here = owners._boot_id(), owners._pid_namespace()
    other_namespace = str(int(here) + 1)
    run = f"g-20260101-000000-{uuid.uuid4().hex[:6]}"
    cases = {
        "other-namespace": {"rtc.run": run, "rtc.owner": f"rtc2:{boot}:{other_namespace}:{pid}:1"},
        "other-boot": {"rtc.run": run, "rtc.owner": f"rtc2:{'0' * 8 if boot != '0' * 8 else '1' * 8}:{here}:{pid}:1"},
        "older-rtc": {"rtc.run": run, "rtc.owner": f"{boot}:{pid}:1"},
        "not-rtcs": {"rtc.run": run, "rtc.owner": "alice"},
        "no-run-label": {"rtc.owner": f"rtc2:{boot}:{here}:{pid}:1"},
        "environment": {"rtc.env": f"{ns}/idle", "rtc.run": run, "rtc.owner": f"rtc2:{boot}:{here}:{pid}:1"},
    }
    made = {name: forged(docker_client, ns, labels) for name, labels in cases.items()}
    look_alike = Path(tempfile.mkdtemp(prefix=f"rtc-{run}-"))  # named like the run's io folder, but not proven its
    (look_alike / "keep.txt").write_text("mine")
    try:
        dry = rtc("gc", "--dry-run", env=gc_env(tmp_path))
        done = rtc("gc", env=gc_env(tmp_path))
        assert done.returncode == 0, done.stderr
        for name, container in made.items():
            container.reload()
            assert container.status == "running", f"{name}: gc removed a container it cannot prove abandoned"
            assert f"left container {container.name} alone" in done.stderr, (name, done.stderr)
            assert container.name not in dry.stdout
        assert (look_alike / "keep.txt").read_text() == "mine"
    finally:
        shutil.rmtree(look_alike, ignore_errors=True)


def test_a_run_whose_owner_was_killed_is_collected_and_only_its_own_folder_goes(tmp_path, ns, docker_client):
    env = {**os.environ, "RTC_HOME": str(tmp_path / "a")}
    victim = subprocess.Popen([*RTC, "run", str(sleeper_file(tmp_path, ns))], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    look_alikes = []
    try:
        (container,) = wait_for(lambda: [c for c in containers(docker_client, ns) if c.status == "running"],
                                what="the step container")
        run_id = container.attrs["Labels"]["rtc.run"]
        folders = [p for p in os.listdir(tempfile.gettempdir()) if p.startswith(f"rtc-{run_id}-")]
        assert len(folders) == 1
        victim.kill()
        victim.wait(timeout=30)
        # Look-alikes: same prefix, wrong suffix; right shape but world-readable; right shape, another's marker.
        look_alikes.append(Path(tempfile.gettempdir()) / f"rtc-{run_id}-not-mkdtemp")
        look_alikes[-1].mkdir(mode=0o700)
        look_alikes.append(Path(tempfile.mkdtemp(prefix=f"rtc-{run_id}-")))
        os.chmod(look_alikes[-1], 0o755)
        look_alikes.append(Path(tempfile.mkdtemp(prefix=f"rtc-{run_id}-")))
        (look_alikes[-1] / ".rtc-io-folder").write_text(f"{run_id}\nrtc2:someone-else\n")
        done = rtc("gc", env=gc_env(tmp_path))  # another home: ownership is on the containers
        assert done.returncode == 0, done.stderr
        assert f"removed container {name_of(container)}" in done.stdout, done
        assert containers(docker_client, ns) == []
        assert not os.path.exists(os.path.join(tempfile.gettempdir(), folders[0])), "the run's own io folder went"
        for path in look_alikes:
            assert path.is_dir(), f"gc deleted the look-alike {path}"
    finally:
        if victim.poll() is None:
            victim.kill()
        for path in look_alikes:
            shutil.rmtree(path, ignore_errors=True)


def test_a_marked_io_folder_of_a_dead_owner_is_proven_and_a_forged_one_is_not(tmp_path):
    """The marker `mark_io_folder` writes (the runner calls it after mkdtemp) proves a folder without any container."""
    from rtc.integrations.tyger import abandoned

    run_id = f"g-20260101-000000-{uuid.uuid4().hex[:6]}"
    script = (
        "import sys, tempfile; from rtc.integrations.tyger.abandoned import mark_io_folder\n"
        f"p = tempfile.mkdtemp(prefix='rtc-{run_id}-'); mark_io_folder(p, '{run_id}'); print(p)\n"
        "from rtc.integrations.engine.owners import owner_label; print(owner_label())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    folder, owner = out
    forged_folder = tempfile.mkdtemp(prefix=f"rtc-{run_id}-")
    Path(forged_folder, ".rtc-io-folder").symlink_to(Path(folder, ".rtc-io-folder"))  # a link to a real marker
    try:
        assert owners.owner_state(owner) == "gone"
        assert abandoned._remove_io_folders(run_id, owner) == 1
        assert not os.path.exists(folder)
        assert os.path.isdir(forged_folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        shutil.rmtree(forged_folder, ignore_errors=True)


def test_owner_labels_are_judged_only_in_their_own_namespace():
    here = owners.owner_label()
    assert owners.owner_state(here) == "alive"
    boot, namespace = owners._boot_id(), owners._pid_namespace()
    pid = dead_pid()
    assert owners.owner_state(f"rtc2:{boot}:{namespace}:{pid}:1") == "gone"
    for label in (f"rtc2:{boot}:{int(namespace) + 1}:{pid}:1", f"{boot}:{pid}:1", "", None, "x" * 5000,
                  f"rtc2:{boot}:{namespace}:{pid}:unknown", f"rtc2:{boot}:{namespace}:{'9' * 30}:1",
                  f"rtc2:{boot}:{namespace}:١:1"):
        assert owners.owner_state(label) == "unknown", label
