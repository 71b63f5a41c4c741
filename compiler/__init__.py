"""Checking and lowering: syntax trees in, a checked `ir.Pipeline` out.

The passes, in order (one module each):

1. `resolve`     the symbol table across the main file and its imports (E310)
2. `attributes`  each block against its kind's schema (E2xx), via the lowerers
3. `lower_node`  nodes: ports, program, retry policy
4. `lower_env`   environments: build spec, image tag, runtime settings
5. `lower_graph` graphs: params, wiring, fan-out types, cycles, order (`order`)
6. `lower_tyger` codespecs and runs

Every pass reports into one `DiagnosticBag` and carries on, so a run shows
as many errors as it can; `compile_modules` raises one `CompileError` with
all of them, sorted by position.
"""

from __future__ import annotations

__all__ = ["CompileError", "compile_file", "compile_modules", "fewer_collections"]

# Loaded on first use, so that importing `rtc.base.diagnostics` (the CLI
# does, for every command) does not import pydantic and every pass.
_LAZY = {"compile_file", "compile_modules", "fewer_collections"}


def __getattr__(name):
    if name in _LAZY:
        from rtc.compiler import driver

        return getattr(driver, name)
    if name == "CompileError":
        from rtc.base.diagnostics import CompileError

        return CompileError
    raise AttributeError(f"module 'rtc.compiler' has no attribute {name!r}")
