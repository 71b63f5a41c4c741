"""Files and folders between steps: a content-addressed store, and the references that travel instead of bytes.

A `file` or `dir` port's value between steps is a small reference,
`{"artifact": "file"|"dir", "sha256": HEX, "size": BYTES, "uri": ...}`; the
bytes live once in a store under their SHA-256, immutable. A folder is stored
as its files plus a manifest (sorted `[path, sha256, size]` rows, JSON), and
its reference names the manifest's digest. What a step leaves at an output
port's path is taken only as regular files and folders: a symlink, FIFO,
socket or device anywhere fails the step, as an outputs file would; so does
anything over the store's size and entry caps.

`open_store(url)` gives the store a URL names (`RTC_STORE`): a folder (a path
or `file:///path`: `LocalStore`, standard library only) or an S3-compatible
bucket (`s3://BUCKET/PREFIX`: `ObjectStore`, over fsspec's s3fs, with the
endpoint and credentials read as boto3 and the AWS CLI read them:
`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, ...). Both lay blobs out as
`<root>/sha256/<2 hex>/<64 hex>`. Bytes are streamed in 1 MiB chunks, never
held whole; a blob appears under its digest only once complete, so a reader
never sees half, and every read is checked against its digest.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import stat
import tempfile

CHUNK = 1 << 20
PART = 8 << 20  # an object store's upload part and read-ahead: s3fs's default (50 MiB, several in flight) held ~1.4 GB
MAX_ARTIFACT_BYTES = 64 * 1024 ** 3  # one file or one folder's total
MAX_DIR_ENTRIES = 100_000  # files and folders in one `dir` output
ARTIFACT_TYPES = ("file", "dir")


class ArtifactError(ValueError):
    """What a step left at an artifact port cannot be stored (kind, size, entries), or a reference is bad."""


def is_reference(value, kind=None) -> bool:
    """True for a reference of an artifact (of `kind`, when given)."""
    return (isinstance(value, dict) and set(value) == {"artifact", "sha256", "size", "uri"}
            and value["artifact"] in ARTIFACT_TYPES and (kind is None or value["artifact"] == kind)
            and isinstance(value["sha256"], str) and len(value["sha256"]) == 64
            and all(c in "0123456789abcdef" for c in value["sha256"])
            and isinstance(value["size"], int) and not isinstance(value["size"], bool) and value["size"] >= 0)


def open_store(url: str, options=None):
    """The store `url` names: a folder (a path, or file:///path) or `s3://BUCKET/PREFIX`.

    `options`: an object store's client settings (s3fs's: key, secret, endpoint_url, client_kwargs), for
    credentials kept where an orchestrator keeps them (an Airflow Connection, a Prefect block); without
    them the client reads the environment as boto3 does.
    """
    if url.startswith("file://"):
        return LocalStore(url[len("file://"):])
    if "://" not in url:
        return LocalStore(url)
    if url.startswith("s3://") and url[len("s3://"):].strip("/"):
        return ObjectStore(url, options)
    raise ArtifactError(f"{url!r} names no artifact store rtc knows: a folder, file:///folder or s3://BUCKET/PREFIX")


def _checked(digest) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ArtifactError(f"{digest!r} is not a SHA-256")
    return digest


class Store:
    """What every store does: references, folders as manifests, reads checked against digests.

    A store class says where a blob lives and moves whole blobs: `_put_local` (a regular file of this
    host -> (digest, size)), `_write_blob`, `_read_blob`, `_get_blob` (to a new local file), `has`,
    `blobs`, `remove`.
    """

    url = ""

    def put_file(self, path, where="artifact", take=False) -> dict:
        """Store the regular file at `path` (never followed through a symlink); its reference.

        `take`: the file is the store's from now on (a step's output, which no one writes again):
        a store may keep the file itself instead of a copy.
        """
        digest, size = self._put_local(path, where, take)
        return self._reference("file", digest, size)

    def put_dir(self, path, where="artifact", take=False) -> dict:
        """Store a folder of regular files and folders: every file, then its manifest; the folder's reference."""
        rows, total = [], 0
        for rel, full in _walk(path, where):
            digest, size = self._put_local(full, f"{where}: {rel}", take)
            total += size
            if total > MAX_ARTIFACT_BYTES:
                raise ArtifactError(f"{where} holds more than {MAX_ARTIFACT_BYTES} bytes, rtc's limit for one artifact")
            rows.append([rel, digest, size])
        manifest = json.dumps({"files": rows}, separators=(",", ":"), sort_keys=True).encode()
        digest = hashlib.sha256(manifest).hexdigest()
        self._write_blob(digest, manifest)
        return self._reference("dir", digest, total)

    def _reference(self, kind, digest, size) -> dict:
        return {"artifact": kind, "sha256": digest, "size": size, "uri": f"{self.url}/sha256/{digest}"}

    def manifest_files(self, digest) -> list[str]:
        """The digests of the files a folder's manifest names."""
        return [row[1] for row in json.loads(self._read_blob(digest))["files"]]

    def get(self, reference, dest) -> None:
        """Write the artifact `reference` names to the new path `dest` (a file, or a folder), checking every digest."""
        if not is_reference(reference):
            raise ArtifactError(f"not an artifact reference: {json.dumps(reference)[:120]}")
        if reference["artifact"] == "file":
            self._get_blob(reference["sha256"], dest)
            return
        manifest = json.loads(self._read_blob(reference["sha256"]))
        os.mkdir(dest, 0o755)
        for rel, digest, _size in manifest["files"]:
            parts = rel.split("/")
            if any(p in ("", ".", "..") for p in parts):
                raise ArtifactError(f"the manifest of {reference['sha256']} names {rel!r}, which is no path in a folder")
            target = os.path.join(dest, *parts)
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            self._get_blob(_checked(digest), target)

    def stage(self, reference, dest) -> None:
        """Put an artifact's bytes at `dest` for a step to read (mounted read-only): `get`, or cheaper where a store can."""
        self.get(reference, dest)

    def _get_stream(self, src, digest, dest):
        """Copy the open blob `src` to the new file `dest`, checking its digest; `src` is closed."""
        h = hashlib.sha256()
        with src, open(dest, "xb") as out:
            while chunk := src.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        if h.hexdigest() != digest:
            _unlink(dest)
            raise ArtifactError(f"the store's blob {digest} does not hold what its name says")
        os.chmod(dest, 0o644)


