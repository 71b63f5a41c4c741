"""One real `prefect server` per test process, shared by every Prefect test (starting one costs ~15 s).

PREFECT_HOME points at a temporary folder before prefect is imported, so
tests never touch ~/.prefect; flows run in-process against the server via
`temporary_settings`, and subprocesses (rtc deploy, workers) get `prefect_env`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

_HOME = tempfile.mkdtemp(prefix="rtc-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
# Prefect 3.7 derives these two from ~/.prefect, not from PREFECT_HOME (settings/models/_defaults.py
# reads a `home` its sub-models never have): without them every flow run's result lands in ~/.prefect/storage.
os.environ["PREFECT_LOCAL_STORAGE_PATH"] = str(Path(_HOME) / "storage")
os.environ["PREFECT_MEMO_STORE_PATH"] = str(Path(_HOME) / "memo_store.toml")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO")
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def prefect_server():
    """The API URL of a `prefect server start` on loopback, stopped at the end of the session."""
    port = _free_port()
    env = dict(os.environ, PREFECT_HOME=_HOME, PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    log = open(Path(_HOME) / "server.log", "w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("prefect server did not start:\n" + (Path(_HOME) / "server.log").read_text()[-3000:])
        time.sleep(0.5)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield url
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # send the last log lines while the server is still up
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    shutil.rmtree(_HOME, ignore_errors=True)


@pytest.fixture
def prefect_env(prefect_server):
    """Environment for subprocesses that talk to the shared server."""
    return dict(os.environ, PREFECT_HOME=_HOME, PREFECT_API_URL=prefect_server,
                PREFECT_SERVER_ANALYTICS_ENABLED="false")


@pytest.fixture
def compile_to(tmp_path):
    """Render a Pipeline with the prefect target into tmp_path; return (folder, {file: module loader})."""
    from rtc.integrations.prefect import render

    def go(pipeline):
        out = tmp_path / "flows"
        out.mkdir(exist_ok=True)
        for rel, text in render(pipeline).items():
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            (out / rel).write_text(text, encoding="utf-8")
        return out

    return go
