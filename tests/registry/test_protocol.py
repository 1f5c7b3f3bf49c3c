"""The sans-I/O protocol: request building, response headers, error bodies, Location checks."""

from __future__ import annotations

import email.utils

import pytest

from ociforge import RegistryError
from ociforge.digest import Digest
from ociforge.mediatypes import MANIFEST_ACCEPT, OCI_MANIFEST
from ociforge.registry import protocol as proto

BASE = "https://registry.example:5000/v2/"
DIGEST = Digest("sha256", "c" * 64)


def test_request_builders() -> None:
    get = proto.manifest_request("GET", BASE, "a/b", "v1")
    assert (get.method, get.url) == ("GET", BASE + "a/b/manifests/v1")
    assert get.headers["Accept"] == MANIFEST_ACCEPT
    put = proto.manifest_put(BASE, "a/b", str(DIGEST), OCI_MANIFEST)
    assert put.url == BASE + f"a/b/manifests/{DIGEST}"
    assert put.headers["Content-Type"] == OCI_MANIFEST
    blob = proto.blob_request("GET", BASE, "a/b", DIGEST, offset=100)
    assert blob.url == BASE + f"a/b/blobs/{DIGEST}"
    assert blob.headers["Range"] == "bytes=100-"
    assert "Range" not in proto.blob_request("GET", BASE, "a/b", DIGEST).headers
    start = proto.upload_start(BASE, "a/b")
    assert (start.method, start.url) == ("POST", BASE + "a/b/blobs/uploads/")
    mount = proto.upload_start(BASE, "a/b", mount=DIGEST, source="c/d")
    assert mount.url == BASE + f"a/b/blobs/uploads/?mount=sha256%3A{'c' * 64}&from=c%2Fd"


def test_upload_requests_keep_the_session_state() -> None:
    location = BASE + "a/b/blobs/uploads/uuid?_state=abc%3D%3D"
    chunk = proto.upload_chunk(location, 1024, 512)
    assert chunk.headers["Content-Range"] == "1024-1535"
    assert chunk.headers["Content-Length"] == "512"
    finish = proto.upload_finish(location, DIGEST, 0)
    assert finish.url == location + f"&digest=sha256%3A{'c' * 64}"
    assert finish.headers["Content-Length"] == "0"


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        (
            "/v2/a/b/blobs/uploads/u?_state=x",
            "https://registry.example:5000/v2/a/b/blobs/uploads/u?_state=x",
        ),
        ("https://registry.example:5000/v2/u", "https://registry.example:5000/v2/u"),
        ("https://REGISTRY.example:5000/v2/u", "https://REGISTRY.example:5000/v2/u"),
        ("u2", "https://registry.example:5000/v2/a/b/blobs/uploads/u2"),
    ],
)
def test_location_on_the_registry_is_accepted(location: str, expected: str) -> None:
    request_url = BASE + "a/b/blobs/uploads/"
    assert proto.resolve_location(request_url, location, what="x") == expected


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example/v2/u",
        "http://registry.example:5000/v2/u",  # downgrade
        "https://registry.example:6379/v2/u",  # another service on the host
        "https://169.254.169.254/latest/meta-data",
        "//evil.example/v2/u",
        "https://user:pw@registry.example:5000/v2/u",
        "",
        None,
    ],
)
def test_location_elsewhere_is_refused(location: str | None) -> None:
    with pytest.raises(RegistryError):
        proto.resolve_location(BASE + "a/b/blobs/uploads/", location, what="push")


@pytest.mark.parametrize(
    ("value", "offset"),
    [(None, 0), ("", 0), ("0-0", 0), ("0-1023", 1024), ("bytes=0-99", 100)],
)
def test_upload_offset(value: str | None, offset: int) -> None:
    assert proto.parse_upload_offset(value) == offset


@pytest.mark.parametrize("value", ["5-10", "x-1", "0-", "10"])
def test_upload_offset_refuses_garbage(value: str) -> None:
    with pytest.raises(RegistryError):
        proto.parse_upload_offset(value)


def test_content_range() -> None:
    assert proto.parse_content_range("bytes 100-199/200") == (100, 199, 200)
    assert proto.parse_content_range("bytes 0-9/*") == (0, 9, None)
    for bad in ("items 0-1/2", "bytes 0-1/x", "bytes", None):
        with pytest.raises(RegistryError):
            proto.parse_content_range(bad)


def test_retry_after_seconds_and_dates() -> None:
    assert proto.parse_retry_after("3") == 3.0
    assert proto.parse_retry_after(None) == 0.0
    assert proto.parse_retry_after("soon") == 0.0
    when = email.utils.formatdate(1_000_010, usegmt=True)
    assert proto.parse_retry_after(when, now=1_000_000) == pytest.approx(10.0)
    assert proto.parse_retry_after(email.utils.formatdate(0, usegmt=True), now=10) == 0.0


def test_headers() -> None:
    assert proto.chunk_min_length({"OCI-Chunk-Min-Length": "5242880"}) == 5242880
    assert proto.chunk_min_length({}) == 0
    assert proto.media_type_of({"Content-Type": f"{OCI_MANIFEST}; charset=utf-8"}) == OCI_MANIFEST
    assert proto.content_digest({"Docker-Content-Digest": str(DIGEST)}, what="x") == DIGEST
    assert proto.content_digest({}, what="x") is None
    with pytest.raises(RegistryError, match="invalid Docker-Content-Digest"):
        proto.content_digest({"Docker-Content-Digest": "sha256:../../x"}, what="x")


def test_distribution_error_bodies_become_one_line() -> None:
    body = (
        b'{"errors":[{"code":"DENIED","message":"requested access to the resource is denied",'
        b'"detail":[{"Type":"repository","Name":"a/b","Action":"push"}]}]}'
    )
    assert proto.describe_error(403, "Forbidden", body) == (
        "DENIED",
        "denied: requested access to the resource is denied",
    )
    two = (
        b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"},'
        b'{"code":"X","message":"y\\nz"}]}'
    )
    # A message that repeats its code is said once, and so is an entry given twice.
    assert proto.describe_error(404, "Not Found", two)[1] == "blob unknown; x: y z"
    twice = (
        b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown",'
        b'"detail":{"Tag":"stable"}},{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'
    )
    assert proto.describe_error(404, "Not Found", twice)[1] == "manifest unknown"


def test_other_error_bodies() -> None:
    assert proto.describe_error(
        401, "Unauthorized", b'{"details":"incorrect username or password"}'
    ) == (
        "",
        "incorrect username or password",
    )
    assert (
        proto.describe_error(400, "Bad Request", b'{"error":"invalid_grant"}')[1] == "invalid grant"
    )
    assert proto.describe_error(502, "Bad Gateway", b"<html><h1>502</h1></html>") == (
        "",
        "HTTP 502 Bad Gateway",
    )
    assert proto.describe_error(500, "", b"oops\n  happened") == ("", "HTTP 500: oops happened")
    assert proto.parse_errors(b"[1,2]") == ()
    assert proto.parse_errors(b"\xff") == ()
    assert proto.parse_errors(b'{"errors": "nope"}') == ()
