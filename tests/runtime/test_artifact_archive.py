"""Artifacts through an engine's archive API (the Prefect adapter's way): `unpack_archive` and `pack_folder`.

A step's output arrives as a tar stream; whatever the stream holds, nothing is written outside the folder it is
unpacked into, and what the store refuses (symlinks, FIFOs) or cannot hold (devices, names escaping the folder,
too many entries, too many bytes) never becomes a stored artifact.
"""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from rtc.runtime import artifacts
from rtc.runtime.artifacts import ArtifactError, LocalStore, pack_folder, unpack_archive
from rtc.runtime.step import ContractError, store_artifact_outputs


def stream(*members, chunk=7):
    """A tar stream of (TarInfo, bytes or None) members, in chunks of `chunk` bytes (as an engine sends them)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    raw = buf.getvalue()
    return (raw[i:i + chunk] for i in range(0, len(raw), chunk))


def member(name, kind=tarfile.REGTYPE, linkname=""):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


def test_a_folder_output_unpacks_and_stores_as_on_disk(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    unpack_archive(stream((member("tree", tarfile.DIRTYPE), None), (member("tree/a.txt"), b"one\n"),
                          (member("tree/sub", tarfile.DIRTYPE), None), (member("tree/sub/b.txt"), b"two\n"),
                          (member("tree/sub/again", tarfile.LNKTYPE, "tree/a.txt"), None)), out, "output 'tree'")
    assert (out / "tree" / "sub" / "b.txt").read_bytes() == b"two\n"
    assert (out / "tree" / "sub" / "again").read_bytes() == b"one\n"  # a hard link is one more regular file
    refs = store_artifact_outputs(LocalStore(tmp_path / "store"), out, {"tree": "dir"}, "step 's'")
    assert refs["tree"]["artifact"] == "dir" and refs["tree"]["size"] == 12


@pytest.mark.parametrize("members, words", [
    ([(member("out", tarfile.SYMTYPE, "/etc/passwd"), None)], "is a symlink"),
    ([(member("out", tarfile.FIFOTYPE), None)], "is a FIFO"),
    ([(member("out", tarfile.DIRTYPE), None), (member("out/link", tarfile.SYMTYPE, "/etc"), None)], "link is a symlink"),
])
def test_what_the_store_refuses_is_refused_in_its_words(tmp_path, members, words):
    out = tmp_path / "out"
    out.mkdir()
    unpack_archive(stream(*members), out, "output 'out'")
    kind = "dir" if members[0][0].isdir() else "file"
    with pytest.raises(ContractError, match=words):
        store_artifact_outputs(LocalStore(tmp_path / "store"), out, {"out": kind}, "step 's'")
    assert not list((tmp_path / "store").glob("sha256/??/*"))


@pytest.mark.parametrize("members, words", [
    ([(member("out", tarfile.CHRTYPE), None)], "is a device"),
    ([(member("out", tarfile.DIRTYPE), None), (member("out/null", tarfile.BLKTYPE), None)], "out': null is a device"),
    ([(member("../escape"), b"x")], "no path in a folder"),
    ([(member("/etc/evil"), b"x")], "no path in a folder"),
    ([(member("out", tarfile.DIRTYPE), None), (member("out/x", tarfile.LNKTYPE, "../../etc/passwd"), None)],
     "link out of its folder"),
])
def test_what_cannot_be_an_artifact_fails_and_writes_nothing_outside(tmp_path, members, words):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ArtifactError, match=words):
        unpack_archive(stream(*members), out, "output 'out'")
    assert not (tmp_path / "escape").exists() and sorted(os.listdir(tmp_path)) == ["out"]


def test_caps_on_entries_and_bytes_hold_while_unpacking(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts, "MAX_DIR_ENTRIES", 3)
    many = [(member("out", tarfile.DIRTYPE), None)] + [(member(f"out/{i}"), b"") for i in range(5)]
    (tmp_path / "a").mkdir()
    with pytest.raises(ArtifactError, match="more than 3 entries"):
        unpack_archive(stream(*many), tmp_path / "a", "output 'out'")
    monkeypatch.setattr(artifacts, "MAX_ARTIFACT_BYTES", 10)
    (tmp_path / "b").mkdir()
    with pytest.raises(ArtifactError, match="over 10 bytes"):
        unpack_archive(stream((member("out"), b"x" * 11)), tmp_path / "b", "output 'out'")


def test_pack_folder_streams_read_only_files_under_the_target(tmp_path):
    staged = tmp_path / "in"
    (staged / "tree").mkdir(parents=True)
    (staged / "data").write_bytes(b"d" * 3_000_000)
    (staged / "tree" / "a").write_bytes(b"a")
    raw = b"".join(pack_folder(str(staged), "/rtc/in"))
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile(members["rtc/in/data"]).read() == b"d" * 3_000_000
    assert set(members) == {"rtc/in", "rtc/in/data", "rtc/in/tree", "rtc/in/tree/a"}
    assert members["rtc/in/data"].mode == 0o444 and members["rtc/in/tree"].mode == 0o555
    assert members["rtc/in/data"].uid == 0
