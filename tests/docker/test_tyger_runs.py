"""Tyger's run lifecycle on the local store: create, show, watch, list, cancel, logs, replicas, timeout, workers."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Codespec, Resources, Run, WorkerSpec
from rtc.integrations.tyger import runs as tyger
from rtc.integrations.tyger.store import Store
from rtc.integrations.tyger.spec import Overrides, build_spec, choose_run, parse_duration
from tyger_support import HELLO_YML, busybox, leftovers, pipeline, rtc, rtc_json, wait_for

TICKS = "for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do echo tick $i; sleep 1; done"


def test_seed_create_write_read_flow(tmp_path, docker_client):
    """Tyger's `run create` with buffers made first, then `buffer write` and `buffer read`."""
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    input_id = rtc("buffer", "create").stdout.decode().strip()
    output_id = rtc("buffer", "create").stdout.decode().strip()
    created = rtc("run", "create", "--file", str(tmp_path / "hello.yml"),
                  "--buffer", f"input={input_id}", "--buffer", f"output={output_id}", "--tag", "team=x")
    assert created.returncode == 0, created.stderr.decode()
    run_id = created.stdout.decode().strip()
    assert run_id == "1"
    # the run starts at once and its read of the input pipe waits for the bytes
    wait_for(lambda: rtc_json("run", "show", run_id)["status"] == "Running", timeout=120, what="Running")
    time.sleep(1)
    assert rtc_json("run", "show", run_id)["status"] == "Running"
    assert rtc("buffer", "write", input_id, input=b"Paul\n").returncode == 0
    read = rtc("buffer", "read", output_id, timeout=60)
    assert read.stdout == b"Hello Paul\n", read.stderr.decode()

    lines = [json.loads(line) for line in rtc("run", "watch", run_id).stdout.splitlines()]
    assert lines[-1]["status"] == "Succeeded"
    assert set(lines[-1]) == {"id", "status", "createdAt", "startedAt", "finishedAt"}
    shown = rtc_json("run", "show", run_id)
    assert shown["job"]["buffers"] == {"input": input_id, "output": output_id}
    assert shown["job"]["codespec"]["buffers"] == {"inputs": ["input"], "outputs": ["output"]}
    assert shown["job"]["tags"] == {"team": "x"} and shown["job"]["replicas"] == 1
    assert shown["createdAt"] <= shown["startedAt"] <= shown["finishedAt"]
    full = [json.loads(line) for line in rtc("run", "watch", run_id, "--full-resource").stdout.splitlines()]
    assert full[-1]["job"]["codespec"]["image"] == "ubuntu"
    assert leftovers(docker_client) == []


