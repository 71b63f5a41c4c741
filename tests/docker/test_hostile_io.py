"""Hostile steps against their io folder under the local runner, on the real engine (issue 11, items 1-2)."""

from __future__ import annotations

import stat

from hostile_io import HOSTILE, hostile_pipeline, non_root_image, secret_file

from rtc.runtime import contract
from rtc.integrations.local import step_io
from rtc.integrations.local.runner import format_failures, run_graph


def test_hostile_io_files_are_refused_and_a_non_root_step_still_writes(tmp_path, namespace, docker_client, capsys):
    non_root_image(docker_client)
    host_file, secret = secret_file(tmp_path)
    result = run_graph(hostile_pipeline(namespace, str(tmp_path / "p.rt"), host_file), "g", {}, client=docker_client)
    report = format_failures(result)
    assert result.status == "failed"
    for sid, (_, reason) in HOSTILE.items():
        assert result.steps[sid].status == "failed", (sid, report)
        assert reason in result.steps[sid].message, (sid, result.steps[sid].message)
    assert result.steps["non_root"].status == "succeeded", report
    # uid 4321 wrote through the folder's group; the folder is not world-writable.
    assert result.steps["non_root"].outputs == {"mode": "2770", "uid": "4321"}
    assert secret not in report and secret not in capsys.readouterr().out


def test_io_folder_is_group_writable_only(tmp_path):
    folder = step_io.make_io_dir(tmp_path / "io")
    mode = stat.S_IMODE(folder.stat().st_mode)
    assert mode == contract.IO_DIR_MODE and not mode & 0o007
