"""Tyger's codespec registry in the run store: `rtc codespec create|show|list`, and codespecs by name.

A registered codespec is a file per version, `$RTC_HOME/codespecs/<name>/<version>.yml`
(Tyger's YAML with `name` and `version`; the layout is `rtc.dsl.tyger_yaml`'s,
which also resolves run specs naming a registered codespec). As in Tyger,
creating a codespec that differs from its latest version makes a new version;
an unchanged one keeps its version.
"""

from __future__ import annotations

import os

import yaml

from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Codespec, Pipeline
from rtc.compiler.validate import tyger_name_problem
from rtc.dsl.tyger_yaml import registered_file, registered_versions, registry_dir
from rtc.integrations.tyger.spec import tyger_codespec

MAX_NAME = 200  # bytes of a folder name in the registry (the file system's bound is 255)


def parse_ref(ref: str, version: int | None = None) -> tuple[str, int | None]:
    """`hello` or `hello/versions/2` (and a `--version`) -> (name, version or None for the latest)."""
    name, sep, tail = ref.partition("/versions/")
    if len(name) > MAX_NAME:
        raise RtcError(f"codespec name {name[:40]!r}... is {len(name)} characters long; at most {MAX_NAME}")
    if sep:
        if not (tail.isascii() and tail.isdigit() and len(tail) <= 18 and int(tail) > 0):  # "²", "١" are not versions
            raise RtcError(f"bad codespec reference {ref[:200]!r}", hint="write NAME or NAME/versions/N (N a positive number in ASCII digits)")
        if version is not None and version != int(tail):
            raise RtcError(f"codespec {ref!r} and --version {version} disagree")
        version = int(tail)
    return name, version


def create(codespec: Codespec, name: str | None = None) -> tuple[int, bool]:
    """Register `codespec` (as `name`); returns (its version, whether that version is new)."""
    name = name or codespec.name
    if len(name) > MAX_NAME:
        raise RtcError(f"codespec name {name[:40]!r}... is {len(name)} characters long; at most {MAX_NAME}",
                       hint="a registered codespec is a folder named after it")
    problem = tyger_name_problem(name, "codespec name")
    if problem:
        raise RtcError(problem)
    latest = registered_versions(name)
    if latest and _comparable(load(name).codespecs[name]) == _comparable(codespec):
        return latest[-1], False
    from rtc.base import home as home_files

    home_files.prepare(home_files.rtc_home())  # the home and its folders owner-only (docs/security.md)
    home_files.private_dir(registry_dir())  # 0700 itself, not only the codespec's folder (mkdir's parents were 0755)
    folder = home_files.private_dir(registry_dir() / name)
    version = (latest[-1] if latest else 0) + 1
    while True:  # two creates at once: the second takes the next number
        document = tyger_codespec(codespec.with_changes({"name": name, "version": version}))
        try:
            fd = os.open(folder / f"{version}.yml", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            version += 1
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yaml.safe_dump(document, f, sort_keys=False, allow_unicode=True)
        return version, True


def load(name: str, version: int | None = None) -> Pipeline:
    """A pipeline holding registered codespec `name` at `version` (default: the latest)."""
    from rtc.compiler import compile_file

    path = registered_file(name, version)
    if path is None:
        versions = registered_versions(name)
        if versions:
            raise RtcError(f"codespec {name!r} has no version {version}",
                           hint=f"its versions: {', '.join(map(str, versions))}")
        raise RtcError(f"codespec {name!r} is not registered",
                       hint="register it with `rtc codespec create -f FILE`; see `rtc codespec list`")
    return compile_file(str(path))


def show(name: str, version: int | None = None) -> dict:
    return tyger_codespec(load(name, version).codespecs[name])


def names(prefix: str = "") -> list[str]:
    folder = registry_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(prefix) and registered_versions(p.name))


def with_registered(pipeline: Pipeline, ref: str, version: int | None = None) -> Pipeline:
    """`pipeline` plus registered codespec `ref` when the pipeline does not define that name itself."""
    name, version = parse_ref(ref, version)
    if name in pipeline.codespecs:
        return pipeline
    found = load(name, version).codespecs[name]
    return pipeline.with_changes({"codespecs": {**pipeline.codespecs, name: found}})


def _comparable(codespec: Codespec) -> dict:
    data = codespec.to_plain_data()
    for key in ("span", "name", "version"):
        data.pop(key, None)
    for socket in data.get("sockets", []):
        socket.pop("span", None)  # where it was written is not part of the codespec
    return data
