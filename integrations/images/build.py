"""Make sure the image of an environment is on this machine, building it when needed.

Built environments carry a content-addressed tag (`rtc.compiler.images`), so
"the tag exists locally" means "this exact recipe was built": no build runs.
Compiled with a registry (`rtc.compiler.registry`), the same image is named as pushed
there: an engine that lacks it pulls it (`rtc build --push` put it there) and never builds it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Callable

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Environment
from rtc.compiler.registry import registry_of
from rtc.integrations.images import dockerfile

Progress = Callable[[str], None]
FAILURE_TAIL_LINES = 30
ANSI = re.compile(r"\x1b\[[0-9;]*m")
NOISE = re.compile(r"^( ---> |Removing intermediate container )")


def host_ca_bundle() -> Path | None:
    """The CA bundle the host trusts, for pip and apt inside builds (TLS-intercepting proxies)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def image_exists(client, ref: str) -> bool:
    from rtc.integrations.engine.containers import as_engine

    if client is not None:
        return as_engine(client).image_exists(ref)  # one engine call, no docker SDK import
    import docker

    try:
        client.images.get(ref)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_image(client, env: Environment, base_dir: str | Path | None = None, progress: Progress | None = None,
                 *, namespace: str = "", source: str = "") -> str:
    """The image reference to run for `env`; builds it first when it is missing.

    `base_dir` is the pipeline file's folder: relative `copy` sources are relative to it.
    Returns the reference. `progress` receives one line per build (or pull)
    message. Never builds when the tag is already present.
    """
    say = progress or (lambda line: None)
    if env.build is None:
        if not image_exists(client, env.image):
            _pull(client, env, say)
        return env.image
    if image_exists(client, env.image):
        return env.image
    if registry_of(env.image) is not None:
        _pull(client, env, say)
        return env.image
    _build(client, env, say, namespace=namespace, source=source, base_dir=Path(base_dir or "."))
    return env.image


def is_up_to_date(client, env: Environment) -> bool:
    return image_exists(client, env.image)


def _pull(client, env: Environment, say: Progress) -> None:
    import docker

    say(f"pulling {env.image}")
    try:
        client.images.pull(env.image)
    except docker.errors.DockerException as exc:
        reason = str(getattr(exc, "explanation", None) or exc).strip()
        if env.build is None:
            raise RtcError(
                f"environment {env.name!r}: image {env.image!r} is not on this machine and cannot be pulled: {reason}",
                hint="build or `docker pull` it, or `docker tag` an image you have with that name",
            ) from None
        raise RtcError(missing_pushed_image(env.image, engine_address(), reason), hint=push_hint(env.image)) from None


def missing_pushed_image(ref: str, engine: str, reason: str) -> str:
    return f"image {ref!r} is not on this Docker engine ({engine}) and cannot be pulled: {reason}"


def push_hint(ref: str) -> str:
    return (f"push it from the machine that builds it: rtc build FILE --push --registry {registry_of(ref)} "
            "(the same --registry as the compile or run)")


def engine_address() -> str:
    from rtc.integrations.engine.containers import engine_address as address

    return address()


def tag(client, local_tag: str, ref: str) -> None:
    """Give the built image `local_tag` its registry name `ref` as well."""
    repository, _, version = ref.rpartition(":")
    client.images.get(local_tag).tag(repository, version)


def push(client, ref: str, progress: Progress | None = None) -> str:
    """Push `ref` (already tagged here) to its registry; returns the digest the registry stored."""
    import docker

    say = progress or (lambda line: None)
    repository, _, version = ref.rpartition(":")
    digest = ""
    try:
        for message in client.api.push(repository, tag=version, stream=True, decode=True):
            error = (message.get("errorDetail") or {}).get("message") or message.get("error")
            if error:
                raise RtcError(f"pushing {ref!r} failed: {error}", hint=_registry_hint(ref))
            digest = (message.get("aux") or {}).get("Digest") or digest
            status = message.get("status")
            if status and not message.get("progressDetail"):  # progress bars are noise in a log
                say(f"{message['id']}: {status}" if message.get("id") else status)
    except docker.errors.APIError as exc:
        raise RtcError(f"pushing {ref!r} failed: {str(exc.explanation or exc).strip()}", hint=_registry_hint(ref)) from None
    if not digest:
        raise RtcError(f"pushing {ref!r} ended without a digest from the registry", hint=_registry_hint(ref))
    return digest


