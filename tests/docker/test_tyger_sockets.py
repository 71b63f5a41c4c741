"""Issue 20, item 7: Tyger's codespec `sockets` — a buffer relayed to a TCP port the job listens on.

Tyger's sidecar (`buffer-sidecar socket-adapt`) connects to localhost:PORT of
the job, writes the input buffer, half-closes, and copies what the job sends
back to the output buffer. These codespecs are written from Tyger's
documentation (its openapi `Socket`: port, inputBuffer, outputBuffer) and its
validation rules (JobCodespec.Validate); they run on the real engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tyger_support import leftovers, rtc, wait_for

ECHO = """\
name: echo
image: rtc-test/busybox:1
buffers:
  inputs: ["input"]
  outputs: ["output"]
sockets:
  - port: 9002
    inputBuffer: input
    outputBuffer: output
command: ["sh", "-c", "nc -l -p 9002 -e cat"]
"""

# busybox httpd bound to 127.0.0.1 only: reachable from inside the job's network namespace, as Tyger's
# sidecar reaches it (same pod), and not from the container's address on its network.
LOCALHOST_ONLY = """\
name: web
image: rtc-test/busybox:1
buffers:
  inputs: ["request"]
  outputs: ["response"]
sockets:
  - port: 8080
    inputBuffer: request
    outputBuffer: response
command:
  - sh
  - -c
  - |
    mkdir -p /www && echo hello-from-localhost > /www/index.html
    httpd -f -p 127.0.0.1:8080 -h /www &
    sleep 2
"""

# One buffer through a socket, another through its pipe; the relayed buffer has no <NAME>_PIPE.
MIXED = """\
name: mixed
image: rtc-test/busybox:1
buffers:
  inputs: ["input"]
  outputs: ["output", "log"]
sockets:
  - port: 7000
    inputBuffer: input
    outputBuffer: output
command:
  - sh
  - -c
  - |
    echo "input pipe: ${INPUT_PIPE:-none}, log pipe: $LOG_PIPE" > "$LOG_PIPE"
    nc -l -p 7000 -e tr a-z A-Z
