"""The container contract: its names and limits, the run-time type check, and how io files are read.

Standard library only: this module is part of the runtime package that
generated DAGs and flows carry beside them, and of the node SDK baked into
images. docs/runtime.md describes the contract.
"""

from __future__ import annotations


# Where a step finds its inputs and leaves its outputs inside the container.
IO_DIR = "/rtc/io"
# Artifacts (`file` / `dir` ports): inputs read-only under ARTIFACTS_IN_DIR, outputs left under ARTIFACTS_OUT_DIR.
ARTIFACTS_IN_DIR = "/rtc/in"
ARTIFACTS_OUT_DIR = IO_DIR + "/out"
INPUTS_FILE = IO_DIR + "/inputs.json"
OUTPUTS_FILE = IO_DIR + "/outputs.json"
ENV_INPUTS = "RTC_INPUTS"  # JSON object of all inputs, also given as a file
ENV_INPUTS_FILE = "RTC_INPUTS_FILE"
ENV_OUTPUTS_FILE = "RTC_OUTPUTS_FILE"
ENV_MAP_INDEX = "RTC_MAP_INDEX"  # only in a fanned-out step: the element's 0-based index
# Linux refuses one environment variable over 128 KiB (MAX_ARG_STRLEN) when it
# starts the step's program; larger inputs travel only in the inputs file.
MAX_INPUTS_ENV = 64 * 1024
ENV_SIGNAL_FILE = "RTC_SIGNAL_FILE"  # a step may write {"signal": "prune"} or {"signal": "requeue", ...}
SIGNAL_FILE = IO_DIR + "/signal.json"
MAX_REQUEUES = 100
# Caps on what rtc reads back from a step's io folder: enough for any result that belongs in
# XCom or a flow result (larger data travels through a mount or a Tyger buffer).
MAX_OUTPUTS_BYTES = 64 * 1024 * 1024
MAX_SIGNAL_BYTES = 64 * 1024
# A step's io folder: only its owner and the group the container is given may enter it (never the world).
IO_DIR_MODE = 0o2770
ENV_STEP = "RTC_STEP"
# Tyger runs: which replica a container is (both names, as Tyger's own jobs see it).
ENV_REPLICA_INDEX = ("RTC_REPLICA_INDEX", "REPLICA_INDEX")
BUFFERS_DIR = "/rtc/buffers"
ENV_RUN_ID = "RTC_RUN_ID"
LABEL_RUN = "rtc.run"
LABEL_STEP = "rtc.step"
LABEL_PIPELINE = "rtc.pipeline"


def check_value(value, type_text, where="value"):
    """Return None when `value` (decoded JSON) matches `type_text`, else a message."""

    def parse(text):
        text = text.replace(" ", "")
        if text.startswith("list[") and text.endswith("]"):
            return ("list", parse(text[5:-1]))
        if text.startswith("dict[str,") and text.endswith("]"):
            return ("dict", parse(text[9:-1]))
        return (text,)

    def check(v, t, path):
        kind = t[0]
        if kind == "json":
            return None
        if kind == "str":
            ok = isinstance(v, str)
        elif kind == "bool":
            ok = isinstance(v, bool)
        elif kind == "int":
            ok = isinstance(v, int) and not isinstance(v, bool)
        elif kind == "float":
            ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        elif kind in ("file", "dir"):  # a reference into the artifact store (rtc.runtime.artifacts)
            ok = (isinstance(v, dict) and v.get("artifact") == kind and set(v) == {"artifact", "sha256", "size", "uri"}
                  and isinstance(v["sha256"], str) and isinstance(v["size"], int))
            if not ok:
                return f"{path} should be a reference to a stored {kind}, got {type(v).__name__} {v!r:.60}"
        elif kind == "list":
            if not isinstance(v, list):
                return f"{path} should be a list, got {type(v).__name__} {v!r:.60}"
            for i, item in enumerate(v):
                problem = check(item, t[1], f"{path}[{i}]")
                if problem:
                    return problem
            return None
        elif kind == "dict":
            if not isinstance(v, dict):
                return f"{path} should be an object, got {type(v).__name__} {v!r:.60}"
            for key, item in v.items():
                problem = check(item, t[1], f"{path}[{key!r}]")
                if problem:
                    return problem
            return None
        else:
            return f"{path} has unknown type {kind!r}"
        if not ok:
            return f"{path} should be {kind}, got {type(v).__name__} {v!r:.60}"
        return None

    return check(value, parse(type_text), where)


def daemon_command(words):
    """A daemon's shell command line: its words joined by spaces, as envd's supervisor (horust) gets them.

    envd users write `["python3", "serving.py", ">>serving.log", "2>&1"]` and
    rely on the line being read by a shell, so the redirection works; a word
    with a space in it splits, as under envd.
    """
    return " ".join(words)


