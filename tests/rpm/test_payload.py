"""Reading rpmbuild packages: metadata against ``rpm -qp --dump``, contents against rpm2cpio."""

from __future__ import annotations

import hashlib
import os
import stat
import struct
import subprocess
from pathlib import Path

import pytest

from ociforge.errors import DigestMismatch, IntegrityError, RpmError
from ociforge.rpm.package import read_package
from ociforge.rpm.payload import iter_payload
from ociforge.rpm.tags import FileFlag
from tests.support import rpms
from tests.support.rpmread import read_everything
from tests.support.tools import need, run


def rpm_env(tmp: Path) -> dict[str, str]:
    return rpms.env(tmp)


def dump(path: Path, tmp: Path) -> dict[str, list[str]]:
    """``rpm -qp --dump``: path size mtime digest mode owner group config doc rdev link."""
    need("rpm")
    out = run(["rpm", "-qp", "--dump", str(path)], env=rpm_env(tmp)).stdout
    rows = {}
    for line in out.splitlines():
        fields = line.split(" ")
        rows[fields[0]] = fields[1:]
    return rows


def read_all(path: Path) -> dict[str, tuple[object, bytes | None, str]]:
    out: dict[str, tuple[object, bytes | None, str]] = {}
    with path.open("rb") as fh:
        package = read_package(fh, what=str(path))
        for item in iter_payload(package, fh):
            out[item.file.path] = (item.file, item.data.read() if item.data else None, item.link)
    return out


@pytest.mark.parametrize("codec", list(rpms.PAYLOADS))
def test_file_metadata_matches_rpm_dump(
    codec: str, tiny_rpms: dict[str, Path], tmp_path: Path
) -> None:
    path = tiny_rpms[codec]
    with path.open("rb") as fh:
        package = read_package(fh, what=str(path))
    assert package.compressor == codec
    expected = dump(path, tmp_path)
    assert {f.path for f in package.files} == set(expected)
    for f in package.files:
        size, mtime, digest, mode, owner, group, config, _doc, rdev, link = expected[f.path]
        assert f.size == int(size), f.path
        assert f.mtime == int(mtime), f.path
        assert int(mode, 8) == f.mode, f.path
        assert (f.user, f.group) == (owner, group)
        assert f.is_config == (config == "1"), f.path
        assert int(rdev) == f.rdev
        assert (f.linkto or "X") == link
        assert (f.digest or "0" * 64) == digest, f.path
    ghost = next(f for f in package.files if f.path == "/var/log/tiny.log")
    assert ghost.flags & FileFlag.GHOST
    assert next(f for f in package.files if f.path == "/usr/bin/tinycap").caps == "cap_net_raw=ep"


@pytest.mark.parametrize("codec", list(rpms.PAYLOADS))
def test_payload_contents_match_rpm2cpio(
    codec: str, tiny_rpms: dict[str, Path], tmp_path: Path
) -> None:
    need("rpm2cpio", "cpio")
    path = tiny_rpms[codec]
    out = tmp_path / "x"
    out.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(path)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=out, check=True)
    ours = read_all(path)
    for name, (file, data, link) in ours.items():
        real = out / name.lstrip("/")
        st = os.lstat(real)
        if data is not None:
            assert real.read_bytes() == data, name
        elif link:
            assert os.path.samestat(st, os.lstat(out / link.lstrip("/")))
        elif stat.S_ISLNK(st.st_mode):
            assert os.readlink(real) == file.linkto  # type: ignore[attr-defined]
    # Every file rpm2cpio extracted came out of ours too (ghosts are not in the payload).
    listing = subprocess.run(
        ["cpio", "-it", "--quiet"], input=cpio, capture_output=True, check=True
    )
    assert {name[1:] for name in listing.stdout.decode().split()} == set(ours)
    assert "/var/log/tiny.log" not in ours
    # The hardlink pair: one carries the data, the other links to it.
    a, b = ours["/usr/share/tiny/a"], ours["/usr/share/tiny/b"]
    assert {a[2], b[2]} == {"", "/usr/share/tiny/b"} or {a[2], b[2]} == {"", "/usr/share/tiny/a"}


def test_payload_verifies_with_rpm_k(tiny_rpms: dict[str, Path], tmp_path: Path) -> None:
    # rpm's own integrity check agrees the fixture is sound, so our failures below are real.
    need("rpm")
    proc = run(["rpm", "-Kv", "--nosignature", str(tiny_rpms["zstd"])], env=rpm_env(tmp_path))
    assert "Payload SHA256 digest: OK" in proc.stdout


