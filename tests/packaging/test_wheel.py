"""The wheel users install: built from this checkout, installed into a fresh venv outside it, used as users use it.

1. The checkout (without .git, virtual environments and caches) is copied to a
   temporary folder and `python -m build` runs there: the sdist, then the wheel
   built from that sdist (build's default), so a file the sdist lacks is missing
   from the wheel too. The build backend is pinned by constraints.txt
   (PIP_CONSTRAINT reaches the pip that fills build's isolated environment).
2. Both archives must hold every package folder and every file of the stage
   folders (rtc/, dsl/, compiler/, integrations/, grammars/): modules, grammars,
   templates, READMEs. The expectation comes from walking the checkout, so a new
   package (rtc/runtime/) or template folder is checked without an edit here.
3. A fresh venv in a temporary folder gets the wheel by `pip install -c
   constraints.txt` (pip's cache makes a second run quick); commands run with the
   working directory there and no PYTHONPATH, and `rtc` must import from that venv.
4. Through that install: every example under examples/ compiles to every target
   (ir, airflow, prefect) and the files equal what the checkout renders; the ETL
   example runs in Docker (as scripts/demo.sh runs it); and each command whose
   extra is not installed prints one line naming the extra and exits 1.

Covered: the archives' contents; the default dependencies (installed for real,
at the versions of constraints.txt), which are everything `rtc check`,
`rtc compile` (every target) and `rtc run` need; the installed entry point.
Not covered here: the extras (airflow, prefect, lsp, deploy) are not installed
into the fresh venv. Installing Airflow and Prefect takes minutes and about a
gigabyte; the DAGs and flows are run by tests/airflow and tests/prefect against
the editable install, and step 4 shows the wheel writes the same bytes.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STAGE_FOLDERS: dict[str, str] = runpy.run_path(str(REPO / "setup.py"), run_name="setup_py")["STAGE_FOLDERS"]
EXAMPLE_SUFFIXES = (".rt", ".yaml", ".yml")
TARGETS = ("ir", "airflow", "prefect")
# Top-level entries of the checkout that are not sources: version control, environments, caches, outputs.
NOT_SOURCE = {".git", ".venv", ".venv-airflow-floor", "build", "dist", "out", ".hypothesis", ".pytest_cache",
              ".ruff_cache", "rtc.egg-info"}


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__" or name.endswith((".pyc", ".pyo", ".egg-info"))


def checkout_files() -> dict[str, Path]:
    """Every file of the stage folders in the checkout, keyed by its path inside the installed `rtc` package."""
    found: dict[str, Path] = {}
    for package, folder in STAGE_FOLDERS.items():
        root = REPO / folder
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not _skipped(d)]
            for name in filenames:
                if not _skipped(name):
                    path = Path(dirpath, name)
                    found["/".join([*package.split("."), *path.relative_to(root).parts])] = path
    return found


def package_folders() -> set[str]:
    """Installed paths of every package folder of the checkout (a folder with __init__.py)."""
    return {key.rpartition("/")[0] for key in checkout_files() if key.endswith("/__init__.py")}


def example_files() -> list[Path]:
    return sorted(p for p in (REPO / "examples").rglob("*") if p.suffix in EXAMPLE_SUFFIXES and p.is_file())


def _run(argv: list[str], *, env: dict[str, str], cwd: Path, timeout: float = 300, check: bool = True):
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} exited {done.returncode}\n"
                             f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")
    return done


def _clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without what would let the checkout leak into the fresh venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("wheel")


@pytest.fixture(scope="module")
def dist(work) -> dict[str, Path]:
    """The sdist and the wheel built from it, from a copy of the checkout."""
    source = work / "source"

    def ignore(folder: str, names: list[str]) -> set[str]:
        top = Path(folder) == REPO
        return {n for n in names if n == "__pycache__" or n.endswith((".pyc", ".pyo")) or (top and n in NOT_SOURCE)}

    shutil.copytree(REPO, source, ignore=ignore)
    started = time.monotonic()
    env = _clean_env(PIP_CONSTRAINT=str(REPO / "constraints.txt"))
    _run([sys.executable, "-m", "build", "--outdir", str(work / "dist"), str(source)], env=env, cwd=work, timeout=600)
    print(f"build: {time.monotonic() - started:.1f} s")
    sdists, wheels = sorted((work / "dist").glob("*.tar.gz")), sorted((work / "dist").glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted((work / "dist").iterdir())
    return {"sdist": sdists[0], "wheel": wheels[0]}


@pytest.fixture(scope="module")
def venv(work, dist) -> Path:
    """A fresh virtual environment, outside the checkout, with the wheel installed (default dependencies only)."""
    started = time.monotonic()
    folder = work / "venv"
    _run([sys.executable, "-m", "venv", str(folder)], env=_clean_env(), cwd=work)
    _run([str(folder / "bin" / "python"), "-m", "pip", "install", "--quiet",
          "-c", str(REPO / "constraints.txt"), str(dist["wheel"])], env=_clean_env(), cwd=work, timeout=600)
    print(f"venv and install: {time.monotonic() - started:.1f} s")
    return folder


def _venv_env(venv: Path, work: Path, **extra: str) -> dict[str, str]:
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return _clean_env(PATH=path, RTC_HOME=str(work / "rtc-home"), **extra)


def test_the_archives_hold_every_package_folder_and_file(dist):
    wheel_names = set(zipfile.ZipFile(dist["wheel"]).namelist())
    expected = checkout_files()
    assert "rtc/cli/__init__.py" in expected and "rtc/grammars/rtc.lark" in expected  # the walk found the tree
    missing_folders = sorted(f for f in package_folders() if f"{f}/__init__.py" not in wheel_names)
    assert not missing_folders, f"package folders missing from the wheel: {missing_folders}"
    missing = sorted(key for key in expected if key not in wheel_names)
    assert not missing, f"files missing from the wheel: {missing}"
    if (REPO / "rtc" / "runtime").is_dir():  # the run-time package shipped beside generated files (issue 18)
        assert any(n.startswith("rtc/runtime/") for n in wheel_names)

    with tarfile.open(dist["sdist"]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        sdist_names = {n.partition("/")[2] for n in sdist.getnames()}
    for name in ("setup.py", "pyproject.toml", "README.md"):
        assert name in sdist_names, f"{name} missing from the sdist {top}"
    missing = sorted(path.relative_to(REPO).as_posix() for path in expected.values()
                     if path.relative_to(REPO).as_posix() not in sdist_names)
    assert not missing, f"files missing from the sdist {top}: {missing}"


def test_rtc_imports_from_the_fresh_venv(venv, work):
    done = _run([str(venv / "bin" / "python"), "-c", "import rtc, sys; print(rtc.__file__); print(sys.path)"],
                env=_venv_env(venv, work), cwd=work)
    location = Path(done.stdout.splitlines()[0]).resolve()
    assert location.is_relative_to(venv.resolve()), f"rtc imported from {location}, not from the fresh venv"
    assert str(REPO) not in done.stdout, "the checkout is on the fresh venv's sys.path"


def test_python_main_py_without_exospherehost_says_what_to_run(dist, venv, work):
    """Issue 20: the wheel's rtc-exospherehost.pth answers `import exospherehost` when Exosphere's SDK is not
    installed, so the seed's `python main.py` prints what to run with rtc (exit 2), not ModuleNotFoundError."""
    from rtc.exosphere_fallback import PTH_LINE, PTH_NAME

    with zipfile.ZipFile(dist["wheel"]) as wheel:
        assert wheel.read(PTH_NAME).decode() == PTH_LINE  # at the top of site-packages; no import name is
    folder = work / "exosphere-project"
    folder.mkdir()
    shutil.copy(REPO / "examples" / "exosphere" / "nodes" / "main.py", folder / "main.py")
    done = _run([str(venv / "bin" / "python"), "main.py"], env=_venv_env(venv, work), cwd=folder, check=False)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("exospherehost (rtc): Exosphere's SDK (the exospherehost package) is not installed")
    done = _run([str(venv / "bin" / "python"), "-c", "import nosuchmodule"], env=_venv_env(venv, work), cwd=folder,
                check=False)
    assert "ModuleNotFoundError: No module named 'nosuchmodule'" in done.stderr