def step_argv(argv, init=(), daemons=()):
    """The argv a step's container runs: the environment's init commands and daemons first.

    Without init commands or daemons this is `argv` itself (no shell needed,
    so scratch images work). Otherwise `sh` runs the init commands in order
    (any failure fails the step), then starts each daemon in the background,
    as envd does (daemons start after init): its `daemon_command` line run by
    `sh -c`, its output in /var/log/rtc/daemon-N.log; then it execs the
    step's own argv. Every value is passed as a positional argument, never
    pasted into the shell script, so no string can break out of it.
    """
    argv = list(argv)
    if not init and not daemons:
        return argv
    lines = ["set -e", "mkdir -p /var/log/rtc"]
    args = []
    for command in init:
        args.append(command)
        lines.append(f'sh -c "${{{len(args)}}}"')
    for i, daemon in enumerate(daemons):
        args.append(daemon_command(daemon))
        lines.append(f'sh -c "${{{len(args)}}}" >>/var/log/rtc/daemon-{i}.log 2>&1 &')
    lines.append(f"shift {len(args)}")
    lines.append('exec "$@"')
    return ["sh", "-c", "\n".join(lines), "rtc-step", *args, *argv]


# A retry never waits longer than this, whatever the policy computes: Airflow and
# Prefect keep delays as timestamps, and an exponential without `max_delay` overflows them.
# A year, compiler.bounds.MAX_DURATION_SECONDS (written out: this module stands alone).
MAX_RETRY_DELAY = 366 * 24 * 3600.0


# What a policy dict means by a missing key (compiler.ir.RetryPolicy's defaults; a test holds them equal):
# generated files write only the keys that differ.
RETRY_DEFAULTS = {"strategy": "exponential", "jitter": "none", "delay": 1.0, "exponent": 2.0, "max_delay": None}


def retry_delay(policy, retry, uniform=None):
    """Seconds to wait before retry number `retry` (1-based), as Exosphere's state manager computes it.

    `policy` is a dict with `strategy` ("exponential", "linear" or "fixed"),
    `jitter` ("none", "full" or "equal"), `delay` (Exosphere's backoff_factor,
    in seconds), `exponent` and `max_delay` (seconds or None); a missing key
    takes its value from RETRY_DEFAULTS (the IR's defaults). The base is
    delay * exponent ** (retry - 1), delay * retry, or delay; full jitter draws
    uniform(0, base), equal jitter base / 2 + uniform(0, base / 2); the result
    is capped by max_delay. `uniform(a, b)` defaults to random.uniform; passing
    `lambda a, b: a` gives the smallest possible delay, `lambda a, b: b` the largest.
    """
    import random

    policy = {**RETRY_DEFAULTS, **policy}
    draw = uniform or random.uniform
    delay = float(policy["delay"])
    strategy = policy["strategy"]
    if strategy == "exponential":
        try:
            base = delay * float(policy["exponent"]) ** (retry - 1)
        except OverflowError:
            base = float("inf")
    elif strategy == "linear":
        base = delay * retry
    elif strategy == "fixed":
        base = delay
    else:
        raise ValueError(f"unknown retry strategy {strategy!r}")
    base = min(base, MAX_RETRY_DELAY)
    jitter = policy["jitter"]
    if jitter == "full":
        base = draw(0.0, base)
    elif jitter == "equal":
        base = base / 2 + draw(0.0, base / 2)
    if policy["max_delay"] is not None:
        base = min(base, float(policy["max_delay"]))
    return base


class IoFileError(ValueError):
    """A file in a step's io folder that rtc refuses to read (not a regular file, or too large)."""


def read_io_file(folder, name, limit):
    """The text of `name` in a step's io folder, or None when the step did not write it.

    The step controls the folder, so nothing it leaves there is trusted: only a
    regular file directly in `folder` is read, opened relative to the folder
    without following symlinks (O_NOFOLLOW; a symlink to a host file, a FIFO,
    a device or a folder is refused, never opened), and at most `limit` bytes.
    Raises IoFileError with a message for the step's log. Self-contained (the
    Airflow runtime carries its source, see `io_source`).
    """
    import os
    import stat

    kinds = {
        stat.S_IFLNK: "a symlink", stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a folder", stat.S_IFSOCK: "a socket",
        stat.S_IFCHR: "a device", stat.S_IFBLK: "a device",
    }
    if not name or "/" in name or name in (".", ".."):
        raise IoFileError(f"{name!r} is not a file name")
    dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            kind = kinds.get(stat.S_IFMT(st.st_mode), "not a regular file")
            raise IoFileError(f"{name} is {kind}: rtc reads only a regular file the step wrote in its io folder")
        if st.st_size > limit:
            raise IoFileError(
                f"{name} is over rtc's limit of {limit} bytes ({st.st_size} bytes; "
                "pass large data through a mount or a buffer)"
            )
        # O_NONBLOCK: a FIFO swapped in after the check cannot hang the open; fstat proves it is the same file.
        flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, dir_fd=dir_fd)
        except OSError as exc:
            raise IoFileError(f"{name} cannot be opened: {exc.strerror}") from None
        try:
            opened = os.fstat(fd)
            if not stat.S_ISREG(opened.st_mode) or (opened.st_dev, opened.st_ino) != (st.st_dev, st.st_ino):
                raise IoFileError(f"{name} was replaced while rtc read it")
            chunks, size = [], 0
            while True:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise IoFileError(f"{name} grew over rtc's limit of {limit} bytes while rtc read it")
        finally:
            os.close(fd)
    finally:
        os.close(dir_fd)
    return b"".join(chunks).decode("utf-8", "replace")


