"""The container contract as the local runner applies it (docs/runtime.md).

Builds the container of one step attempt (environment variables, mounts,
ports, labels, argv) and reads back what the step wrote: its signal, if any,
and its outputs, checked against the declared output types. No scheduling
and no Docker calls here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rtc import contract
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Environment, Node
from rtc.integrations.engine.containers import ContainerSpec


class ContractError(Exception):
    """The step broke the contract (bad outputs or signal): it fails without retry."""


def make_io_dir(path: Path) -> Path:
    """A fresh io folder for one container run, inside the run's private (0700) work folder."""
    path.mkdir()
    path.chmod(contract.IO_DIR_MODE)  # chmod: mkdir's mode drops the setgid bit and obeys the umask
    return path


def container_spec(
    *,
    image: str,
    node: Node,
    env: Environment,
    base_dir: Path,
    io_dir: Path,
    inputs: dict,
    step_label: str,
    step_id: str,
    run_id: str,
    namespace: str,
    secrets: dict[str, str],
    map_index: int | None,
) -> ContainerSpec:
    """The container of one attempt of one step (or one element of a mapped step)."""
    inputs_json = json.dumps(inputs, ensure_ascii=False)
    (io_dir / "inputs.json").write_text(inputs_json, encoding="utf-8")
    variables = dict(env.environ)
    if len(inputs_json.encode()) <= contract.MAX_INPUTS_ENV:
        variables[contract.ENV_INPUTS] = inputs_json
    variables.update(
        {
            contract.ENV_INPUTS_FILE: contract.INPUTS_FILE,
            contract.ENV_OUTPUTS_FILE: contract.OUTPUTS_FILE,
            contract.ENV_SIGNAL_FILE: contract.SIGNAL_FILE,
            contract.ENV_STEP: step_id,
            contract.ENV_RUN_ID: run_id,
        }
    )
    if map_index is not None:
        variables[contract.ENV_MAP_INDEX] = str(map_index)
    variables.update(secrets)
    mounts = [(str(host_path(m.host_path, base_dir)), m.container_path, m.read_only) for m in env.mounts]
    mounts.append((str(io_dir), contract.IO_DIR, False))
    # The io folder is not world-writable (contract.IO_DIR_MODE): whatever user the image runs as
    # writes there through the folder's group, given to the container as a supplementary group.
    group = os.stat(io_dir).st_gid
    return ContainerSpec(
        image=image,
        argv=contract.step_argv(node.argv(), env.init, env.daemons),
        env=variables,
        mounts=mounts,
        ports=[(e.container_port, e.host_ip, e.host_port) for e in env.expose],
        labels={contract.LABEL_RUN: run_id, contract.LABEL_STEP: step_label, contract.LABEL_PIPELINE: namespace},
        workdir=env.workdir,
        group_add=[group],
    )


def host_path(path: str, base_dir: Path) -> Path:
    """A mount's host path: relative to the pipeline file's folder; created when missing (as `docker run -v` does)."""
    p = Path(path)
    if not p.is_absolute():
        p = base_dir / p
    p = p.resolve()
    if not p.exists():
        try:
            p.mkdir(parents=True)
        except OSError as exc:
            raise RtcError(f"cannot create the mount folder {str(p)!r}: {exc.strerror}") from None
    return p


def read_signal(io_dir: Path, where: str) -> tuple[str, float | None] | None:
    """("prune", None) or ("requeue", seconds) when the step wrote a signal file, else None."""
    text = _read(io_dir, contract.SIGNAL_FILE, contract.MAX_SIGNAL_BYTES, where)
    if text is None:
        return None
    try:
        return contract.parse_signal(text)
    except ValueError as exc:
        raise ContractError(f"{where} wrote a bad signal file: {exc}") from None


def _read(io_dir: Path, container_path: str, limit: int, where: str) -> str | None:
    """A file the step wrote in its io folder, read safely (rtc.contract.read_io_file); None when absent."""
    try:
        return contract.read_io_file(io_dir, os.path.basename(container_path), limit)
    except contract.IoFileError as exc:
        raise ContractError(f"{where}: {exc}") from None


def read_outputs(io_dir: Path, node: Node, where: str):
    """The checked outputs of one container: a dict, or a list of dicts for a fanout node."""
    declared = {p.name: p.type for p in node.outputs}
    text = _read(io_dir, contract.OUTPUTS_FILE, contract.MAX_OUTPUTS_BYTES, where)
    if text is None:
        if declared:
            raise ContractError(f"{where} wrote no outputs (expected a JSON object in ${contract.ENV_OUTPUTS_FILE} with {', '.join(declared)})")
        return [] if node.fanout else {}
    if not text.strip() and not declared:
        return [] if node.fanout else {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(f"{where} wrote outputs that are not valid JSON: {exc}") from None
    if node.fanout:
        if not isinstance(value, list):
            raise ContractError(f"{where} is a fanout node and must write a JSON list of output objects, got {type(value).__name__}")
        return [_check_object(item, declared, f"{where} (item {i})") for i, item in enumerate(value)]
    if isinstance(value, list):
        raise ContractError(f"{where} wrote a list, but node {node.name!r} is not a fanout node (declare `fanout = true`)")
    return _check_object(value, declared, where)


def _check_object(value, declared: dict[str, str], where: str) -> dict:
    if not isinstance(value, dict):
        raise ContractError(f"{where} must write a JSON object of outputs, got {type(value).__name__}")
    missing = [name for name in declared if name not in value]
    if missing:
        raise ContractError(f"{where} did not write output {', '.join(map(repr, missing))}")
    extra = sorted(set(value) - set(declared))
    if extra:
        raise ContractError(f"{where} wrote undeclared output {', '.join(map(repr, extra))} (declared: {', '.join(declared) or 'none'})")
    for name, type_text in declared.items():
        problem = contract.check_value(value[name], type_text, f"output {name!r} of {where}")
        if problem:
            raise ContractError(problem)
    return value


def check_outputs(value, node: Node, where: str):
    """Outputs already parsed (e.g. from the step cache), checked as `read_outputs` checks a fresh step's."""
    declared = {p.name: p.type for p in node.outputs}
    if node.fanout:
        if not isinstance(value, list):
            raise ContractError(f"{where}: a fanout node's outputs are a list, got {type(value).__name__}")
        return [_check_object(item, declared, f"{where} (item {i})") for i, item in enumerate(value)]
    return _check_object(value, declared, where)