def test_every_example_compiles_to_every_target_as_the_checkout_does(venv, work):
    from rtc.cli.compile_cmd import render_target
    from rtc.compiler import compile_file

    examples = example_files()
    assert len(examples) >= 5
    started = time.monotonic()
    for example in examples:
        pipeline = compile_file(str(example))
        for target in TARGETS:
            out = work / "compiled" / example.relative_to(REPO).as_posix().replace("/", "__") / target
            out.mkdir(parents=True)
            _run(["rtc", "compile", str(example), "--target", target, "-o", str(out)], env=_venv_env(venv, work), cwd=work)
            expected = render_target(pipeline, target)
            for rel, text in expected.items():
                written = out / rel
                assert written.is_file(), f"{example.relative_to(REPO)} --target {target}: {rel} not written"
                assert written.read_text(encoding="utf-8") == text, (
                    f"{example.relative_to(REPO)} --target {target}: {rel} differs from the checkout's")
    print(f"{len(examples)} examples x {len(TARGETS)} targets: {time.monotonic() - started:.1f} s")


@pytest.mark.docker
def test_the_etl_example_runs(venv, work, docker_client):
    example = REPO / "examples" / "etl" / "pipeline.rt"
    started = time.monotonic()
    # Secrets reach containers only at run time, from the caller's environment (scripts/demo.sh).
    done = _run(["rtc", "run", str(example)], env=_venv_env(venv, work, API_TOKEN="demo-token"), cwd=work, timeout=300)
    print(f"rtc run: {time.monotonic() - started:.1f} s")
    assert "Traceback" not in done.stderr
    assert "[report] 3 rows: ALPHA, BETA, GAMMA" in done.stdout, done.stdout  # python nodes (the SDK from the wheel) and sh
    assert re.search(r"^rtc: run \S+ succeeded", done.stderr, re.M), done.stderr


@pytest.mark.parametrize("argv, extra", [
    (["deploy", "{example}", "--target", "prefect"], "prefect"),
    (["lsp"], "lsp"),
    (["check", "--watch", "{example}"], "lsp"),
])
def test_a_command_whose_extra_is_missing_names_it(venv, work, argv, extra):
    example = REPO / "examples" / "etl" / "pipeline.rt"
    argv = [a.format(example=example) for a in argv]
    done = _run(["rtc", *argv], env=_venv_env(venv, work), cwd=work, check=False, timeout=60)
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert f"pip install 'rtc[{extra}]'" in done.stderr, done.stderr
    assert len([line for line in done.stderr.splitlines() if line.startswith("error:")]) == 1, done.stderr