def read_io_archive(chunks, name, limit):
    """`read_io_file` for a file fetched from a container as a tar stream (Docker's get_archive).

    The same rules: only a regular file is read (Docker archives a symlink as a
    link, never its target), at most `limit` bytes, and the stream itself is
    not read past the limit plus the tar headers.
    """
    import io
    import tarfile

    data, size = [], 0
    for chunk in chunks:
        size += len(chunk)
        if size > limit + 64 * 1024:
            raise IoFileError(f"{name} is over rtc's limit of {limit} bytes (pass large data through a mount or a buffer)")
        data.append(chunk)
    with tarfile.open(fileobj=io.BytesIO(b"".join(data))) as tar:
        member = tar.next()
        if member is None:
            return None
        if not member.isfile():
            kind = ("a symlink" if member.issym() or member.islnk() else "a folder" if member.isdir()
                    else "a FIFO" if member.isfifo() else "a device" if member.isdev() else "not a regular file")
            raise IoFileError(f"{name} is {kind}: rtc reads only a regular file the step wrote in its io folder")
        if member.size > limit:
            raise IoFileError(
                f"{name} is over rtc's limit of {limit} bytes ({member.size} bytes; "
                "pass large data through a mount or a buffer)"
            )
        return tar.extractfile(member).read().decode("utf-8", "replace")


# The events rtc's Prefect flows emit for graphs that others are `on` (rtc.runtime.prefect.finish): their
# resource is `rtc.NS.GRAPH` (a run succeeded) or `rtc.NS.GRAPH.STEP.OUTPUT` (a step recorded an output, the
# value in the payload's `value`).
EVENT_RUN_SUCCEEDED = "rtc.graph.succeeded"
EVENT_OUTPUT_RECORDED = "rtc.output.recorded"


def path_variable(port):
    """The variable naming an artifact port's path in the container: `model` -> MODEL_PATH, `my-data` -> MY_DATA_PATH."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in port).upper() + "_PATH"


def pipe_variable(buffer):
    """The variable naming a Tyger buffer's file: `input` -> INPUT_PIPE, `my-data` -> MY_DATA_PIPE."""
    return "".join(c if c.isascii() and c.isalnum() else "_" for c in buffer).upper() + "_PIPE"


def expand_container(command, args, env, system_env):
    """Kubernetes' `$(NAME)` expansion for one container: returns (command, args, environment).

    Tyger runs its codespecs as Kubernetes does: `$(NAME)` in `command`,
    `args` and `env` values is replaced by the variable NAME of the
    container's environment; `$$` stands for one `$` (so `$$(NAME)` is the
    literal `$(NAME)`); a reference to a name that is not defined is left as
    written. `env` is the codespec's own, `system_env` what the runner adds
    (`<BUFFER>_PIPE`, `REPLICA_INDEX`, worker variables, ...), which wins
    over a codespec variable of the same name. An `env` value sees the
    runner's variables and the codespec variables defined before it
    (Kubernetes' "previously defined" rule); a Tyger `env` is a map whose
    order no target keeps (IR JSON, run store and DAG files sort it), so
    "before" means before in name order. `command` and `args` see the whole
    environment. Self-contained: generated Airflow and Prefect files carry
    its source (see `expand_container_source`), so every target expands
    identically.
    """

    def expand(text, known):
        out, i, n = [], 0, len(text)
        while i < n:
            if text[i] != "$" or i + 1 == n:
                out.append(text[i])
                i += 1
            elif text[i + 1] == "$":  # `$$` is an escaped `$`
                out.append("$")
                i += 2
            elif text[i + 1] == "(":
                close = text.find(")", i + 2)
                if close < 0:  # an unclosed `$(` stays as written
                    out.append("$(")
                    i += 2
                    continue
                name = text[i + 2:close]
                out.append(known[name] if name in known else text[i:close + 1])
                i = close + 1
            else:  # `$x` is not a reference
                out.append(text[i:i + 2])
                i += 2
        return "".join(out)

    environment = {}
    for name, value in sorted(env.items()):
        environment[name] = expand(str(value), {**environment, **system_env})
    environment.update(system_env)
    return (
        [expand(str(a), environment) for a in command or ()],
        [expand(str(a), environment) for a in args or ()],
        environment,
    )


def buffer_file(buffer):
    """Where a Tyger buffer is inside the container (every target): `my-data` -> /rtc/buffers/my_data."""
    return BUFFERS_DIR + "/" + pipe_variable(buffer)[: -len("_PIPE")].lower()
