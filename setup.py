"""Map the top-level stage folders onto one import package, `rtc`, and list what ships in it.

pyproject.toml holds the metadata; this file computes the package list and the
package data, because setuptools' automatic discovery does not follow a
package-dir mapping, and `[tool.setuptools.package-data]` globs do not reach
into folders that are not packages (an emitter's `templates/`).

Both lists are found by walking the folders, so a new subpackage, a new
`templates/` folder or a new kind of data file ships without an edit here:

- every folder with an `__init__.py` under a stage folder is a package;
- every other file of a package (not `.py`, not bytecode, not hidden) is that
  package's data, and so is every file in its folders that are not packages
  (`templates/`, or source shipped as files: those keep their `.py` files too).

`tests/packaging/test_wheel.py` builds the sdist and the wheel and checks that
every package folder and every data file of the checkout is in them.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py

# `python main.py` of an Exosphere user without Exosphere's SDK: rtc's stand-in answers `import exospherehost`
# (rtc/exosphere_fallback.py). The .pth file goes to the top of site-packages; no import name does.
FALLBACK = {}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rtc", "exosphere_fallback.py"), encoding="utf-8") as _f:
    exec(compile(_f.read(), "exosphere_fallback.py", "exec"), FALLBACK)  # its PTH_NAME and PTH_LINE, without importing rtc


class BuildPy(build_py):
    """build_py that also writes rtc-exospherehost.pth beside the packages (the wheel's top level)."""

    def run(self):
        super().run()
        with open(self._pth(), "w", encoding="utf-8") as f:
            f.write(FALLBACK["PTH_LINE"])

    def get_outputs(self, include_bytecode=1):
        return [*super().get_outputs(include_bytecode), self._pth()]

    def _pth(self) -> str:
        return os.path.join(self.build_lib, FALLBACK["PTH_NAME"])

STAGE_FOLDERS = {
    "rtc": "rtc",
    "rtc.dsl": "dsl",
    "rtc.compiler": "compiler",
    "rtc.integrations": "integrations",
    "rtc.grammars": "grammars",
}


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__" or name.endswith(".egg-info")


def _is_data(name: str, in_package_folder: bool) -> bool:
    """Whether a file ships as data; a package's own `.py` files ship as its modules instead."""
    if _skipped(name) or name.endswith((".pyc", ".pyo")):
        return False
    return not (in_package_folder and name.endswith(".py"))


def _walk(package: str, folder: str, packages: list[str], package_data: dict[str, list[str]]) -> None:
    """Add `package` (at `folder`), its data files and its subpackages."""
    packages.append(package)
    data: list[str] = []
    pending = [""]  # folders relative to the package's own folder that are not packages themselves
    while pending:
        relative = pending.pop()
        here = os.path.join(folder, relative)
        for name in sorted(os.listdir(here)):
            path = os.path.join(here, name)
            if _skipped(name):
                continue
            if os.path.isdir(path):
                if not relative and os.path.isfile(os.path.join(path, "__init__.py")):
                    _walk(f"{package}.{name}", path, packages, package_data)
                else:  # a plain folder (and everything below it) ships as data
                    pending.append(os.path.join(relative, name))
            elif _is_data(name, in_package_folder=not relative):
                data.append(os.path.join(relative, name).replace(os.sep, "/"))
    if data:
        package_data[package] = sorted(data)


def discover() -> tuple[list[str], dict[str, list[str]], dict[str, str]]:
    """Packages, package data and the package-dir mapping, from the folders beside this file."""
    here = os.path.dirname(os.path.abspath(__file__))
    packages: list[str] = []
    package_data: dict[str, list[str]] = {}
    for package, folder in STAGE_FOLDERS.items():
        _walk(package, os.path.join(here, folder), packages, package_data)
    # Subpackages live under their stage folder: rtc.integrations.prefect is integrations/prefect.
    package_dir = {package: folder for package, folder in STAGE_FOLDERS.items()}
    return packages, package_data, package_dir


if __name__ == "__main__":
    packages, package_data, package_dir = discover()
    setup(packages=packages, package_data=package_data, package_dir=package_dir, include_package_data=False,
          cmdclass={"build_py": BuildPy})
