"""Render an environment's Dockerfile and lay out its build context.

The template (templates/Dockerfile.j2) only loops and prints; this module
computes every value first and checks the strings that Dockerfile syntax
cannot quote safely. Values reach the file only through `docker_json`.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import BuildSpec
from rtc.integrations import codegen

# The node SDK as images carry it (rtc.node and the contract it follows), paths relative to the rtc package.
SDK_FILES = ("__init__.py", "node.py", "runtime/__init__.py", "runtime/contract.py")
# Exosphere's package name, so that `from exospherehost import BaseNode, Runtime` works unchanged.
COMPAT_PACKAGES = {"exospherehost": "exospherehost.py"}
SDK_DIR = "/opt/rtc"
# An image reference as `FROM` takes it unquoted: [registry[:port]/]name[:tag][@digest].
IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@+-]*$")


def docker_json(value: str) -> str:
    """A double-quoted string that Dockerfile instructions read back verbatim.

    Exec-form (JSON) instructions take JSON strings; ENV and LABEL take
    double-quoted values. `$` would be expanded by the builder and a newline
    ends an instruction, so both are refused instead of half-escaped.
    """
    text = str(value)
    if "$" in text:
        raise RtcError(f"{text!r} cannot go into a Dockerfile: `$` would be expanded by the builder")
    if "\n" in text:
        raise RtcError(f"{text!r} cannot go into a Dockerfile: it contains a newline")
    return json.dumps(text, ensure_ascii=False)


def script_json(script: str) -> str:
    """The template's own shell scripts, for exec-form RUN (which expands nothing): JSON only."""
    return json.dumps(str(script), ensure_ascii=False)


@lru_cache(maxsize=1)
def _template():
    env = codegen.jinja_environment("rtc.integrations.images")
    env.filters["docker_json"] = docker_json
    env.filters["script_json"] = script_json
    return env.get_template("Dockerfile.j2")


@dataclass(frozen=True)
class CopyStep:
    """One COPY of the generated Dockerfile."""

    source: str  # path inside the build context
    dest: str  # path inside the image


def copy_steps(build: BuildSpec) -> list[CopyStep]:
    steps = []
    for i, item in enumerate(build.copy_files):
        host = Path(item.host_path)
        dest = item.container_path
        if host.is_dir():
            steps.append(CopyStep(f"copy/{i}/", dest.rstrip("/") + "/"))
        else:
            if dest.endswith("/"):
                dest += host.name
            steps.append(CopyStep(f"copy/{i}/file", dest))
    return steps


def pythonpath(build: BuildSpec) -> str:
    """The SDK first, then every copy destination (a file's folder for single files)."""
    parts = [SDK_DIR]
    for step in copy_steps(build):
        folder = step.dest.rstrip("/") if step.source.endswith("/") else step.dest.rsplit("/", 1)[0]
        if folder and folder not in parts:
            parts.append(folder)
    return ":".join(parts)


def render(build: BuildSpec, *, env_name: str, namespace: str = "", source: str = "") -> str:
    if not IMAGE_REF.match(build.base):
        raise RtcError(f"environment {env_name!r}: {build.base!r} is not a valid image reference for `base`")
    text = _template().render(
        env_name=env_name,
        source=source,
        namespace=namespace,
        base=build.base,
        needs_ca=bool(build.apt or build.pip or build.python),
        apt=list(build.apt),
        pip=list(build.pip),
        python=build.python,
        pythonpath=pythonpath(build),
        copies=copy_steps(build),
    )
    return text


def write_context(folder: Path, build: BuildSpec, dockerfile: str, ca_bundle: Path | None) -> None:
    """Fill `folder` with the Dockerfile and everything it copies."""
    import rtc

    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    io_dir = folder / "rtc-io"
    io_dir.mkdir()
    io_dir.chmod(0o1777)
    if build.apt or build.pip or build.python:
        if ca_bundle is not None and ca_bundle.is_file():
            shutil.copyfile(ca_bundle, folder / "rtc-host-ca.crt")
        else:
            (folder / "rtc-host-ca.crt").write_text("", encoding="utf-8")
    if build.python:
        sdk = folder / "rtc-sdk"
        sdk.mkdir()
        for name in SDK_FILES:
            (sdk / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(rtc.__file__).parent / name, sdk / name)
        for package, source in COMPAT_PACKAGES.items():
            (folder / "rtc-compat" / package).mkdir(parents=True)
            shutil.copyfile(Path(rtc.__file__).parent / source, folder / "rtc-compat" / package / "__init__.py")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for i, item in enumerate(build.copy_files):
        host = Path(item.host_path)
        target = folder / "copy" / str(i)
        if host.is_dir():
            # symlinks=True: a link inside the folder is copied as a link, as Docker's build
            # context does; following it would bake the file it points to (anywhere on the host) in.
            shutil.copytree(host, target, ignore=ignore, symlinks=True)
        elif host.is_file():
            target.mkdir(parents=True)
            shutil.copyfile(host, target / "file")
        else:
            raise RtcError(f"cannot copy {str(host)!r} into the image: no such file or folder")