def _payload_offset(data: bytes) -> int:
    # Independent of ociforge: lead, signature header padded to 8, main header.
    off = 96
    il, dl = struct.unpack(">II", data[off + 8 : off + 16])
    off += 16 + 16 * il + dl
    off += -off % 8
    il, dl = struct.unpack(">II", data[off + 8 : off + 16])
    return off + 16 + 16 * il + dl


def test_payload_digest_mismatch(tiny_rpms: dict[str, Path]) -> None:
    data = tiny_rpms["zstd"].read_bytes()
    # A zstd skippable frame decompresses to nothing, so only PAYLOADSHA256 can notice it.
    skippable = struct.pack("<II", 0x184D2A50, 4) + b"evil"
    with pytest.raises(DigestMismatch, match="PAYLOADSHA256"):
        read_everything(data + skippable)


def test_file_digest_mismatch(rpm_dir: Path, tmp_path: Path) -> None:
    need("rpm2cpio", "cpio")
    path = rpms.build(rpms.TWO_FILES, rpm_dir)
    data = bytearray(path.read_bytes())
    out = tmp_path / "x"
    out.mkdir()
    cpio = subprocess.run(["rpm2cpio", str(path)], capture_output=True, check=True).stdout
    subprocess.run(["cpio", "-idm", "--quiet"], input=cpio, cwd=out, check=True)
    random_bytes = (out / "usr/share/two/a.bin").read_bytes()
    # Incompressible data sits in raw zstd blocks: find a stretch of it and change one byte.
    window = random_bytes[150000:150064]
    at = bytes(data).find(window, _payload_offset(bytes(data)))
    assert at > 0
    data[at + 10] ^= 0xFF
    with pytest.raises(DigestMismatch, match=r"file digest mismatch for /usr/share/two/a\.bin"):
        read_everything(bytes(data))


def test_bad_lead_magic(tiny_rpms: dict[str, Path]) -> None:
    data = bytearray(tiny_rpms["zstd"].read_bytes())
    data[0] = 0
    with pytest.raises(RpmError, match="bad lead magic"):
        read_everything(bytes(data))


def test_truncated_header(tiny_rpms: dict[str, Path]) -> None:
    data = tiny_rpms["zstd"].read_bytes()
    cut = _payload_offset(data) - 100
    with pytest.raises(RpmError, match="truncated"):
        read_everything(data[:cut])


@pytest.mark.parametrize(
    ("which", "il"), [("signature", 0xFFFFFFFF), ("signature", 33), ("main", 0x10000), ("main", 0)]
)
def test_absurd_index_counts(tiny_rpms: dict[str, Path], which: str, il: int) -> None:
    data = bytearray(tiny_rpms["zstd"].read_bytes())
    off = 96
    if which == "main":
        sil, sdl = struct.unpack(">II", data[off + 8 : off + 16])
        off += 16 + 16 * sil + sdl
        off += -off % 8
    data[off + 8 : off + 12] = struct.pack(">I", il)
    with pytest.raises(RpmError, match="index count"):
        read_everything(bytes(data))


def test_absurd_entry_offset(tiny_rpms: dict[str, Path]) -> None:
    data = bytearray(tiny_rpms["zstd"].read_bytes())
    off = 96
    sil, sdl = struct.unpack(">II", data[off + 8 : off + 16])
    off += 16 + 16 * sil + sdl
    off += -off % 8
    # The second index entry of the main header points far outside the data store.
    data[off + 16 + 16 + 8 : off + 16 + 16 + 12] = struct.pack(">I", 0x7FFFFFF0)
    with pytest.raises(RpmError, match="outside"):
        read_everything(bytes(data))


def test_altered_header_fails_its_digest(tiny_rpms: dict[str, Path]) -> None:
    data = bytearray(tiny_rpms["zstd"].read_bytes())
    payload = _payload_offset(bytes(data))
    at = bytes(data).rfind(b"Testing", 0, payload)  # the Group string inside the main header
    data[at] = ord("X")
    with pytest.raises(DigestMismatch, match="header sha256 digest mismatch"):
        read_everything(bytes(data))


def test_truncated_payload(tiny_rpms: dict[str, Path]) -> None:
    data = tiny_rpms["xz"].read_bytes()
    with pytest.raises((RpmError, IntegrityError, ValueError)):
        read_everything(data[:-200])


def test_sha256_of_each_file_is_checked(tiny_rpms: dict[str, Path]) -> None:
    files = read_all(tiny_rpms["gzip"])
    file, data, _ = files["/usr/bin/tiny"]
    assert data is not None
    assert hashlib.sha256(data).hexdigest() == file.digest  # type: ignore[attr-defined]
