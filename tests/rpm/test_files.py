"""A package's file list from its header arrays, against ``rpm -qp --qf`` over rpmbuild output.

Malformed arrays come from headers encoded here by hand, following the header format
(``lib/header.cc``: index entries, an aligned data store, the immutable region's trailer).
"""

from __future__ import annotations

import hashlib
import stat
import struct
import textwrap
from pathlib import Path

import pytest

from ociforge.errors import RpmError
from ociforge.rpm.files import digest_algorithm, file_list, hardlink_sets
from ociforge.rpm.header import Header, parse_header
from ociforge.rpm.package import read_package
from ociforge.rpm.tags import FileFlag
from tests.support import rpms
from tests.support.tools import need, run

#: More of what %files can say: a three-way hard link set, %doc, %license, missingok.
LINKS = rpms.Spec(
    name="links",
    install=textwrap.dedent(
        """\
        mkdir -p %{buildroot}/usr/lib/links %{buildroot}/usr/share/doc/links
        echo shared > %{buildroot}/usr/lib/links/one
        ln %{buildroot}/usr/lib/links/one %{buildroot}/usr/lib/links/two
        ln %{buildroot}/usr/lib/links/one %{buildroot}/usr/lib/links/three
        echo alone > %{buildroot}/usr/lib/links/solo
        echo read me > %{buildroot}/usr/share/doc/links/README
        echo MIT > %{buildroot}/usr/share/doc/links/LICENSE
        mkdir -p %{buildroot}/etc
        echo opt > %{buildroot}/etc/links.conf
        """
    ),
    files=textwrap.dedent(
        """\
        /usr/lib/links
        %doc /usr/share/doc/links/README
        %license /usr/share/doc/links/LICENSE
        %config(missingok) /etc/links.conf
        """
    ),
)

#: What to ask ``rpm -qp --qf`` for each file, and the name each answer goes by here.
_QUERY = {
    "path": "FILENAMES",
    "mode": "FILEMODES:octal",
    "user": "FILEUSERNAME",
    "group": "FILEGROUPNAME",
    "letters": "FILEFLAGS:fflags",
    "flags": "FILEFLAGS",
    "size": "FILESIZES",
    "link": "FILELINKTOS",
    "mtime": "FILEMTIMES",
    "inode": "FILEINODES",
    "device": "FILEDEVICES",
    "nlinks": "FILENLINKS",
    "caps": "FILECAPS",
    "lang": "FILELANGS",
    "digest": "FILEDIGESTS",
    "rdev": "FILERDEVS",
}


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    workdir = tmp_path_factory.mktemp("file-rpms")
    return {spec.name: rpms.build(spec, workdir) for spec in (rpms.TINY, LINKS)}


def header_of(path: Path) -> Header:
    with path.open("rb") as fh:
        return read_package(fh, what=path.name).header


def rpm_files(path: Path, tmp: Path) -> list[dict[str, str]]:
    """rpm's own view: the fields of ``_QUERY`` for each file, in header order."""
    need("rpm")
    query = "|".join(f"%{{{tag}}}" for tag in _QUERY.values())
    out = run(["rpm", "-qp", "--qf", f"[{query}\\n]", str(path)], env=rpms.env(tmp)).stdout
    # rpm prints "(none)" for an array the header does not have at all.
    return [
        {k: v if v != "(none)" else "" for k, v in zip(_QUERY, line.split("|"), strict=True)}
        for line in out.splitlines()
    ]


_LETTERS = {
    "c": FileFlag.CONFIG,
    "d": FileFlag.DOC,
    "m": FileFlag.MISSINGOK,
    "n": FileFlag.NOREPLACE,
    "s": FileFlag.SPECFILE,
    "g": FileFlag.GHOST,
    "l": FileFlag.LICENSE,
    "r": FileFlag.README,
    "a": FileFlag.ARTIFACT,
}


@pytest.mark.parametrize("name", ["tiny", "links"])
def test_file_list_is_what_rpm_reports(
    packages: dict[str, Path], tmp_path: Path, name: str
) -> None:
    files = file_list(header_of(packages[name]))
    rows = rpm_files(packages[name], tmp_path)
    assert [f.path for f in files] == [row["path"] for row in rows]
    for f, row in zip(files, rows, strict=True):
        mode = int(row["mode"], 8)
        assert (f.mode, f.user, f.group, f.linkto) == (mode, row["user"], row["group"], row["link"])
        numbers = ("flags", "size", "mtime", "inode", "device", "rdev")
        assert (int(f.flags), f.size, f.mtime, f.inode, f.device, f.rdev) == tuple(
            int(row[k]) for k in numbers
        ), f.path
        assert (f.caps, f.lang, f.digest) == (row["caps"], row["lang"], row["digest"]), f.path
        assert set(row["letters"]) == {c for c, bit in _LETTERS.items() if f.flags & bit}, f.path
        assert f.is_dir == stat.S_ISDIR(mode)
        assert f.is_symlink == (row["link"] != "")
        assert f.permissions == mode & 0o7777


