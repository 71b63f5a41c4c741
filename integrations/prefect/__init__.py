"""The Prefect target: flow modules per graph and run, prefect.yaml, and `rtc deploy` (see docs/prefect.md)."""

from rtc.integrations.prefect.emitter import render

__all__ = ["render"]
