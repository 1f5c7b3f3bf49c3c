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
