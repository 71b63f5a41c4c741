"""Images from environments: content-addressed tags, the build cache, build failures, `rtc build`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from docker_pipelines import BUSYBOX, node, pipeline, step, write_ir
from rtc.base.diagnostics import RtcError
from rtc.compiler.images import image_tag
from rtc.compiler.ir import BuildSpec, Environment
from rtc.integrations.images import dockerfile
from rtc.integrations.images.build import ensure_image

RTC = [sys.executable, "-m", "rtc"]


@pytest.fixture
def built_env(docker_client, namespace):
    """An environment built FROM busybox; its image is removed afterwards."""
    build = BuildSpec(base=BUSYBOX)
    env = Environment(name="tiny", image=image_tag(namespace, "tiny", build), build=build)
    yield env
    try:
        docker_client.images.remove(env.image, force=True)
    except Exception:  # noqa: BLE001 - a failed test may not have built it
        pass


def test_second_build_does_nothing(docker_client, built_env):
    lines: list[str] = []
    assert ensure_image(docker_client, built_env, None, lines.append) == built_env.image
    assert any(line.startswith("Step 1/") for line in lines)
    image = docker_client.images.get(built_env.image)
    assert image.labels["rtc.env"] == "tiny"
    again: list[str] = []
    assert ensure_image(docker_client, built_env, None, again.append) == built_env.image
    assert again == []  # no build ran, not even a cached one


def test_failing_build_ends_with_the_failing_steps_output(docker_client, namespace):
    build = BuildSpec(base=BUSYBOX, apt=["curl"])
    env = Environment(name="broken", image=image_tag(namespace, "broken", build), build=build)
    with pytest.raises(RtcError) as info:
        ensure_image(docker_client, env, None, None)
    text = str(info.value)
    assert "building the image of environment 'broken' failed at Step" in text
    assert "RUN rtc-apt curl" in text
    assert "apt-get: not found" in text
    assert text.rstrip().endswith("the step exited with code 127")


def test_pip_packages_on_a_base_without_pip_or_apt_say_so(docker_client, namespace):
    build = BuildSpec(base=BUSYBOX, pip=["requests"])
    env = Environment(name="nopip", image=image_tag(namespace, "nopip", build), build=build)
    with pytest.raises(RtcError, match="neither pip .* nor apt-get"):
        ensure_image(docker_client, env, None, None)


def test_ready_image_is_used_as_it_is(docker_client):
    env = Environment(name="ready", image=BUSYBOX)
    assert ensure_image(docker_client, env, None, None) == BUSYBOX


def test_dockerfile_refuses_strings_the_builder_would_expand():
    build = BuildSpec(base=BUSYBOX, pip=["x$(id)"])
    with pytest.raises(RtcError, match="would be expanded"):
        dockerfile.render(build, env_name="e")
    with pytest.raises(RtcError, match="not a valid image reference"):
        dockerfile.render(BuildSpec(base="busybox\nRUN rm -rf /"), env_name="e")
    # Package names travel as exec-form arguments: quotes and shell syntax stay inert.
    text = dockerfile.render(BuildSpec(base=BUSYBOX, apt=['a"; rm -rf / #']), env_name="e")
    assert '"a\\"; rm -rf / #"]' in text


def test_rtc_build_shows_progress_then_says_up_to_date(tmp_path, docker_client, built_env, namespace):
    p = pipeline(tmp_path, [node("N", ["true"], env="tiny")], [step("n", "N")], envs={"tiny": built_env}, namespace=namespace)
    path = write_ir(tmp_path, p)
    first = subprocess.run([*RTC, "build", str(path)], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert "tiny: building" in first.stderr and "Step 1/" in first.stderr
    second = subprocess.run([*RTC, "build", str(path), "tiny"], capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert f"tiny: up to date ({built_env.image})" in second.stderr
    assert "Step" not in second.stderr
    unknown = subprocess.run([*RTC, "build", str(path), "nope"], capture_output=True, text=True, timeout=120)
    assert unknown.returncode == 1 and "has no environment 'nope'" in unknown.stderr
