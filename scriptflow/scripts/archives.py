"""Read a hostile `.zip` or `.tar.gz` of a project folder into files, in memory, with caps.

Nothing is extracted to disk. Members are read one by one through capped readers, so a bomb
stops at the cap instead of filling memory: `max_total_bytes` bounds everything decompressed
(tar headers and skipped members included, since a gzip stream must be decompressed to be
skipped), `max_ratio` refuses archives that expand suspiciously, `max_members` bounds the
listing. Anything that could write outside the tree or is not a plain file (`..`, absolute
or drive paths, symlinks, hard links, devices, FIFOs, duplicate names, encrypted members)
refuses the whole archive with `UnsafeArchive` (422): an importer stores all or nothing.

Files the tree does not hold are skipped with a reason: a hidden folder, `__pycache__` or a
type the tree has no kind for (`outside_tree`), a name our path rules refuse
(`invalid_path`), content that is not UTF-8 text or has NUL bytes (`binary`), over the size
cap (`too_large`). Pure CPU work over bytes: callers run `read_archive` in a thread.
"""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from scriptflow.errors import ValidationFailed
from scriptflow.scripts.paths import kind_for_path, path_problem

_IGNORED_FOLDERS = frozenset({"__pycache__", "node_modules"})
# A tar stream is read in blocks; this bounds one read, not a member.
_READ_CHUNK = 64 * 1024


class ArchiveFormat(StrEnum):
    ZIP = "zip"
    TAR_GZ = "tar.gz"


class SkipReason(StrEnum):
    """Why a member of an archive (or a local file in `push`) was not stored."""

    BINARY = "binary"
    TOO_LARGE = "too_large"
    OUTSIDE_TREE = "outside_tree"
    INVALID_PATH = "invalid_path"
    IGNORED = "ignored"


class UnsafeArchive(ValidationFailed):
    code = "UNSAFE_ARCHIVE"


@dataclass(frozen=True)
class ArchiveLimits:
    max_members: int = 5000
    max_file_bytes: int = 1024 * 1024
    max_total_bytes: int = 64 * 1024 * 1024
    # Text compresses about 5-10x; bombs compress 1000x. Only checked past `ratio_floor_bytes`,
    # so a small, very repetitive file is never refused for its ratio alone.
    max_ratio: int = 100
    ratio_floor_bytes: int = 4 * 1024 * 1024


@dataclass(frozen=True)
class ArchiveFile:
    path: str
    content: str


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: SkipReason


@dataclass
class ArchiveContents:
    files: list[ArchiveFile] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)


def sniff_format(data: bytes) -> ArchiveFormat:
    """The archive's format from its magic bytes (a content type can lie; bytes cannot)."""
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ArchiveFormat.ZIP
    if data[:2] == b"\x1f\x8b":
        return ArchiveFormat.TAR_GZ
    raise _refuse("not a .zip or .tar.gz file")


def read_archive(data: bytes, limits: ArchiveLimits | None = None) -> ArchiveContents:
    """The files and skipped members of a `.zip` or `.tar.gz`; `UnsafeArchive` if hostile."""
    limits = limits or ArchiveLimits()
    archive_format = sniff_format(data)
    try:
        if archive_format == ArchiveFormat.ZIP:
            return _ZipReader(data, limits).read()
        return _TarReader(data, limits).read()
    except (zipfile.BadZipFile, tarfile.TarError, zlib.error, EOFError, OSError) as exc:
        raise _refuse("the archive is corrupt or truncated") from exc


def _refuse(problem: str, member: str | None = None) -> UnsafeArchive:
    where = f" ({member[:120]!r})" if member else ""
    details = {"member": member[:255]} if member else {}
    return UnsafeArchive(
        f"Archive refused: {problem}{where}",
        details={"fields": [{"field": "archive", "message": problem}], **details},
    )


