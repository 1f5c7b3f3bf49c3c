"""RegistryClient against the real distribution registry: one API operation per method.

Content is put in place by skopeo or plain ``requests`` and read back the same way, so each
method is judged by the registry (and its request log), not by another ociforge call.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ociforge import mediatypes as mt
from ociforge.digest import Digest
from ociforge.errors import AuthError, DigestMismatch, NotFound, RegistryResponseError
from ociforge.registry.client import RegistryClient
from ociforge.registry.credentials import Credentials
from ociforge.registry.options import RegistryOptions
from ociforge.registry.reference import parse_registry_reference
from tests.support import images
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import USER, Registry
from tests.support.tools import skopeo


class Body:
    """A one-shot upload body: ``read`` and ``len``, as the client's Body protocol asks."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def __len__(self) -> int:
        return len(self._data)

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size is None or size < 0 else self._at + size
        piece = self._data[self._at : end]
        self._at += len(piece)
        return piece


def client_for(
    registry: Registry, repository: str, options: RegistryOptions | None = None
) -> RegistryClient:
    reference = parse_registry_reference(registry.ref(repository))
    if options is None:
        options = RegistryOptions(tls_verify=False)
    return RegistryClient(reference, options=options, label=f"test of {repository}")


@pytest.fixture
def pushed(registry: Registry, tmp_path: Path) -> images.BuiltImage:
    """An image put into ``app`` as ``app:v1`` by skopeo."""
    layer = images.layer([images.file("etc/motd", "hello\n" * 1000)])
    built = images.image([layer])
    archive = images.write_archive(str(tmp_path / "in.ociarchive"), [(built, "")])
    skopeo("copy", "--dest-tls-verify=false", f"oci-archive:{archive}", registry.ref("app:v1"))
    return built


@pytest.fixture
def client(registry: Registry) -> Iterator[RegistryClient]:
    client = client_for(registry, "app")
    yield client
    client.close()


def test_get_manifest_by_tag_and_by_digest(
    registry: Registry, pushed: images.BuiltImage, client: RegistryClient
) -> None:
    raw, media_type = client.get_manifest("v1")
    assert hashlib.sha256(raw).hexdigest() == pushed.digest.split(":")[1]
    assert media_type == mt.OCI_MANIFEST
    assert client.get_manifest(pushed.digest) == (raw, media_type)
    assert client.base == f"http://{registry.host}/v2/"
    gets = [r for r in registry.requests() if r.method == "GET" and "/manifests/" in r.uri]
    assert [r.uri for r in gets] == ["/v2/app/manifests/v1", f"/v2/app/manifests/{pushed.digest}"]


def test_missing_manifests(pushed: images.BuiltImage, client: RegistryClient) -> None:
    with pytest.raises(NotFound) as caught:
        client.get_manifest("v2")
    message = str(caught.value)
    assert message.startswith("test of app: manifest v2: manifest unknown")
    assert "\n" not in message
    assert client.manifest_exists(Digest.parse(pushed.digest))
    assert not client.manifest_exists(Digest.parse(images.sha256(b"no such manifest")))


def test_blob_head_and_get(
    registry: Registry, pushed: images.BuiltImage, client: RegistryClient
) -> None:
    layer = pushed.layers[0]
    digest = Digest.parse(layer.digest)
    seen = len(registry.requests())  # skopeo's own requests before
    assert client.blob_exists(digest)
    assert client.blob_exists(Digest.parse(images.sha256(pushed.config)))
    assert not client.blob_exists(Digest.parse(images.sha256(b"no such blob")))
    heads = [r for r in registry.requests()[seen:] if r.method == "HEAD"]
    assert [r.status for r in heads] == [200, 200, 404]
    response = client.open_blob(digest)
    try:
        assert response.status_code == 200
        assert response.content == layer.blob
    finally:
        response.close()
    response = client.open_blob(digest, offset=100)
    try:
        assert response.status_code == 206
        assert response.content == layer.blob[100:]
    finally:
        response.close()
    with pytest.raises(NotFound, match=r"^test of app: blob sha256:\w+: blob unknown"):
        client.open_blob(Digest.parse(images.sha256(b"no such blob")))