def _registry_hint(ref: str) -> str:
    return (f"is the registry {registry_of(ref)} running and reachable from the Docker engine at {engine_address()}? "
            "A registry without TLS must be listed in that engine's insecure-registries (127.0.0.0/8 already is)")


def with_absolute_copies(build, base_dir: Path):
    """The build spec with `copy` sources made absolute (the IR keeps them relative to the pipeline's folder)."""
    copies = [c.with_changes({"host_path": str((base_dir / c.host_path).resolve())}) for c in build.copy_files]
    return build.with_changes({"copy_files": copies})


def _build(client, env: Environment, say: Progress, *, namespace: str, source: str, base_dir: Path) -> None:
    import docker

    build = with_absolute_copies(env.build, base_dir)
    text = dockerfile.render(build, env_name=env.name, namespace=namespace, source=source)
    with tempfile.TemporaryDirectory(prefix="rtc-build-") as folder:
        dockerfile.write_context(Path(folder), build, text, host_ca_bundle())
        step_lines: list[str] = []
        step = "(before the first step)"
        try:
            stream = client.api.build(
                path=folder, tag=env.image, rm=True, forcerm=True, pull=False, decode=True,
            )
            for message in stream:
                if "error" in message or "errorDetail" in message:
                    error = (message.get("errorDetail") or {}).get("message") or message.get("error", "")
                    raise RtcError(_failure(env, step, step_lines, error))
                for line in str(message.get("stream") or message.get("status") or "").splitlines():
                    line = ANSI.sub("", line).rstrip()
                    if not line:
                        continue
                    if line.startswith("Step "):
                        step, step_lines = describe_step(line), []
                        line = step
                    elif NOISE.match(line):
                        continue  # the builder's bookkeeping: neither progress nor evidence
                    else:
                        step_lines.append(line)
                    say(line)
        except docker.errors.APIError as exc:
            raise RtcError(_failure(env, step, step_lines, str(exc.explanation or exc))) from None
    if not image_exists(client, env.image):
        raise RtcError(_failure(env, step, step_lines, "the build ended without producing the image"))


def _failure(env: Environment, step: str, lines: list[str], error: str) -> str:
    shown = "\n".join("  | " + line for line in lines[-FAILURE_TAIL_LINES:])
    text = f"building the image of environment {env.name!r} failed at {step}"
    if shown:
        text += "\n" + shown
    # The engine repeats the whole command in its message; its last line carries the exit code.
    code = re.search(r"returned a non-zero code: (\d+)", error)
    last = f"the step exited with code {code.group(1)}" if code else _clip(error.strip() or "failed")
    return text + f"\n  {last}"


def describe_step(line: str) -> str:
    """`Step 4/7 : RUN ["sh", "-c", <script>, "rtc-apt", "curl"]` -> `Step 4/7 : RUN rtc-apt curl`."""
    head, sep, instruction = line.partition(" : ")
    if sep and instruction.startswith("RUN ["):
        try:
            argv = json.loads(instruction[4:])
        except ValueError:
            argv = None
        if isinstance(argv, list) and len(argv) >= 4 and argv[:2] == ["sh", "-c"] and str(argv[3]).startswith("rtc-"):
            words = [argv[3]] + ([] if argv[3] == "rtc-sdk" else [str(a) for a in argv[4:]])
            return f"{head} : RUN {' '.join(words)}"
    return _clip(line)


def _clip(text: str, width: int = 160) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
