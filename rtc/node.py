"""The node SDK: Exosphere's `BaseNode`, run inside a container under rtc's contract.

    from pydantic import BaseModel
    from rtc import BaseNode

    class Greet(BaseNode):
        class Inputs(BaseModel):
            name: str
        class Outputs(BaseModel):
            greeting: str
        class Secrets(BaseModel):
            API_KEY: str

        async def execute(self):
            return self.Outputs(greeting=f"hello {self.inputs.name}")

`python -m rtc.node module:Class` reads the inputs (`RTC_INPUTS`), the secrets
(environment variables named as the Secrets fields), runs `execute`, checks
what it returns against `Outputs` and writes it as JSON to `RTC_OUTPUTS_FILE`.
Returning a list of Outputs fans out: a JSON list is written. Raising
`PruneSignal()` or `ReQueueAfterSignal(seconds)` in `execute` sends that
signal instead (a JSON object in `RTC_SIGNAL_FILE`) and writes no outputs.

This module runs inside images that carry only rtc/__init__.py, rtc/runtime/contract.py
and this file, so it imports nothing but the standard library and pydantic.
docs/runtime.md is the reference for the contract.
"""

from __future__ import annotations

import abc
import asyncio
import datetime
import importlib
import inspect
import json
import math
import os
import pathlib
import shutil
import sys
import traceback
from typing import Any

from pydantic import BaseModel, ValidationError

from rtc.runtime import contract

EXIT_OK = 0
EXIT_EXECUTE_FAILED = 1
EXIT_BAD_INPUTS = 2  # also: bad usage, missing secrets, a class that cannot be loaded
EXIT_BAD_OUTPUTS = 3


class BaseNode(abc.ABC):
    """Subclass it, declare the nested models, write `async def execute(self)`."""

    class Inputs(BaseModel):
        pass

    class Outputs(BaseModel):
        pass

    class Secrets(BaseModel):
        pass

    def __init__(self, inputs: BaseModel, secrets: BaseModel):
        self.inputs = inputs
        self.secrets = secrets

    def output_path(self, name: str) -> pathlib.Path:
        """Where to leave the `file`/`dir` output `name` (`<NAME>_PATH`); returning another path in Outputs works too."""
        variable = contract.path_variable(name)
        if variable not in os.environ:
            raise KeyError(f"{variable} is not set: {name!r} is not a file or dir output of this step")
        return pathlib.Path(os.environ[variable])

    @abc.abstractmethod
    async def execute(self) -> Any:
        """Return an `Outputs` (or a dict of them), a list of those to fan out, or None without outputs."""


class PruneSignal(Exception):
    """Raise it in `execute` to end this step pruned: no outputs, the steps below it are skipped, the run still succeeds."""

    def payload(self) -> dict:
        return {"signal": "prune"}


class ReQueueAfterSignal(Exception):
    """Raise it in `execute` to run this step again, with the same inputs, after `delay` (seconds or a timedelta)."""

    def __init__(self, delay: float | datetime.timedelta):
        if isinstance(delay, datetime.timedelta):
            seconds = delay.total_seconds()
        elif isinstance(delay, (int, float)) and not isinstance(delay, bool):
            seconds = float(delay)
        else:
            raise TypeError(f"ReQueueAfterSignal takes seconds or a datetime.timedelta, got {type(delay).__name__}")
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"ReQueueAfterSignal needs a finite delay of at least 0 seconds, got {seconds!r}")
        super().__init__(f"re-queue after {seconds:g}s")
        self.delay_seconds = seconds

    def payload(self) -> dict:
        return {"signal": "requeue", "delay_seconds": self.delay_seconds}


