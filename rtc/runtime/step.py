"""A step's life at run time, written once: every target runs a step through these functions.

bindings -> inputs (`bind_inputs`, `fan_out_elements`) -> the container's environment
(`container_environment`) -> [the adapter runs the container] -> its signal
(`decode_signal`) and outputs (`decode_outputs`) -> what the steps below see
(`merge_elements`). The adapters (local runner, `airflow`, `prefect`) only run
containers and map these results onto their orchestrator; the rules a user
relies on live here, and docs/runtime.md states them:

- An outputs file that is absent or empty means "no outputs": fine for a node
  that declares none, a failure naming the missing outputs otherwise.
- Outputs and signal files are bounded JSON (64 levels, no NaN/Infinity),
  checked against the declared types; a broken contract fails the step at
  once (`ContractError`: another attempt would break it again).
- A fan-out element that prunes itself drops out of the lists the steps below
  receive; when every element prunes itself, they receive empty lists and
  run, as after a fan-out over nothing.
- An input bound with `last(...)` reads the last element of its list (for a
  mapped step, in map-index order); of an empty list it fails the step.

A result is "columns": {output: value} for a plain step, {output: [values]}
for a `fanout` node (one list per output, one entry per object it wrote).
"""

from __future__ import annotations

import json
import os

from .artifacts import ArtifactError, is_reference
from .contract import (
    ARTIFACTS_IN_DIR,
    ARTIFACTS_OUT_DIR,
    ENV_INPUTS,
    ENV_INPUTS_FILE,
    ENV_MAP_INDEX,
    ENV_OUTPUTS_FILE,
    ENV_RUN_ID,
    ENV_SIGNAL_FILE,
    ENV_STEP,
    INPUTS_FILE,
    MAX_INPUTS_ENV,
    OUTPUTS_FILE,
    SIGNAL_FILE,
    check_value,
    path_variable,
    retry_delay,
)
from .jsonio import loads_json

# Variables the contract sets in every step's container; neither `environ` nor a secret may take these names.
CONTRACT_VARIABLES = (ENV_INPUTS, ENV_INPUTS_FILE, ENV_OUTPUTS_FILE, ENV_SIGNAL_FILE, ENV_STEP, ENV_RUN_ID, ENV_MAP_INDEX)
PRUNE = "prune"
REQUEUE = "requeue"


class ContractError(ValueError):
    """The step broke the container contract (outputs, signal, input types): it fails without retry."""


class PermanentError(RuntimeError):
    """A failure that another attempt cannot mend (a missing image); retries are skipped."""


# ---------------------------------------------------------------- inputs


def binding_value(binding, params, upstream, element=None):
    """The value of one input binding.

    `binding`: ("literal", value) | ("param", name) | ("output", step, output) | ("each", source binding);
    `upstream`: {step: its result (columns), or None when it did not succeed (a join `after all_done`)};
    `element`: the fanned-out element's value, for an `each` binding.
    """
    kind = binding[0]
    if kind == "literal":
        return binding[1]
    if kind == "param":
        return params[binding[1]]
    if kind == "each":
        return element
    result = upstream.get(binding[1])
    return None if result is None else result.get(binding[2])


