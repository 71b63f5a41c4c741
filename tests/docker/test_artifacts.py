"""Files and folders between steps under `rtc run` (issue 19, first part): `file`/`dir` ports, the local store."""

from __future__ import annotations

import hashlib
import json

import pytest

from rtc.compiler import compile_file
from rtc.integrations.local.runner import format_failures, run_graph

pytestmark = pytest.mark.docker

HEADER = 'namespace arts\nenv bb {\n  image = "rtc-test/busybox:1"\n  mount "STATE" -> "/state"\n}\n'


def pipeline(tmp_path, body: str):
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    source = tmp_path / "p.rt"
    source.write_text(HEADER.replace("STATE", str(state)) + body, encoding="utf-8")
    return compile_file(str(source)), state


def node(name, script, inputs="", outputs="", extra=""):
    ports = (f"  inputs {{ {inputs} }}\n" if inputs else "") + (f"  outputs {{ {outputs} }}\n" if outputs else "")
    return f'node {name} {{\n  env = bb\n{ports}{extra}  command = ["sh", "-c", """{script}\n"""]\n}}\n'


def test_a_file_and_a_folder_reach_the_next_step_intact_and_read_only(tmp_path, docker_client, monkeypatch):
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    make = node("Make", 'head -c 3000000 /dev/urandom > "$DATA_PATH"; sha256sum "$DATA_PATH" | cut -c1-64 > /state/made; '
                        'mkdir -p "$TREE_PATH/sub"; echo one > "$TREE_PATH/a.txt"; echo two > "$TREE_PATH/sub/b.txt"',
                outputs="data: file, tree: dir")
    use = node("Use", 'sha256sum "$DATA_PATH" | cut -c1-64 > /state/used; [ "$DATA_PATH" = /rtc/in/data ] || exit 9; '
                      'printf "%s" "$RTC_INPUTS" > /state/inputs.json; cat "$TREE_PATH/sub/b.txt" > /state/b; '
                      '(echo x >> "$DATA_PATH") 2>/dev/null && echo writable > /state/writable; true',
               inputs="data: file, tree: dir")
    p, state = pipeline(tmp_path, make + use + "graph g {\n  make = Make()\n  use = Use(data = make.data, tree = make.tree)\n}\n")
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    made = (state / "made").read_text().strip()
    assert (state / "used").read_text().strip() == made  # the same bytes in both containers
    assert (state / "b").read_text() == "two\n"
    assert not (state / "writable").exists()  # inputs are mounted read-only
    assert json.loads((state / "inputs.json").read_text()) == {"data": "/rtc/in/data", "tree": "/rtc/in/tree"}
    ref = result.steps["make"].outputs["data"]
    assert ref["artifact"] == "file" and ref["sha256"] == made and ref["size"] == 3_000_000
    blob = tmp_path / "store" / "sha256" / made[:2] / made
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == made  # stored once, under its digest
    assert result.steps["make"].outputs["tree"]["artifact"] == "dir"


@pytest.mark.parametrize("script, words", [
    ('ln -s /etc/passwd "$OUT_PATH"', "is a symlink"),
    ('mkfifo "$OUT_PATH"', "is a FIFO"),
    ("true", "left nothing at its path"),
    ('mkdir "$OUT_PATH"', "is a folder"),
])
def test_hostile_file_outputs_fail_the_step_clearly(tmp_path, docker_client, monkeypatch, script, words):
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    p, _ = pipeline(tmp_path, node("Bad", script, outputs="out: file") + "graph g {\n  bad = Bad()\n}\n")
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    assert words in result.steps["bad"].message and "output 'out' of step 'bad'" in result.steps["bad"].message
    assert not list((tmp_path / "store").glob("sha256/??/*"))  # nothing stored


@pytest.mark.parametrize("script, words", [
    ('mkdir -p "$OUT_PATH"; ln -s /etc "$OUT_PATH/etc"', "etc is a symlink"),
    ('mkdir -p "$OUT_PATH"; mkfifo "$OUT_PATH/p"', "p is a FIFO"),
    ('ln -s /tmp "$OUT_PATH"', "is a symlink, not a folder"),
])
def test_hostile_folder_outputs_fail_the_step_clearly(tmp_path, docker_client, monkeypatch, script, words):
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    p, _ = pipeline(tmp_path, node("Bad", script, outputs="out: dir") + "graph g {\n  bad = Bad()\n}\n")
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed" and words in result.steps["bad"].message, result.steps["bad"].message


