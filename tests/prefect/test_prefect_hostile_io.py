"""Hostile steps against their io folder under Prefect (a real flow run on the real engine; issue 11, items 1-2)."""

from __future__ import annotations

import uuid

import pytest
from hostile_io import HOSTILE, hostile_pipeline, io_file, non_root_image, secret_file
from rtc_prefect_cases import flow_file, labelled, load_module

pytestmark = [pytest.mark.prefect, pytest.mark.docker]


def test_hostile_io_files_are_refused_and_a_non_root_step_still_writes(compile_to, prefect_server, docker_client,
                                                                        tmp_path):
    non_root_image(docker_client)
    host_file, secret = secret_file(tmp_path)
    namespace = f"HostileT{uuid.uuid4().hex[:8]}"
    module = load_module(flow_file(compile_to(hostile_pipeline(namespace, str(tmp_path / "p.rt"), host_file)), "g"))
    state = module.g(return_state=True)
    assert state.is_failed()
    message = state.message or ""
    for sid, (_, reason) in HOSTILE.items():
        assert f"step {sid!r}: {io_file(sid)} {reason}" in message, (sid, message)
    assert "non_root" not in message
    assert secret not in message
    assert labelled(docker_client, namespace) == []
