"""The local runner against the real engine: data flow, fan-out, retries, timeouts, secrets, output types."""

from __future__ import annotations

import json
import time

import pytest

from rtc.base.diagnostics import RtcError
from rtc.integrations.local.runner import format_failures, run_graph
from docker_pipelines import containers_created, Mount, Param, RetryPolicy, Environment, BUSYBOX, lit, node, out, param, pipeline, sh, step

WRITE = 'printf "%s" "$1" > "$RTC_OUTPUTS_FILE"'  # sh -c WRITE rtc '{"x": 1}'


def writes(json_text: str, echo: str = "") -> list[str]:
    return ["sh", "-c", (f"echo {echo}; " if echo else "") + WRITE, "rtc", json_text]


def run(p, name="g", params=None, client=None, **kw):
    return run_graph(p, name, params or {}, client=client, **kw)


def test_data_flows_between_steps_and_params_are_typed(tmp_path, namespace, docker_client, capsys):
    p = pipeline(
        tmp_path,
        [
            node("Count", sh('n=$(echo "$RTC_INPUTS" | sed "s/[^0-9]//g"); printf \'{"doubled": %d}\' $((n * 2)) > "$RTC_OUTPUTS_FILE"'),
                 inputs=[("n", "int")], outputs=[("doubled", "int")]),
            node("Show", sh('echo "got $RTC_INPUTS in $RTC_STEP of $RTC_RUN_ID"'), inputs=[("v", "int"), ("tag", "str")]),
        ],
        [step("count", "Count", [("n", param("n"), "int")]),
         step("show", "Show", [("v", out("count", "doubled"), "int"), ("tag", lit("t"), "str")])],
        params=[Param(name="n", type="int")],
        namespace=namespace,
    )
    result = run(p, params={"n": "21"}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["count"].outputs == {"doubled": 42}
    printed = capsys.readouterr().out
    assert f'[show] got {{"v": 42, "tag": "t"}} in show of {result.run_id}' in printed

    with pytest.raises(RtcError, match="not a valid int"):
        run(p, params={"n": "many"}, client=docker_client)
    with pytest.raises(RtcError, match="needs a value for 'n'"):
        run(p, client=docker_client)


def test_fan_out_runs_one_container_per_element_and_collects_in_order(tmp_path, namespace, docker_client, capsys):
    p = pipeline(
        tmp_path,
        [
            node("Split", writes('{"rows": ["a", "b", "c", "d"]}'), outputs=[("rows", "list[str]")]),
            # Later elements finish first, yet results come back in element order.
            node("Upper", sh('sleep 0.$((3 - RTC_MAP_INDEX)); echo "element $RTC_MAP_INDEX"; '
                             'v=$(echo "$RTC_INPUTS" | cut -d\'"\' -f4 | tr a-z A-Z); '
                             'printf \'{"up": "%s", "i": %s}\' "$v" "$RTC_MAP_INDEX" > "$RTC_OUTPUTS_FILE"'),
                 inputs=[("row", "str")], outputs=[("up", "str"), ("i", "int")]),
            node("Pairs", writes('[{"p": 1}, {"p": 2}]'), outputs=[("p", "int")], fanout=True),
            node("Join", sh('echo "joined $RTC_INPUTS"'), inputs=[("ups", "list[str]"), ("ps", "list[int]")]),
        ],
        [
            step("split", "Split"),
            step("upper", "Upper", [("row", out("split", "rows"), "str", True)]),
            step("pairs", "Pairs"),
            step("join", "Join", [("ups", out("upper", "up"), "list[str]"), ("ps", out("pairs", "p"), "list[int]")]),
        ],
        namespace=namespace,
    )
    result = run(p, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["upper"].outputs == {"up": ["A", "B", "C", "D"], "i": [0, 1, 2, 3]}
    assert result.steps["pairs"].outputs == {"p": [1, 2]}
    printed = capsys.readouterr().out
    assert '[join] joined {"ups": ["A", "B", "C", "D"], "ps": [1, 2]}' in printed
    for i in range(4):  # a mapped step's lines carry its element's index
        assert f"[upper#{i}] element {i}\n" in printed, printed


def test_empty_fan_out_runs_nothing_and_yields_empty_lists(tmp_path, namespace, docker_client):
    p = pipeline(
        tmp_path,
        [node("Split", writes('{"rows": []}'), outputs=[("rows", "list[str]")]),
         node("Each", sh("exit 9"), inputs=[("row", "str")], outputs=[("r", "str")])],
        [step("split", "Split"), step("each", "Each", [("row", out("split", "rows"), "str", True)])],
        namespace=namespace,
    )
    result = run(p, client=docker_client)
    assert result.status == "succeeded"
    assert result.steps["each"].outputs == {"r": []}


def test_retry_after_a_failure(tmp_path, namespace, docker_client, capsys):
    marker_dir = tmp_path / "state"
    flaky = sh('if [ -e /state/tried ]; then echo second; printf \'{"ok": true}\' > "$RTC_OUTPUTS_FILE"; '
               'else touch /state/tried; echo first-fails; exit 4; fi')
    envs = {"bb": Environment(name="bb", image=BUSYBOX, mounts=[Mount(host_path="state", container_path="/state")])}
    p = pipeline(
        tmp_path,
        [node("Flaky", flaky, outputs=[("ok", "bool")], retry=RetryPolicy(max_retries=2, strategy="fixed", delay_seconds=0.2))],
        [step("flaky", "Flaky")],
        envs=envs, namespace=namespace,
    )
    result = run(p, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert (marker_dir / "tried").exists()  # relative mount resolved against the pipeline's folder
    captured = capsys.readouterr()
    assert "[flaky] first-fails" in captured.out and "[flaky] second" in captured.out
    assert "exited with code 4; retry 1/2" in captured.err


def test_failure_names_step_exit_code_and_log_tail_and_skips_dependents(tmp_path, namespace, docker_client):
    p = pipeline(
        tmp_path,
        [node("Bad", sh("echo one; echo two >&2; exit 3")),
         node("After", sh("echo never")),
         node("Always", sh('echo "join saw $RTC_INPUTS"'), inputs=[("x", "json")])],
        [step("bad", "Bad"), step("after", "After", upstream=["bad"]),
         step("always", "Always", [("x", lit(1), "json")], upstream=["bad"], trigger="all_done")],
        namespace=namespace,
    )
    result = run(p, client=docker_client)
    assert result.status == "failed"
    assert result.steps["after"].status == "skipped"
    assert result.steps["always"].status == "succeeded"  # all_done joins run whatever upstream did
    text = format_failures(result)
    assert "step 'bad' failed: exited with code 3" in text
    assert "| one" in text and "| two" in text


def test_timeout_kills_the_container(tmp_path, namespace, docker_client):
    p = pipeline(tmp_path, [node("Slow", ["sleep", "30"], timeout_seconds=1)], [step("slow", "Slow")], namespace=namespace)
    began = time.monotonic()
    result = run(p, client=docker_client)
    assert time.monotonic() - began < 15
    assert result.status == "failed"
    assert result.steps["slow"].message == "timed out after 1s (container killed)"
    assert result.steps["slow"].exit_code == 137


def test_missing_secret_fails_before_any_container_starts(tmp_path, namespace, docker_client, monkeypatch):
    monkeypatch.delenv("RTC_TEST_TOKEN", raising=False)
    p = pipeline(
        tmp_path,
        [node("First", sh("echo first")), node("Use", sh('echo "len ${#RTC_TEST_TOKEN}"'), secrets=["RTC_TEST_TOKEN"])],
        [step("first", "First"), step("use", "Use", upstream=["first"])],
        namespace=namespace,
    )
    since = time.time()
    with pytest.raises(RtcError) as info:
        run(p, client=docker_client)
    assert "missing secret" in str(info.value) and "RTC_TEST_TOKEN (needed by 'use')" in str(info.value)
    assert containers_created(docker_client, namespace, since) == []


def test_secret_arrives_as_an_environment_variable_only(tmp_path, namespace, docker_client, capsys):
    p = pipeline(tmp_path, [node("Use", sh('echo "len ${#RTC_TEST_TOKEN}"; echo "inputs $RTC_INPUTS"'), secrets=["RTC_TEST_TOKEN"])],
                 [step("use", "Use")], namespace=namespace)
    result = run(p, client=docker_client, environ={"RTC_TEST_TOKEN": "s3cr3t-value"})
    assert result.status == "succeeded"
    captured = capsys.readouterr()
    assert "[use] len 12" in captured.out
    assert "s3cr3t-value" not in captured.out + captured.err


@pytest.mark.parametrize(
    "written, expected",
    [
        ('{"count": "3"}', "output 'count' of step 'load' should be int, got str '3'"),
        ('{"cnt": 3}', "did not write output 'count'"),
        ('[{"count": 3}]', "is not a fanout node"),
        ("not json", "not valid JSON"),
    ],
)
def test_output_of_the_wrong_type_fails_the_step(tmp_path, namespace, docker_client, written, expected):
    p = pipeline(tmp_path, [node("Load", writes(written), outputs=[("count", "int")], retry=RetryPolicy(max_retries=3))],
                 [step("load", "Load")], namespace=namespace)
    since = time.time()
    result = run(p, client=docker_client)
    assert result.status == "failed"
    assert expected in result.steps["load"].message
    assert len(containers_created(docker_client, namespace, since)) == 1  # a contract violation is not retried


def test_workers_limit_parallel_containers(tmp_path, namespace, docker_client):
    # Four 1-second steps with two workers take two rounds; with four workers, one.
    nodes = [node("Nap", ["sleep", "1"])]
    steps = [step(f"nap{i}", "Nap") for i in range(4)]
    timings = {}
    for workers in (2, 4):
        p = pipeline(tmp_path, nodes, steps, namespace=namespace, workers=workers)
        began = time.monotonic()
        assert run(p, client=docker_client).status == "succeeded"
        timings[workers] = time.monotonic() - began
    assert timings[2] > 2.0
    assert timings[4] < timings[2]


def test_a_program_missing_from_the_image_fails_the_step_clearly(tmp_path, namespace, docker_client):
    p = pipeline(tmp_path, [node("Ghost", ["no-such-program"], retry=RetryPolicy(max_retries=2))], [step("ghost", "Ghost")], namespace=namespace)
    result = run(p, client=docker_client)
    assert result.status == "failed"
    assert "cannot start 'no-such-program' in 'rtc-test/busybox:1'" in result.steps["ghost"].message
    assert "executable file not found" in result.steps["ghost"].message


def test_inputs_too_large_for_an_environment_variable_arrive_in_the_inputs_file(tmp_path, namespace, docker_client, capsys):
    big = "x" * (200 * 1024)  # over Linux's 128 KiB limit for one variable
    p = pipeline(
        tmp_path,
        [
            node("Make", sh('printf \'{"blob": "%s"}\' "$(head -c 204800 /dev/zero | tr "\\0" x)" > "$RTC_OUTPUTS_FILE"'),
                 outputs=[("blob", "str")]),
            node("Measure", sh('echo "env:${RTC_INPUTS:+set} file:$(wc -c < "$RTC_INPUTS_FILE")"'), inputs=[("blob", "str")]),
        ],
        [step("make", "Make"), step("measure", "Measure", [("blob", out("make", "blob"), "str")])],
        namespace=namespace,
    )
    result = run(p, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["make"].outputs == {"blob": big}
    printed = capsys.readouterr().out
    file_size = len(json.dumps({"blob": big}))
    assert f"[measure] env: file:{file_size}" in printed
