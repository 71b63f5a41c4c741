"""`rtc schema --format yaml-source`: the YAML editors' schema accepts every example and rejects a typo."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
class Yaml12Loader(yaml.SafeLoader):
    """YAML as editors read it (1.2): only true/false are booleans, so a graph's `on:` is a key, not `true`
    (PyYAML's 1.1 rules read on/off/yes/no as booleans; rtc's own front end never converts keys)."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_yaml(text: str):
    return yaml.load(text, Loader=Yaml12Loader)  # noqa: S506 - a SafeLoader


YAML_EXAMPLES = sorted(p for p in (REPO / "examples").rglob("*") if p.suffix in (".yaml", ".yml"))


@pytest.fixture(scope="module")
def schema():
    result = subprocess.run([sys.executable, "-m", "rtc", "schema", "--format", "yaml-source"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.Draft7Validator.check_schema(data)
    return data


def test_the_extension_bundles_the_current_schema(schema):
    assert json.loads((REPO / "editors/vscode/schemas/rtc-yaml.schema.json").read_text()) == schema


@pytest.mark.parametrize("path", YAML_EXAMPLES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_yaml_example_is_valid(schema, path):
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(load_yaml(path.read_text())))
    assert errors == []


def test_a_misspelt_key_is_flagged(schema):
    data = load_yaml((REPO / "examples/etl/pipeline.yaml").read_text())
    node = next(iter(data["nodes"].values()))
    node["timout"] = "1m"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(data))
    assert errors and any("timout" in e.message or "timout" in str(e.context) for e in errors)


def test_a_graphs_on_is_a_key_as_editors_read_it(schema):
    data = load_yaml("graphs:\n  g:\n    on: [nightly, nightly.train.model]\n    steps: {}\n")
    assert data["graphs"]["g"]["on"] == ["nightly", "nightly.train.model"]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(data)) == []
    data["graphs"]["g"]["on"] = "nightly"  # one entry alone, as the compiler reads it
    assert list(jsonschema.Draft7Validator(schema).iter_errors(data)) == []
    data["graphs"]["g"]["on"] = [3]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(data))
