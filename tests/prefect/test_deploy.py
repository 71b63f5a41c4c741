"""`rtc deploy` against a real Prefect server; a deployment's run executed by a real process worker."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

pytestmark = [pytest.mark.prefect, pytest.mark.docker]

RTC = [sys.executable, "-m", "rtc"]
PREFECT = str(Path(sys.executable).parent / "prefect")

SOURCE = textwrap.dedent(r'''
    namespace NS
    env bb { image = "busybox:latest" }
    node Hello {
      env = bb
      inputs { who: str }
      outputs { greeting: str }
      command = ["sh", "-c", "printf '{\"greeting\": \"hello %s\"}' \"$(echo $RTC_INPUTS | cut -d'\"' -f4)\" > $RTC_OUTPUTS_FILE"]
    }
    graph greet {
      schedule = "@daily"
      tags = ["demo"]
      params { who: str = "world" }
      hello = Hello(who = params.who)
    }
    graph nightly {
      schedule = "30 2 * * 1-5"
      hello = Hello(who = "night")
    }
    graph manual {
      hello = Hello(who = "me")
    }
''')


def test_deploy_schedules_and_a_worker_run(tmp_path, prefect_env, docker_client):
    from prefect.client.orchestration import get_client

    ns = f"Dep{uuid.uuid4().hex[:6]}"
    src = tmp_path / "p.rt"
    src.write_text(SOURCE.replace("namespace NS", f"namespace {ns}"))
    pool = f"pool-{uuid.uuid4().hex[:6]}"
    done = subprocess.run([*RTC, "deploy", str(src), "--target", "prefect", "--work-pool", pool,
                           "-o", str(tmp_path / "flows")], env=prefect_env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert f"deployed {ns}.greet/greet  schedule 0 0 * * *  next run " in done.stdout  # what the server holds
    assert any(line.startswith(f"deployed {ns}.nightly/nightly  schedule 30 2 * * 1-5  next run 20") for line in lines)
    assert f"deployed {ns}.manual/manual  schedule manual  next run none" in done.stdout
    assert (tmp_path / "flows" / "prefect.yaml").is_file()

    with get_client(sync_client=True) as client:
        greet = client.read_deployment_by_name(f"{ns}.greet/greet")
        assert [s.schedule.cron for s in greet.schedules] == ["0 0 * * *"]
        assert greet.parameters == {"who": "world"}
        assert {"rtc", f"namespace:{ns}", f"source:{ns}/p.rt", "demo"} <= set(greet.tags)
        assert greet.work_pool_name == pool
        nightly = client.read_deployment_by_name(f"{ns}.nightly/nightly")
        assert [s.schedule.cron for s in nightly.schedules] == ["30 2 * * 1-5"]
        assert client.read_deployment_by_name(f"{ns}.manual/manual").schedules == []
        run = client.create_flow_run_from_deployment(greet.id, parameters={"who": "Paul"})

    worker = subprocess.run([PREFECT, "worker", "start", "--pool", pool, "--run-once"], env=prefect_env,
                            capture_output=True, text=True, timeout=180)
    assert worker.returncode == 0, worker.stdout + worker.stderr

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run.id).state
    assert state.is_completed(), (state, worker.stdout[-3000:])
    assert state.result() == {"hello": {"greeting": "hello Paul"}}


def test_unreachable_api_is_one_clear_error(tmp_path, prefect_env):
    src = tmp_path / "p.rt"
    src.write_text(SOURCE)
    env = dict(prefect_env, PREFECT_API_URL="http://127.0.0.1:9/api")
    done = subprocess.run([*RTC, "deploy", str(src), "-o", str(tmp_path / "flows")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "error: cannot reach the Prefect API at http://127.0.0.1:9/api" in done.stderr
    assert "Traceback" not in done.stderr
