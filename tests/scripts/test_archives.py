"""Reading a hostile archive: plain files come out byte for byte, anything unsafe refuses it all."""

from __future__ import annotations

import gzip
import io
import stat
import tarfile
import zipfile
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scriptflow.scripts.archives import (
    ArchiveLimits,
    SkipReason,
    UnsafeArchive,
    read_archive,
    sniff_format,
)

FILES = {
    "tests/test_login.py": "def test_login(page):\r\n    page.goto('/login')  # é\r\n",
    "pages/login_page.py": "class LoginPage:\n    pass",
    "data/users.json": '{"name": "Zoë"}\n',
}


def make_zip(members: dict[str, bytes | str], *, modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if modes and name in modes:
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def make_tar(
    members: dict[str, bytes | str], *, special: Callable[[tarfile.TarFile], None] | None = None
) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            raw = data.encode() if isinstance(data, str) else data
            info = tarfile.TarInfo(name)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
        if special:
            special(archive)
    return buffer.getvalue()


@pytest.mark.parametrize("make", [make_zip, make_tar])
def test_files_come_out_exactly_and_the_rest_is_skipped_with_a_reason(
    make: Callable[..., bytes],
) -> None:
    members: dict[str, bytes | str] = {
        **{f"./{path}": content for path, content in FILES.items()},
        "README.md": "# suite\n",
        ".git/config.txt": "[core]\n",
        "pages/__pycache__/login_page.py": "x = 1\n",
        "data/logo.txt": b"\x89PNG\x00\x01",
        "data/latin1.csv": "café\n".encode("latin-1"),
        "data/big.txt": "x" * 2048,
    }
    contents = read_archive(make(members), ArchiveLimits(max_file_bytes=1024))
    assert {f.path: f.content for f in contents.files} == FILES
    assert {s.path: s.reason for s in contents.skipped} == {
        "README.md": SkipReason.OUTSIDE_TREE,
        ".git/config.txt": SkipReason.OUTSIDE_TREE,
        "pages/__pycache__/login_page.py": SkipReason.OUTSIDE_TREE,
        "data/logo.txt": SkipReason.BINARY,
        "data/latin1.csv": SkipReason.BINARY,
        "data/big.txt": SkipReason.TOO_LARGE,
    }


def _symlink(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("tests/link.py")
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    archive.addfile(info)


def _hardlink(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("tests/hard.py")
    info.type, info.linkname = tarfile.LNKTYPE, "tests/test_login.py"
    archive.addfile(info)


def _device(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("tests/dev.py")
    info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    archive.addfile(info)


def _fifo(archive: tarfile.TarFile) -> None:
    info = tarfile.TarInfo("tests/fifo.py")
    info.type = tarfile.FIFOTYPE
    archive.addfile(info)


HOSTILE = {
    "zip slip": make_zip({"../../etc/cron.d/evil.py": "x"}),
    "zip slip inside": make_zip({"tests/../../evil.py": "x"}),
    "zip backslash slip": make_zip({"..\\..\\evil.py": "x"}),
    "zip absolute": make_zip({"/etc/evil.py": "x"}),
    "zip drive": make_zip({"C:/evil.py": "x"}),
    "zip symlink": make_zip({"tests/link.py": "/etc/passwd"}, modes={"tests/link.py": 0o120777}),
    "zip device": make_zip({"tests/dev.py": ""}, modes={"tests/dev.py": stat.S_IFCHR | 0o666}),
    "zip duplicate": make_zip({"a.py": "1", "./a.py": "2"}),
    "tar slip": make_tar({"../evil.py": "x"}),
    "tar absolute": make_tar({"/tmp/evil.py": "x"}),
    "tar symlink": make_tar(FILES, special=_symlink),
    "tar hardlink": make_tar(FILES, special=_hardlink),
    "tar device": make_tar(FILES, special=_device),
    "tar fifo": make_tar(FILES, special=_fifo),
    "not an archive": b"hello, world",
    "truncated zip": make_zip(dict(FILES))[:60],
    "gzip, not tar": gzip.compress(b"not a tar file at all" * 40),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_archives_are_refused_whole(name: str) -> None:
    with pytest.raises(UnsafeArchive) as caught:
        read_archive(HOSTILE[name])
    assert caught.value.status_code == 422
    assert caught.value.details["fields"][0]["field"] == "archive"


def test_bombs_stop_at_the_caps_before_memory_fills() -> None:
    limits = ArchiveLimits(max_total_bytes=4 * 1024 * 1024, ratio_floor_bytes=1024 * 1024)
    # 3 MiB of zeros per member deflates to a few KiB: the ratio trips past the floor.
    zeros = b"\x00" * (3 * 1024 * 1024)
    for bomb in (make_zip({"a.txt": zeros, "b.txt": zeros}), make_tar({"a.txt": zeros})):
        with pytest.raises(UnsafeArchive, match="expands"):
            read_archive(bomb, limits)
    with pytest.raises(UnsafeArchive, match="members"):
        read_archive(make_zip({f"t/{i}.txt": "" for i in range(11)}), ArchiveLimits(max_members=10))
    with pytest.raises(UnsafeArchive, match="members"):
        read_archive(make_tar({f"t/{i}.txt": "" for i in range(11)}), ArchiveLimits(max_members=10))


def test_the_format_comes_from_the_bytes() -> None:
    assert sniff_format(make_zip(dict(FILES))) == "zip"
    assert sniff_format(make_tar(dict(FILES))) == "tar.gz"


_NAME = st.text(alphabet="abcz_-é", min_size=1, max_size=8)
_TREE_PATH = st.builds(
    lambda folders, name, suffix: "/".join([*folders, name]) + suffix,
    st.lists(_NAME, max_size=3),
    _NAME,
    st.sampled_from([".py", ".json", ".csv", ".txt", ".yaml"]),
)
_TEXT = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=200
)


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(_TREE_PATH, _TEXT, max_size=6), st.sampled_from([make_zip, make_tar]))
def test_any_tree_of_text_files_comes_back_exactly(
    files: dict[str, str], make: Callable[..., bytes]
) -> None:
    contents = read_archive(make(dict(files)))
    assert {f.path: f.content for f in contents.files} == files
    assert contents.skipped == []
