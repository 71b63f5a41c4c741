"""Signals under the local runner, against the real engine: prune and re-queue (docs/runtime.md, Signals).

Busybox command nodes write `$RTC_SIGNAL_FILE` with `sh -c`; runs are counted
through a mounted state folder.
"""

from __future__ import annotations

import pytest

import threading
import time

from docker_pipelines import BUSYBOX, Environment, Mount, RetryPolicy, containers_created, lit, node, out, pipeline, sh, step
from rtc.runtime import contract
from rtc.integrations.local.progress import Reporter
from rtc.integrations.local.runner import format_failures, run_graph

PRUNE = 'printf \'{"signal": "prune"}\' > "$RTC_SIGNAL_FILE"'
COUNT_RUN = "echo run >> /state/runs"


def requeue(seconds) -> str:
    return f'printf \'{{"signal": "requeue", "delay_seconds": {seconds}}}\' > "$RTC_SIGNAL_FILE"'


def state_env() -> dict:
    return {"bb": Environment(name="bb", image=BUSYBOX, mounts=[Mount(host_path="state", container_path="/state")])}


def runs(tmp_path) -> int:
    path = tmp_path / "state" / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_prune_skips_everything_below_and_the_run_succeeds(tmp_path, namespace, docker_client, capsys):
    since = time.time()
    p = pipeline(
        tmp_path,
        [
            # Outputs and a signal: the signal wins.
            node("Gate", sh('printf \'{"v": 1}\' > "$RTC_OUTPUTS_FILE"; ' + PRUNE), outputs=[("v", "int")]),
            node("Use", sh('printf \'{"w": 2}\' > "$RTC_OUTPUTS_FILE"'), inputs=[("v", "int")], outputs=[("w", "int")]),
            node("Later", sh("echo never")),
            node("Join", sh('echo "join saw $RTC_INPUTS"'), inputs=[("v", "json"), ("w", "json")]),
        ],
        [
            step("gate", "Gate"),
            step("use", "Use", [("v", out("gate", "v"), "int")]),
            step("later", "Later", upstream=["use"]),
            step("join", "Join", [("v", out("gate", "v"), "json"), ("w", out("use", "w"), "json")], trigger="all_done"),
        ],
        namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["gate"].status == "pruned" and result.steps["gate"].outputs is None
    assert result.steps["use"].status == "skipped" and "upstream 'gate' pruned" in result.steps["use"].message
    assert result.steps["later"].status == "skipped"
    assert result.steps["join"].status == "succeeded"
    captured = capsys.readouterr()
    assert '[join] join saw {"v": null, "w": null}' in captured.out
    assert "rtc: gate pruned" in captured.err
    started = {e["Actor"]["Attributes"].get(contract.LABEL_STEP) for e in containers_created(docker_client, namespace, since)}
    assert started == {"gate", "join"}  # nothing below the pruned step ran a container


def test_pruned_elements_add_no_entries_and_an_all_pruned_fan_out_hands_on_empty_lists(tmp_path, namespace, docker_client):
    keep_even = sh('if [ $((RTC_MAP_INDEX % 2)) -eq 1 ]; then ' + PRUNE + '; '
                   'else printf \'{"i": %s}\' "$RTC_MAP_INDEX" > "$RTC_OUTPUTS_FILE"; fi')
    p = pipeline(
        tmp_path,
        [
            node("Split", sh('printf \'{"xs": [10, 11, 12, 13, 14]}\' > "$RTC_OUTPUTS_FILE"'), outputs=[("xs", "list[int]")]),
            node("Even", keep_even, inputs=[("x", "int")], outputs=[("i", "int")]),
            node("AllGone", sh(PRUNE), inputs=[("x", "int")], outputs=[("i", "int")]),
            node("Sum", sh('echo "$RTC_INPUTS"'), inputs=[("is", "list[int]")]),
        ],
        [
            step("split", "Split"),
            step("even", "Even", [("x", out("split", "xs"), "int", True)]),
            step("none", "AllGone", [("x", out("split", "xs"), "int", True)]),
            step("sum_even", "Sum", [("is", out("even", "i"), "list[int]")]),
            step("sum_none", "Sum", [("is", out("none", "i"), "list[int]")]),
        ],
        namespace=namespace, workers=4,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "succeeded", format_failures(result)
    assert result.steps["even"].status == "succeeded"
    assert result.steps["even"].outputs == {"i": [0, 2, 4]}
    # Every element pruned itself: the step below receives [] and runs, as after a fan-out over
    # nothing, and as under Airflow and Prefect (rtc.runtime.step.merge_elements; docs/runtime.md).
    assert result.steps["none"].status == "succeeded" and result.steps["none"].outputs == {"i": []}
    assert result.steps["sum_even"].status == "succeeded"
    assert result.steps["sum_none"].status == "succeeded"


def test_requeue_runs_the_step_again_after_the_delay_and_is_not_a_retry(tmp_path, namespace, docker_client, capsys):
    script = sh(COUNT_RUN + '; if [ -e /state/requeued ]; then printf \'{"n": 7}\' > "$RTC_OUTPUTS_FILE"; '
                'else touch /state/requeued; echo "$RTC_INPUTS"; ' + requeue(1.5) + '; fi')
    p = pipeline(
        tmp_path,
        [
            node("Poll", script, inputs=[("q", "str")], outputs=[("n", "int")], retry=RetryPolicy(max_retries=0)),
            node("Show", sh('echo "show got $RTC_INPUTS"'), inputs=[("n", "int")]),
        ],
        [step("poll", "Poll", [("q", lit("same"), "str")]), step("show", "Show", [("n", out("poll", "n"), "int")])],
        envs=state_env(), namespace=namespace,
    )
    began = time.monotonic()
    result = run_graph(p, "g", {}, client=docker_client)
    took = time.monotonic() - began
    assert result.status == "succeeded", format_failures(result)
    assert runs(tmp_path) == 2  # max_retries=0, yet it ran twice: a re-queue is not a retry
    assert took >= 1.5
    assert result.steps["poll"].outputs == {"n": 7}
    captured = capsys.readouterr()
    assert "rtc: poll re-queued, runs again in 1.5s" in captured.err
    assert '[show] show got {"n": 7}' in captured.out


def test_a_malformed_signal_file_fails_the_step_without_retry(tmp_path, namespace, docker_client):
    p = pipeline(
        tmp_path,
        [node("Odd", sh(COUNT_RUN + '; printf \'{"signal": "stop"}\' > "$RTC_SIGNAL_FILE"'),
              retry=RetryPolicy(max_retries=2, strategy="fixed", delay_seconds=0))],
        [step("odd", "Odd")],
        envs=state_env(), namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    assert "step 'odd' wrote a bad signal file" in format_failures(result)
    assert runs(tmp_path) == 1


def test_too_many_requeues_fail_the_step(tmp_path, namespace, docker_client, monkeypatch):
    monkeypatch.setattr(contract, "MAX_REQUEUES", 2)
    p = pipeline(
        tmp_path,
        [node("Forever", sh(COUNT_RUN + "; " + requeue(0)))],
        [step("forever", "Forever")],
        envs=state_env(), namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)
    assert result.status == "failed"
    assert "after 2 re-queues (the limit)" in format_failures(result)
    assert runs(tmp_path) == 3  # the first run and 2 re-queues; the 3rd re-queue fails the step


@pytest.mark.parametrize("delay", ["1e300", "1e999", "31622401"])
def test_a_requeue_delay_longer_than_a_year_fails_the_step_at_once(tmp_path, namespace, docker_client, delay):
    p = pipeline(
        tmp_path,
        [node("Later", sh(COUNT_RUN + "; " + requeue(delay)))],
        [step("later", "Later")],
        envs=state_env(), namespace=namespace,
    )
    result = run_graph(p, "g", {}, client=docker_client)  # would overflow sleep() or wait forever
    assert result.status == "failed"
    # 1e999 is no float at all (json would read it as Infinity): refused as JSON, before its size is looked at.
    expected = "out of the range of a JSON number" if delay == "1e999" else "longer than a year, the longest rtc accepts"
    assert expected in format_failures(result)
    assert runs(tmp_path) == 1


class CancelOnRequeue(Reporter):
    """Sets `cancel` as soon as a step is re-queued, as Ctrl-C during the wait would."""

    def __init__(self, cancel: threading.Event, total: int):
        super().__init__(total=total, live=False)
        self.cancel = cancel

    def status(self, text: str) -> None:
        super().status(text)
        if "re-queued" in text:
            self.cancel.set()


def test_cancel_during_the_requeue_wait_stops_the_run_at_once(tmp_path, namespace, docker_client):
    cancel = threading.Event()
    p = pipeline(tmp_path, [node("Slow", sh(requeue(600)))], [step("slow", "Slow")], namespace=namespace)
    began = time.monotonic()
    result = run_graph(p, "g", {}, client=docker_client, cancel=cancel, reporter=CancelOnRequeue(cancel, 1))
    assert result.status == "canceled"
    assert time.monotonic() - began < 60