class _Collector:
    """What the two formats share: name checks, content checks, the running caps."""

    def __init__(self, limits: ArchiveLimits, compressed_size: int) -> None:
        self.limits = limits
        self.compressed_size = max(compressed_size, 1)
        self.contents = ArchiveContents()
        self.seen: set[str] = set()
        self.members = 0
        self.expanded = 0

    def count_member(self) -> None:
        self.members += 1
        if self.members > self.limits.max_members:
            raise _refuse(f"more than {self.limits.max_members} members")

    def count_bytes(self, n: int) -> None:
        self.expanded += n
        if self.expanded > self.limits.max_total_bytes:
            raise _refuse(f"expands past {self.limits.max_total_bytes} bytes")
        if (
            self.expanded > self.limits.ratio_floor_bytes
            and self.expanded > self.compressed_size * self.limits.max_ratio
        ):
            raise _refuse(f"expands more than {self.limits.max_ratio} times its size")

    def place(self, name: str) -> str | None:
        """The tree path of a regular member, None when it is skipped; refuses escapes."""
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or (len(parts[0]) == 2 and parts[0][1] == ":"):
            raise _refuse("an absolute path", name)
        if ".." in parts:
            raise _refuse("a path that escapes the folder", name)
        if "\x00" in name:
            raise _refuse("a NUL byte in a name", name)
        path = "/".join(part for part in parts if part not in ("", "."))
        if path in self.seen:
            raise _refuse("the same path twice", name)
        self.seen.add(path)
        folders = PurePosixPath(path).parts[:-1]
        hidden = any(part.startswith(".") or part in _IGNORED_FOLDERS for part in folders)
        if hidden or kind_for_path(path) is None:
            self.contents.skipped.append(SkippedFile(path, SkipReason.OUTSIDE_TREE))
            return None
        if path_problem(path) is not None:
            self.contents.skipped.append(SkippedFile(path, SkipReason.INVALID_PATH))
            return None
        return path

    def too_large(self, path: str) -> None:
        self.contents.skipped.append(SkippedFile(path, SkipReason.TOO_LARGE))

    def add(self, path: str, raw: bytes) -> None:
        if b"\x00" in raw:
            self.contents.skipped.append(SkippedFile(path, SkipReason.BINARY))
            return
        try:
            content = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.contents.skipped.append(SkippedFile(path, SkipReason.BINARY))
            return
        self.contents.files.append(ArchiveFile(path, content))


class _ZipReader:
    def __init__(self, data: bytes, limits: ArchiveLimits) -> None:
        self.archive = zipfile.ZipFile(io.BytesIO(data))
        self.collector = _Collector(limits, len(data))

    def read(self) -> ArchiveContents:
        collector = self.collector
        infos = self.archive.infolist()
        if len(infos) > collector.limits.max_members:
            raise _refuse(f"more than {collector.limits.max_members} members")
        for info in infos:
            collector.count_member()
            mode = info.external_attr >> 16
            if info.is_dir():
                if "\x00" in info.filename or ".." in info.filename.replace("\\", "/").split("/"):
                    raise _refuse("a path that escapes the folder", info.filename)
                continue
            if stat.S_ISLNK(mode):
                raise _refuse("a symbolic link", info.filename)
            if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
                raise _refuse("a device, FIFO or socket", info.filename)
            if info.flag_bits & 0x1:
                raise _refuse("an encrypted member", info.filename)
            path = collector.place(info.filename)
            if path is None:
                continue
            raw = self._read_member(info)
            if raw is None:
                collector.too_large(path)
                continue
            collector.add(path, raw)
        return collector.contents

    def _read_member(self, info: zipfile.ZipInfo) -> bytes | None:
        """The member's bytes, or None past the file cap; the declared size is not trusted."""
        cap = self.collector.limits.max_file_bytes
        chunks: list[bytes] = []
        size = 0
        with self.archive.open(info) as member:
            while chunk := member.read(min(_READ_CHUNK, cap + 1 - size)):
                self.collector.count_bytes(len(chunk))
                chunks.append(chunk)
                size += len(chunk)
                if size > cap:
                    return None
        return b"".join(chunks)


class _CappedStream(io.RawIOBase):
    """A decompressed stream that refuses to expand past the collector's caps."""

    def __init__(self, inner: gzip.GzipFile, collector: _Collector) -> None:
        self.inner = inner
        self.collector = collector

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        chunk = self.inner.read(min(len(buffer), _READ_CHUNK))
        self.collector.count_bytes(len(chunk))
        buffer[: len(chunk)] = chunk
        return len(chunk)


class _TarReader:
    def __init__(self, data: bytes, limits: ArchiveLimits) -> None:
        self.collector = _Collector(limits, len(data))
        self.stream = _CappedStream(gzip.GzipFile(fileobj=io.BytesIO(data)), self.collector)

    def read(self) -> ArchiveContents:
        collector = self.collector
        # Stream mode ("r|"): members are read in order, never seeked, never extracted.
        with tarfile.open(fileobj=self.stream, mode="r|") as archive:
            for member in archive:
                collector.count_member()
                if member.isdir():
                    if ".." in member.name.replace("\\", "/").split("/"):
                        raise _refuse("a path that escapes the folder", member.name)
                    continue
                if member.issym():
                    raise _refuse("a symbolic link", member.name)
                if member.islnk():
                    raise _refuse("a hard link", member.name)
                if not member.isreg():
                    raise _refuse("a device, FIFO or special file", member.name)
                path = collector.place(member.name)
                if path is None:
                    continue
                if member.size > collector.limits.max_file_bytes:
                    collector.too_large(path)
                    continue
                extracted = archive.extractfile(member)
                if extracted is None:
                    raise _refuse("an unreadable member", member.name)
                collector.add(path, extracted.read())
        return collector.contents
