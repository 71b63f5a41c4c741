"""Map the top-level stage folders onto one import package, `rtc`.

pyproject.toml holds the metadata; this file only computes the package list,
because setuptools' automatic discovery does not follow a package-dir mapping.
"""

from setuptools import find_packages, setup

STAGE_FOLDERS = {
    "rtc": "rtc",
    "rtc.dsl": "dsl",
    "rtc.compiler": "compiler",
    "rtc.integrations": "integrations",
    "rtc.grammars": "grammars",
}

packages = []
for package, folder in STAGE_FOLDERS.items():
    packages.append(package)
    packages += [f"{package}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir=STAGE_FOLDERS)
