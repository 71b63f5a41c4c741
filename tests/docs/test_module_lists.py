"""The stage READMEs name exactly the modules their folder holds (no module unmentioned, none that is gone)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", ["dsl", "compiler"])
def test_the_readme_lists_every_module_and_only_those(folder):
    readme = (REPO / folder / "README.md").read_text(encoding="utf-8")
    mentioned = set(re.findall(r"`([A-Za-z0-9_]+\.py)`", readme))  # `x.py`; paths into other folders have a /
    modules = {p.name for p in (REPO / folder).glob("*.py")}
    assert not modules - mentioned, f"{folder}/README.md does not mention {sorted(modules - mentioned)}"
    assert not mentioned - modules, f"{folder}/README.md names modules that do not exist: {sorted(mentioned - modules)}"