class LocalStore(Store):
    """Blobs in a folder of this host, owner-only: `<root>/sha256/<2 hex>/<64 hex>`."""

    def __init__(self, root):
        self.root = os.path.abspath(os.fspath(root))
        self.url = "file://" + self.root

    def _blob(self, digest: str) -> str:
        return os.path.join(self.root, "sha256", _checked(digest)[:2], digest)

    def has(self, digest: str) -> bool:
        return os.path.isfile(self._blob(digest))

    def _put_local(self, path, where, take=False):
        """Hash the file and keep it under its digest: with `take`, a hard link to it where the file system
        allows (its writer, the step's container, has exited), else a copy made in the same pass as the hash."""
        os.makedirs(os.path.join(self.root, "sha256"), mode=0o700, exist_ok=True)
        tmp = os.path.join(self.root, "sha256", f".in-{os.getpid()}-{os.urandom(8).hex()}")
        h, size = hashlib.sha256(), 0
        try:
            with _open_regular(path, where) as f:
                linked = take and _link_open_file(f, path, tmp)
                with contextlib.nullcontext() if linked else open(tmp, "xb") as out:
                    while chunk := f.read(CHUNK):
                        size += len(chunk)
                        if size > MAX_ARTIFACT_BYTES:
                            raise ArtifactError(f"{where} is over {MAX_ARTIFACT_BYTES} bytes, rtc's limit for one artifact")
                        h.update(chunk)
                        if out is not None:
                            out.write(chunk)
                if linked and os.fstat(f.fileno()).st_size != size:
                    raise ArtifactError(f"{where} changed while rtc stored it")
            os.chmod(tmp, 0o444)  # a blob is never written again (a step's link to it is mounted read-only too)
            digest = h.hexdigest()
            target = self._blob(digest)
            os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
            os.replace(tmp, target)  # the same bytes under the same name: replacing is harmless
            return digest, size
        except BaseException:
            _unlink(tmp)
            raise

    def _write_blob(self, digest, data: bytes):
        target = self._blob(digest)
        if os.path.isfile(target):
            return
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".in-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            _unlink(tmp)
            raise

    def _read_blob(self, digest) -> bytes:
        with open(self._blob(digest), "rb") as f:
            data = f.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(f"the store's blob {digest} does not hold what its name says")
        return data

    def _get_blob(self, digest, dest):
        try:
            src = open(self._blob(digest), "rb")
        except FileNotFoundError:
            raise ArtifactError(f"artifact {digest} is not in the store at {self.root}") from None
        self._get_stream(src, digest, dest)

    def stage(self, reference, dest) -> None:
        """A step's input file as a hard link to the blob (no copy; it is mounted read-only), where the file
        system allows; a folder's files likewise. Elsewhere a checked copy (`get`). The blob's digest was
        checked when it was stored, and the store's folder is its owner's only."""
        if not is_reference(reference):
            raise ArtifactError(f"not an artifact reference: {json.dumps(reference)[:120]}")
        if reference["artifact"] == "dir":
            self.get(reference, dest)
            return
        try:
            os.link(self._blob(reference["sha256"]), dest)
        except FileNotFoundError:
            raise ArtifactError(f"artifact {reference['sha256']} is not in the store at {self.root}") from None
        except OSError:  # another file system, or links refused: copy
            self._get_blob(reference["sha256"], dest)

    def blobs(self):
        """(digest, size, modification time) of every blob in the store, sorted by digest."""
        found = []
        top = os.path.join(self.root, "sha256")
        if not os.path.isdir(top):
            return found
        for prefix in sorted(os.listdir(top)):
            folder = os.path.join(top, prefix)
            if len(prefix) != 2 or not os.path.isdir(folder):
                continue
            for name in sorted(os.listdir(folder)):
                st = os.lstat(os.path.join(folder, name))
                if stat.S_ISREG(st.st_mode) and name.startswith(prefix) and len(name) == 64:
                    found.append((name, st.st_size, st.st_mtime))
        return found

    def remove(self, digest) -> None:
        _unlink(self._blob(digest))


