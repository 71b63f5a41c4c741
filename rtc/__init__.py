"""rtc: one pipeline file, compiled to Airflow, Prefect, or a local Docker run.

Importing `rtc` is cheap: the node SDK (`BaseNode`, `PruneSignal`,
`ReQueueAfterSignal`) is loaded on first use, so that the CLI starts fast and
the SDK works in images that carry only `rtc/__init__.py`, `rtc/runtime/contract.py`
and `rtc/node.py`.
"""

__version__ = "0.1.0"

__all__ = ["BaseNode", "PruneSignal", "ReQueueAfterSignal", "__version__"]

_SDK_NAMES = ("BaseNode", "PruneSignal", "ReQueueAfterSignal")


def __getattr__(name):
    if name in _SDK_NAMES:
        from rtc import node

        return getattr(node, name)
    raise AttributeError(f"module 'rtc' has no attribute {name!r}")
