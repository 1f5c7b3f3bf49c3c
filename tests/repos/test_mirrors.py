"""Metalinks (MirrorManager 3.0 format) and mirrorlists."""

from __future__ import annotations

import hashlib

import pytest

from ociforge.errors import DigestMismatch, RepoError, SizeMismatch
from ociforge.repos.mirrors import looks_like_metalink, parse_metalink, parse_mirrorlist
from tests.support.repos import Graph


def metalink(data: bytes, *, alternates: list[bytes] = (), urls: str | None = None) -> bytes:  # type: ignore[assignment]
    def hashes(blob: bytes) -> str:
        return "".join(
            f'<hash type="{name}">{hashlib.new(name, blob).hexdigest()}</hash>'
            for name in ("md5", "sha1", "sha256", "sha512")
        )

    alt = "".join(
        f"<mm0:alternate><mm0:timestamp>1</mm0:timestamp><size>{len(b)}</size>"
        f"<verification>{hashes(b)}</verification></mm0:alternate>"
        for b in alternates
    )
    urls = urls or (
        '<url protocol="rsync" type="rsync" location="US" preference="100">rsync://r.example/f/repodata/repomd.xml</url>'
        '<url protocol="https" type="https" location="DE" preference="90">https://b.example/f/repodata/repomd.xml</url>'
        '<url protocol="http" type="http" location="US" preference="99">http://a.example/pub/f/repodata/repomd.xml</url>'
        '<url protocol="https" type="https" location="FR" preference="90">https://c.example/f/repodata/repomd.xml</url>'
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<metalink version="3.0" xmlns="http://www.metalinker.org/" type="dynamic"'
        ' pubdate="Wed, 02 Dec 2026 12:00:00 GMT" generator="mirrormanager"'
        ' xmlns:mm0="http://fedorahosted.org/mirrormanager">\n'
        ' <files>\n  <file name="repomd.xml">\n'
        f"   <mm0:timestamp>1796215989</mm0:timestamp>\n   <size>{len(data)}</size>\n"
        f"   <verification>{hashes(data)}</verification>\n"
        f"   <mm0:alternates>{alt}</mm0:alternates>\n"
        f'   <resources maxconnections="1">{urls}</resources>\n'
        "  </file>\n </files>\n</metalink>\n"
    ).encode()


@pytest.fixture
def repomd(graph: Graph) -> bytes:
    return (graph.repo("main") / "repodata/repomd.xml").read_bytes()


def test_mirrors_by_preference_and_repomd_checked(repomd: bytes) -> None:
    parsed = parse_metalink(metalink(repomd))
    assert [u.url.split("/")[2] for u in parsed.urls] == ["a.example", "b.example", "c.example"]
    assert parsed.baseurls == (
        "http://a.example/pub/f",
        "https://b.example/f",
        "https://c.example/f",
    )
    assert set(parsed.copies[0].hashes) == {"sha256", "sha512"}  # md5 and sha1 are not used
    parsed.verify(repomd, what="repomd.xml")


def test_forged_or_stale_repomd_is_refused(repomd: bytes) -> None:
    parsed = parse_metalink(metalink(repomd))
    forged = repomd.replace(b"<revision>", b"<revision>9")
    with pytest.raises(SizeMismatch, match="the metalink lists"):
        parsed.verify(forged, what="repo f: repomd.xml")
    same_size = bytearray(repomd)
    same_size[-3] ^= 1
    with pytest.raises(DigestMismatch, match="does not match the hashes"):
        parsed.verify(bytes(same_size), what="repo f: repomd.xml")


def test_an_alternate_copy_is_accepted(repomd: bytes) -> None:
    newer = repomd.replace(b"<revision>", b"<revision>1")
    parse_metalink(metalink(newer, alternates=[repomd])).verify(repomd, what="x")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (b"<metalink/>", "not a metalink"),
        (
            b'<metalink xmlns="http://www.metalinker.org/"><files/></metalink>',
            "lists no repomd.xml",
        ),
        (
            b'<metalink xmlns="http://www.metalinker.org/"><files><file name="repomd.xml">'
            b'<verification><hash type="md5">00</hash></verification></file></files></metalink>',
            "no sha224/256/384/512 hash",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x "y">]><metalink>&x;</metalink>',
            "refused",
        ),
        (b"<metalink", "malformed XML"),
    ],
)
def test_bad_metalinks(document: bytes, fragment: str) -> None:
    with pytest.raises(RepoError, match=fragment):
        parse_metalink(document)


def test_metalink_without_usable_mirrors(repomd: bytes) -> None:
    only_rsync = '<url protocol="rsync" preference="100">rsync://r/x/repodata/repomd.xml</url>'
    with pytest.raises(RepoError, match="no http, https or file mirror"):
        parse_metalink(metalink(repomd, urls=only_rsync))


def test_mirrorlist() -> None:
    text = (
        b"# fedora mirrors\n\nhttps://a.example/f/$releasever/\n"
        b"  http://b.example/f/40/  \nrsync://c.example/f\nftp://d.example/f\nhttps://a.example/f/$releasever\n"
    )
    assert parse_mirrorlist(text, variables={"releasever": "40"}) == (
        "https://a.example/f/40",
        "http://b.example/f/40",
    )
    with pytest.raises(RepoError, match="lists no http"):
        parse_mirrorlist(b"# nothing\n")


def test_mirrorlist_or_metalink(repomd: bytes) -> None:
    assert looks_like_metalink(metalink(repomd))
    assert not looks_like_metalink(b"https://a.example/x\n")
