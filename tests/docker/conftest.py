"""Fixtures for the local runner's tests: a unique namespace per test, and a check that nothing is left behind."""

from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def namespace(docker_client):
    """A pipeline namespace no other test uses; afterwards no container of it may survive."""
    ns = f"rtctest-{uuid.uuid4().hex[:10]}"
    yield ns
    left = docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={ns}"})
    for c in left:
        c.remove(force=True)
    assert not left, f"containers left behind: {[c.name for c in left]}"
