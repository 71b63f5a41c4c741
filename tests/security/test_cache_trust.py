"""The step cache trusts only what it can (issue 21, class 3): rtc.runtime.cache, which every target uses.

A planted or damaged entry must be a miss, never the next step's input; an entry recorded under a
longer `cache` age expires by today's; clearing a folder removes rtc's entries and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from rtc.runtime.cache import StepCache, read_entry

KEY = "a" * 64


def entry(outputs, created_at=None, expires_at=None) -> dict:
    return {"key": KEY, "outputs": outputs, "created_at": created_at or time.time(), "expires_at": expires_at,
            "pipeline": "p", "graph": "g", "step": "s", "node": "N"}


def plant(folder, record) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    (folder / f"{KEY}.json").write_text(json.dumps(record), encoding="utf-8")


def test_an_entry_of_this_user_s_private_folder_is_used(tmp_path):
    plant(tmp_path / "c", entry({"n": 1}))
    assert StepCache(tmp_path / "c").get(KEY).outputs == {"n": 1}


@pytest.mark.skipif(os.getuid() != 0, reason="giving a folder to another user needs root (CI runs as root)")
def test_a_folder_of_another_user_is_not_trusted(tmp_path):
    plant(tmp_path / "c", entry({"n": 1}))
    os.chown(tmp_path / "c", 4242, 4242)
    assert StepCache(tmp_path / "c").get(KEY) is None and read_entry(str(tmp_path / "c"), KEY) is None


@pytest.mark.parametrize("mode", [0o770, 0o777, 0o722])
def test_a_folder_others_may_write_is_not_trusted(tmp_path, mode):
    plant(tmp_path / "c", entry({"n": 1}))
    os.chmod(tmp_path / "c", mode)
    assert StepCache(tmp_path / "c").get(KEY) is None


@pytest.mark.parametrize("outputs", ["[" * 3000 + "]" * 3000, '{"n": NaN}', '{"n": 1e999}'])
def test_a_deep_or_non_json_entry_is_a_miss_not_a_crash(tmp_path, outputs):
    folder = tmp_path / "c"
    folder.mkdir(mode=0o700)
    text = json.dumps(entry(None)).replace('"outputs": null', f'"outputs": {outputs}')
    (folder / f"{KEY}.json").write_text(text, encoding="utf-8")
    assert StepCache(folder).get(KEY) is None


def test_a_tightened_cache_age_expires_an_older_entry(tmp_path):
    plant(tmp_path / "c", entry({"n": 1}, created_at=time.time() - 10))  # recorded under `cache = true`
    assert StepCache(tmp_path / "c").get(KEY, max_age=3600).outputs == {"n": 1}
    assert StepCache(tmp_path / "c").get(KEY, max_age=1) is None  # today the node says `cache = 1s`
    assert not (tmp_path / "c" / f"{KEY}.json").exists()  # and the stale entry is gone


def test_cache_clear_dir_removes_rtc_s_entries_and_nothing_else(tmp_path):
    folder = tmp_path / "c"
    plant(folder, entry({"n": 1}))
    (folder / "package.json").write_text('{"name": "mine"}')
    (folder / ("b" * 64 + ".json")).write_text('{"not": "an entry"}')
    done = subprocess.run([sys.executable, "-m", "rtc", "cache", "clear", "--dir", str(folder)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["b" * 64 + ".json", "package.json"]


def test_the_cache_folders_rtc_makes_are_owner_only(tmp_path):
    home = tmp_path / "home"
    StepCache(home / "cache" / "steps").put(KEY, {"n": 1}, max_age=None)
    for folder in (home, home / "cache", home / "cache" / "steps"):
        assert oct(folder.stat().st_mode & 0o777) == oct(0o700), folder
