"""`exospherehost`, as rtc's images carry it: Exosphere node files run unchanged.

Every image rtc builds for Python nodes holds this file as the top-level
package `exospherehost` (next to the node SDK, first on PYTHONPATH), so a
node file written for Exosphere,

    from exospherehost import Runtime, BaseNode

    class MyNode(BaseNode):
        class Inputs(BaseModel): ...
        async def execute(self) -> Outputs: ...

    Runtime(namespace="MyProject", name="MyRuntime", nodes=[MyNode]).start()

runs as a step (`python = "main:MyNode"`) under the local runner, Airflow
and Prefect. There is no state manager to poll: rtc's runners start one
container per step, so `Runtime.start()` does what fits where it is called:

- while `python -m rtc.node main:MyNode` imports the file, it returns at once
  (the step then runs the class it names);
- in a step's container otherwise (`command = ["python3", "main.py"]`: the
  contract's RTC_OUTPUTS_FILE is set), it runs the one node it lists under the
  contract and exits with the node's exit code;
- anywhere else it stops with a message saying how to run the nodes with rtc.

`StateManager` (graph templates, triggers) has no counterpart inside a
container: a graph template is a YAML file that `rtc run` / `rtc compile`
reads. Standard library and pydantic only, like rtc/node.py.
"""

from __future__ import annotations

import os
import sys

from rtc.runtime import contract
from rtc import node as _node
from rtc.node import PruneSignal

__all__ = ["BaseNode", "Runtime", "StateManager", "PruneSignal", "ReQueueAfterSignal",
           "PruneSingal", "ReQueueAfterSingal", "VERSION"]

VERSION = "rtc-compat"
__version__ = VERSION

class ReQueueAfterSignal(_node.ReQueueAfterSignal):
    """Exosphere's ReQueueAfterSignal(timedelta=...), also rtc's ReQueueAfterSignal(seconds)."""

    def __init__(self, delay=None, timedelta=None):
        super().__init__(delay if delay is not None else timedelta)


# The SDK's own spelling of the signal classes.
PruneSingal = PruneSignal
ReQueueAfterSingal = ReQueueAfterSignal

EXIT_NOT_HERE = 2


class BaseNode(_node.BaseNode):
    """Exosphere's BaseNode: built without arguments, `inputs` and `secrets` set before `execute`."""

    def __init__(self, inputs=None, secrets=None):
        self.inputs = inputs
        self.secrets = secrets


class Runtime:
    """Takes Exosphere's arguments; `start()` runs a node under rtc's contract or says what to do instead."""

    def __init__(self, namespace: str, name: str, nodes=(), state_manager_uri: str | None = None,
                 key: str | None = None, batch_size: int = 16, workers: int = 4,
                 state_manager_version: str = "v0", poll_interval: int = 1):
        nodes = list(nodes or [])
        for item in nodes:
            if not (isinstance(item, type) and issubclass(item, _node.BaseNode)):
                raise ValueError(f"Runtime nodes must be BaseNode subclasses, got {item!r}")
        if not nodes:
            raise ValueError("Runtime needs at least one node in `nodes`")
        self.namespace = namespace
        self.name = name
        self.nodes = nodes

    def start(self):
        if _node.loading_user_code():
            return None  # rtc.node is importing this file to run the class a step names
        if os.environ.get(contract.ENV_OUTPUTS_FILE):
            if len(self.nodes) != 1:
                names = ", ".join(n.__name__ for n in self.nodes)
                _stop(f"Runtime({self.name!r}) lists {len(self.nodes)} nodes ({names}); a step runs one. "
                      f'Name it in the pipeline instead: python = "{_module_of(self.nodes[0])}:{self.nodes[0].__name__}"')
            cls = self.nodes[0]
            raise SystemExit(_node.run_class(cls, f"{cls.__module__}:{cls.__name__}"))
        names = ", ".join(f'python = "{_module_of(n)}:{n.__name__}"' for n in self.nodes)
        first = ""
        if globals().get("__rtc_stands_in__"):  # `import exospherehost` found no SDK; rtc's stand-in answered
            first = ("Exosphere's SDK (the exospherehost package) is not installed in this Python; rtc, which is, "
                     "answered the import. To serve a real Exosphere state manager, `pip install exospherehost`. "
                     "With rtc: ")
        _stop(f"{first}Runtime({self.namespace!r}, {self.name!r}).start(): rtc runs nodes itself, one container per "
              "step, and there is no Exosphere state manager to poll. Declare each node in a pipeline "
              f"({names}) and run it with {_run_command()}, or compile it for Airflow or Prefect.")


class StateManager:
    """Exosphere's client of the state manager: not available inside rtc's containers."""

    def __init__(self, *args, **kwargs):
        _stop("exospherehost.StateManager: rtc has no state manager. A graph template is a YAML file "
              "(nodes, next_nodes, store_config, triggers, retry_policy) that `rtc run` and `rtc compile` read.")


def _run_command() -> str:
    """`rtc run FILE GRAPH` naming the pipeline files beside the script (or one folder up), when there are some."""
    main = sys.modules.get("__main__")
    folder = os.path.dirname(os.path.abspath(getattr(main, "__file__", None) or "main.py"))
    found: list[str] = []
    for where in (folder, os.path.dirname(folder)):
        try:
            names = sorted(os.listdir(where))
        except OSError:
            continue
        names = [n for n in names if (n.endswith(".rt") and n != "nodes.rt") or n in ("pipeline.yaml", "pipeline.yml")]
        names.sort(key=lambda n: (not n.startswith("pipeline."), n))  # pipeline.* first; nodes.rt holds no graph
        found += [os.path.relpath(os.path.join(where, n)) for n in names]
        if found:
            break
    if not found:
        return "`rtc run pipeline.rt GRAPH`"
    return " or ".join(f"`rtc run {f} GRAPH`" for f in found[:3]) + " (GRAPH: one of the file's graphs)"


def _module_of(cls) -> str:
    module = cls.__module__
    if module == "__main__":
        main = sys.modules.get("__main__")
        path = getattr(main, "__file__", None) or "main.py"
        module = os.path.splitext(os.path.basename(path))[0]
    return module


def _stop(message: str):
    print(f"exospherehost (rtc): {message}", file=sys.stderr)
    raise SystemExit(EXIT_NOT_HERE)