def test_missing_buffers_are_created_with_the_run_tags(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    run_id = rtc("run", "create", "-f", str(tmp_path / "hello.yml"), "--tag", "k=v").stdout.decode().strip()
    buffers = rtc_json("run", "show", run_id)["job"]["buffers"]
    assert set(buffers) == {"input", "output"}
    for buffer_id in buffers.values():
        assert rtc_json("buffer", "show", buffer_id)["tags"] == {"k": "v"}
    rtc("buffer", "write", buffers["input"], input=b"Bo\n")
    assert rtc("buffer", "read", buffers["output"]).stdout == b"Hello Bo\n"


def test_cancel_logs_and_nothing_left(tmp_path, docker_client):
    (tmp_path / "tick.yml").write_text(f'name: tick\nimage: busybox\ncommand: ["sh", "-c", "{TICKS}"]\n')
    run_id = rtc("run", "create", "-f", str(tmp_path / "tick.yml")).stdout.decode().strip()
    wait_for(lambda: "tick 2" in rtc("run", "logs", run_id).stdout.decode(), what="two ticks")

    logs = rtc("run", "logs", run_id, "--timestamps").stdout.decode().splitlines()
    assert logs[0].endswith(" tick 1") and logs[0][:4].isdigit() and "T" in logs[0].split()[0]
    assert rtc("run", "logs", run_id, "--tail", "1").stdout.decode().count("tick") == 1
    assert rtc("run", "logs", run_id, "--since", "2999-01-01T00:00:00Z").stdout == b""

    canceled = rtc_json("run", "cancel", run_id)
    assert canceled["status"] in ("Canceling", "Canceled")
    watched = [json.loads(line)["status"] for line in rtc("run", "watch", run_id).stdout.splitlines()]
    assert watched[-1] == "Canceled"
    assert rtc_json("run", "show", run_id)["statusReason"] == "canceled by request"
    assert leftovers(docker_client) == []
    # logs outlive the containers
    assert "tick 1" in rtc("run", "logs", run_id).stdout.decode()


def test_logs_follow_until_the_run_ends(tmp_path, docker_client):
    (tmp_path / "three.yml").write_text(
        'name: three\nimage: busybox\ncommand: ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done"]\n'
    )
    run_id = rtc("run", "create", "-f", str(tmp_path / "three.yml")).stdout.decode().strip()
    followed = rtc("run", "logs", run_id, "--follow", timeout=60)
    assert followed.stdout.decode().splitlines() == ["line 1", "line 2", "line 3"]


def test_list_newest_first_limit_since_and_warning(docker_client):
    store = Store()
    spec = build_spec(pipeline(busybox("noop", "true")), Run(name="noop", codespec="noop"))
    first = store.create_run(spec)
    # 1002 more rows in one transaction (one create_run each would cost ~15 s of commits here)
    with sqlite3.connect(store.db_path) as db:
        db.executemany("INSERT INTO runs (status, spec, created_at) VALUES ('Pending', ?, ?)",
                       [(json.dumps(spec), first.created_at + i * 1e-3) for i in range(1, 1003)])
    ids = [first.id + i for i in range(1003)]
    listed = rtc("run", "list")
    runs = json.loads(listed.stdout)
    assert len(runs) == 1000 and runs[0]["id"] == ids[-1]
    assert "truncated" in listed.stderr.decode()
    limited = rtc("run", "list", "--limit", "2")
    assert [r["id"] for r in json.loads(limited.stdout)] == [ids[-1], ids[-2]]
    assert limited.stderr == b""
    assert rtc_json("run", "list", "--since", "2999-01-01") == []
    assert rtc("run", "show", "999999").returncode == 1


def test_replicas_env_args_workdir_and_resources(docker_client):
    script = (
        'echo "replica $RTC_REPLICA_INDEX/$REPLICA_INDEX $GREETING $0 $1 $(pwd)"; '
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max; "
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/cpu.max"
    )
    cs = busybox("multi", script, args=["first", "second"], working_dir="/tmp", env={"GREETING": "hey"},
                 max_replicas=3, resources=Resources(cpu_limit="500m", memory_limit="64Mi", cpu_request="250m"))
    lines: list[str] = []
    record = tyger.execute_run(pipeline(cs), "multi", on_line=lines.append, overrides=Overrides(replicas=3))
    assert record.status == "Succeeded", record.status_reason
    for i in range(3):  # several replicas: each line says whose it is
        assert f"[replica-{i}] replica {i}/{i} hey first second /tmp" in lines
        assert f"[replica-{i}] {64 * 2**20}" in lines
        assert any(line.startswith(f"[replica-{i}] 50000") for line in lines)  # 0.5 CPU = 50000us per 100000us
    with pytest.raises(RtcError, match="at most 3"):
        tyger.execute_run(pipeline(cs), "multi", overrides=Overrides(replicas=4))
    assert leftovers(docker_client) == []


def test_gpu_and_wrong_kind_are_clear_errors():
    gpu = busybox("gpu", "true", resources=Resources(gpu="1"))
    with pytest.raises(RtcError, match="no GPU support"):
        build_spec(pipeline(gpu), choose_run(pipeline(gpu), "gpu"))
    worker = busybox("w", "true", kind="worker")
    with pytest.raises(RtcError, match="worker codespec"):
        build_spec(pipeline(worker), choose_run(pipeline(worker), "w"))
    assert parse_duration("2h45m") == 9900 and parse_duration("1.5h") == 5400 and parse_duration("300s") == 300


def test_timeout_counts_from_creation_and_fails_with_a_reason(docker_client):
    cs = busybox("slow", TICKS)
    started = time.monotonic()
    record = tyger.execute_run(pipeline(cs), "slow", overrides=Overrides(timeout_seconds=1.5))
    assert time.monotonic() - started < 10
    assert record.status == "Failed"
    assert record.status_reason.startswith("timed out after 1.5s")
    assert leftovers(docker_client) == []


def test_nonzero_replica_fails_the_run(docker_client):
    cs = busybox("half", '[ "$REPLICA_INDEX" = 0 ] || exit 4')
    record = tyger.execute_run(pipeline(cs), "half", overrides=Overrides(replicas=2))
    assert (record.status, record.status_reason, record.exit_code) == ("Failed", "replica 1 exited with code 4", 4)


def test_distributed_run_with_workers(docker_client):
    worker = Codespec(name="server", kind="worker", image="rtc-test/python:1",
                      command=["python3", "-m", "http.server", "8080"], endpoints={"http": 8080})
    job = Codespec(name="client", image="rtc-test/python:1", command=["python3", "-c", (
        "import json, os, urllib.request\n"
        "nodes = json.loads(os.environ['TYGER_WORKER_NODES'])\n"
        "addrs = json.loads(os.environ['TYGER_HTTP_WORKER_ENDPOINT_ADDRESSES'])\n"
        "for a in addrs:\n"
        "    urllib.request.urlopen(f'http://{a}/', timeout=5).read()\n"
        "print('reached', len(nodes), 'workers')\n"
    )])
    run = Run(name="dist", codespec="client", worker=WorkerSpec(codespec="server", replicas=2), timeout_seconds=60)
    lines: list[str] = []
    record = tyger.execute_run(pipeline(job, worker, runs={"dist": run}), "dist", on_line=lines.append)
    assert record.status == "Succeeded", (record.status_reason, lines)
    assert "reached 2 workers" in lines
    assert leftovers(docker_client) == []
