"""The compiler's case folders and how to (re)write their expectations.

- `examples/**/*.rt|yaml|yml` -> `tests/golden/<path without suffix>/ir.json`:
  the IR without spans and `source`, built-image tags shown as `rtc/<repo>:<tag>`
  (the hash covers rtc's own Dockerfile template, which other work changes;
  tests/compiler/test_golden.py checks the real tag separately). The .rt and
  YAML forms of one example share one golden file.
- the same example (first form only) -> `tests/golden/<path>/<target>/<file>` for
  every code-generating target (`airflow`, `prefect`): the generated files,
  with built-image tags as `:<tag>` and the repository's path as `<repo>`.
- `tests/invalid/<name>.rt`: the first line is `# expect: CODE LINE:COL MESSAGE`,
  the first diagnostic (by position) that compiling the file must give.

Regenerate both after reviewing a change:  .venv/bin/python tests/compiler/compiler_cases.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
GOLDEN = REPO / "tests" / "golden"
INVALID = REPO / "tests" / "invalid"
SUFFIXES = (".rt", ".yaml", ".yml")
EXPECT = re.compile(r"# expect: (E\d{3}) (\d+):(\d+) (.*)")
_TAG = re.compile(r"^(rtc/[a-z0-9-]+):[0-9a-f]{12}$")


def example_files() -> list[Path]:
    return sorted(p for p in EXAMPLES.rglob("*") if p.suffix in SUFFIXES and p.is_file())


def golden_path(example: Path) -> Path:
    rel = example.relative_to(EXAMPLES).with_suffix("")
    return GOLDEN / rel / "ir.json"


def golden_text(pipeline) -> str:
    data = json.loads(pipeline.to_json(spans=False))
    data.pop("source")
    for env in data["environments"].values():
        if env["build"] is not None:
            env["image"] = _TAG.sub(r"\1:<tag>", env["image"])
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


TARGETS = ("airflow", "prefect")
_ANY_TAG = re.compile(r"(rtc/[a-z0-9-]+):[0-9a-f]{12}")


def golden_target_files(example: Path, target: str) -> dict[Path, str]:
    """What `rtc compile EXAMPLE --target TARGET` writes, normalised, keyed by golden path."""
    import importlib

    from rtc.integrations.codegen import runtime_package

    pipeline = compile_relative(example)
    rendered = importlib.import_module(f"rtc.integrations.{target}").render(pipeline)
    folder = golden_path(example).parent / target
    # rtc's runtime package (rtc/runtime/ itself, shipped beside the files) is left out, and named
    # `rtc_runtime_HASH`: a change to rtc's own code is not a change to what a pipeline compiles to.
    package, shipped = runtime_package()
    return {
        folder / rel: _ANY_TAG.sub(r"\1:<tag>", text).replace(str(REPO), "<repo>").replace(package, "rtc_runtime_HASH")
        for rel, text in sorted(rendered.items()) if rel not in shipped
    }


def invalid_files() -> list[Path]:
    return sorted([*INVALID.glob("*.rt"), *INVALID.glob("*.yaml")])


def expectation(path: Path):
    """(code, line, col, message) from the file's first line."""
    match = EXPECT.fullmatch(path.read_text(encoding="utf-8").splitlines()[0])
    if not match:
        raise ValueError(f"{path}: first line must be `# expect: CODE LINE:COL MESSAGE`")
    code, line, col, message = match.groups()
    return code, int(line), int(col), message


def compile_relative(path: Path):
    """Compile with the path relative to the repository, as a user in it would type it."""
    from rtc.compiler import compile_file

    return compile_file(str(path.relative_to(REPO)))


def regen() -> None:
    import os
    import shutil

    from rtc.base.diagnostics import CompileError

    os.chdir(REPO)
    written = set()
    for example in example_files():
        target = golden_path(example)
        if target in written:
            continue  # the first form (.rt sorts before .yaml) writes; the test compares the others
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(golden_text(compile_relative(example)), encoding="utf-8")
        written.add(target)
        print(f"wrote {target.relative_to(REPO)}")
        for name in TARGETS:
            files = golden_target_files(example, name)
            folder = golden_path(example).parent / name
            for stale in set(folder.glob("*")) - set(files) if folder.is_dir() else ():
                shutil.rmtree(stale) if stale.is_dir() else stale.unlink()  # e.g. an older rtc's runtime
                print(f"removed {stale.relative_to(REPO)}")
            for path, text in files.items():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(REPO)}")
    for case in invalid_files():
        lines = case.read_text(encoding="utf-8").splitlines(keepends=True)
        try:
            compile_relative(case)
        except CompileError as exc:
            d = exc.diagnostics[0]
            lines[0] = f"# expect: {d.code} {d.span.line}:{d.span.col} {d.message}\n"
            case.write_text("".join(lines), encoding="utf-8")
            print(f"wrote {case.relative_to(REPO)}: {d.code}")
        else:
            print(f"{case.relative_to(REPO)} compiles without errors", file=sys.stderr)


if __name__ == "__main__":
    regen()
