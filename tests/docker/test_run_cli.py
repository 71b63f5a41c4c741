"""`rtc run` as a user runs it: a subprocess, its exit code, its output, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from docker_pipelines import Param, node, out, param, pipeline, sh, step, write_ir

RTC = [sys.executable, "-m", "rtc"]


def rtc(*args, env=None, timeout=120):
    return subprocess.run([*RTC, *args], capture_output=True, text=True, timeout=timeout, env=env)


def two_steps(tmp_path, namespace):
    return pipeline(
        tmp_path,
        [node("Make", sh('printf \'{"items": ["x", "y"]}\' > "$RTC_OUTPUTS_FILE"; echo made'), outputs=[("items", "list[str]")]),
         node("Use", sh('echo "use $RTC_INPUTS"'), inputs=[("item", "str"), ("flag", "bool")])],
        [step("make", "Make"), step("use", "Use", [("item", out("make", "items"), "str", True), ("flag", param("flag"), "bool")])],
        params=[Param(name="flag", type="bool", default=False, required=False)],
        namespace=namespace,
    )


def test_rtc_run_streams_prefixed_logs_and_exits_zero(tmp_path, namespace):
    path = write_ir(tmp_path, two_steps(tmp_path, namespace))
    done = rtc("run", str(path), "--param", "flag=true")
    assert done.returncode == 0, done.stderr
    assert "[make] made" in done.stdout
    assert '[use#0] use {"item": "x", "flag": true}' in done.stdout
    assert '[use#1] use {"item": "y", "flag": true}' in done.stdout
    assert "succeeded" in done.stderr


def test_rtc_run_rejects_bad_params_and_names(tmp_path, namespace):
    path = write_ir(tmp_path, two_steps(tmp_path, namespace))
    bad = rtc("run", str(path), "g", "--param", "flag=maybe")
    assert bad.returncode == 1
    assert "error: --param flag='maybe': not a valid bool" in bad.stderr
    assert "Traceback" not in bad.stderr
    unknown = rtc("run", str(path), "nope")
    assert unknown.returncode == 1 and "no graph or run named 'nope'" in unknown.stderr
    extra = rtc("run", str(path), "--param", "other=1")
    assert extra.returncode == 1 and "has no param 'other'" in extra.stderr


def test_rtc_run_failure_exits_one_naming_the_step(tmp_path, namespace):
    p = pipeline(tmp_path, [node("Bad", sh("echo about to fail; exit 5"))], [step("bad", "Bad")], namespace=namespace)
    done = rtc("run", str(write_ir(tmp_path, p)))
    assert done.returncode == 1
    assert "step 'bad' failed: exited with code 5" in done.stderr
    assert "| about to fail" in done.stderr


def test_ctrl_c_stops_and_removes_every_container(tmp_path, namespace, docker_client):
    p = pipeline(
        tmp_path,
        [node("Items", sh('printf \'{"n": [1, 2, 3]}\' > "$RTC_OUTPUTS_FILE"'), outputs=[("n", "list[int]")]),
         node("Sleep", ["sleep", "60"], inputs=[("n", "int")])],
        [step("items", "Items"), step("sleep", "Sleep", [("n", out("items", "n"), "int", True)])],
        namespace=namespace,
    )
    proc = subprocess.Popen([*RTC, "run", str(write_ir(tmp_path, p))], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        running = []
        while time.monotonic() < deadline and len(running) < 3:
            running = docker_client.containers.list(filters={"label": [f"rtc.pipeline={namespace}", "rtc.step=sleep#2"]})
            running += docker_client.containers.list(filters={"label": [f"rtc.pipeline={namespace}", "rtc.step=sleep#0"]})
            running += docker_client.containers.list(filters={"label": [f"rtc.pipeline={namespace}", "rtc.step=sleep#1"]})
            time.sleep(0.2)
        assert len(running) == 3, "the mapped containers never started"
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert time.monotonic() - began < 20
    assert "canceled" in err
    assert docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={namespace}"}) == []


def test_run_timeout_and_failure_leave_no_container(tmp_path, namespace, docker_client):
    p = pipeline(
        tmp_path,
        [node("Slow", ["sleep", "30"], timeout_seconds=0.5), node("Bad", ["false"])],
        [step("slow", "Slow"), step("bad", "Bad")],
        namespace=namespace,
    )
    done = rtc("run", str(write_ir(tmp_path, p)))
    assert done.returncode == 1
    assert "step 'slow' failed: timed out after 0.5s (container killed)" in done.stderr
    assert "step 'bad' failed: exited with code 1" in done.stderr
    assert docker_client.containers.list(all=True, filters={"label": f"rtc.pipeline={namespace}"}) == []


def test_tyger_run_subcommands_are_handed_over():
    listed = rtc("run", "list")
    assert listed.returncode == 0, listed.stderr
    missing = rtc("run", "show", "424242")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr


def test_rtc_run_of_a_tyger_run_says_where_its_buffers_are(docker_client):
    import re
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "tyger" / "pipeline.rt"
    done = rtc("run", str(example), "greet")
    assert done.returncode == 0, done.stderr
    assert "Succeeded" in done.stderr
    (output_id,) = re.findall(r"rtc: buffer output: (\w+)", done.stderr)
    read = rtc("buffer", "read", output_id)
    assert read.returncode == 0 and read.stdout == "Hello \n", read.stdout + read.stderr


def test_live_progress_footer_on_a_terminal():
    import io

    from rtc.integrations.local.progress import Reporter

    out, err = io.StringIO(), io.StringIO()
    r = Reporter(total=2, out=out, err=err, live=True)
    r.started("load")
    r.line("load", "hello")
    r.finished("load", "succeeded")
    r.step_done()
    r.close()
    assert out.getvalue() == "[load] hello\n"
    assert "0/2 steps done | running: load" in err.getvalue()
    assert "rtc: load succeeded" in err.getvalue()
    assert err.getvalue().endswith("\r\x1b[K")  # the footer is erased when the run ends