"""


def test_exec_relays_stdin_to_the_port_and_the_reply_to_stdout(tmp_path, docker_client):
    (tmp_path / "echo.yml").write_text(ECHO)
    done = rtc("exec", "-f", str(tmp_path / "echo.yml"), input=b"Hello Paul\n")
    assert (done.returncode, done.stdout) == (0, b"Hello Paul\n"), done.stderr.decode()
    data = os.urandom(3 << 20)  # several chunks, binary: every byte through the connection and back
    done = rtc("exec", "-f", str(tmp_path / "echo.yml"), input=data, timeout=120)
    assert done.returncode == 0 and done.stdout == data, done.stderr.decode()
    assert leftovers(docker_client) == []


def test_the_job_listening_on_localhost_only_is_reached(tmp_path, docker_client):
    (tmp_path / "web.yml").write_text(LOCALHOST_ONLY)
    done = rtc("exec", "-f", str(tmp_path / "web.yml"), input=b"GET /index.html HTTP/1.0\r\n\r\n")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.startswith(b"HTTP/1.1 200 OK") and done.stdout.endswith(b"hello-from-localhost\n")


def test_a_socket_beside_a_pipe_and_no_pipe_for_the_relayed_buffer(tmp_path, docker_client):
    (tmp_path / "mixed.yml").write_text(MIXED)
    log = rtc("buffer", "create").stdout.decode().strip()
    done = rtc("exec", "-f", str(tmp_path / "mixed.yml"), "-b", f"log={log}", input=b"shout\n")
    assert (done.returncode, done.stdout) == (0, b"SHOUT\n"), done.stderr.decode()
    assert rtc("buffer", "read", log).stdout == b"input pipe: none, log pipe: /rtc/buffers/log\n"


def test_run_create_with_registered_codespec_and_buffers(tmp_path, docker_client):
    (tmp_path / "echo.yml").write_text(ECHO)
    assert rtc("codespec", "create", "-f", str(tmp_path / "echo.yml")).stdout == b"1\n"
    assert rtc("codespec", "create", "-f", str(tmp_path / "echo.yml")).stdout == b"1\n"  # unchanged: same version
    shown = json.loads(rtc("codespec", "show", "echo").stdout)
    assert shown["sockets"] == [{"port": 9002, "inputBuffer": "input", "outputBuffer": "output"}]
    inp, out = (rtc("buffer", "create").stdout.decode().strip() for _ in range(2))
    created = rtc("run", "create", "--codespec", "echo", "-b", f"input={inp},output={out}")
    assert created.returncode == 0, created.stderr.decode()
    run_id = created.stdout.decode().strip()
    assert rtc("buffer", "write", inp, input=b"via run create\n").returncode == 0
    wait_for(lambda: json.loads(rtc("run", "show", run_id).stdout)["status"] == "Succeeded", 60, "the run")
    assert rtc("buffer", "read", out).stdout == b"via run create\n"
    assert leftovers(docker_client) == []


def test_the_same_socket_in_an_rt_file(tmp_path, docker_client):
    (tmp_path / "p.rt").write_text(
        'namespace socks\n'
        'codespec echo {\n'
        '  image = "rtc-test/busybox:1"\n  inputs = [input]\n  outputs = [output]\n'
        '  sockets = [{ port = 9002, input_buffer = input, output_buffer = output }]\n'
        '  command = ["sh", "-c", "nc -l -p 9002 -e cat"]\n}\n'
        'run greet { codespec = echo }\n')
    done = rtc("exec", str(tmp_path / "p.rt"), "greet", input=b"from .rt\n")
    assert (done.returncode, done.stdout) == (0, b"from .rt\n"), done.stderr.decode()


def test_tygers_rules_for_sockets_are_positioned_messages(tmp_path):
    (tmp_path / "bad.yml").write_text(
        "name: bad\nimage: rtc-test/busybox:1\nbuffers:\n  inputs: [input]\n  outputs: [output]\n"
        "sockets:\n"
        "  - port: 70000\n    inputBuffer: input\n"         # lines 7-8
        "  - port: 9\n    inputBufer: input\n"              # lines 9-10
        "  - port: 10\n    outputBuffer: nope\n"            # lines 11-12
        "  - port: 11\n"                                    # line 13
        "  - port: 12\n    inputBuffer: input\n"            # lines 14-15
        "  - port: 13\n    inputBuffer: input\n"            # lines 16-17: input used twice
        'args: ["$(INPUT_PIPE)"]\n')                        # line 18
    done = rtc("check", str(tmp_path / "bad.yml"))
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err
    assert "bad.yml:7:11: error[E503]: socket port must be between 1 and 65535, not 70000" in err
    assert "bad.yml:10:5: error[E200]: unknown key `inputBufer` in a socket" in err
    assert "bad.yml:12:19: error[E307]: the output buffer `nope` for socket 10 is not among" in err
    assert "bad.yml:13:5: error[E201]: socket 11 needs an input buffer, an output buffer or both" in err
    assert "bad.yml:17:18: error[E311]: the input buffer `input` is used by several sockets" in err
    assert "socket 9 needs" not in err and err.count("error[") == 6
    assert "bad.yml:18:7: error[E205]: `$(INPUT_PIPE)` in `args`: buffer `input` is relayed to a socket" in err
    (tmp_path / "w.yml").write_text("name: w\nkind: worker\nimage: rtc-test/busybox:1\nsockets: [{port: 1}]\n")
    done = rtc("check", str(tmp_path / "w.yml"))
    assert done.returncode == 1 and "w.yml:4:1: error[E205]: `sockets` belong to job codespecs" in done.stderr.decode()


def test_airflow_and_prefect_refuse_sockets_at_compile_time(tmp_path):
    (tmp_path / "echo.yml").write_text(ECHO)
    (tmp_path / "run.yml").write_text("job:\n  codespec: echo\n")
    for target in ("airflow", "prefect"):
        out = tmp_path / f"out-{target}"
        done = rtc("compile", str(tmp_path / "run.yml"), "--target", target, "-o", str(out))
        err = done.stderr.decode()
        assert done.returncode == 1 and "Traceback" not in err, err
        assert (f"echo.yml:7:5: error[E516]: run `run`: codespec `echo` relays buffers to TCP ports (`sockets`); "
                f"the {target} target does not carry sockets") in err
        assert "rtc exec" in err and not out.exists()
    assert rtc("compile", str(tmp_path / "run.yml"), "--target", "ir").returncode == 0
    done = rtc("deploy", str(tmp_path / "run.yml"), "-o", str(tmp_path / "flows"))
    err = done.stderr.decode()
    assert done.returncode == 1 and "echo.yml:7:5: error[E516]" in err and "the prefect target" in err, err
    assert not (tmp_path / "flows").exists()


def _without_cap_sys_admin(*args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    """`rtc ARGS` in a process that may not join another network namespace (setns needs CAP_SYS_ADMIN), as a
    rootless user's rtc: the relay then connects to the container's address from outside."""
    return subprocess.run(["setpriv", "--bounding-set=-sys_admin", "--inh-caps=-sys_admin",
                           sys.executable, "-m", "rtc", *args], input=input, capture_output=True, timeout=120,
                          env=dict(os.environ), check=False)


def test_without_the_namespace_the_relay_uses_the_containers_address(tmp_path, docker_client):
    (tmp_path / "echo.yml").write_text(ECHO)
    done = _without_cap_sys_admin("exec", "-f", str(tmp_path / "echo.yml"), input=b"from outside\n")
    assert (done.returncode, done.stdout) == (0, b"from outside\n"), done.stderr.decode()
    # A job bound to 127.0.0.1 only cannot be reached so: the log says why instead of an empty output alone.
    (tmp_path / "web.yml").write_text(LOCALHOST_ONLY)
    done = _without_cap_sys_admin("exec", "-f", str(tmp_path / "web.yml"), "--logs", input=b"GET / HTTP/1.0\r\n\r\n")
    err = done.stderr.decode()
    assert done.returncode == 0 and done.stdout == b"", err
    assert "rtc: socket 8080: the job accepted no connection on port 8080 before it ended" in err
    assert "could not enter the container's network namespace" in err and "listen on 0.0.0.0" in err
    assert leftovers(docker_client) == []


def test_a_job_that_never_listens_ends_with_a_log_line(tmp_path, docker_client):
    (tmp_path / "never.yml").write_text("name: never\nimage: rtc-test/busybox:1\nbuffers: {outputs: [output]}\n"
                                        "sockets: [{port: 9100, outputBuffer: output}]\ncommand: [sh, -c, 'sleep 1']\n")
    done = rtc("exec", "-f", str(tmp_path / "never.yml"), "--logs")
    err = done.stderr.decode()
    assert (done.returncode, done.stdout) == (0, b""), err
    assert "rtc: socket 9100: the job accepted no connection on port 9100 before it ended\n" in err
    assert leftovers(docker_client) == []


def test_ir_json_with_sockets_rtc_would_never_write_is_refused(tmp_path):
    (tmp_path / "echo.yml").write_text(ECHO)
    done = rtc("compile", str(tmp_path / "echo.yml"), "-o", str(tmp_path / "ir.json"))
    assert done.returncode == 0, done.stderr.decode()
    data = json.loads((tmp_path / "ir.json").read_text())
    data["codespecs"]["echo"]["sockets"][0].update(port=0, output_buffer="nope")
    (tmp_path / "bad.json").write_text(json.dumps(data))
    done = rtc("exec", str(tmp_path / "bad.json"), "-c", "echo", input=b"")
    err = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in err and "is IR that rtc would never produce" in err, err
    assert "socket port 0 is out of range 1-65535" in err and "buffer 'nope' is not among" in err
