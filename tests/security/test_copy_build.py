"""`copy` on the real engine: a symlink inside a copied folder is baked in as a link, never as the host file (item 4)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid


def rtc(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "rtc", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_a_link_to_a_host_file_is_copied_as_a_link(tmp_path, docker_client):
    secret = tmp_path / "host-secret.txt"
    marker = "TOPSECRET-" + uuid.uuid4().hex
    secret.write_text(marker)
    proj = tmp_path / "proj"
    (proj / "code").mkdir(parents=True)
    (proj / "code" / "ok.txt").write_text("fine\n")
    (proj / "code" / "leak").symlink_to(secret)
    ns = f"copy{uuid.uuid4().hex[:8]}"
    (proj / "p.rt").write_text(
        f'namespace {ns}\nenv box {{ base = "rtc-test/busybox:1"  copy "code" -> "/app" }}\n'
        'node Show { env = box command = ["sh", "-c", "cat /app/ok.txt; readlink /app/leak; cat /app/leak || echo unreadable"] }\n'
        "graph g { show = Show() }\n"
    )
    done = rtc("run", str(proj / "p.rt"))
    try:
        assert done.returncode == 0, done.stderr
        assert "[show] fine" in done.stdout
        assert f"[show] {secret}" in done.stdout  # the link itself, pointing at a path that is not in the image
        assert "[show] unreadable" in done.stdout
        assert marker not in done.stdout + done.stderr
    finally:
        for image in docker_client.images.list(name=f"rtc/{ns}-box"):
            docker_client.images.remove(image.id, force=True)


def test_build_of_ir_copying_outside_is_refused_before_docker(tmp_path):
    ir = {
        "ir_version": "1", "namespace": "copyir", "source": "p.rt",
        "environments": {"e": {"name": "e", "image": "rtc/copyir-e:000000000000",
                               "build": {"base": "busybox", "copy_files": [{"host_path": "../../../../etc", "container_path": "/x", "digest": "0"}]}}},
    }
    path = tmp_path / "p.json"
    path.write_text(json.dumps(ir))
    done = rtc("build", str(path))
    assert done.returncode == 1 and "leaves the pipeline's folder" in done.stderr and "Traceback" not in done.stderr