def test_upload_session_start_patch_put(registry: Registry, client: RegistryClient) -> None:
    data = bytes(range(256)) * 4000
    digest = Digest.parse(images.sha256(data))
    session = client.start_upload()
    assert session is not None
    assert session.offset == 0
    assert "/v2/app/blobs/uploads/" in session.location
    session = client.upload_chunk(session, Body(data[:300_000]))
    assert session.offset == 300_000
    status = client.upload_status(session)
    assert status is not None
    assert status.offset == 300_000  # what the registry says it holds
    session = client.upload_chunk(status, Body(data[300_000:700_000]))
    client.finish_upload(session, digest, Body(data[700_000:]))
    log = [(r.method, r.status) for r in registry.uploads()]
    assert log == [("POST", 202), ("PATCH", 202), ("PATCH", 202), ("PUT", 201)]
    fetched = requests.get(f"{registry.url}/v2/app/blobs/{digest}", timeout=10)
    assert fetched.content == data


def test_a_wrong_digest_is_refused_by_the_registry(
    registry: Registry, client: RegistryClient
) -> None:
    session = client.start_upload()
    assert session is not None
    claimed = Digest.parse(images.sha256(b"something else"))
    with pytest.raises(RegistryResponseError) as caught:
        client.finish_upload(session, claimed, Body(b"the real bytes"))
    assert caught.value.status == 400
    assert caught.value.code == "DIGEST_INVALID"
    assert str(caught.value).startswith(f"test of app: blob {claimed}: digest invalid")
    assert "\n" not in str(caught.value)
    status = requests.head(f"{registry.url}/v2/app/blobs/{claimed}", timeout=10).status_code
    assert status == 404


def test_a_forgotten_session_has_no_status(registry: Registry, client: RegistryClient) -> None:
    session = client.start_upload()
    assert session is not None
    client.finish_upload(session, Digest.parse(images.sha256(b"x")), Body(b"x"))
    assert client.upload_status(session) is None  # finished: the registry forgot it


def test_mount_from_another_repository(
    registry: Registry, pushed: images.BuiltImage, client: RegistryClient
) -> None:
    other = client_for(registry, "other")
    try:
        layer = Digest.parse(pushed.layers[0].digest)
        assert not other.blob_exists(layer)
        assert other.start_upload(mount=layer, source="app") is None  # mounted
        assert other.blob_exists(layer)
        missing = Digest.parse(images.sha256(b"not anywhere"))
        session = other.start_upload(mount=missing, source="app")
        assert session is not None  # nothing to mount: an upload session instead
    finally:
        other.close()
    posts = [(r.uri.split("?")[0], r.status) for r in registry.requests() if r.method == "POST"]
    assert posts[-2:] == [("/v2/other/blobs/uploads/", 201), ("/v2/other/blobs/uploads/", 202)]


def test_put_manifest(
    registry: Registry, pushed: images.BuiltImage, client: RegistryClient, tmp_path: Path
) -> None:
    digest = client.put_manifest("v2", pushed.manifest, mt.OCI_MANIFEST)
    assert str(digest) == pushed.digest
    inspected = skopeo(
        "inspect", "--tls-verify=false", "--format", "{{.Digest}}", registry.ref("app:v2")
    )
    assert inspected.stdout.strip() == pushed.digest
    layerless = json.loads(pushed.manifest)
    layerless["layers"][0]["digest"] = images.sha256(b"never uploaded")
    with pytest.raises(RegistryResponseError) as caught:
        client.put_manifest("v3", json.dumps(layerless).encode(), mt.OCI_MANIFEST)
    assert caught.value.code == "MANIFEST_BLOB_UNKNOWN"
    assert str(caught.value).startswith("test of app: manifest v3: manifest blob unknown")
    assert "\n" not in str(caught.value)


