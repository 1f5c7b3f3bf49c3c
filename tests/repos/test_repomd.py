"""repomd.xml from createrepo_c, and the malformed and hostile ones that must be refused."""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from ociforge.errors import RepoError, SizeMismatch
from ociforge.repos.repomd import check_href, codec_of, parse_repomd
from tests.support.repos import Graph

NS = "http://linux.duke.edu/metadata/repo"


@pytest.mark.parametrize("compress", ["gz", "xz", "bz2", "zstd"])
def test_createrepo_output_parses_and_matches_the_files(graph: Graph, compress: str) -> None:
    root = graph.repo("main", compress=compress)
    data = (root / "repodata/repomd.xml").read_bytes()
    repomd = parse_repomd(data)
    # What createrepo_c (or the fixture's zstd rewrite) wrote, read with ElementTree here.
    tree = ET.fromstring(data)
    written = {d.get("type"): d for d in tree.findall(f"{{{NS}}}data")}
    assert {r.type for r in repomd.records} == set(written)
    assert {"primary", "filelists", "other"} <= set(written)
    for record in repomd.records:
        blob = (root / record.href).read_bytes()
        assert record.checksum.algorithm == "sha256"
        assert record.checksum.value == hashlib.sha256(blob).hexdigest()
        assert record.size == len(blob)
        assert record.open_size is not None and record.open_size > record.size // 100
    assert repomd.record("primary") is not None
    assert repomd.record("primary").codec == {"gz": "gzip", "bz2": "bzip2"}.get(compress, compress)  # type: ignore[union-attr]
    assert repomd.revision.isdigit()


def test_zchunk_records_are_listed_but_unreadable(graph: Graph) -> None:
    repomd = parse_repomd((graph.repo("main", zck=True) / "repodata/repomd.xml").read_bytes())
    zck = repomd.record("primary_zck")
    assert zck is not None and zck.href.endswith(".xml.zck") and zck.codec is None
    assert repomd.record("primary").codec == "gzip"  # type: ignore[union-attr]


def _repomd(record: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<repomd xmlns="{NS}"><revision>1</revision>{record}</repomd>'
    ).encode()


GOOD = (
    '<data type="primary"><checksum type="sha256">' + "a" * 64 + "</checksum>"
    '<location href="repodata/x-primary.xml.gz"/><size>10</size></data>'
)


def test_minimal_record() -> None:
    (record,) = parse_repomd(_repomd(GOOD)).records
    assert (record.type, record.href, record.size, record.open_checksum) == (
        "primary", "repodata/x-primary.xml.gz", 10, None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (_repomd(GOOD)[:-20], "malformed XML"),
        (b"", "malformed XML"),
        (
            b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
            b"<repomd>&b;</repomd>",
            "document type or entity declaration is refused",
        ),
        (b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "file:///etc/passwd"><repomd/>', "refused"),
        (b"<metadata/>", "not a repomd.xml"),
        (
            _repomd(GOOD.replace("repodata/x-primary.xml.gz", "http://evil.example/p.xml.gz")),
            "is absolute",
        ),
        (
            _repomd(GOOD.replace("repodata/x-primary.xml.gz", "//evil.example/p.xml.gz")),
            "is absolute",
        ),
        (_repomd(GOOD.replace("repodata/x-primary.xml.gz", "/etc/passwd")), "is absolute"),
        (
            _repomd(GOOD.replace("repodata/x-primary.xml.gz", "repodata/../../p.xml.gz")),
            "leaves the repository",
        ),
        (
            _repomd(GOOD.replace("repodata/x-primary.xml.gz", "repodata/%2e%2e/p.xml.gz")),
            "forbidden character",
        ),
        (_repomd(GOOD.replace("repodata/x-primary.xml.gz", "")), "empty location href"),
        (
            _repomd(GOOD.replace("<location href", '<location xml:base="http://evil/" href')),
            "xml:base",
        ),
        (
            _repomd(GOOD.replace('type="sha256">' + "a" * 64, 'type="md5">' + "a" * 32)),
            "md5 checksums are too weak",
        ),
        (
            _repomd(GOOD.replace('type="sha256">' + "a" * 64, 'type="sha">' + "a" * 40)),
            "sha checksums are too weak",
        ),
        (_repomd(GOOD.replace('type="sha256"', 'type="crc32"')), "unknown checksum type 'crc32'"),
        (_repomd(GOOD.replace("a" * 64, "a" * 63)), "malformed sha256 checksum"),
        (_repomd(GOOD.replace("a" * 64, "g" * 64)), "malformed sha256 checksum"),
        (_repomd(GOOD + GOOD), "two records of type 'primary'"),
        (_repomd(GOOD.replace("<size>10</size>", "<size>ten</size>")), "is not a number"),
        (_repomd('<data type="primary"><location href="a.xml"/></data>'), "no <checksum>"),
        (_repomd('<data><location href="a.xml"/></data>'), "has no type"),
    ],
)
def test_bad_repomd_is_one_line_error(document: bytes, fragment: str) -> None:
    with pytest.raises(RepoError) as caught:
        parse_repomd(document, what="repo main: repomd.xml")
    message = str(caught.value)
    assert message.startswith("repo main: repomd.xml"), message
    assert fragment in message, message
    assert "\n" not in message


def test_oversized_repomd_is_refused_before_parsing() -> None:
    with pytest.raises(SizeMismatch, match="larger than"):
        parse_repomd(b" " * (4 * 1024 * 1024 + 1))


@pytest.mark.parametrize(
    ("href", "ok"),
    [("Packages/a/agent-1.0-1.x86_64.rpm", True), ("libstdc++-1.rpm", True), ("a b.rpm", True),
     ("./a.rpm", False), ("a//b.rpm", False), ("a\\b.rpm", False), ("a?x=1", False),
     ("a#f", False), ("a\x00b", False), ("c:/x.rpm", False), ("a/../b.rpm", False)],
)  # fmt: skip
def test_href_rules(href: str, ok: bool) -> None:
    if ok:
        assert check_href(href, what="x") == href
    else:
        with pytest.raises(RepoError):
            check_href(href, what="x")


@pytest.mark.parametrize(
    ("href", "codec"),
    [("p.xml.gz", "gzip"), ("p.xml.xz", "xz"), ("p.xml.zst", "zstd"), ("p.xml.bz2", "bzip2"),
     ("p.xml", "none"), ("p.xml.zck", None), ("p.sqlite.bz2", None), ("p.txt.gz", None)],
)  # fmt: skip
def test_codec_of(href: str, codec: str | None) -> None:
    assert codec_of(href) == codec


def test_paths_are_relative_to_the_repo(graph: Graph, tmp_path: Path) -> None:
    repomd = parse_repomd((graph.repo("extra") / "repodata/repomd.xml").read_bytes())
    assert all(r.href.startswith("repodata/") for r in repomd.records)
