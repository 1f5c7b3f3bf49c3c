"""The cpio reader against archives written by GNU cpio, including hostile names."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest

from ociforge.errors import RpmError
from ociforge.rpm.cpio import iter_cpio, safe_name
from tests.support.tools import need


def gnu_cpio(cwd: Path, names: list[str]) -> bytes:
    need("cpio")
    proc = subprocess.run(
        ["cpio", "-o", "-H", "newc", "--quiet"],
        input="\n".join(names).encode() + b"\n",
        cwd=cwd,
        capture_output=True,
        check=True,
    )
    return proc.stdout


def test_reads_gnu_cpio_newc(tmp_path: Path) -> None:
    (tmp_path / "usr/bin").mkdir(parents=True)
    (tmp_path / "usr/bin/tool").write_bytes(b"x" * 1001)
    (tmp_path / "usr/bin/link").symlink_to("tool")
    data = gnu_cpio(tmp_path, ["./usr", "./usr/bin", "./usr/bin/tool", "./usr/bin/link"])
    got = {e.path: (e.mode, r.read()) for e, r in iter_cpio(io.BytesIO(data), what="t")}
    assert got["/usr/bin/tool"][1] == b"x" * 1001
    assert got["/usr/bin/link"][1] == b"tool"
    assert list(got) == ["/usr", "/usr/bin", "/usr/bin/tool", "/usr/bin/link"]


def test_dotdot_name_is_refused(tmp_path: Path) -> None:
    inner = tmp_path / "inner"
    inner.mkdir()
    (tmp_path / "escape").write_text("gotcha")
    data = gnu_cpio(inner, ["../escape"])
    with pytest.raises(RpmError, match=r"leaves the root \(\.\.\)"):
        list(iter_cpio(io.BytesIO(data), what="t"))


def test_absolute_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    data = gnu_cpio(tmp_path, [str(tmp_path / "f")])  # GNU cpio -o keeps the leading '/'
    with pytest.raises(RpmError, match="absolute name"):
        list(iter_cpio(io.BytesIO(data), what="t"))


@pytest.mark.parametrize("name", ["/etc/passwd", "./a/../../b", "../x", "a/../../x"])
def test_safe_name_refuses(name: str) -> None:
    with pytest.raises(RpmError):
        safe_name(name, what="t")


@pytest.mark.parametrize(
    ("name", "path"), [("./usr/bin/x", "/usr/bin/x"), ("usr//lib/./y", "/usr/lib/y")]
)
def test_safe_name_normalises(name: str, path: str) -> None:
    assert safe_name(name, what="t") == path


def test_truncated_archive(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"y" * 5000)
    data = gnu_cpio(tmp_path, ["./f"])

    def read_all() -> None:
        for _entry, reader in iter_cpio(io.BytesIO(data[:3000]), what="t"):
            reader.read()

    with pytest.raises(RpmError, match="truncated"):
        read_all()


def test_garbage_magic() -> None:
    with pytest.raises(RpmError, match="bad cpio magic"):
        list(iter_cpio(io.BytesIO(b"123456" + b"0" * 200), what="t"))


def _newc_trailer() -> bytes:
    name = b"TRAILER!!!\0"
    fields = [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(name), 0]
    header = b"070701" + b"".join(b"%08X" % f for f in fields) + name
    return header + b"\0" * (-len(header) % 4)


def test_stripped_format() -> None:
    # rpm writes 07070X + the file index, padded to 4, then the data (size from the header).
    sizes = {0: 5, 2: 0, 3: 7}
    body = b""
    for index, size in sizes.items():
        body += b"07070X" + b"%08x" % index + b"\0\0"
        data = bytes([65 + index]) * size
        body += data + b"\0" * (-size % 4)
    body += _newc_trailer()
    got = [
        (e.index, r.read())
        for e, r in iter_cpio(io.BytesIO(body), what="t", stripped_size=sizes.__getitem__)
    ]
    assert got == [(0, b"AAAAA"), (2, b""), (3, b"DDDDDDD")]


def test_stripped_without_sizes_is_refused() -> None:
    with pytest.raises(RpmError, match="stripped"):
        list(iter_cpio(io.BytesIO(b"07070X00000000\0\0"), what="t"))
