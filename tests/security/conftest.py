from __future__ import annotations

import uuid

import pytest


@pytest.fixture
def ns(docker_client):
    """A pipeline namespace of this test's own; its containers are removed afterwards, whatever happened."""
    name = f"sec{uuid.uuid4().hex[:10]}"
    yield name
    for c in docker_client.containers.list(all=True, sparse=True, filters={"label": f"rtc.pipeline={name}"}):
        c.remove(force=True)
