"""`rtc artifacts ls|get|gc` over a real `rtc run` (issue 19): what runs recorded, fetched back, collected safely."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.docker

RTC = [sys.executable, "-m", "rtc"]
SOURCE = '''namespace artcli
env bb { image = "rtc-test/busybox:1" }
node Make {
  env = bb
  outputs { model: file, report: dir }
  command = ["sh", "-c", """
    printf 'weights-%s' "$RTC_RUN_ID" > "$MODEL_PATH"
    mkdir -p "$REPORT_PATH/plots" && echo ok > "$REPORT_PATH/summary.txt" && echo 1 > "$REPORT_PATH/plots/p1"
  """]
}
graph g {
  make = Make()
}
'''


def rtc(*args, env):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, env=env)


@pytest.fixture
def ran(tmp_path):
    env = {**os.environ, "RTC_HOME": str(tmp_path / "home")}
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    done = rtc("run", str(tmp_path / "p.rt"), "g", env=env)
    assert done.returncode == 0, done.stderr
    assert "make: model stored, sha256:" in done.stderr  # rtc run says what it recorded
    return env


def test_ls_shows_each_artifact_with_the_run_that_made_it_and_get_fetches_it(ran, tmp_path):
    listed = json.loads(rtc("artifacts", "ls", "--format", "json", env=ran).stdout)
    kinds = {row["artifact"]: row for row in listed}
    assert set(kinds) == {"file", "dir"}  # a folder's files are shown through the folder
    assert all(row["stored"] and len(row["used_by"]) == 1 and " make." in row["used_by"][0] for row in listed)
    model = kinds["file"]
    assert rtc("artifacts", "get", model["sha256"][:10], str(tmp_path / "m"), env=ran).returncode == 0
    assert hashlib.sha256((tmp_path / "m").read_bytes()).hexdigest() == model["sha256"]
    assert (tmp_path / "m").read_bytes().startswith(b"weights-")
    assert rtc("artifacts", "get", kinds["dir"]["sha256"], str(tmp_path / "r"), env=ran).returncode == 0
    assert (tmp_path / "r" / "plots" / "p1").read_text() == "1\n"
    again = rtc("artifacts", "get", model["sha256"], str(tmp_path / "m"), env=ran)
    assert again.returncode == 1 and "exists" in again.stderr  # never overwrites
    run_id = model["used_by"][0].split()[0]
    assert len(json.loads(rtc("artifacts", "ls", run_id, "--format", "json", env=ran).stdout)) == 2


def test_gc_keeps_what_runs_refer_to_and_removes_old_strays(ran, tmp_path):
    from rtc.runtime.artifacts import LocalStore

    store = LocalStore(tmp_path / "home" / "artifacts")
    (tmp_path / "stray").write_text("nobody refers to me")
    old = store.put_file(tmp_path / "stray")
    os.utime(store._blob(old["sha256"]), (1, 1))
    (tmp_path / "young").write_text("made a minute ago")
    young = store.put_file(tmp_path / "young")
    before = {d for d, _, _ in store.blobs()}
    dry = rtc("artifacts", "gc", "--dry-run", env=ran)
    assert dry.returncode == 0 and f"would remove {old['sha256'][:12]}" in dry.stdout
    assert {d for d, _, _ in store.blobs()} == before
    done = rtc("artifacts", "gc", env=ran)
    assert done.returncode == 0, done.stderr
    assert {d for d, _, _ in store.blobs()} == before - {old["sha256"]}  # referenced and young ones stay
    assert young["sha256"] in {d for d, _, _ in store.blobs()}
    listed = json.loads(rtc("artifacts", "ls", "--format", "json", env=ran).stdout)
    assert all(row["stored"] for row in listed if row["used_by"])


def test_an_unreachable_store_is_one_message(tmp_path):
    env = {**os.environ, "RTC_HOME": str(tmp_path / "home"), "RTC_STORE": "s3://nobucket/x",
           "AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
           "AWS_MAX_ATTEMPTS": "1"}
    for args in (["ls"], ["get", "abcd", str(tmp_path / "out")], ["gc"]):
        done = rtc("artifacts", *args, env=env)
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "the artifact store s3://nobucket/x cannot be used" in done.stderr


def test_store_names_the_store_for_run_and_artifacts(tmp_path):
    """`--store URL` is RTC_STORE given on the command line: `rtc run` keeps the files there, `rtc artifacts`
    reads them there, and the default store stays untouched."""
    env = {**os.environ, "RTC_HOME": str(tmp_path / "home")}
    env.pop("RTC_STORE", None)
    (tmp_path / "p.rt").write_text(SOURCE, encoding="utf-8")
    store = tmp_path / "elsewhere"
    done = rtc("run", str(tmp_path / "p.rt"), "g", "--store", str(store), env=env)
    assert done.returncode == 0, done.stderr
    assert f"in file://{store}" in done.stderr
    assert len(list(store.glob("sha256/??/*"))) == 4  # the model, the report's two files and its manifest
    assert not (tmp_path / "home" / "artifacts").exists()
    listed = json.loads(rtc("artifacts", "--store", str(store), "ls", "--format", "json", env=env).stdout)
    assert {row["artifact"] for row in listed} == {"file", "dir"}
    assert rtc("artifacts", "ls", env=env).stdout.strip() != rtc("artifacts", "--store", str(store), "ls", env=env).stdout.strip()
