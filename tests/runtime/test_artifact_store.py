"""rtc.runtime.artifacts: the content-addressed store's rules, on real files (no engine needed)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from rtc.runtime import artifacts
from rtc.runtime.artifacts import ArtifactError, LocalStore, is_reference


def test_a_file_is_stored_once_under_its_digest_and_comes_back_the_same(tmp_path):
    store = LocalStore(tmp_path / "store")
    src = tmp_path / "a.bin"
    src.write_bytes(os.urandom(3 * artifacts.CHUNK + 17))
    ref = store.put_file(src)
    assert is_reference(ref, "file") and ref["size"] == src.stat().st_size
    assert ref["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert store.put_file(src) == ref  # immutable: the same bytes, the same reference
    store.get(ref, tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == src.read_bytes()
    assert [p.name for p in (tmp_path / "store" / "sha256").rglob("*") if p.is_file()] == [ref["sha256"]]


def test_a_folder_comes_back_with_its_tree(tmp_path):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "d" / "sub").mkdir(parents=True)
    (tmp_path / "d" / "a").write_text("1")
    (tmp_path / "d" / "sub" / "b").write_text("22")
    ref = store.put_dir(tmp_path / "d")
    assert ref["artifact"] == "dir" and ref["size"] == 3
    store.get(ref, tmp_path / "back")
    assert (tmp_path / "back" / "a").read_text() == "1" and (tmp_path / "back" / "sub" / "b").read_text() == "22"


def test_a_damaged_blob_is_refused_not_handed_on(tmp_path):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "f").write_text("data")
    ref = store.put_file(tmp_path / "f")
    blob = tmp_path / "store" / "sha256" / ref["sha256"][:2] / ref["sha256"]
    blob.write_text("evil")
    with pytest.raises(ArtifactError, match="does not hold what its name says"):
        store.get(ref, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_manifest_naming_a_path_outside_the_folder_is_refused(tmp_path):
    store = LocalStore(tmp_path / "store")
    manifest = json.dumps({"files": [["../escape", "0" * 64, 0]]}, separators=(",", ":"), sort_keys=True).encode()
    digest = hashlib.sha256(manifest).hexdigest()
    store._write_blob(digest, manifest)
    ref = {"artifact": "dir", "sha256": digest, "size": 0, "uri": "x"}
    with pytest.raises(ArtifactError, match="no path in a folder"):
        store.get(ref, tmp_path / "out")
    assert not (tmp_path / "escape").exists()


def test_caps_on_size_and_entries(tmp_path, monkeypatch):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "big").write_bytes(b"x" * 100)
    monkeypatch.setattr(artifacts, "MAX_ARTIFACT_BYTES", 50)
    with pytest.raises(ArtifactError, match="over 50 bytes"):
        store.put_file(tmp_path / "big")
    monkeypatch.setattr(artifacts, "MAX_DIR_ENTRIES", 3)
    (tmp_path / "many").mkdir()
    for i in range(5):
        (tmp_path / "many" / str(i)).write_text("")
    with pytest.raises(ArtifactError, match="more than 3 entries"):
        store.put_dir(tmp_path / "many")
    assert not [p for p in (tmp_path / "store").rglob("*") if p.is_file()]  # no blob, no temporary left


@pytest.mark.parametrize("value", [None, "x", {"artifact": "file"}, {"artifact": "tape", "sha256": "0" * 64, "size": 1, "uri": ""},
                                   {"artifact": "file", "sha256": "../../etc", "size": 1, "uri": ""}])
def test_only_references_are_references(value):
    assert not is_reference(value)


def test_a_taken_file_is_kept_without_a_copy_and_a_given_one_is_copied(tmp_path):
    store = LocalStore(tmp_path / "store")
    (tmp_path / "taken").write_bytes(b"t" * 1000)
    (tmp_path / "given").write_bytes(b"g" * 1000)
    taken = store.put_file(tmp_path / "taken", take=True)
    given = store.put_file(tmp_path / "given")
    blob = lambda ref: tmp_path / "store" / "sha256" / ref["sha256"][:2] / ref["sha256"]  # noqa: E731
    assert os.path.samefile(blob(taken), tmp_path / "taken")  # a step's output: the same file, no copy
    assert not os.path.samefile(blob(given), tmp_path / "given")  # a user's file is never touched
    assert oct((tmp_path / "given").stat().st_mode & 0o777) == oct(0o644)
    store.stage(taken, tmp_path / "input")
    assert os.path.samefile(tmp_path / "input", blob(taken))  # a step's input: a link, mounted read-only


def test_an_environ_or_secret_cannot_shadow_an_artifact_path():
    from rtc.runtime.step import ContractError, container_environment

    artifacts = {"DATA_PATH": "/rtc/in/data"}
    for environ, secrets in (({"DATA_PATH": "/elsewhere"}, {}), ({}, {"DATA_PATH": "x"})):
        with pytest.raises(ContractError, match="DATA_PATH is a variable of rtc's container contract"):
            container_environment(environ, {}, step="s", run_id="r", secrets=secrets, artifacts=artifacts)
    env, _ = container_environment({"OTHER": "1"}, {}, step="s", run_id="r", artifacts=artifacts)
    assert env["DATA_PATH"] == "/rtc/in/data" and env["OTHER"] == "1"
