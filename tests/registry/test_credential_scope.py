"""Credentials stay with the registry they were given for: redirects, realms, locations.

The registry and the hosts it points at are scripted servers (tests/support/stubserver.py),
because the point is a registry that misbehaves in ways a real one never would.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from ociforge import AuthError, RegistryError, RegistryOptions, RetryPolicy
from ociforge.digest import Digest
from ociforge.registry.client import RegistryClient
from ociforge.registry.reference import parse_registry_reference
from tests.support.stubserver import Answer, StubServer

DIGEST = Digest.of_bytes(b"layer")
BASIC = {"WWW-Authenticate": 'Basic realm="registry"'}


@pytest.fixture
def servers() -> Iterator[tuple[StubServer, StubServer]]:
    registry, other = StubServer(), StubServer()
    yield registry, other
    registry.stop()
    other.stop()


def _client(registry: StubServer) -> RegistryClient:
    reference = parse_registry_reference(f"docker://{registry.host}/r:v1")
    options = RegistryOptions(creds="user:secret", tls_verify=False, retry=RetryPolicy(backoff=0))
    return RegistryClient(reference, options=options)


def _bearer(server: StubServer) -> dict[str, str]:
    return {"WWW-Authenticate": f'Bearer realm="{server.url}/token",service="s"'}


@pytest.mark.parametrize("scheme", ["basic", "bearer"])
def test_redirect_target_realm_gets_no_password(
    servers: tuple[StubServer, StubServer], scheme: str
) -> None:
    registry, other = servers
    token = Answer(200, body=b'{"token":"t"}')
    other.routes = {"/blob": Answer(401, _bearer(other)), "/token": token}
    registry.routes = {
        "/v2/": Answer(401, BASIC if scheme == "basic" else _bearer(registry)),
        "/token": token,
        "/v2/r/blobs/": Answer(307, {"Location": other.url + "/blob"}),
    }
    with pytest.raises(AuthError, match="credentials are not sent there"):
        _client(registry).open_blob(DIGEST)
    assert other.hits("/token") == []
    assert [hit for hit in other.log if "Authorization" in hit.headers] == []
    # The registry itself did get them, so the test shows where the line is drawn.
    assert any("Authorization" in hit.headers for hit in registry.hits("/v2/r/blobs/"))


def test_cross_host_redirect_drops_authorization(
    servers: tuple[StubServer, StubServer],
) -> None:
    registry, other = servers
    other.routes = {"/blob": Answer(200, body=b"layer")}
    registry.routes = {
        "/v2/": Answer(401, BASIC),
        "/v2/r/blobs/": Answer(302, {"Location": other.url + "/blob?sig=abc"}),
    }
    response = _client(registry).open_blob(DIGEST)
    try:
        assert response.content == b"layer"
    finally:
        response.close()
    (hit,) = other.log
    assert "Authorization" not in hit.headers


def test_token_server_redirect_is_not_followed(servers: tuple[StubServer, StubServer]) -> None:
    registry, other = servers
    registry.routes = {
        "/v2/": Answer(401, _bearer(registry)),
        "/token": Answer(307, {"Location": other.url + "/token"}),
    }
    with pytest.raises(AuthError, match="token server"):
        _client(registry).get_manifest("v1")
    assert other.log == []


@pytest.mark.parametrize("mount", [False, True])
def test_upload_and_mount_location_elsewhere_gets_nothing(
    servers: tuple[StubServer, StubServer], mount: bool
) -> None:
    registry, other = servers
    registry.routes = {
        "/v2/": Answer(401, BASIC),
        "/v2/r/blobs/uploads/": Answer(202, {"Location": other.url + "/upload/x"}),
    }
    client = _client(registry)
    kwargs = {"mount": DIGEST, "source": "other/repo"} if mount else {}
    with pytest.raises(RegistryError, match="not on the registry itself; refused"):
        client.start_upload(**kwargs)  # type: ignore[arg-type]
    assert other.log == []
    (post,) = registry.hits("/v2/r/blobs/uploads/")
    assert ("mount=" in post.path) == mount


def test_redirect_loop_stops_after_a_few_hops(servers: tuple[StubServer, StubServer]) -> None:
    registry, _ = servers
    registry.routes = {
        "/v2/": Answer(200),
        "/v2/r/blobs/": Answer(302, {"Location": "{base}/v2/r/blobs/" + str(DIGEST)}),
    }
    started = time.monotonic()
    with pytest.raises(RegistryError, match="more than 5 redirects; refused"):
        _client(registry).open_blob(DIGEST)
    assert time.monotonic() - started < 5
    assert len(registry.hits("/v2/r/blobs/")) == 6  # one request and five hops, no retries


@pytest.mark.parametrize("target", ["file:///etc/passwd", "gopher://127.0.0.1/x"])
def test_redirect_off_http_is_refused_at_once(
    servers: tuple[StubServer, StubServer], target: str
) -> None:
    registry, _ = servers
    registry.routes = {"/v2/": Answer(200), "/v2/r/blobs/": Answer(302, {"Location": target})}
    with pytest.raises(RegistryError, match="URL; refused"):
        _client(registry).open_blob(DIGEST)
    assert len(registry.hits("/v2/r/blobs/")) == 1
