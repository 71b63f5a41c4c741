"""Name built images by where they are pushed: one IR-to-IR step, so no emitter needs to know.

A built environment's image is a content-addressed local tag, `rtc/<namespace>-<env>:<hash>`
(`rtc.compiler.images.image_tag`), which exists only in the engine that built it. With a
registry `HOST[:PORT][/PREFIX]` the same image is `HOST[:PORT][/PREFIX]/<namespace>-<env>:<hash>`:
the hash is kept, so the name is still content-addressed, and the compiled files name
exactly what `rtc build --push` pushed without asking the registry anything. Ready images
(`image = ...`) and Tyger codespec images are left as written.
"""

from __future__ import annotations

import os
import re

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Pipeline

ENV_VAR = "RTC_REGISTRY"

# Docker's reference grammar (distribution/reference): a domain, optionally a port, then path
# components in lower case.
_DOMAIN = re.compile(
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?))*(?::[0-9]+)?$"
    r"|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$"
)
_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")


def from_option(value: str | None) -> str | None:
    """The registry the user chose: `--registry`, else `$RTC_REGISTRY`, else None; checked and normalised."""
    text = value if value is not None else os.environ.get(ENV_VAR)
    if text is None or not text.strip():
        return None
    return parse(text.strip(), "--registry" if value is not None else ENV_VAR)


def parse(text: str, what: str = "--registry") -> str:
    """`HOST[:PORT][/PREFIX]` without a scheme or trailing slash, or an RtcError saying what is wrong."""
    example = "for example 127.0.0.1:5000/team or registry.example.com/rtc"
    if "://" in text:
        raise RtcError(f"{what} {text!r}: write the registry without a scheme", hint=example)
    host, _, prefix = text.rstrip("/").partition("/")
    # Docker reads a first part without a dot or a port (other than localhost) as a Docker Hub
    # account, not a registry: refuse it rather than push somewhere unexpected.
    if not _DOMAIN.match(host) or not ("." in host or ":" in host or host == "localhost"):
        raise RtcError(
            f"{what} {text!r}: {host!r} is not a registry host (it needs a dot or a port, or is localhost)",
            hint=example + "; Docker Hub is docker.io/ACCOUNT",
        )
    for part in prefix.split("/") if prefix else []:
        if not _COMPONENT.match(part):
            raise RtcError(
                f"{what} {text!r}: {part!r} is not a valid repository path part "
                "(lower-case letters and digits, separated by '.', '_', '__' or '-')",
                hint=example,
            )
    return f"{host}/{prefix}" if prefix else host


def pushed_ref(local_tag: str, registry: str) -> str:
    """`rtc/etl-py:0123abcd` pushed to `127.0.0.1:5000/team` is `127.0.0.1:5000/team/etl-py:0123abcd`.

    Only the last path part is kept, so a name already pointing at a registry (IR JSON compiled
    with --registry) moves to the new one instead of growing.
    """
    return f"{registry}/{local_tag.rsplit('/', 1)[-1]}"


def local_tag(ref: str) -> str:
    """The local tag a pushed name was made from (the inverse of `pushed_ref`)."""
    return f"rtc/{ref.rsplit('/', 1)[-1]}"


def with_registry(pipeline: Pipeline, registry: str | None) -> Pipeline:
    """The pipeline with every built environment's image named as pushed to `registry` (None: unchanged)."""
    if registry is None:
        return pipeline
    envs = {
        name: env if env.build is None else env.with_changes({"image": pushed_ref(env.image, registry)})
        for name, env in pipeline.environments.items()
    }
    return pipeline.with_changes({"environments": envs})


def registry_of(ref: str) -> str | None:
    """The registry part of an image reference (`127.0.0.1:5000/team` of `127.0.0.1:5000/team/x:1`), or None.

    A first part with a dot or a port, or `localhost`, is a registry host (Docker's rule); a
    local `rtc/...` tag has none. The rest up to the last path part is the prefix.
    """
    name = ref.split("@", 1)[0]
    first, sep, _ = name.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        return None
    return name.rsplit("/", 1)[0]
