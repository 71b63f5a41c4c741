"""Helpers of the deployment tier: the services' settings, Airflow's REST API, polling.

The stack itself is the `stack` fixture of conftest.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = REPO / "scripts" / "services"


def read_env(path: Path) -> dict[str, str]:
    """A service's KEY=VALUE file, as its script wrote it."""
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {k: v for k, v in pairs}


def service(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> None:
    done = subprocess.run([str(SERVICES / args[0]), *args[1:]], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    if done.returncode != 0:
        pytest.fail(f"scripts/services/{' '.join(args)} failed:\n{done.stderr[-4000:]}")


@dataclass
class Stack:
    dir: Path
    airflow: dict[str, str] = field(default_factory=dict)  # the Airflow components' environment
    prefect: dict[str, str] = field(default_factory=dict)  # PREFECT_API_URL, PREFECT_HOME, ...
    registry: str = ""  # HOST:PORT of the tier's docker-registry
    engine2: str = ""  # DOCKER_HOST of the second engine, which Celery worker 2 uses
    s3: dict[str, str] = field(default_factory=dict)  # the SeaweedFS artifact store: AWS_ENDPOINT_URL, RTC_TEST_BUCKET, ...

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        """This process's environment with a service's settings on top (for subprocesses)."""
        return {**os.environ, **extra}

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


class AirflowApi:
    """Airflow's REST API (v2) with a token from the simple auth manager, as a user would call it."""

    def __init__(self, env: dict[str, str]):
        self.base = env["AIRFLOW_API_URL"]
        passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        password = json.loads(passwords.read_text())["admin"]
        token = self._send("POST", "/auth/token", {"username": "admin", "password": password}, auth=None)
        self.token = token["access_token"]

    def _send(self, method: str, path: str, body=None, auth: str | None = "token"):
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def get(self, path: str):
        return self._send("GET", path)

    def patch(self, path: str, body):
        return self._send("PATCH", path, body)

    def post(self, path: str, body):
        return self._send("POST", path, body)


def deploy_with_worker(stack: Stack, source: Path, folder: Path, prefix: str) -> tuple[str, str]:
    """`rtc deploy` of `source` to a new work pool of the stack's Prefect server, then a long-running `prefect worker`
    on it: (the pool's name, what rtc deploy printed)."""
    pool = f"{prefix}-{uuid.uuid4().hex[:6]}"
    done = subprocess.run([sys.executable, "-m", "rtc", "deploy", str(source), "--target", "prefect", "--work-pool", pool,
                           "-o", str(folder)], env=stack.env(stack.prefect), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    subprocess.run([str(SERVICES / "prefect.sh"), "worker", str(stack.dir), pool], check=True, timeout=60)
    return pool, done.stdout


def wait_for(what: str, probe, timeout: float, every: float = 2.0):
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds.

    A request that fails or times out counts as "not yet": on a loaded machine the api-server
    may answer one request slowly; the deadline still bounds the wait.
    """
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except OSError as exc:  # urllib's URLError, socket timeouts, refused connections
            last = exc
        else:
            if last:
                return last
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what} (last seen: {last!r})")