def _reached(method):
    """An object store's method whose client errors (an unreachable endpoint, refused credentials, a missing
    bucket: botocore's and aiohttp's exceptions) become one ArtifactError saying which store."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except ArtifactError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the client raises, the user gets one message
            raise ArtifactError(f"the artifact store {self.url} cannot be used: {exc}") from None

    return call


class ObjectStore(Store):
    """Blobs in an S3-compatible bucket (`s3://BUCKET/PREFIX`), through fsspec's s3fs.

    The endpoint and credentials come from where boto3 and the AWS CLI read them (AWS_ENDPOINT_URL,
    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, ~/.aws): rtc keeps none of its own, and steps never see
    them. A file is hashed first, then uploaded straight to its digest's key unless already there
    (objects cannot be renamed); a second hash during the upload proves it did not change meanwhile.
    """

    def __init__(self, url, options=None):
        try:
            import fsspec

            # A fresh client: fsspec caches one per arguments, which would keep the endpoint and credentials
            # the environment had when the first store of this process was opened.
            self.fs = fsspec.filesystem("s3", skip_instance_cache=True, **(options or {}))
        except ImportError:
            raise ArtifactError("an s3:// artifact store needs the Python packages fsspec and s3fs: "
                                "pip install 'rtc[s3]'") from None
        self.url = url.rstrip("/")
        self.root = self.url[len("s3://"):]

    def _blob(self, digest: str) -> str:
        return f"{self.root}/sha256/{_checked(digest)[:2]}/{digest}"

    @_reached
    def has(self, digest: str) -> bool:
        return self.fs.exists(self._blob(digest))

    @_reached
    def _put_local(self, path, where, take=False):
        h, size = hashlib.sha256(), 0
        with _open_regular(path, where) as f:
            while chunk := f.read(CHUNK):
                size += len(chunk)
                if size > MAX_ARTIFACT_BYTES:
                    raise ArtifactError(f"{where} is over {MAX_ARTIFACT_BYTES} bytes, rtc's limit for one artifact")
                h.update(chunk)
        digest = h.hexdigest()
        if not self.has(digest):
            uploaded = hashlib.sha256()
            with _open_regular(path, where) as f, self.fs.open(self._blob(digest), "wb", block_size=PART) as out:
                while chunk := f.read(CHUNK):
                    uploaded.update(chunk)
                    out.write(chunk)
            if uploaded.hexdigest() != digest:
                self.fs.rm(self._blob(digest))
                raise ArtifactError(f"{where} changed while rtc stored it")
        return digest, size

    @_reached
    def _write_blob(self, digest, data: bytes):
        if not self.has(digest):
            self.fs.pipe(self._blob(digest), data)

    @_reached
    def _read_blob(self, digest) -> bytes:
        data = self.fs.cat(self._blob(digest))
        if hashlib.sha256(data).hexdigest() != digest:
            raise ArtifactError(f"the store's blob {digest} does not hold what its name says")
        return data

    @_reached
    def _get_blob(self, digest, dest):
        try:
            src = self.fs.open(self._blob(digest), "rb", block_size=PART, cache_type="readahead")
        except FileNotFoundError:
            raise ArtifactError(f"artifact {digest} is not in the store at {self.url}") from None
        self._get_stream(src, digest, dest)

    @_reached
    def blobs(self):
        """(digest, size, modification time) of every blob in the bucket's prefix, sorted by digest."""
        found = []
        for path, info in sorted(self.fs.find(f"{self.root}/sha256", detail=True).items()):
            name = path.rsplit("/", 1)[-1]
            if len(name) == 64 and info.get("type") == "file":
                modified = info.get("LastModified")
                found.append((name, int(info.get("size") or 0), modified.timestamp() if modified else 0.0))
        return found

    @_reached
    def remove(self, digest) -> None:
        self.fs.rm(self._blob(digest))


