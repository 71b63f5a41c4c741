"""Which extra brings a missing package, and the one message that says so.

The main jobs (check, fmt, compile to every target, graph, schema, run,
build, exec, env, gc) need only rtc's default dependencies. Other commands
import a package of an extra inside the command (`rtc deploy`: prefect;
`rtc lsp` and `rtc check --watch`: pygls, watchfiles). Where it is missing,
`rtc.cli.main` turns the ModuleNotFoundError into one line naming the extra
to install and exit status 1, never a traceback.
"""

from __future__ import annotations

# Top-level import name -> the extra of pyproject.toml that installs it.
EXTRA_OF_MODULE = {
    "prefect": "prefect",
    "airflow": "airflow",
    "docker": "docker",
    "pygls": "lsp",
    "lsprotocol": "lsp",
    "watchfiles": "lsp",
    "celery": "deploy",
    "redis": "deploy",
    "psycopg2": "deploy",
    "asyncpg": "deploy",
}


def extra_for(exc: ModuleNotFoundError) -> str | None:
    """The extra whose package `exc` did not find, or None when no extra brings it (a real bug)."""
    top = (exc.name or "").partition(".")[0]
    return EXTRA_OF_MODULE.get(top)


def missing_extra_message(exc: ModuleNotFoundError, command: str | None) -> str | None:
    """`error: ...` and the pip command, or None when `exc` is not about an extra."""
    extra = extra_for(exc)
    if extra is None:
        return None
    package = (exc.name or "").partition(".")[0]
    what = f"rtc {command}" if command else "this command"
    return f"error: {what} needs the Python package {package!r}, which is not installed: pip install 'rtc[{extra}]'"


def require(*modules: str) -> None:
    """Fail now, before any work, when one of `modules` (of an extra) is not installed."""
    import importlib.util

    for module in modules:
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            raise ModuleNotFoundError(f"No module named {module!r}", name=module)
