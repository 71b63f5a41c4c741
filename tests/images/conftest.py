"""A private registry and a second Docker engine, each started by the project's scripts and stopped by PID.

The second engine stands in for a worker on another machine: it starts empty,
so an image can only reach it by a pull from the registry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services"
RTC = [sys.executable, "-m", "rtc"]

# A built environment (FROM busybox: a second's build, nothing to download) and a ready one.
SOURCE = textwrap.dedent(r'''
    namespace NS
    env tools {
      base    = "busybox"
      environ = { GREETING = "hello" }
    }
    env ready { image = "busybox:latest" }
    node Greet {
      env     = tools
      inputs  { who: str }
      outputs { text: str }
      command = ["sh", "-c", "printf '{\"text\": \"%s %s\"}' \"$GREETING\" \"$(echo $RTC_INPUTS | cut -d'\"' -f4)\" > $RTC_OUTPUTS_FILE"]
    }
    node Noop {
      env     = ready
      command = ["true"]
    }
    graph hello {
      params { who: str = "world" }
      greet = Greet(who = params.who)
    }
    graph plain {
      noop = Noop()
    }
''')


def env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def start_service(script: str, folder: Path) -> dict[str, str]:
    done = subprocess.run([str(SERVICES / script), "start", str(folder)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        message = f"{script} start failed:\n{done.stdout}{done.stderr}"
        if os.environ.get("RTC_REQUIRE_DOCKER") or os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return env_file(folder / script.replace(".sh", ".env"))


def stop_service(script: str, folder: Path) -> None:
    done = subprocess.run([str(SERVICES / script), "stop", str(folder)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="session")
def registry(tmp_path_factory, docker_client):
    """`HOST:PORT` of a docker-registry on 127.0.0.1 (scripts/services/registry.sh)."""
    folder = tmp_path_factory.mktemp("registry")
    env = start_service("registry.sh", folder)
    yield env["RTC_REGISTRY"]
    stop_service("registry.sh", folder)


@pytest.fixture(scope="session")
def engine2(tmp_path_factory, docker_client):
    """DOCKER_HOST of a second, empty Docker engine (scripts/services/engine2.sh)."""
    folder = tmp_path_factory.mktemp("engine2")
    env = start_service("engine2.sh", folder)
    yield env["DOCKER_HOST"]
    stop_service("engine2.sh", folder)


@pytest.fixture(scope="session")
def engine2_client(engine2):
    import docker

    client = docker.DockerClient(base_url=engine2)
    yield client
    client.close()


@pytest.fixture(scope="session")
def pushed(tmp_path_factory, registry, docker_client):
    """The pipeline, built on the first engine and pushed with `rtc build --push`: (file, registry, ref, digest)."""
    folder = tmp_path_factory.mktemp("pipeline")
    source = folder / "p.rt"
    namespace = f"Img{uuid.uuid4().hex[:6]}"
    source.write_text(SOURCE.replace("namespace NS", f"namespace {namespace}"))
    target = f"{registry}/team"
    done = subprocess.run([*RTC, "build", str(source), "--push", "--registry", target, "-q"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    from rtc.compiler import compile_file

    local = compile_file(str(source)).environments["tools"].image
    ref = f"{target}/{local.split('/', 1)[1]}"
    line = next(line for line in done.stderr.splitlines() if line.startswith("tools: pushed "))
    assert line.startswith(f"tools: pushed {ref} (sha256:"), done.stderr
    return {"file": source, "registry": target, "ref": ref, "digest": line.split("(", 1)[1].rstrip(")"),
            "namespace": namespace}


@pytest.fixture
def absent_on_engine2(pushed, engine2_client):
    """The pushed image removed from the second engine, so that the test sees it pulled."""
    import docker

    try:
        engine2_client.images.remove(pushed["ref"], force=True)
    except docker.errors.ImageNotFound:
        pass
    assert not engine2_client.images.list(name=pushed["ref"].rsplit(":", 1)[0])
    return pushed