class NodeFailure(Exception):
    """A contract violation reported on stderr with an exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


_loading = 0  # > 0 while load_class imports user code


def loading_user_code() -> bool:
    """True while a step imports the user's module: Exosphere's `Runtime(...).start()` at its top level then returns."""
    return _loading > 0


def load_class(target: str) -> type[BaseNode]:
    global _loading
    module_name, sep, class_name = target.partition(":")
    if not sep or not module_name or not class_name:
        raise NodeFailure(f"expected module:Class, got {target!r}", EXIT_BAD_INPUTS)
    _loading += 1
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise NodeFailure(f"cannot import {module_name!r}: {exc} (PYTHONPATH={os.environ.get('PYTHONPATH', '')!r})", EXIT_BAD_INPUTS) from None
    finally:
        _loading -= 1
    cls = getattr(module, class_name, None)
    if not (inspect.isclass(cls) and issubclass(cls, BaseNode)):
        raise NodeFailure(f"{target!r} is not a BaseNode subclass", EXIT_BAD_INPUTS)
    return cls


def read_inputs(environ=os.environ) -> dict:
    """The inputs object: `RTC_INPUTS`, or the file named by `RTC_INPUTS_FILE`, else {}."""
    text = environ.get(contract.ENV_INPUTS)
    if text is None and environ.get(contract.ENV_INPUTS_FILE):
        with open(environ[contract.ENV_INPUTS_FILE], encoding="utf-8") as f:
            text = f.read()
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NodeFailure(f"{contract.ENV_INPUTS} is not valid JSON: {exc}", EXIT_BAD_INPUTS) from None
    if not isinstance(value, dict):
        raise NodeFailure(f"{contract.ENV_INPUTS} must be a JSON object, got {type(value).__name__}", EXIT_BAD_INPUTS)
    return value


def read_secrets(model: type[BaseModel], environ=os.environ) -> dict:
    """Each Secrets field from the environment variable of the same name (or its alias)."""
    found = {}
    for name, info in model.model_fields.items():
        var = info.alias or name
        if var in environ:
            found[var] = environ[var]
    return found


def describe(error: ValidationError, show_values: bool = True) -> str:
    """One line per problem; values are left out for secrets."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(root)"
        text = f"  - {where}: {item['msg']}"
        if show_values and item["type"] != "missing":
            text += f" (got {item.get('input')!r:.80})"
        lines.append(text)
    return "\n".join(lines)


def build_node(cls: type[BaseNode], environ=os.environ) -> BaseNode:
    try:
        inputs = cls.Inputs.model_validate(read_inputs(environ))
    except ValidationError as exc:
        raise NodeFailure(f"inputs do not match {cls.__name__}.Inputs:\n{describe(exc)}", EXIT_BAD_INPUTS) from None
    try:
        secrets = cls.Secrets.model_validate(read_secrets(cls.Secrets, environ))
    except ValidationError as exc:
        raise NodeFailure(
            f"secrets do not match {cls.__name__}.Secrets (set them as environment variables):\n"
            f"{describe(exc, show_values=False)}",
            EXIT_BAD_INPUTS,
        ) from None
    try:
        inspect.signature(cls).bind(inputs, secrets)
    except TypeError:  # Exosphere's nodes take no arguments; inputs and secrets are set before execute()
        node = cls()
        node.inputs, node.secrets = inputs, secrets
        return node
    return cls(inputs, secrets)


def encode_outputs(cls: type[BaseNode], result: Any) -> Any:
    """Validate what execute() returned; a JSON-ready object, or a list of them (fan-out)."""

    def one(item, where):
        if isinstance(item, BaseModel) and not isinstance(item, cls.Outputs):
            item = item.model_dump()
        try:
            model = item if isinstance(item, cls.Outputs) else cls.Outputs.model_validate(item)
        except ValidationError as exc:
            raise NodeFailure(f"{where} does not match {cls.__name__}.Outputs:\n{describe(exc)}", EXIT_BAD_OUTPUTS) from None
        return model.model_dump(mode="json")

    if result is None:
        return one({}, "execute() returned None, which")
    if isinstance(result, (list, tuple)):
        return [one(item, f"item {i} of the list execute() returned") for i, item in enumerate(result)]
    return one(result, "what execute() returned")


