"""`rtc buffer create|write|read|show`: write-once byte buffers in the local store."""

from __future__ import annotations

import os
import re

from tyger_support import rtc, rtc_json


def test_create_write_read_round_trip_bytes():
    created = rtc("buffer", "create", "--tag", "a=b")
    assert created.returncode == 0
    buffer_id = created.stdout.decode().strip()
    assert re.fullmatch(r"[a-z0-9]{26}", buffer_id)
    data = os.urandom(200_000) + b"\x00end"
    assert rtc("buffer", "write", buffer_id, input=data).returncode == 0
    assert rtc("buffer", "read", buffer_id).stdout == data
    shown = rtc_json("buffer", "show", buffer_id)
    assert shown["tags"] == {"a": "b"} and shown["complete"] is True and shown["size"] == len(data)


def test_buffers_are_write_once_and_unknown_ids_are_errors():
    buffer_id = rtc("buffer", "create").stdout.decode().strip()
    rtc("buffer", "write", buffer_id, input=b"one")
    again = rtc("buffer", "write", buffer_id, input=b"two")
    assert again.returncode == 1 and "already been written" in again.stderr.decode()
    assert rtc("buffer", "read", buffer_id).stdout == b"one"
    missing = rtc("buffer", "read", "nosuchbuffer")
    assert missing.returncode == 1 and "not found" in missing.stderr.decode()
    assert b"Traceback" not in missing.stderr + again.stderr


def test_read_waits_for_completion_and_can_give_up():
    buffer_id = rtc("buffer", "create").stdout.decode().strip()
    waited = rtc("buffer", "read", buffer_id, "--timeout", "0.5s")
    assert waited.returncode == 1 and "not completed" in waited.stderr.decode()
