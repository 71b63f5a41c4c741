"""scripts/services/registry.sh and engine2.sh: started by the script, on loopback, stopped by the PID it started."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import urllib.request
import uuid

import pytest

from conftest import start_service, stop_service

pytestmark = pytest.mark.docker


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _addresses_of(pid: int) -> set[str]:
    """Local addresses `pid` listens on, from `ss`."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
    return {line.split()[3] for line in out.splitlines() if f"pid={pid}," in line}


def test_registry_serves_on_loopback_and_stops_by_its_pid(tmp_path, docker_client):
    env = start_service("registry.sh", tmp_path)
    pid = int((tmp_path / "registry.pid").read_text())
    port = int(env["REGISTRY_PORT"])
    try:
        assert env["RTC_REGISTRY"] == f"127.0.0.1:{port}"
        assert _addresses_of(pid) == {f"127.0.0.1:{port}"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/_catalog", timeout=5) as answer:
            assert json.load(answer) == {"repositories": []}
    finally:
        stop_service("registry.sh", tmp_path)
    assert not os.path.exists(f"/proc/{pid}")
    assert not _listening(port)
    assert not (tmp_path / "registry-data").exists()


def test_second_engine_is_separate_and_the_first_keeps_working_after_it_stops(tmp_path, docker_client):
    import docker

    env = start_service("engine2.sh", tmp_path)
    pid = int((tmp_path / "engine2.pid").read_text())
    root, bridge = env["ENGINE2_ROOT"], env["ENGINE2_BRIDGE"]
    label = f"rtc-test-{uuid.uuid4().hex[:8]}"
    try:
        second = docker.DockerClient(base_url=env["DOCKER_HOST"])
        info = second.info()
        assert info["DockerRootDir"] == f"{root}/data"
        assert info["DockerRootDir"] != docker_client.info()["DockerRootDir"]
        assert second.images.list() == []  # holds none of the first engine's images
        assert docker_client.containers.run("busybox:latest", ["echo", "one"], remove=True, labels={label: "1"}) == b"one\n"
        second.close()
    finally:
        stop_service("engine2.sh", tmp_path)
    assert not os.path.exists(f"/proc/{pid}")
    assert not os.path.exists(root)
    assert subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode != 0
    assert subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode == 0
    # The first engine still starts containers on its own bridge.
    assert docker_client.containers.run("busybox:latest", ["echo", "two"], remove=True, labels={label: "2"}) == b"two\n"
    assert not (tmp_path / "engine2.env").exists()