def artifact_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a model annotated as a path (`pathlib.Path`, pydantic's FilePath, DirectoryPath): file/dir ports."""
    return [name for name, info in model.model_fields.items()
            if inspect.isclass(info.annotation) and issubclass(info.annotation, pathlib.PurePath)]


def place_artifact_outputs(cls: type[BaseNode], encoded: Any, environ=os.environ) -> Any:
    """The outputs without their file/dir fields, each moved to its `<NAME>_PATH` first when it was left elsewhere:
    the runner stores what is at that path (the JSON outputs carry only values)."""
    if not isinstance(encoded, dict):
        return encoded  # a fan-out's list: such nodes have no file/dir outputs (E205)
    for name in artifact_fields(cls.Outputs):
        left = encoded.pop(name, None)
        target = environ.get(contract.path_variable(name))
        if left is None or target is None:
            if target is None and left is not None:
                encoded[name] = left  # run outside rtc's contract: the path is the value
            continue
        if os.path.abspath(left) != os.path.abspath(target):
            try:
                shutil.move(left, target)
            except OSError as exc:
                raise NodeFailure(f"output {name!r}: cannot move {left} to {target}: {exc}", EXIT_BAD_OUTPUTS) from None
    return encoded


def run(target: str, environ=os.environ) -> int:
    """Run one node under the contract; returns the process exit code."""
    try:
        cls = load_class(target)
    except NodeFailure as exc:
        print(f"rtc.node: {target}: {exc}", file=sys.stderr)
        return exc.exit_code
    return run_class(cls, target, environ)


def run_class(cls: type[BaseNode], target: str, environ=os.environ) -> int:
    """Run a loaded node class under the contract (`target` names it in messages); returns the exit code."""
    try:
        node = build_node(cls, environ)
        try:
            result = node.execute()
            if inspect.isawaitable(result):
                result = asyncio.run(_await(result))
        except (PruneSignal, ReQueueAfterSignal) as sent:
            return send_signal(target, sent.payload(), environ)
        except Exception:  # noqa: BLE001 - the user's code failed: show its traceback in the step's log
            traceback.print_exc()
            print(f"rtc.node: {target}.execute() raised", file=sys.stderr)
            return EXIT_EXECUTE_FAILED
        payload = json.dumps(place_artifact_outputs(cls, encode_outputs(cls, result), environ), ensure_ascii=False)
    except NodeFailure as exc:
        print(f"rtc.node: {target}: {exc}", file=sys.stderr)
        return exc.exit_code
    path = environ.get(contract.ENV_OUTPUTS_FILE)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(payload)
    else:
        print(payload)
    return EXIT_OK


def send_signal(target: str, payload: dict, environ=os.environ) -> int:
    """Write the signal where the runner looks for it; without `RTC_SIGNAL_FILE` the step fails rather than pass unnoticed."""
    path = environ.get(contract.ENV_SIGNAL_FILE)
    if not path:
        print(
            f"rtc.node: {target}.execute() sent {payload['signal']!r}, but {contract.ENV_SIGNAL_FILE} is not set: "
            "this runner takes no signals",
            file=sys.stderr,
        )
        return EXIT_EXECUTE_FAILED
    with open(path, "w", encoding="utf-8") as f:
        f.write(json.dumps(payload))
    print(f"rtc.node: {target}.execute() sent {payload['signal']!r}", file=sys.stderr)
    return EXIT_OK


async def _await(awaitable):
    return await awaitable


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m rtc.node module:Class", file=sys.stderr)
        return EXIT_BAD_INPUTS
    # The working directory holds the user's code when no PYTHONPATH points at it.
    if "" not in sys.path and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    return run(argv[0])


if __name__ == "__main__":
    # Run the importable copy, so that user classes subclass the same BaseNode (`from rtc import BaseNode`).
    from rtc.node import main as _main

    raise SystemExit(_main())