def last_element(value, where):
    """What a `last(...)` input reads: the last element of the list it is bound to.

    A mapped step's list is in map-index order with its pruned elements dropped, so this is the last
    element that was not pruned, on every target and every run (Exosphere gives a uniting node the value
    of the branch that finished last). Null stays null (a join `after all_done` below a step that did not
    succeed); an empty list fails the step: there is no value to give it.
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise ContractError(f"{where}: last() needs a list, got {_json_type(value)}")
    if not value:
        raise ContractError(f"{where}: last() of an empty list: the step it reads ran over nothing, "
                            "or every element pruned itself")
    return value[-1]


def fan_out_elements(bindings, params, upstream, where):
    """The elements of a fanned-out step: [{input: element}] over the zipped `each` lists; None when not fanned out."""
    lists = {}
    for name, binding in bindings.items():
        if binding[0] != "each":
            continue
        value = binding_value(binding[1], params, upstream)
        if not isinstance(value, list):
            raise ContractError(f"{where}: each({name}) needs a list, got {_json_type(value)}")
        lists[name] = value
    if not lists:
        return None
    problem = unpaired({name: len(value) for name, value in lists.items()})
    if problem:
        raise ContractError(f"{where}: {problem}")
    return [dict(zip(lists, values)) for values in zip(*lists.values())]


def unpaired(lengths):
    """Why lists a step fans out over ({input: length}) cannot be zipped; None when their lengths agree.
    Every target fails the step with it (a pruned element in between drops out of one of them)."""
    if len(set(lengths.values())) <= 1:
        return None
    return "the lists it fans out over differ in length (" + ", ".join(f"{name}: {n}" for name, n in lengths.items()) + ")"


def bind_inputs(bindings, types, params, upstream, element=None, *, where, all_done=False):
    """The step's inputs in its declared order, each checked against its declared type.

    An input read from a step that did not succeed is null, which only a join `after all_done` may receive.
    """
    inputs = {}
    for name, binding in bindings.items():
        value = binding_value(binding, params, upstream, None if element is None else element.get(name))
        if value is not None or not all_done:
            problem = check_value(value, types[name], f"input {name!r} of {where}")
            if problem:
                raise ContractError(problem)
        inputs[name] = value
    return inputs


def container_environment(environ, inputs, *, step, run_id, map_index=None, secrets=None, artifacts=None):
    """(environment, inputs JSON) of one container of a step: `environ`, the secrets, then the contract's variables.

    The inputs travel as RTC_INPUTS when small enough (Linux caps one variable at 128 KiB) and always
    as the file RTC_INPUTS_FILE names.
    """
    secrets, artifacts = secrets or {}, artifacts or {}
    taken = sorted((set(CONTRACT_VARIABLES) | set(artifacts)) & (set(environ) | set(secrets)))
    if taken:
        raise ContractError(f"{taken[0]} is a variable of rtc's container contract: an environ or secret cannot use the name")
    inputs_json = json.dumps(inputs, ensure_ascii=False, sort_keys=False)
    env = {**environ, **secrets}
    if len(inputs_json.encode("utf-8", "surrogatepass")) <= MAX_INPUTS_ENV:
        env[ENV_INPUTS] = inputs_json
    env.update(artifacts)
    env.update({ENV_INPUTS_FILE: INPUTS_FILE, ENV_OUTPUTS_FILE: OUTPUTS_FILE, ENV_SIGNAL_FILE: SIGNAL_FILE,
                ENV_STEP: step, ENV_RUN_ID: run_id})
    if map_index is not None:
        env[ENV_MAP_INDEX] = str(map_index)
    return env, inputs_json


# ---------------------------------------------------------------- artifacts (`file` / `dir` ports)


def artifact_ports(types):
    """{port: "file" | "dir" | "list[file]" | "list[dir]"} of the ports whose values are artifacts."""
    return {name: t.replace(" ", "") for name, t in types.items()
            if t.replace(" ", "") in ("file", "dir", "list[file]", "list[dir]")}


def json_ports(types):
    """The ports whose values travel as JSON (the outputs file, RTC_INPUTS): every port but artifacts."""
    kinds = artifact_ports(types)
    return {name: t for name, t in types.items() if name not in kinds}


def place_artifact_inputs(inputs, types):
    """(inputs as the container sees them, [(reference, path under ARTIFACTS_IN_DIR)]) for a step's bound inputs.

    An artifact input's value is its path in the container (`/rtc/in/<port>`; a list: `/rtc/in/<port>/<i>`);
    the adapter puts each reference's bytes at its path before the container starts. A null input
    (a join `after all_done` below a failed step) stays null.
    """
    shown, placed = dict(inputs), []
    for name, kind in artifact_ports(types).items():
        value = inputs.get(name)
        if value is None:
            continue
        if kind.startswith("list["):
            shown[name] = [f"{ARTIFACTS_IN_DIR}/{name}/{i}" for i in range(len(value))]
            placed += [(ref, f"{name}/{i}") for i, ref in enumerate(value)]
        else:
            shown[name] = f"{ARTIFACTS_IN_DIR}/{name}"
            placed.append((value, name))
    return shown, placed


def artifact_environment(input_types, output_types):
    """`<PORT>_PATH` for every artifact port: where an input is, where an output is to be left."""
    env = {path_variable(name): f"{ARTIFACTS_IN_DIR}/{name}" for name in artifact_ports(input_types)}
    env.update({path_variable(name): f"{ARTIFACTS_OUT_DIR}/{name}" for name in artifact_ports(output_types)})
    return env


def stage_artifact_inputs(store, inputs, types, folder):
    """Put the bytes of a unit's artifact inputs under the new folder `folder`, as `place_artifact_inputs` lays
    them out (the adapter mounts or copies it to ARTIFACTS_IN_DIR); False, and nothing made, when it has none.

    A damaged or unreachable store, or a reference no longer in it: ArtifactError naming the input.
    """
    _, placed = place_artifact_inputs(inputs, types)
    if not placed:
        return False
    os.mkdir(folder, 0o755)
    for reference, rel in placed:
        dest = os.path.join(folder, *rel.split("/"))
        os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
        try:
            store.stage(reference, dest)
        except (ArtifactError, OSError) as exc:
            raise ArtifactError(f"input {rel.split('/')[0]!r}: {exc}") from None
    return True


def store_host_paths(store, values, types, base=None, what="param"):
    """`values` with each artifact given as a host path (a `file`/`dir` param: the path of a file or folder on
    the host that runs the step; relative: to `base`, the pipeline file's folder) stored, and replaced by its
    reference: steps read the bytes, and the step cache keys on them, not on the path. A `file` must be a
    regular file, a `dir` a folder of regular files and folders, as for an output; else a ContractError."""
    out = dict(values)
    for name, kind in artifact_ports(types).items():
        value = values.get(name)
        if not isinstance(value, str):
            continue  # a reference already, or null
        if kind not in ("file", "dir"):
            raise ContractError(f"{what} {name!r} is a {kind}: give it as a list of references, not a path")
        path = os.path.expanduser(value)
        if not os.path.isabs(path) and base is not None:
            path = os.path.join(base, path)
        where = f"{what} {name!r} ({value})"
        try:
            out[name] = store.put_dir(path, where) if kind == "dir" else store.put_file(path, where)
        except ArtifactError as exc:
            raise ContractError(str(exc).replace("the step left nothing at its path", "no such file or folder")) from None
        except OSError as exc:
            raise ArtifactError(f"{where} could not be stored: {exc}") from None
    return out


def place_buffer(store, value, path):
    """A Tyger input buffer's content at the new file `path`: a stored buffer's bytes (its reference, as a run's
    output buffer is returned), else the value as text (a param holding the content)."""
    if is_reference(value, "file"):
        store.get(value, path)
        return
    with open(path, "x", encoding="utf-8") as f:
        f.write("" if value is None else str(value))


def store_buffer(store, path, name):
    """A Tyger output buffer the job left at `path`, stored (any size, a regular file only): its reference."""
    try:
        return store.put_file(path, f"output buffer {name!r}", take=True)
    except ArtifactError as exc:
        raise ContractError(str(exc)) from None


def step_outputs(text, declared, fanout, where, store=None, out_dir=None):
    """A step's checked result: its outputs file's JSON outputs (`decode_outputs`), and what it left at its
    artifact outputs' paths (`out_dir` on this host), stored (`store_artifact_outputs`)."""
    columns = decode_outputs(text, json_ports(declared), fanout, where)
    if artifact_ports(declared):
        columns.update(store_artifact_outputs(store, out_dir, declared, where))
    return columns


def store_artifact_outputs(store, out_dir, output_types, where):
    """{port: reference} of what the step left at each artifact output's path (`out_dir` on this host), stored."""
    refs = {}
    for name, kind in artifact_ports(output_types).items():
        path = os.path.join(out_dir, name)
        try:
            # `take`: the step's container has exited and its io folder goes when the run ends.
            refs[name] = store.put_dir(path, f"output {name!r} of {where}", take=True) if kind == "dir" else \
                store.put_file(path, f"output {name!r} of {where}", take=True)
        except ArtifactError as exc:
            raise ContractError(str(exc)) from None
        except OSError as exc:  # the store itself (a full disk, an unreachable bucket): the step fails, it says why
            raise ArtifactError(f"output {name!r} of {where} could not be stored: {exc}") from None
    return refs


# ---------------------------------------------------------------- what the step wrote


def decode_signal(text, where):
    """None (no signal), (PRUNE, None) or (REQUEUE, seconds) from a signal file's text."""
    if text is None:
        return None
    try:
        value = loads_json(text)
    except ValueError as exc:
        raise ContractError(f"{where} wrote a signal file that is not JSON: {exc}") from None
    if value == {"signal": PRUNE}:
        return PRUNE, None
    if isinstance(value, dict) and value.get("signal") == REQUEUE and set(value) == {"signal", "delay_seconds"}:
        delay = value["delay_seconds"]
        if isinstance(delay, (int, float)) and not isinstance(delay, bool) and delay >= 0:
            # At most a year (rtc's longest duration): a wait of 1e300 s would overflow sleep() or never end.
            if not delay <= 31_622_400:
                raise ContractError(f"{where}: a re-queue delay of {delay:g} s is longer than a year, the longest rtc accepts")
            return REQUEUE, float(delay)
    raise ContractError(
        f'{where} wrote a bad signal file: a signal file holds {{"signal": "prune"}} or {{"signal": "requeue", "delay_seconds": N}}, '
        f"not {text.strip()[:80]!r}"
    )


def decode_outputs(text, declared, fanout, where):
    """The step's result (columns) from its outputs file's text (None: it wrote none), checked against `declared`.

    `declared`: {output: type text}. An absent or empty file means no outputs.
    """
    if text is None or not text.strip():
        if declared:
            what = "an empty outputs file" if text is not None else "no outputs file"
            raise ContractError(
                f"{where} wrote {what} (expected a JSON {'list of objects' if fanout else 'object'} "
                f"in ${ENV_OUTPUTS_FILE} with {', '.join(declared)})"
            )
        return {}
    try:
        value = loads_json(text)
    except ValueError as exc:
        raise ContractError(f"{where} wrote outputs that are not valid JSON: {exc}; it wrote: {_excerpt(text)}") from None
    return check_result_rows(value, declared, fanout, where)


def check_result_rows(value, declared, fanout, where):
    """Columns from what a step wrote (an object, or a list of objects for a `fanout` node), checked."""
    if fanout:
        if not isinstance(value, list):
            raise ContractError(f"{where} is a fanout node and must write a JSON list of output objects, got {_json_type(value)}")
        rows = [_check_object(row, declared, f"{where} (item {i})") for i, row in enumerate(value)]
        return {name: [row[name] for row in rows] for name in declared}
    if isinstance(value, list):
        raise ContractError(f"{where} wrote a list, but it is not a fanout node (declare `fanout = true`)")
    return _check_object(value, declared, where)


def check_result(value, declared, fanout, where):
    """A result recorded earlier (the step cache) checked as a fresh one is: columns of the declared outputs."""
    if not isinstance(value, dict) or set(value) != set(declared):
        raise ContractError(f"{where}: the record is not an object of its outputs {sorted(declared)}")
    if not fanout:
        return check_result_rows(value, declared, False, where)
    columns = [value[name] for name in declared]
    if not all(isinstance(c, list) for c in columns) or len({len(c) for c in columns}) > 1:
        raise ContractError(f"{where}: the record's outputs are not lists of one length")
    return check_result_rows([dict(zip(declared, row)) for row in zip(*columns)], declared, True, where)


def _check_object(value, declared, where):
    if not isinstance(value, dict):
        raise ContractError(f"{where} must write a JSON object of outputs, got {_json_type(value)}")
    missing = [name for name in declared if name not in value]
    if missing:
        raise ContractError(f"{where} did not write output {', '.join(map(repr, missing))}")
    extra = sorted(set(value) - set(declared))
    if extra:
        raise ContractError(
            f"{where} wrote undeclared output {', '.join(map(repr, extra))} (declared: {', '.join(declared) or 'none'})"
        )
    for name, type_text in declared.items():
        problem = check_value(value[name], type_text, f"output {name!r} of {where}")
        if problem:
            raise ContractError(problem)
    return {name: value[name] for name in declared}


# ---------------------------------------------------------------- retries


def smallest_retry_delay(policy, retries):
    """The smallest delay before any of `retries` retries under `policy` (`contract.retry_delay` with its
    jitter drawn at the least): for an orchestrator that waits one fixed delay before each retry
    (Prefect's `retry_delay_seconds`, one number so that its UI can show it), while the runtime
    waits the rest of each retry's delay itself.
    """
    return min(retry_delay(policy, n, lambda a, b: a) for n in range(1, retries + 1))


# ---------------------------------------------------------------- a fan-out's elements, together


def merge_elements(results, declared, fanout):
    """The result of a fanned-out step from its elements' results (None: an element pruned itself).

    Pruned elements drop out; with none left every output is an empty list, and the steps below run.
    A `fanout` node's elements each give lists, which are concatenated.
    """
    merged = {name: [] for name in declared}
    for result in results:
        if result is None:
            continue
        for name in declared:
            if fanout:
                merged[name].extend(result[name])
            else:
                merged[name].append(result[name])
    return merged


def _json_type(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__)


def _excerpt(text, limit=120):
    text = text.strip()
    return repr(text if len(text) <= limit else text[:limit] + "…")