def test_what_the_spec_said(packages: dict[str, Path]) -> None:
    files = {f.path: f for f in file_list(header_of(packages["tiny"]))}
    assert files["/etc/tiny/tiny.conf"].is_config
    assert files["/etc/tiny/tiny.conf"].flags & FileFlag.NOREPLACE
    assert files["/var/log/tiny.log"].is_ghost
    assert files["/var/log/tiny.log"].permissions == 0o640
    assert files["/var/lib/tiny"].is_dir
    assert (files["/var/lib/tiny"].user, files["/var/lib/tiny"].permissions) == ("daemon", 0o750)
    assert files["/usr/share/tiny/daemon-owned"].permissions == 0o4755
    assert files["/usr/bin/tiny-data"].linkto == "../share/tiny/a"
    assert files["/usr/bin/tinycap"].caps == "cap_net_raw=ep"
    # The digests are of the content the spec wrote, by the algorithm the header names.
    assert digest_algorithm(header_of(packages["tiny"])) == "sha256"
    assert files["/usr/share/tiny/a"].digest == hashlib.sha256(b"data\n").hexdigest()
    assert files["/usr/share/tiny/empty"].digest == hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize("name", ["tiny", "links"])
def test_hardlink_sets_are_rpms(packages: dict[str, Path], tmp_path: Path, name: str) -> None:
    files = file_list(header_of(packages[name]))
    sets = hardlink_sets(files)
    rows = rpm_files(packages[name], tmp_path)
    for f, row in zip(files, rows, strict=True):
        if f.is_regular and not f.is_ghost:
            assert len(sets.get(f.index, (f.index,))) == int(row["nlinks"]), f.path
    by_inode: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):
        if stat.S_ISREG(int(row["mode"], 8)) and "g" not in row["letters"]:  # not %ghost
            by_inode.setdefault((row["device"], row["inode"]), []).append(i)
    expected = {i: tuple(group) for group in by_inode.values() if len(group) > 1 for i in group}
    assert sets == expected


def test_a_three_way_set(packages: dict[str, Path]) -> None:
    files = file_list(header_of(packages["links"]))
    sets = hardlink_sets(files)
    paths = {f.index: f.path for f in files}
    linked = {tuple(paths[i] for i in group) for group in sets.values()}
    assert linked == {("/usr/lib/links/one", "/usr/lib/links/three", "/usr/lib/links/two")}


# -- headers by hand -----------------------------------------------------------------------

_CHAR, _INT8, _INT16, _INT32, _INT64, _STRING, _BIN, _ARRAY = 1, 2, 3, 4, 5, 6, 7, 8
_WIDTH = {_INT16: ("H", 2), _INT32: ("I", 4), _INT64: ("Q", 8)}
# rpmtag.h
_NAME, _VERSION, _RELEASE = 1000, 1001, 1002
_FILESIZES, _FILEMODES, _FILEMTIMES, _FILEDIGESTS, _FILELINKTOS, _FILEFLAGS = (
    1028,
    1030,
    1034,
    1035,
    1036,
    1037,
)
_FILEUSERNAME, _FILEGROUPNAME, _DIRINDEXES, _BASENAMES, _DIRNAMES = 1039, 1040, 1116, 1117, 1118
_LONGFILESIZES, _FILEDIGESTALGO, _FILEDEVICES, _FILEINODES = 5008, 5011, 1095, 1096

Value = tuple[int, object]


def encode(tags: dict[int, Value]) -> bytes:
    """A header with ``tags`` (type, value) inside a HEADERIMMUTABLE region."""
    entries: list[tuple[int, int, int, int]] = []
    store = bytearray()
    for tag, (kind, value) in tags.items():
        if kind in _WIDTH:
            code, size = _WIDTH[kind]
            store += b"\0" * (-len(store) % size)
            items = list(value)  # type: ignore[call-overload]
            entries.append((tag, kind, len(store), len(items)))
            store += struct.pack(f">{len(items)}{code}", *items)
        elif kind == _STRING:
            entries.append((tag, kind, len(store), 1))
            store += str(value).encode() + b"\0"
        else:
            items = list(value)  # type: ignore[call-overload]
            entries.append((tag, kind, len(store), len(items)))
            store += b"".join(s.encode() + b"\0" for s in items)
    il = len(entries) + 1
    trailer = struct.pack(">IIiI", 63, _BIN, -16 * il, 16)
    index = struct.pack(">IIiI", 63, _BIN, len(store), 16)
    index += b"".join(struct.pack(">IIiI", *e) for e in entries)
    store += trailer
    return b"\x8e\xad\xe8\x01\0\0\0\0" + struct.pack(">II", il, len(store)) + index + store


