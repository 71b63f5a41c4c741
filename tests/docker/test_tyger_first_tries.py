"""Issue 20, item 8: what a Tyger user tries first — `rtc run exec`, a run spec naming an unregistered codespec,
`rtc run show` of a registered codespec (by reference, whole seconds), and an image that is not here."""

from __future__ import annotations

import json

from tyger_support import leftovers, rtc

HELLO = ("name: hello\nimage: rtc-test/busybox:1\nbuffers:\n  inputs: [input]\n  outputs: [output]\n"
         'command: [sh, -c, "echo Hello $(cat $INPUT_PIPE) > $OUTPUT_PIPE"]\n')


def test_run_exec_is_rtc_exec(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO)
    done = rtc("run", "exec", "-f", str(tmp_path / "hello.yml"), input=b"Paul\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Paul\n"), done.stderr.decode()
    assert rtc("codespec", "create", "-f", str(tmp_path / "hello.yml")).returncode == 0
    done = rtc("run", "exec", "--codespec", "hello", "--logs", input=b"Ada\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Ada\n"), done.stderr.decode()
    assert leftovers(docker_client) == []


def test_a_registered_codespec_is_shown_by_reference_with_whole_seconds(tmp_path, docker_client):
    (tmp_path / "hello.yml").write_text(HELLO)
    assert rtc("codespec", "create", "-f", str(tmp_path / "hello.yml")).returncode == 0
    (tmp_path / "run.yml").write_text("job:\n  codespec: hello\n  buffers: {input: _, output: _}\ntimeoutSeconds: 600\n")
    created = rtc("run", "create", "-f", str(tmp_path / "run.yml"))
    assert created.returncode == 0, created.stderr.decode()
    shown = json.loads(rtc("run", "show", created.stdout.decode().strip()).stdout)
    assert shown["job"]["codespec"] == "hello/versions/1"
    assert shown["timeoutSeconds"] == 600 and "600.0" not in rtc("run", "show", str(shown["id"])).stdout.decode()
    rtc("run", "cancel", str(shown["id"]))
    # A codespec from a file (not the registered body) is shown whole.
    (tmp_path / "other.yml").write_text(HELLO.replace("Hello", "Hi").replace("name: hello", "name: other"))
    created = rtc("run", "create", "-f", str(tmp_path / "other.yml"), "-b", "input=_,output=_", "--timeout", "90s")
    shown = json.loads(rtc("run", "show", created.stdout.decode().strip()).stdout)
    assert shown["job"]["codespec"]["name"] == "other" and shown["timeoutSeconds"] == 90
    rtc("run", "cancel", str(shown["id"]))


def test_an_unregistered_codespec_says_how_to_register_it(tmp_path):
    (tmp_path / "run.yml").write_text("job:\n  codespec: nothere\n")
    done = rtc("run", "create", "-f", str(tmp_path / "run.yml"))
    err = done.stderr.decode()
    assert done.returncode == 1 and "run.yml:2:13: error[E305]: unknown codespec `nothere`: not registered" in err
    assert "rtc codespec create -f nothere.yml" in err and "Traceback" not in err


def test_a_missing_image_keeps_its_docker_pull_hint(tmp_path, docker_client):
    (tmp_path / "noimg.yml").write_text('name: noimg\nimage: nosuch/image:9\ncommand: [sh, -c, "echo"]\n')
    for command in (("exec",), ("run", "exec")):
        done = rtc(*command, "-f", str(tmp_path / "noimg.yml"))
        err = done.stderr.decode()
        assert done.returncode == 1 and "is not on this machine" in err
        assert "hint: `docker pull nosuch/image:9`" in err and "rtc run logs" not in err
    assert leftovers(docker_client) == []


def test_a_cpu_request_over_the_engines_share_limit_runs(tmp_path, docker_client):
    """Issue 20, item 7: 257 cores and up weighed as Docker's largest share, not the engine's raw error."""
    (tmp_path / "big.yml").write_text('name: big\nimage: rtc-test/busybox:1\ncommand: [sh, -c, "echo ran"]\n'
                                      'resources: {requests: {cpu: "300"}}\n')
    done = rtc("exec", "-f", str(tmp_path / "big.yml"), "--logs")
    assert done.returncode == 0, done.stderr.decode()
    assert "ran" in done.stderr.decode() and "cpu-shares" not in done.stderr.decode()
    assert leftovers(docker_client) == []


def test_sockets_are_accepted_now(tmp_path):
    """Issue 20, item 7: `sockets` is checked by Tyger's rules, not refused as unknown (runs: test_tyger_sockets.py)."""
    (tmp_path / "sock.yml").write_text(
        "name: sock\nimage: rtc-test/busybox:1\ncommand: [sh]\n"
        "sockets:\n  - {port: 9002, inputBuffer: input, outputBuffer: output}\n"
        "buffers: {inputs: [input], outputs: [output]}\n")
    done = rtc("check", str(tmp_path / "sock.yml"))
    assert done.returncode == 0, done.stderr.decode()


def test_shm_sizes_dev_shm_and_identity_is_recorded(tmp_path, docker_client):
    """Issue 20, item 7: `resources.shm` is Docker's --shm-size; `identity` is recorded and shown (no local meaning)."""
    (tmp_path / "shm.yml").write_text(
        "name: shm\nimage: rtc-test/busybox:1\nidentity: my-identity\nbuffers: {outputs: [output]}\n"
        "resources: {shm: 96Mi}\n"
        'command: [sh, -c, "df -k /dev/shm | tail -n 1 | awk \'{print $2}\' > $OUTPUT_PIPE"]\n')
    done = rtc("exec", "-f", str(tmp_path / "shm.yml"))
    assert (done.returncode, done.stdout) == (0, b"98304\n"), done.stderr.decode()
    shown = json.loads(rtc("run", "show", "1").stdout)
    assert shown["job"]["codespec"]["identity"] == "my-identity"
    assert shown["job"]["codespec"]["resources"] == {"shm": "96Mi"}
    bad = tmp_path / "bad.yml"
    bad.write_text("name: bad\nimage: rtc-test/busybox:1\nresources: {shm: lots}\n")
    refused = rtc("check", str(bad))
    assert refused.returncode == 1 and "bad.yml:3:18" in refused.stderr.decode()
    assert leftovers(docker_client) == []
