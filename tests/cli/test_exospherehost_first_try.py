"""Issue 20, item 6 (last part): `python main.py` of an Exosphere user, on a machine with rtc but not Exosphere's SDK.

rtc's wheel installs `rtc-exospherehost.pth` (setup.py writes rtc.exosphere_fallback.PTH_LINE). Python runs
such a line for every `.pth` file of a site folder at start-up (`site.addsitedir`, which is what these tests
call on a temporary folder holding the file; tests/packaging/test_wheel.py runs the installed wheel's). The
seed's node file (examples/exosphere/nodes/main.py, byte for byte) is the user's first try.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtc.exosphere_fallback import PTH_LINE, PTH_NAME

REPO = Path(__file__).resolve().parents[2]
SEED_MAIN = REPO / "examples" / "exosphere" / "nodes" / "main.py"


def python_main(folder: Path, site: Path | None, *, pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    """`python main.py` in `folder`, with `site` processed as a site folder first (its .pth files run)."""
    prologue = f"import site; site.addsitedir({str(site)!r}); " if site is not None else ""
    code = prologue + "import runpy, sys; sys.argv = ['main.py']; runpy.run_path('main.py', run_name='__main__')"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(pythonpath) if pythonpath else ""}
    return subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=60, env=env,
                          check=False)


@pytest.fixture
def project(tmp_path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(SEED_MAIN, folder / "main.py")
    (folder / "pipeline.rt").write_text('namespace MyProject\n')
    return folder


@pytest.fixture
def site_dir(tmp_path) -> Path:
    folder = tmp_path / "site-packages"
    folder.mkdir()
    (folder / PTH_NAME).write_text(PTH_LINE)
    return folder


def test_without_the_sdk_python_main_py_says_what_to_run(project, site_dir):
    before = python_main(project, None)  # what an Exosphere user got: Python's bare error
    assert before.returncode == 1 and "ModuleNotFoundError: No module named 'exospherehost'" in before.stderr
    done = python_main(project, site_dir)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    err = done.stderr
    assert err.startswith("exospherehost (rtc): Exosphere's SDK (the exospherehost package) is not installed")
    assert "`pip install exospherehost`" in err
    assert 'python = "main:MyNode"' in err and "`rtc run pipeline.rt GRAPH`" in err


def test_a_real_exospherehost_wins(project, site_dir, tmp_path):
    real = tmp_path / "real"
    (real / "exospherehost").mkdir(parents=True)
    (real / "exospherehost" / "__init__.py").write_text(
        "class BaseNode:\n    pass\n\n"
        "class Runtime:\n    def __init__(self, **kw):\n        pass\n\n"
        "    def start(self):\n        print('the real SDK started')\n")
    done = python_main(project, site_dir, pythonpath=real)
    assert (done.returncode, done.stdout) == (0, "the real SDK started\n"), done.stderr


def test_other_missing_modules_are_left_alone(tmp_path, site_dir):
    (tmp_path / "main.py").write_text("import exospherehostx\n")
    done = python_main(tmp_path, site_dir)
    assert "ModuleNotFoundError: No module named 'exospherehostx'" in done.stderr
