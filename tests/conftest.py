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
