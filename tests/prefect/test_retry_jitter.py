"""Exosphere's jittered retry delays in a real Prefect flow run: Prefect waits the smallest delay, the step the rest."""

from __future__ import annotations

import pytest

from rtc.compiler.ir import Environment, Mount, Node, Port, RetryPolicy, Step

from rtc_prefect_cases import flow_file, graph_pipeline, load_module

pytestmark = [pytest.mark.prefect, pytest.mark.docker]


def test_linear_equal_jitter_delays_fall_in_exosphere_ranges(compile_to, prefect_server, docker_client, tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    env = Environment(name="bb", image="busybox:latest", mounts=[Mount(host_path=str(state), container_path="/state")])
    # Each attempt notes the machine's uptime; the first two fail.
    script = ('cut -d" " -f1 /proc/uptime >> /state/starts; n=$(wc -l < /state/starts); '
              '[ "$n" -ge 3 ] || exit 5; echo "{\\"n\\": $n}" > "$RTC_OUTPUTS_FILE"')
    node = Node(name="Flaky", env="bb", outputs=[Port(name="n", type="int")], command=["sh", "-c", script])
    # The graph's default policy (the node writes none): retry 1 waits 1-2 s, retry 2 waits 2-4 s.
    policy = RetryPolicy(max_retries=2, strategy="linear", jitter="equal", delay_seconds=2.0)
    pipeline = graph_pipeline("JitterT", [node], [Step(id="flaky", node="Flaky", retry=policy)], envs=(env,))
    folder = compile_to(pipeline)
    module = load_module(flow_file(folder, "g"))
    # The node's task carries the retries and the smallest delay before any retry in its decorator
    # (one number, which Prefect's UI shows); the step waits the rest of each delay itself.
    assert (module.Flaky.retries, module.Flaky.retry_delay_seconds) == (2, 1.0)
    assert module.g() == {"flaky": {"n": 3}}
    starts = [float(x) for x in (state / "starts").read_text().split()]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    # A gap is the delay plus one container's run and start: at least the smallest delay of each
    # retry (Prefect's wait plus the drawn rest); the rest depends on how busy the machine is.
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps
