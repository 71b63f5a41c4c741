"""rtc: one pipeline file, compiled to Airflow, Prefect, or a local Docker run.

Importing `rtc` is cheap: `BaseNode` (the node SDK) is loaded on first use, so
that the CLI starts fast and the SDK works in images that carry only
`rtc/__init__.py`, `rtc/contract.py` and `rtc/node.py`.
"""

__version__ = "0.1.0"

__all__ = ["BaseNode", "__version__"]


def __getattr__(name):
    if name == "BaseNode":
        from rtc.node import BaseNode

        return BaseNode
    raise AttributeError(f"module 'rtc' has no attribute {name!r}")
