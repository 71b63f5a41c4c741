"""Tyger CLI habits: -b and comma maps, --worker-* flags, relative --since, replica log prefixes, exec's stdin rule."""

from __future__ import annotations

import time

from tyger_support import HELLO_YML, leftovers, rtc, rtc_json

TWO_INPUTS = """\
name: join
image: rtc-test/busybox:1
buffers: {inputs: [left, right, extra], outputs: [output]}
command: ["sh", "-c", "cat $LEFT_PIPE $RIGHT_PIPE $EXTRA_PIPE > $OUTPUT_PIPE"]
"""


def test_short_buffer_flag_and_comma_separated_maps(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO_YML)
    inp, out = (rtc("buffer", "create").stdout.decode().strip() for _ in range(2))
    done = rtc("run", "create", "-f", str(tmp_path / "hello.yml"), "-b", f"input={inp},output={out}",
               "--tag", "team=a,stage=b")
    assert done.returncode == 0, done.stderr.decode()
    run_id = done.stdout.decode().strip()
    shown = rtc_json("run", "show", run_id)
    assert shown["job"]["buffers"] == {"input": inp, "output": out}
    assert shown["job"]["tags"] == {"team": "a", "stage": "b"}
    rtc("buffer", "write", inp, input=b"Eve\n")
    assert rtc("buffer", "read", out, "--timeout", "90s", timeout=120).stdout == b"Hello Eve\n"
    bad = rtc("run", "create", "-f", str(tmp_path / "hello.yml"), "-b", "input")
    assert bad.returncode == 1 and "expected KEY=VALUE" in bad.stderr.decode()


def test_exec_with_several_inputs_and_only_stdin_names_them(tmp_path, docker_client):
    (tmp_path / "join.yml").write_text(TWO_INPUTS)
    done = rtc("exec", "-f", str(tmp_path / "join.yml"), input=b"data\n")
    err = done.stderr.decode()
    assert done.returncode == 1
    assert "3 inputs without a buffer ('left', 'right', 'extra')" in err, err
    assert "-b right=ID,extra=ID" in err, err
    assert "Traceback" not in err
    assert rtc_json("run", "list") == []  # nothing was created
    # with all but one given, stdin feeds the last one
    left, right = (rtc("buffer", "create").stdout.decode().strip() for _ in range(2))
    rtc("buffer", "write", left, input=b"L ")
    rtc("buffer", "write", right, input=b"R ")
    done = rtc("exec", "-f", str(tmp_path / "join.yml"), "-b", f"left={left},right={right}", input=b"E")
    assert (done.returncode, done.stdout) == (0, b"L R E"), done.stderr.decode()


def test_worker_flags_and_replica_prefixes(tmp_path, docker_client):
    (tmp_path / "server.yml").write_text(
        "name: server\nkind: worker\nimage: rtc-test/python:1\n"
        'command: ["sh", "-c", "echo serving; exec python3 -m http.server 8080"]\nendpoints: {http: 8080}\n')
    assert rtc("codespec", "create", "-f", str(tmp_path / "server.yml")).returncode == 0
    (tmp_path / "client.yml").write_text(
        "name: client\nimage: rtc-test/busybox:1\n"
        'command: ["sh", "-c", "echo nodes $TYGER_WORKER_NODES from $REPLICA_INDEX"]\n')
    done = rtc("exec", "-f", str(tmp_path / "client.yml"), "--worker-codespec", "server", "--worker-replicas", "2",
               "--worker-node-pool", "cpunp", "-r", "2", "--logs", timeout=240)
    err = done.stderr.decode()
    assert done.returncode == 0, err
    for i in (0, 1):  # each job replica's lines carry its prefix, as the workers' do
        assert f"[replica-{i}] nodes [" in err and f"-worker-1\"] from {i}" in err, err
    assert "[worker-0] serving" in err and "[worker-1] serving" in rtc("run", "logs", "1").stdout.decode()
    shown = rtc_json("run", "show", "1")
    assert shown["worker"]["replicas"] == 2 and shown["worker"]["nodePool"] == "cpunp"
    assert shown["worker"]["codespec"] == "server/versions/1"
    bad = rtc("exec", "-f", str(tmp_path / "client.yml"), "--worker-replicas", "2")
    assert bad.returncode == 1 and "--worker-codespec" in bad.stderr.decode()
    assert leftovers(docker_client) == []


def test_relative_since_on_list_and_logs(tmp_path, docker_client):
    (tmp_path / "say.yml").write_text('name: say\nimage: rtc-test/busybox:1\ncommand: ["echo", "said"]\n')
    assert rtc("exec", "-f", str(tmp_path / "say.yml")).returncode == 0
    assert [r["id"] for r in rtc_json("run", "list", "--since", "1h")] == [1]
    assert "said" in rtc("run", "logs", "1", "--since", "30m").stdout.decode()
    time.sleep(2.5)
    assert rtc_json("run", "list", "--since", "2s") == []
    assert rtc("run", "logs", "1", "-s", "2s").stdout == b""
    bad = rtc("run", "list", "--since", "yesterday-ish")
    assert bad.returncode == 1 and "bad --since" in bad.stderr.decode()
