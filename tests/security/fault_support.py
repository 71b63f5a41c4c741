"""What the fault tests share: rtc as a subprocess, waiting for a condition, a run's containers."""

from __future__ import annotations

import subprocess
import sys
import time

RTC = [sys.executable, "-m", "rtc"]


def rtc(*args, env=None, input=None, timeout=120, text=True):
    """`rtc ARGS` in a subprocess, its output captured (as text, or bytes with text=False)."""
    return subprocess.run([*RTC, *args], input=input, capture_output=True, text=text, timeout=timeout, env=env)


def wait_for(predicate, timeout=90.0, what="condition", every=0.2):
    """The first true value of `predicate()`, polled every `every` seconds; an AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def containers(docker_client, ns):
    # sparse: one listing call (inspecting each one afterwards raised NotFound when rtc removed it meanwhile)
    return docker_client.containers.list(all=True, sparse=True, filters={"label": f"rtc.pipeline={ns}"})
