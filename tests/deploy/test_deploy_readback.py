"""`rtc deploy` reads the next run back from the server: a server that will not schedule is visible."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from tier_services import SERVICES, read_env

pytestmark = [pytest.mark.prefect]

TIER = Path(__file__).with_name("tier.rt")


@pytest.fixture(scope="module")
def unscheduling_server():
    """A Prefect server (SQLite) whose scheduler service is off: it registers schedules, creates no runs."""
    import os

    root = Path(tempfile.mkdtemp(prefix="rtc-noschedule-"))
    env = dict(os.environ, PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false")
    try:
        done = subprocess.run([str(SERVICES / "prefect.sh"), "start", str(root)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        yield dict(os.environ, **read_env(root / "prefect.env"))
    finally:
        subprocess.run([str(SERVICES / "prefect.sh"), "stop", str(root)], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


def test_a_server_that_creates_no_scheduled_run_fails_rtc_deploy_clearly(unscheduling_server, tmp_path):
    done = subprocess.run([sys.executable, "-m", "rtc", "deploy", str(TIER), "--work-pool", "noschedule",
                           "--schedule-wait", "8", "-o", str(tmp_path / "flows")],
                          env=unscheduling_server, capture_output=True, text=True, timeout=180)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "deployed rtc_tier.every_minute/every_minute  schedule * * * * *  next run NONE on the server" in done.stdout
    assert "rtc_tier.fanout/fanout  schedule manual  next run none (runs when triggered)" in done.stdout
    assert ("error: the Prefect server holds no scheduled run for rtc_tier.every_minute/every_minute 8 s after "
            "registering it") in done.stderr
    assert "this schedule will not fire" in done.stderr
    assert "Traceback" not in done.stderr
