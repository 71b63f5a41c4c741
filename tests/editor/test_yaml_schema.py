"""`rtc schema --format yaml-source`: the YAML editors' schema accepts every example and rejects a typo."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
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
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(yaml.safe_load(path.read_text())))
    assert errors == []


def test_a_misspelt_key_is_flagged(schema):
    data = yaml.safe_load((REPO / "examples/etl/pipeline.yaml").read_text())
    node = next(iter(data["nodes"].values()))
    node["timout"] = "1m"
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(data))
    assert errors and any("timout" in e.message or "timout" in str(e.context) for e in errors)
