"""Files between steps through a real S3-compatible store: SeaweedFS on loopback (scripts/services/seaweedfs.sh).

The store is `RTC_STORE=s3://BUCKET/PREFIX`, reached through fsspec's s3fs with the endpoint and
credentials read as boto3 reads them (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...); steps see none of them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from rtc.compiler import compile_file
from rtc.integrations.local.runner import format_failures, run_graph

pytestmark = pytest.mark.docker
REPO = Path(__file__).resolve().parents[2]


def test_a_50_mb_file_and_a_folder_pass_between_steps_through_s3(tmp_path, docker_client, s3, monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, s3[key])
    store_url = f"s3://{s3['RTC_TEST_BUCKET']}/runs-{tmp_path.name}"
    monkeypatch.setenv("RTC_STORE", store_url)
    state = tmp_path / "state"
    state.mkdir()
    source = tmp_path / "p.rt"
    source.write_text(f'''namespace arts3
env bb {{
  image = "rtc-test/busybox:1"
  mount "{state}" -> "/state"
}}
node Make {{
  env = bb
  outputs {{ data: file, tree: dir }}
  command = ["sh", "-c", """
    head -c 52428800 /dev/urandom > "$DATA_PATH"
    sha256sum "$DATA_PATH" | cut -c1-64 > /state/made
    mkdir -p "$TREE_PATH/sub" && echo leaf > "$TREE_PATH/sub/leaf.txt"
    env > /state/make.env
  """]
}}
node Use {{
  env = bb
  inputs {{ data: file, tree: dir }}
  command = ["sh", "-c", """
    sha256sum "$DATA_PATH" | cut -c1-64 > /state/used
    cat "$TREE_PATH/sub/leaf.txt" > /state/leaf
    env > /state/use.env
  """]
}}
graph g {{
  make = Make()
  use = Use(data = make.data, tree = make.tree)
}}
''', encoding="utf-8")
    result = run_graph(compile_file(str(source)), "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    made = (state / "made").read_text().strip()
    assert (state / "used").read_text().strip() == made
    assert (state / "leaf").read_text() == "leaf\n"
    ref = result.steps["make"].outputs["data"]
    assert ref["uri"] == f"{store_url}/sha256/{made}" and ref["size"] == 52428800
    for name in ("make.env", "use.env"):  # the steps see no store credentials
        assert "AWS_" not in (state / name).read_text() and s3["AWS_SECRET_ACCESS_KEY"] not in (state / name).read_text()
    import fsspec

    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    keys = {path.rsplit("/", 1)[-1] for path in fs.find(store_url[len("s3://"):] + "/sha256")}
    assert made in keys and result.steps["make"].outputs["tree"]["sha256"] in keys
    assert hashlib.sha256(fs.cat(f"{store_url}/sha256/{made[:2]}/{made}")).hexdigest() == made


def test_rtc_artifacts_lists_and_fetches_from_s3(tmp_path, docker_client, s3, monkeypatch):
    from rtc.runtime.artifacts import open_store

    for key in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(key, s3[key])
    store = open_store(f"s3://{s3['RTC_TEST_BUCKET']}/cli-{tmp_path.name}")
    (tmp_path / "f").write_bytes(b"x" * 3_000_000)
    ref = store.put_file(tmp_path / "f")
    assert [d for d, _, _ in store.blobs()] == [ref["sha256"]]
    store.get(ref, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == (tmp_path / "f").read_bytes()
    assert json.loads(json.dumps(ref))["uri"].startswith("s3://")
