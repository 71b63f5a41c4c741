"""The container contract as the local runner applies it (docs/runtime.md).

Builds the container of one step attempt on this machine (mounts, ports,
labels; the environment and the decoding of what the step wrote come from
rtc.runtime.step, as under every target). No scheduling and no Docker calls here.
"""

from __future__ import annotations

import os
from pathlib import Path

from rtc.runtime import contract, step as step_rules
from rtc.runtime.step import ContractError
from rtc.base.diagnostics import RtcError
from rtc.compiler.ir import Environment, Node, resolve_host_path
from rtc.integrations.engine.containers import ContainerSpec


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
    in_dir: Path | None = None,
) -> ContainerSpec:
    """The container of one attempt of one step (or one element of a mapped step).

    `in_dir`: the unit's artifact inputs on this host (mounted read-only at /rtc/in), or None.
    """
    input_types = {p.name: p.type for p in node.inputs}
    output_types = {p.name: p.type for p in node.outputs}
    shown, _ = step_rules.place_artifact_inputs(inputs, input_types)
    variables, inputs_json = step_rules.container_environment(
        env.environ, shown, step=step_id, run_id=run_id, map_index=map_index, secrets=secrets,
        artifacts=step_rules.artifact_environment(input_types, output_types))
    (io_dir / "inputs.json").write_text(inputs_json, encoding="utf-8")
    if step_rules.artifact_ports(output_types):
        out = io_dir / "out"  # where the step leaves its artifact outputs, writable as the io folder is
        out.mkdir()
        out.chmod(contract.IO_DIR_MODE)
    mounts = [(str(host_path(m.host_path, base_dir)), m.container_path, m.read_only) for m in env.mounts]
    mounts.append((str(io_dir), contract.IO_DIR, False))
    if in_dir is not None:
        mounts.append((str(in_dir), contract.ARTIFACTS_IN_DIR, True))
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
    """A mount's host path: `~` and `~user` are home folders (as envd and shells expand them), relative is relative
    to the pipeline file's folder; created when missing (as `docker run -v` does)."""
    p = Path(resolve_host_path(base_dir, path)).resolve()
    if not p.exists():
        try:
            p.mkdir(parents=True)
        except OSError as exc:
            raise RtcError(f"cannot create the mount folder {str(p)!r}: {exc.strerror}") from None
    return p


def read_signal(io_dir: Path, where: str) -> tuple[str, float | None] | None:
    """("prune", None) or ("requeue", seconds) when the step wrote a signal file, else None."""
    return step_rules.decode_signal(_read(io_dir, contract.SIGNAL_FILE, contract.MAX_SIGNAL_BYTES, where), where)


def _read(io_dir: Path, container_path: str, limit: int, where: str) -> str | None:
    """A file the step wrote in its io folder, read safely (rtc.runtime.contract.read_io_file); None when absent."""
    try:
        return contract.read_io_file(io_dir, os.path.basename(container_path), limit)
    except contract.IoFileError as exc:
        raise ContractError(f"{where}: {exc}") from None


def read_outputs_text(io_dir: Path, where: str) -> str | None:
    """The outputs file the step wrote (rtc.runtime.step.step_outputs decodes it), or None."""
    return _read(io_dir, contract.OUTPUTS_FILE, contract.MAX_OUTPUTS_BYTES, where)


def declared_outputs(node: Node) -> dict[str, str]:
    return {p.name: p.type for p in node.outputs}
