"""`rtc artifacts ls|get|gc`: the files and folders steps passed on (`file`/`dir` ports), in rtc run's store."""

from __future__ import annotations

import argparse
import json
import os
import time

def register(subparsers) -> None:
    p = subparsers.add_parser(
        "artifacts",
        help="list, fetch or clean up the files and folders steps passed on (file/dir ports)",
        description="Steps' file and dir outputs are kept once, under their SHA-256, in rtc run's artifact store "
        "(RTC_STORE, default $RTC_HOME/artifacts). Recorded runs and cached steps refer to them.",
    )
    p.add_argument("--store", metavar="URL", help="a folder or s3://BUCKET/PREFIX (default: RTC_STORE, else $RTC_HOME/artifacts)")
    sub = p.add_subparsers(dest="artifacts_command", metavar="ls|get|gc", required=True)
    ls = sub.add_parser("ls", help="every artifact and what refers to it (a run's only, with RUN)")
    ls.add_argument("run", nargs="?", metavar="RUN", help="a graph run id (rtc run list)")
    ls.add_argument("--format", choices=("text", "json"), default="text")
    ls.set_defaults(func=_said_once(list_artifacts))
    get = sub.add_parser("get", help="write an artifact to a local path (a file, or a folder for a dir)")
    get.add_argument("digest", metavar="SHA256", help="its digest, or a unique prefix of it (as `ls` shows)")
    get.add_argument("dest", metavar="PATH", help="a path that does not exist yet")
    get.set_defaults(func=_said_once(get_artifact))
    gc = sub.add_parser("gc", help="remove what no recorded run and no cached step refers to")
    gc.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    gc.add_argument("--older-than", metavar="DURATION", default="1d",
                    help="keep unreferenced artifacts younger than this (default 1d: a run in progress records its "
                    "artifacts when it ends)")
    gc.set_defaults(func=_said_once(collect_artifacts))


def _store(args):
    from rtc.base.home import artifact_store

    return artifact_store({**os.environ, "RTC_STORE": args.store} if args.store else os.environ)


def _said_once(command):
    """A store that cannot be used (unreachable, damaged) is one message and exit 1, as every rtc error."""

    def run(args: argparse.Namespace) -> int:
        from rtc.base.diagnostics import RtcError
        from rtc.runtime.artifacts import ArtifactError

        try:
            return command(args)
        except ArtifactError as exc:
            raise RtcError(str(exc)) from None

    return run


def _uses(run: str | None = None):
    from rtc.base.home import steps_cache_dir
    from rtc.integrations.local.artifact_index import cached_uses, recorded_uses
    from rtc.integrations.tyger.store import Store
    from rtc.runtime.cache import StepCache

    uses = recorded_uses(Store(), run)
    return uses if run else uses + cached_uses(StepCache(steps_cache_dir()))


def list_artifacts(args: argparse.Namespace) -> int:
    from rtc.base.diagnostics import RtcError

    store, uses = _store(args), _uses(args.run)
    if args.run and not uses:
        raise RtcError(f"run {args.run!r} recorded no artifacts", hint="rtc run list shows the recorded runs")
    by_digest: dict[str, dict] = {}
    for use in uses:
        row = by_digest.setdefault(use.reference["sha256"], {**use.reference, "used_by": []})
        row["used_by"].append(use.where)
    if not args.run:
        for digest, size, _mtime in store.blobs():
            by_digest.setdefault(digest, {"artifact": None, "sha256": digest, "size": size, "used_by": []})
    # A folder's files are shown through the folder, not each on a line of its own.
    parts = {d for row in by_digest.values() if row["artifact"] == "dir" and store.has(row["sha256"])
             for d in store.manifest_files(row["sha256"])}
    rows = [row for row in by_digest.values() if not (row["artifact"] is None and row["sha256"] in parts)]
    for row in rows:
        row["stored"] = store.has(row["sha256"])
    if args.format == "json":
        print(json.dumps(sorted(rows, key=lambda r: r["sha256"]), indent=2))
        return 0
    if not rows:
        print(f"no artifacts in {store.url}")
    for row in sorted(rows, key=lambda r: r["sha256"]):
        kind = row["artifact"] or "blob"
        state = "" if row["stored"] else "  (missing from the store)"
        users = ", ".join(row["used_by"]) or "unreferenced"
        print(f"{row['sha256'][:12]}  {kind:4}  {row['size']:>12}  {users}{state}")
    return 0


def get_artifact(args: argparse.Namespace) -> int:
    from rtc.base.diagnostics import RtcError
    from rtc.files import output_path
    from rtc.runtime.artifacts import ArtifactError

    dest = output_path(args.dest, "PATH")
    if os.path.lexists(dest):
        raise RtcError(f"{dest} exists: rtc artifacts get writes a new file or folder only")
    digest = args.digest.lower().removeprefix("sha256:")
    store, uses = _store(args), _uses()
    known = {u.reference["sha256"]: u.reference for u in uses}
    matches = sorted({d for d, _, _ in store.blobs() if d.startswith(digest)} | {d for d in known if d.startswith(digest)})
    if len(digest) < 4 or not matches:
        raise RtcError(f"no artifact {args.digest!r} in {store.url}", hint="rtc artifacts ls lists them")
    if len(matches) > 1:
        raise RtcError(f"{args.digest!r} names {len(matches)} artifacts", hint="give more of the digest")
    reference = known.get(matches[0]) or {"artifact": "file", "sha256": matches[0], "size": 0, "uri": ""}
    try:
        store.get(reference, dest)
    except ArtifactError as exc:
        raise RtcError(str(exc)) from None
    print(f"wrote {dest} ({reference['artifact']} sha256:{matches[0][:12]})")
    return 0


def collect_artifacts(args: argparse.Namespace) -> int:
    from rtc.base.diagnostics import RtcError
    from rtc.base.quantities import parse_duration
    from rtc.integrations.local.artifact_index import reachable

    grace = parse_duration(args.older_than)
    if grace is None or not 0 <= grace <= 366 * 86400:
        raise RtcError(f"--older-than {args.older_than!r}: not a duration of at most a year", hint="e.g. 1d, 12h, 30m")
    store = _store(args)
    keep = reachable(store, _uses())
    now, removed, kept_young = time.time(), 0, 0
    for digest, size, mtime in store.blobs():
        if digest in keep:
            continue
        if now - mtime < grace:
            kept_young += 1
            continue
        print(f"{'would remove' if args.dry_run else 'removed'} {digest[:12]} ({size} bytes)")
        if not args.dry_run:
            store.remove(digest)
        removed += 1
    print(f"{removed} artifact(s) {'to remove' if args.dry_run else 'removed'}; {len(keep)} referenced kept"
          + (f"; {kept_young} unreferenced but younger than {args.older_than} kept" if kept_young else ""))
    return 0
