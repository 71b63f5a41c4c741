"""The deployment tier: real services started by the project's own scripts (scripts/services/).

One stack per test session: Postgres and Redis, a docker-registry and a second Docker engine
(standing in for a second worker host), then Airflow (CeleryExecutor, two workers, the second
bound to the second engine) and the Prefect server side by side. Everything listens on 127.0.0.1, and every process is stopped
by the PID its script started, even when a test fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from tier_services import SERVICES, Stack, read_env, service


@pytest.fixture(scope="session")
def stack():
    """Postgres + Redis + registry + second engine + Airflow (Celery) + Prefect server, started once, stopped by PID."""
    service("install.sh", timeout=600)
    root = Path(tempfile.mkdtemp(prefix="rtc-tier-"))
    s = Stack(root)
    try:
        service("postgres.sh", "start", str(root), "airflow", "prefect")
        service("redis.sh", "start", str(root))
        # A registry and a second Docker engine standing in for a second worker host.
        service("registry.sh", "start", str(root))
        service("engine2.sh", "start", str(root))
        s.registry = read_env(root / "registry.env")["RTC_REGISTRY"]
        s.engine2 = read_env(root / "engine2.env")["DOCKER_HOST"]
        # The artifact store the Celery workers share (they share no folder for it): an S3 bucket, whose
        # endpoint and credentials are the Airflow Connection rtc_store, as a user keeps them.
        service("seaweedfs.sh", "start", str(root / "seaweedfs"))
        s.s3 = read_env(root / "seaweedfs" / "seaweedfs.env")
        connection = {"conn_type": "aws", "login": s.s3["AWS_ACCESS_KEY_ID"], "password": s.s3["AWS_SECRET_ACCESS_KEY"],
                      "extra": {"endpoint_url": s.s3["AWS_ENDPOINT_URL"], "region_name": s.s3["AWS_DEFAULT_REGION"]}}
        store = {"AIRFLOW__RTC__STORE": f"s3://{s.s3['RTC_TEST_BUCKET']}/tier", "AIRFLOW_CONN_RTC_STORE": json.dumps(connection)}
        # Ready images (`image = ...`) come from wherever the host gets them (Docker Hub, for
        # most); none is reachable here, so the second host gets busybox as `docker load` gives it.
        subprocess.run(f"docker save busybox:latest | DOCKER_HOST={s.engine2} docker load -q", shell=True,
                       check=True, capture_output=True, timeout=300)
        # Airflow's `db migrate` and the Prefect server's start-up overlap.
        prefect = subprocess.Popen([str(SERVICES / "prefect.sh"), "start", str(root)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        service("airflow.sh", "start", str(root), env={"AIRFLOW_WORKER2_DOCKER_HOST": s.engine2, **store})
        _, err = prefect.communicate(timeout=300)
        if prefect.returncode != 0:
            pytest.fail(f"scripts/services/prefect.sh start failed:\n{err[-4000:]}")
        s.airflow = read_env(root / "airflow.env")
        s.prefect = read_env(root / "prefect.env")
        yield s
    finally:
        for args in (("prefect.sh", "stop"), ("airflow.sh", "stop"), ("redis.sh", "stop"), ("postgres.sh", "stop"),
                     ("engine2.sh", "stop"), ("registry.sh", "stop")):
            subprocess.run([str(SERVICES / args[0]), args[1], str(root)], capture_output=True, timeout=120)
        subprocess.run([str(SERVICES / "seaweedfs.sh"), "stop", str(root / "seaweedfs")], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)