def test_manifest_bytes_are_checked_against_their_digest(
    registry: Registry, pushed: images.BuiltImage
) -> None:
    # A proxy that flips a byte of each manifest it relays: by digest the bytes must hash to
    # the digest asked for, by tag to the Docker-Content-Digest the registry sent.
    proxy = FaultProxy(registry.host, [Fault("corrupt", method="GET", path="/manifests/", times=2)])
    reference = parse_registry_reference(proxy.ref("app"))
    client = RegistryClient(reference, options=RegistryOptions(tls_verify=False), label="via")
    try:
        with pytest.raises(DigestMismatch, match=f"via: manifest {pushed.digest}: .* expected"):
            client.get_manifest(pushed.digest)
        with pytest.raises(DigestMismatch, match=f"via: manifest v1: .* expected {pushed.digest}"):
            client.get_manifest("v1")
        assert client.get_manifest("v1")[0] == pushed.manifest  # the proxy is done lying
    finally:
        client.close()
        proxy.stop()


# -- credentials ---------------------------------------------------------------------------


def _wrong_auth_files(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every auth file ociforge could read names the registry, with a wrong password."""
    wrong = base64.b64encode(f"{USER}:wrong-password".encode()).decode()
    document = json.dumps({"auths": {registry.host: {"auth": wrong}}})
    home = tmp_path / "home"
    for path in (
        home / ".docker/config.json",
        home / ".config/containers/auth.json",
        tmp_path / "auth.json",
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))


def test_a_credential_resolver_is_asked_and_no_auth_file_is_read(
    tls_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wrong_auth_files(tls_registry, tmp_path, monkeypatch)
    cert_dir = str(tls_registry.cert_dir)
    # The files really would give wrong credentials: without a resolver the login fails.
    plain = client_for(tls_registry, "team/app", RegistryOptions(cert_dir=cert_dir))
    try:
        with pytest.raises(AuthError):
            plain.login(plain.push_scopes())
    finally:
        plain.close()
    asked: list[tuple[str, str]] = []

    def resolver(registry: str, repository: str) -> Credentials:
        asked.append((registry, repository))
        return Credentials(tls_registry.user, tls_registry.password)

    options = RegistryOptions(cert_dir=cert_dir, credentials=resolver)
    client = client_for(tls_registry, "team/app", options)
    try:
        client.login(client.push_scopes())
        session = client.start_upload()
        assert session is not None
        client.finish_upload(session, Digest.parse(images.sha256(b"data")), Body(b"data"))
        assert client.blob_exists(Digest.parse(images.sha256(b"data")))
    finally:
        client.close()
    assert asked == [(tls_registry.host, "team/app")]  # once, when the registry first answered


def test_a_resolver_given_to_the_client_wins_over_the_options(
    tls_registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _wrong_auth_files(tls_registry, tmp_path, monkeypatch)
    reference = parse_registry_reference(tls_registry.ref("app"))
    options = RegistryOptions(cert_dir=str(tls_registry.cert_dir), creds="nobody:nothing")
    right = Credentials(tls_registry.user, tls_registry.password)
    client = RegistryClient(reference, options=options, credentials=lambda _r, _p: right)
    try:
        client.login(client.pull_scopes())
    finally:
        client.close()


def test_anonymous_access_to_a_protected_registry_fails_in_one_line(
    tls_registry: Registry,
) -> None:
    options = RegistryOptions(cert_dir=str(tls_registry.cert_dir), credentials=lambda _r, _p: None)
    client = client_for(tls_registry, "app", options)
    try:
        with pytest.raises(AuthError) as caught:
            client.get_manifest("v1")
    finally:
        client.close()
    assert str(caught.value) == "test of app: authentication required and no credentials given"
    assert caught.value.remedy == "credentials"  # the CLI words the hint, not the library
    assert [r.status for r in tls_registry.requests()][-1] == 401