def test_files_of_a_fan_out_arrive_as_a_list_in_order(tmp_path, docker_client, monkeypatch):
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    body = (node("Split", "printf '{\"xs\": [1, 2, 3]}' > \"$RTC_OUTPUTS_FILE\"", outputs="xs: list[int]")
            + node("Write", 'printf "%s" "$RTC_MAP_INDEX" > "$F_PATH"', inputs="x: int", outputs="f: file")
            + node("Join", 'for f in "$FS_PATH"/*; do cat "$f"; done > /state/joined; printf "%s" "$RTC_INPUTS" > /state/in.json',
                   inputs="fs: list[file]")
            + "graph g {\n  split = Split()\n  write = Write(x = each(split.xs))\n  join = Join(fs = write.f)\n}\n")
    p, state = pipeline(tmp_path, body)
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert (state / "joined").read_text() == "012"
    assert json.loads((state / "in.json").read_text()) == {"fs": ["/rtc/in/fs/0", "/rtc/in/fs/1", "/rtc/in/fs/2"]}


def test_a_cached_step_hits_when_its_input_file_is_unchanged(tmp_path, docker_client, monkeypatch):
    monkeypatch.setenv("RTC_STORE", str(tmp_path / "store"))
    body = (node("Make", 'cat /state/content > "$F_PATH"', outputs="f: file")
            + node("Count", 'echo x >> /state/runs; wc -c < "$F_PATH" > /dev/null', inputs="f: file", extra="  cache = true\n")
            + "graph g {\n  make = Make()\n  count = Count(f = make.f)\n}\n")
    p, state = pipeline(tmp_path, body)
    (state / "content").write_text("same")
    for _ in range(2):
        assert run_graph(p, "g", {}, client=docker_client).status == "succeeded"
    assert (state / "runs").read_text() == "x\n"  # the second run reused the first's: same digest, same key
    (state / "content").write_text("changed")
    assert run_graph(p, "g", {}, client=docker_client).status == "succeeded"
    assert (state / "runs").read_text() == "x\nx\n"  # a new file is new work


def test_a_store_url_rtc_run_cannot_use_is_one_clear_error(tmp_path, docker_client, monkeypatch):
    from rtc.base.diagnostics import RtcError

    p, _ = pipeline(tmp_path, node("Make", 'echo > "$F_PATH"', outputs="f: file") + "graph g {\n  m = Make()\n}\n")
    monkeypatch.setenv("RTC_STORE", "ftp://host/prefix")
    with pytest.raises(RtcError, match="names no artifact store rtc knows"):
        run_graph(p, "g", {}, client=docker_client)


def test_a_store_that_cannot_be_reached_fails_the_step_with_why(tmp_path, docker_client, monkeypatch):
    for key, value in {"RTC_STORE": "s3://nobucket/x", "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
                       "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_MAX_ATTEMPTS": "1"}.items():
        monkeypatch.setenv(key, value)
    p, _ = pipeline(tmp_path, node("Make", 'echo data > "$F_PATH"', outputs="f: file") + "graph g {\n  make = Make()\n}\n")
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    assert "the artifact store s3://nobucket/x cannot be used" in result.steps["make"].message


def test_a_mount_under_the_home_folder_is_the_home_folder_under_rtc_run(tmp_path, docker_client, monkeypatch):
    """`mount "~/data" -> "/data"`: `~` is the home folder of who runs it (as envd and shells expand it),
    not a folder named `~` beside the pipeline file."""
    home = tmp_path / "home"
    (home / "rtc-tilde").mkdir(parents=True)
    (home / "rtc-tilde" / "hello.txt").write_text("from home", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    source = tmp_path / "p.rt"
    source.write_text('namespace tilde\nenv bb {\n  image = "rtc-test/busybox:1"\n  mount "~/rtc-tilde" -> "/data" readonly\n}\n'
                      + node("Read", 'printf \'{"got": "%s"}\' "$(cat /data/hello.txt)" > "$RTC_OUTPUTS_FILE"',
                             outputs="got: str") + "graph g {\n  read = Read()\n}\n", encoding="utf-8")
    result = run_graph(compile_file(str(source)), "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["read"].outputs == {"got": "from home"}
    assert not (tmp_path / "~").exists()
