"""Which artifacts `rtc run`'s records point at: the references in recorded graph runs and in the step cache.

`rtc artifacts ls` shows them beside the store's blobs; `rtc artifacts gc` keeps every blob a
reference reaches (a folder's manifest and the files it names) and may remove the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rtc.runtime.artifacts import is_reference


@dataclass(frozen=True)
class Use:
    """Where one reference was found: a recorded run's step output, or a cache entry."""

    reference: dict
    where: str  # `<run id> <step>.<output>` or `cache <pipeline>/<graph>/<step>`


def references_in(value, path: str = ""):
    """(output path, reference) of every artifact reference inside a JSON value."""
    if is_reference(value):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from references_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from references_in(item, f"{path}[{i}]")


def recorded_uses(store, run_id: str | None = None) -> list[Use]:
    """References in the outputs of recorded graph runs (`rtc run`'s records, rtc.integrations.local.history)."""
    from rtc.integrations.local.history import ensure_tables

    ensure_tables(store)
    query = "SELECT run_id, step, outputs FROM graph_run_steps WHERE is_step = 1 AND outputs IS NOT NULL"
    with store._connect() as db:
        rows = db.execute(query + (" AND run_id = ?" if run_id else "") + " ORDER BY run_id, step",
                          (run_id,) if run_id else ()).fetchall()
    uses = []
    for run, step, text in rows:
        try:
            outputs = json.loads(text)
        except ValueError:
            continue
        uses += [Use(ref, f"{run} {step}.{path}") for path, ref in references_in(outputs)]
    return uses


def cached_uses(cache) -> list[Use]:
    """References in the step cache's recorded outputs."""
    return [Use(ref, f"cache {e.pipeline}/{e.graph}/{e.step}.{path}")
            for e in cache.entries() for path, ref in references_in(e.outputs)]


def reachable(store, uses: list[Use]) -> set[str]:
    """Digests of every blob the references reach: files, folders' manifests and their files."""
    keep = set()
    for use in uses:
        digest = use.reference["sha256"]
        keep.add(digest)
        if use.reference["artifact"] == "dir" and store.has(digest):
            keep.update(store.manifest_files(digest))
    return keep