def _link_open_file(f, path, tmp) -> bool:
    """A hard link `tmp` to the open file `f`, made through `path` and kept only when it is the very file
    `f` is (so a symlink or another file swapped in at `path` is never stored); False where links are
    refused (another file system, protected hard links)."""
    try:
        os.link(path, tmp)  # link() never follows a symlink: at worst it links the symlink, refused below
    except OSError:
        return False
    linked, opened = os.lstat(tmp), os.fstat(f.fileno())
    if (linked.st_dev, linked.st_ino) != (opened.st_dev, opened.st_ino):
        _unlink(tmp)
        return False
    return True


def _open_regular(path, where):
    """A regular file opened for reading, never through a symlink; an ArtifactError for anything else."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ArtifactError(f"{where}: the step left nothing at its path") from None
    except OSError as exc:
        raise ArtifactError(f"{where} is {_kind_of(path)}: rtc stores only regular files and folders") from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ArtifactError(f"{where} is {_kind_of(path)}: rtc stores only regular files and folders")
    return os.fdopen(fd, "rb")


def _walk(root, where):
    """(relative path, full path) of every regular file under the folder `root`, sorted; nothing else allowed."""
    st = os.lstat(root) if os.path.lexists(root) else None
    if st is None:
        raise ArtifactError(f"{where}: the step left nothing at its path")
    if not stat.S_ISDIR(st.st_mode):
        raise ArtifactError(f"{where} is {_kind_of(root)}, not a folder")
    out, entries, stack = [], 0, [("", root)]
    while stack:
        rel, folder = stack.pop()
        with os.scandir(folder) as it:
            for entry in it:
                entries += 1
                if entries > MAX_DIR_ENTRIES:
                    raise ArtifactError(f"{where} holds more than {MAX_DIR_ENTRIES} entries, rtc's limit for one folder")
                path = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append((path, entry.path))
                elif entry.is_file(follow_symlinks=False):
                    out.append((path, entry.path))
                else:
                    raise ArtifactError(f"{where}: {path} is {_kind_of(entry.path)}: rtc stores only regular files and folders")
    return sorted(out)


def _kind_of(path) -> str:
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return "missing"
    for test, name in ((stat.S_ISLNK, "a symlink"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "not a regular file"


def _unlink(path):
    try:
        os.unlink(path)
    except OSError:
        pass


# ---------------------------------------------------------------- artifacts through an engine's archive API
# A target whose workers share no folder with the engine (a Prefect worker in a container) moves a step's
# artifacts as tar streams (Docker's put_archive / get_archive); these keep the bytes streamed and the
# rules those of a folder on this host.


class _ChunkReader:
    """A file object over an iterator of byte chunks (an engine's archive stream), for tarfile's stream mode."""

    def __init__(self, chunks):
        self._chunks, self._pending = iter(chunks), b""

    def read(self, n=-1):
        while n < 0 or len(self._pending) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        if n < 0:
            n = len(self._pending)
        data, self._pending = self._pending[:n], self._pending[n:]
        return data


def unpack_archive(chunks, folder, where):
    """Write the tar stream `chunks` (an engine's archive of one path) into the folder `folder`, as it was
    in the container, for `store_artifact_outputs` to take: so a step's output meets the same rules, in the
    same words, as a folder on this host. Regular files and folders are written; a symlink or FIFO is made
    as one (never followed: the store refuses it); a device, a name escaping the folder or a hard link to
    outside the archive fails here, and so does passing MAX_ARTIFACT_BYTES or MAX_DIR_ENTRIES.
    """
    import tarfile

    total = entries = 0
    with tarfile.open(fileobj=_ChunkReader(chunks), mode="r|") as tar:
        for member in tar:
            parts = member.name.rstrip("/").split("/")
            if member.name.startswith("/") or any(p in ("", ".", "..") for p in parts):
                raise ArtifactError(f"{where}: the engine's archive names {member.name!r}, which is no path in a folder")
            entries += 1
            if entries > MAX_DIR_ENTRIES + 1:  # the port's own folder, and its entries
                raise ArtifactError(f"{where} holds more than {MAX_DIR_ENTRIES} entries, rtc's limit for one folder")
            dest = os.path.join(folder, *parts)
            shown = f"{where}: {'/'.join(parts[1:])}" if len(parts) > 1 else where
            os.makedirs(os.path.dirname(dest), mode=0o755, exist_ok=True)
            if member.isdir():
                os.makedirs(dest, mode=0o755, exist_ok=True)
            elif member.isreg():
                total += member.size
                if total > MAX_ARTIFACT_BYTES:
                    raise ArtifactError(f"{where} is over {MAX_ARTIFACT_BYTES} bytes, rtc's limit for one artifact")
                with tar.extractfile(member) as src, open(dest, "xb") as out:
                    while chunk := src.read(CHUNK):
                        out.write(chunk)
            elif member.islnk():  # a second name of a file the archive holds: a regular file, as on disk
                target = member.linkname.split("/")
                if any(p in ("", ".", "..") for p in target):
                    raise ArtifactError(f"{shown} is a link out of its folder: rtc stores only regular files and folders")
                os.link(os.path.join(folder, *target), dest)
            elif member.issym():
                os.symlink(member.linkname, dest)
            elif member.isfifo():
                os.mkfifo(dest, 0o600)
            else:
                raise ArtifactError(f"{shown} is a device: rtc stores only regular files and folders")


def pack_folder(folder, target):
    """A tar stream (an iterator of byte chunks, for an engine's put_archive) of the staged inputs under
    `folder`, named `target` in the container (relative to /): read-only files, streamed, never held whole."""
    import tarfile
    import threading

    read_fd, write_fd = os.pipe()

    def read_only(info):
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o555 if info.isdir() else 0o444
        return info

    def write():
        try:
            with os.fdopen(write_fd, "wb") as out, tarfile.open(fileobj=out, mode="w|") as tar:
                tar.add(folder, arcname=target.strip("/"), filter=read_only)
        except OSError:  # the reader went away (the upload failed): it says why
            pass

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    with os.fdopen(read_fd, "rb") as stream:
        while chunk := stream.read(CHUNK):
            yield chunk
    writer.join()
