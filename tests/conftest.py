"""Fixtures shared by every test area. Area-specific ones live in tests/<area>/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture(autouse=True)
def _isolated_rtc_home(tmp_path, monkeypatch):
    """Every test gets its own run store, so tests never see each other's runs."""
    monkeypatch.setenv("RTC_HOME", str(tmp_path / "rtc-home"))


@pytest.fixture(scope="session")
def docker_client():
    """A client of the real engine. Missing Docker fails (CI) or skips (a laptop without it)."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach the engine means "no Docker here"
        if os.environ.get("RTC_REQUIRE_DOCKER") or os.environ.get("CI"):
            pytest.fail(f"Docker engine required but unreachable: {exc}")
        pytest.skip(f"no Docker engine: {exc}")
    return client


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The environment of a SeaweedFS S3 server (scripts/services/seaweedfs.sh) started for this module on ports
    of its own, stopped by its PID afterwards: S3_PORT, AWS_ENDPOINT_URL, RTC_TEST_BUCKET, AWS_ACCESS_KEY_ID, ..."""
    import subprocess

    folder = tmp_path_factory.mktemp("seaweedfs")
    script = REPO / "scripts" / "services" / "seaweedfs.sh"
    subprocess.run([str(script), "start", str(folder)], check=True, capture_output=True, timeout=120)
    try:
        yield dict(line.split("=", 1) for line in (folder / "seaweedfs.env").read_text().split())
    finally:
        subprocess.run([str(script), "stop", str(folder)], check=True, capture_output=True, timeout=120)
