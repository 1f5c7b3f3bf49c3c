"""Named regressions: an ociarchive shows ociforge the same layout that GNU tar extracts, or none.

A tar reader that accepts a negative base-256 size moves its idea of the offset backwards while
the stream moves on; an archive built that way makes it read a decoy ``index.json`` from inside
another member's data while ``tar -x`` writes the real one. Duplicate names are the other way to
show two readers two layouts (first-wins against last-wins), so they are refused outright.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from ociforge.archive import OciArchive
from ociforge.errors import ArchiveError
from ociforge.tar.header import DIR, TarHeader, encode_header, end_of_archive
from tests.support import images
from tests.support.rawtar import base256, ustar
from tests.support.tools import need

_LAYOUT = b'{"imageLayoutVersion": "1.0.0"}'


def _blobs(*imgs: images.BuiltImage) -> bytes:
    out = ustar("oci-layout", data=_LAYOUT)
    out += encode_header(TarHeader("blobs/", type=DIR, mode=0o755))
    out += encode_header(TarHeader("blobs/sha256/", type=DIR, mode=0o755))
    for img in imgs:
        for digest, data in img.blobs().items():
            out += ustar("blobs/sha256/" + digest.split(":")[1], data=data)
    return out


def _decoy_archive(path: Path) -> tuple[bytes, bytes]:
    """An archive whose real index names image A while a decoy inside ``notes`` names B."""
    real_img = images.image([images.layer([images.file("etc/os-release", "ID=real\n")])])
    decoy_img = images.image([images.layer([images.file("etc/os-release", "ID=evil\n")])])
    real = images.index_json([(real_img, "latest")])
    decoy = images.index_json([(decoy_img, "latest")])
    width = max(len(real), len(decoy))
    real, decoy = real.ljust(width), decoy.ljust(width)  # JSON allows trailing spaces
    head = _blobs(real_img, decoy_img)
    # 'notes' carries the decoy at a block boundary of its data.
    notes_data = b"\0" * 512 + decoy.ljust(-(-width // 512) * 512, b" ")
    notes = ustar("notes", data=notes_data)
    decoy_at = len(head) + 512 + 512  # header, one block, then the decoy
    liar_at = len(head) + len(notes)
    # After the liar's header, index.json's header, then its data at liar_at + 1024. A reader
    # that adds the negative size to its offset puts that data at decoy_at instead.
    shift = liar_at + 1024 - decoy_at
    liar = ustar("liar", size=base256(-shift, 12))
    tail = ustar("index.json", data=real) + end_of_archive()
    path.write_bytes(head + notes + liar + tail)
    return real, decoy


def test_negative_size_decoy_index_is_refused_not_read(tmp_path: Path) -> None:
    need("tar")
    archive = tmp_path / "decoy.ociarchive"
    real, _ = _decoy_archive(archive)
    out = tmp_path / "x"
    out.mkdir()
    subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], capture_output=True, check=False)
    # GNU tar skips the broken header and extracts the real index.
    assert (out / "index.json").read_bytes() == real
    # Today's reader returned the decoy here; now the archive is refused.
    with pytest.raises(ArchiveError, match="negative size"):
        OciArchive(str(archive)).close()


@pytest.mark.parametrize(
    ("first", "second"),
    [("index.json", "index.json"), ("./index.json", "index.json"), ("oci-layout", "./oci-layout")],
)
def test_duplicate_member_names_are_refused(tmp_path: Path, first: str, second: str) -> None:
    img = images.image([images.layer([images.file("a", "a")])])
    index = images.index_json([(img, "latest")])
    raw = _blobs(img)
    raw += ustar(first, data=index if "index" in first else _LAYOUT)
    raw += ustar(second, data=index if "index" in second else _LAYOUT)
    if "index" not in first:
        raw += ustar("index.json", data=index)
    archive = tmp_path / "dup.ociarchive"
    archive.write_bytes(raw + end_of_archive())
    with pytest.raises(ArchiveError, match=r"more than once"):
        OciArchive(str(archive))


def test_repeated_directories_are_harmless(tmp_path: Path) -> None:
    img = images.image([images.layer([images.file("a", "a")])])
    raw = _blobs(img) + encode_header(TarHeader("./blobs", type=DIR, mode=0o755))
    raw += ustar("index.json", data=images.index_json([(img, "v1")]))
    archive = tmp_path / "dirs.ociarchive"
    archive.write_bytes(raw + end_of_archive())
    with OciArchive(str(archive)) as opened:
        assert json.loads(opened.index_json())["manifests"][0]["digest"] == img.digest