def two_files(**changes: Value) -> dict[int, Value]:
    tags: dict[int, Value] = {
        _NAME: (_STRING, "hand"),
        _VERSION: (_STRING, "1"),
        _RELEASE: (_STRING, "1"),
        _FILESIZES: (_INT32, [3, 0]),
        _FILEMODES: (_INT16, [0o100644, 0o40755]),
        _FILEUSERNAME: (_ARRAY, ["root", "root"]),
        _FILEGROUPNAME: (_ARRAY, ["root", "wheel"]),
        _DIRINDEXES: (_INT32, [0, 1]),
        _BASENAMES: (_ARRAY, ["motd", "lib"]),
        _DIRNAMES: (_ARRAY, ["/etc/", "/usr/"]),
    }
    for name, value in changes.items():
        tags[globals()[f"_{name}"]] = value
    return tags


def files_of(tags: dict[int, Value]) -> list[tuple[object, ...]]:
    header = parse_header(encode(tags), what="hand.rpm")
    return [
        (f.path, f.mode, f.size, f.group, f.mtime, f.linkto, f.device) for f in file_list(header)
    ]


def test_a_hand_made_header() -> None:
    # Absent optional arrays take rpm's defaults (mtime 0, no link target, device 1).
    assert files_of(two_files()) == [
        ("/etc/motd", 0o100644, 3, "root", 0, "", 1),
        ("/usr/lib", 0o40755, 0, "wheel", 0, "", 1),
    ]
    header = parse_header(encode(two_files()), what="hand.rpm")
    assert digest_algorithm(header) == "md5"  # no FILEDIGESTALGO: rpm's old default


def test_directory_names_are_normalised() -> None:
    tags = two_files(DIRNAMES=(_ARRAY, ["/etc//./", "/"]))
    assert [path for path, *_ in files_of(tags)] == ["/etc/motd", "/lib"]


def test_long_file_sizes_win() -> None:
    tags = two_files(LONGFILESIZES=(_INT64, [5 << 32, 0]))
    del tags[_FILESIZES]
    assert [size for _p, _m, size, *_ in files_of(tags)] == [5 << 32, 0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"FILEMODES": (_INT16, [0o100644])}, "hand.rpm: FILEMODES has 1 entries for 2 files"),
        ({"FILESIZES": (_INT32, [1, 2, 3])}, "FILESIZES has 3 entries for 2 files"),
        ({"FILEUSERNAME": (_ARRAY, ["root"])}, "FILEUSERNAME has 1 entries for 2 files"),
        ({"FILEMTIMES": (_INT32, [1])}, "FILEMTIMES has 1 entries for 2 files"),
        ({"FILELINKTOS": (_ARRAY, ["", "", ""])}, "FILELINKTOS has 3 entries for 2 files"),
        ({"DIRINDEXES": (_INT32, [0])}, "DIRINDEXES has 1 entries for 2 files"),
        ({"DIRINDEXES": (_INT32, [0, 2])}, "DIRINDEXES entry 2 has no directory"),
        ({"BASENAMES": (_ARRAY, ["motd", "a/b"])}, "invalid file name 'a/b'"),
        ({"BASENAMES": (_ARRAY, ["motd", ".."])}, r"invalid file name '\.\.'"),
        ({"BASENAMES": (_ARRAY, ["", "lib"])}, "invalid file name ''"),
        ({"DIRNAMES": (_ARRAY, ["etc/", "/usr/"])}, "directory name 'etc/' is not absolute"),
        ({"DIRNAMES": (_ARRAY, ["/etc/", "/usr/../../"])}, r"'/usr/\.\./\.\./' leaves the root"),
        ({"FILEMODES": (_ARRAY, ["644", "755"])}, "tag FILEMODES has unexpected type STRING_ARRAY"),
        ({"FILEDIGESTALGO": (_INT32, [99])}, "unknown file digest algorithm 99"),
    ],
)
def test_malformed_arrays_are_refused(changes: dict[str, Value], message: str) -> None:
    with pytest.raises(RpmError, match=message):
        read_files(encode(two_files(**changes)))


def read_files(raw: bytes) -> None:
    header = parse_header(raw, what="hand.rpm")
    file_list(header)
    digest_algorithm(header)


def test_no_files() -> None:
    tags = {_NAME: (_STRING, "empty"), _VERSION: (_STRING, "1"), _RELEASE: (_STRING, "1")}
    header = parse_header(encode(tags))
    assert file_list(header) == ()
    assert hardlink_sets(()) == {}


def test_ghosts_and_non_files_are_never_linked() -> None:
    tags = two_files(
        FILEMODES=(_INT16, [0o100644, 0o100644]),
        FILEINODES=(_INT32, [7, 7]),
        FILEDEVICES=(_INT32, [1, 1]),
        FILEFLAGS=(_INT32, [0, int(FileFlag.GHOST)]),
    )
    files = file_list(parse_header(encode(tags)))
    assert hardlink_sets(files) == {}  # the %ghost one is never created, so never a link
    linked = file_list(parse_header(encode({**tags, _FILEFLAGS: (_INT32, [0, 0])})))
    assert hardlink_sets(linked) == {0: (0, 1), 1: (0, 1)}
