"""Golden IR of every example; the .rt and YAML forms of one example lower to the same IR."""

from __future__ import annotations

import pytest
from compiler_cases import TARGETS, REPO, compile_relative, example_files, golden_path, golden_target_files, golden_text

from rtc.compiler.images import image_tag


def test_there_are_examples():
    assert len(example_files()) >= 3


@pytest.mark.parametrize("example", example_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_example_matches_golden_ir(example, monkeypatch):
    monkeypatch.chdir(REPO)
    golden = golden_path(example)
    assert golden.is_file(), f"no golden file for {example}; run scripts/regen-golden.sh"
    pipeline = compile_relative(example)
    assert golden_text(pipeline) == golden.read_text(encoding="utf-8"), (
        f"{example} no longer lowers to {golden.relative_to(REPO)}; review, then run scripts/regen-golden.sh"
    )
    for env in pipeline.environments.values():
        if env.build is not None:
            assert env.image == image_tag(pipeline.namespace, env.name, env.build)


@pytest.mark.parametrize("example", example_files()[:3], ids=lambda p: p.name)
def test_ir_json_is_the_same_bytes_twice_and_machine_independent(example, monkeypatch):
    monkeypatch.chdir(REPO)
    first, second = compile_relative(example).to_json(), compile_relative(example).to_json()
    assert first == second
    assert str(REPO) not in first


def _first_forms():
    """One source per golden folder (the .rt form sorts first), as regen writes them."""
    seen, out = set(), []
    for example in example_files():
        if golden_path(example) not in seen:
            seen.add(golden_path(example))
            out.append(example)
    return out


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("example", _first_forms(), ids=lambda p: str(p.relative_to(REPO)))
def test_example_matches_golden_target_files(example, target, monkeypatch):
    """The generated Airflow and Prefect files, reviewed as diffs (regenerate with scripts/regen-golden.sh)."""
    monkeypatch.chdir(REPO)
    expected = golden_target_files(example, target)
    folder = golden_path(example).parent / target
    on_disk = {p: p.read_text(encoding="utf-8") for p in folder.glob("*")} if folder.is_dir() else {}
    assert sorted(on_disk) == sorted(expected), f"{folder.relative_to(REPO)}: files differ; run scripts/regen-golden.sh"
    for path, text in expected.items():
        assert on_disk[path] == text, f"{path.relative_to(REPO)} changed; review, then run scripts/regen-golden.sh"
