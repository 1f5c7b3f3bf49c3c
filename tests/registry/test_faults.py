"""Registry faults through a loopback proxy: resets, expired tokens, 429, 5xx, tampering."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

import ociforge
from ociforge import (
    AuthError,
    DigestMismatch,
    RegistryError,
    RegistryOptions,
    RetryPolicy,
    TransportError,
)
from ociforge.registry import RegistrySink, parse_registry_reference
from ociforge.registry.transport import Transport
from tests.support import images
from tests.support.archives import read_archive
from tests.support.cli import assert_clean_error
from tests.support.cli import ociforge as run_cli
from tests.support.faultproxy import Fault, FaultProxy
from tests.support.registry import Registry, ociforge_flags, start_registry
from tests.support.tokenserver import TokenServer
from tests.support.tools import skopeo

MIB = 1 << 20


@pytest.fixture(scope="module")
def big_image() -> images.BuiltImage:
    """Three layers of 2.5 MiB random data (incompressible, so each blob is that big)."""
    rng = random.Random(42)
    layers = [
        images.layer([images.file(f"blob{i}", rng.randbytes(5 * MIB // 2))]) for i in range(3)
    ]
    return images.image(layers)


@pytest.fixture
def proxy(registry: Registry) -> Iterator[FaultProxy]:
    server = FaultProxy(registry.host)
    yield server
    server.stop()


def _options(**extra: object) -> RegistryOptions:
    return RegistryOptions(tls_verify=False, retry=RetryPolicy(backoff=0.05), **extra)  # type: ignore[arg-type]


def _push(image_path: str, target: str, **extra: object) -> RegistrySink:
    sink = RegistrySink(parse_registry_reference(target), options=_options(**extra))
    ociforge.write_image(ociforge.open_image(f"oci-archive:{image_path}"), sink)
    sink.commit()
    return sink


def _archive(tmp_path: Path, image: images.BuiltImage) -> str:
    return images.write_archive(str(tmp_path / "in.ociarchive"), [(image, "")])


def _skopeo_push(registry: Registry, tmp_path: Path, image: images.BuiltImage, target: str) -> None:
    """Put ``image`` in the registry with skopeo, so ociforge's pull is judged alone."""
    source = f"oci-archive:{_archive(tmp_path, image)}"
    skopeo("copy", "--dest-tls-verify=false", source, registry.ref(target))


def _assert_stored(
    registry: Registry, repository: str, image: images.BuiltImage, tmp_path: Path
) -> None:
    """skopeo reads the pushed image back; every blob must be the builder's bytes."""
    out = tmp_path / "check.ociarchive"
    skopeo(
        "copy",
        "--src-tls-verify=false",
        registry.ref(f"{repository}@{image.digest}"),
        f"oci-archive:{out}",
    )
    contents = read_archive(str(out))
    assert contents.manifest() == image.manifest
    for layer in image.layers:
        assert contents.blobs[layer.digest] == layer.blob


def test_push_survives_resets_mid_blob(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, big_image: images.BuiltImage
) -> None:
    proxy.faults = [
        Fault("reset_request", method="PUT", path="/blobs/uploads/", after=MIB, times=4)
    ]
    sink = _push(_archive(tmp_path, big_image), proxy.ref("faults/push:v1"))
    assert sink.pushed is not None
    assert str(sink.pushed.digest) == big_image.digest
    assert proxy.faults[0].hits == 4
    _assert_stored(registry, "faults/push", big_image, tmp_path)


def test_upload_resumes_from_the_registry_range(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, big_image: images.BuiltImage
) -> None:
    # Chunked upload; the connection of the second PATCH drops before the registry sees it.
    proxy.faults = [Fault("reset_request", method="PATCH", after=0, skip=1, times=1)]
    _push(_archive(tmp_path, big_image), proxy.ref("faults/resume:v1"), chunk_size=MIB, jobs=1)
    log = [(s.method, s.path.split("?")[0].rsplit("/", 1)[-1], s.status) for s in proxy.log]
    dropped = next(i for i, s in enumerate(proxy.log) if s.fault)
    session = log[dropped][1]
    # Asked where the upload stands, then went on in the same session: no new POST for it.
    assert log[dropped + 1] == ("GET", session, 204)
    assert log[dropped + 2][:2] == ("PATCH", session)
    first_blob = [entry for entry in log[: dropped + 4] if entry[0] == "POST"]
    assert len(first_blob) == 1
    _assert_stored(registry, "faults/resume", big_image, tmp_path)


def test_pull_survives_resets_mid_blob(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, big_image: images.BuiltImage
) -> None:
    _skopeo_push(registry, tmp_path, big_image, "faults/pull:v1")
    layer = big_image.layers[1].digest
    proxy.faults = [Fault("reset_response", method="GET", path=layer, after=MIB // 2, times=5)]
    out = tmp_path / "out.ociarchive"
    descriptor = ociforge.copy_image(
        proxy.ref("faults/pull:v1"), f"oci-archive:{out}", registry=_options()
    )
    assert str(descriptor.digest) == big_image.digest
    fetches = proxy.seen("GET", layer)
    # Each reset picked up where it stopped, with a Range request: 200, then 206s.
    assert [s.status for s in fetches] == [200, 206, 206, 206, 206, 206]
    contents = read_archive(str(out))
    assert contents.manifest() == big_image.manifest
    assert {layer.digest for layer in big_image.layers} <= set(contents.blobs)


def test_tampered_blob_is_refused_and_nothing_written(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    _skopeo_push(registry, tmp_path, small_image, "t/blob:v1")
    layer = small_image.layers[0]
    proxy.faults = [Fault("corrupt", method="GET", path=layer.digest, after=10)]
    out = tmp_path / "out.ociarchive"
    with pytest.raises(DigestMismatch, match=layer.digest):
        ociforge.copy_image(proxy.ref("t/blob:v1"), f"oci-archive:{out}", registry=_options())
    assert not out.exists()
    assert not list(tmp_path.glob(".out.ociarchive*"))


def test_tampered_manifest_is_refused(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    _skopeo_push(registry, tmp_path, small_image, "t/man:v1")
    proxy.faults = [Fault("corrupt", method="GET", path="/manifests/", after=40, times=2)]
    with pytest.raises(DigestMismatch, match="manifest v1"):
        ociforge.open_image(proxy.ref("t/man:v1"), registry=_options())
    proxy.faults = [Fault("corrupt", method="GET", path="/manifests/", after=40)]
    with pytest.raises(DigestMismatch, match=f"expected {small_image.digest}"):
        ociforge.open_image(proxy.ref(f"t/man@{small_image.digest}"), registry=_options())


def test_retry_after_is_honoured(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    proxy.faults = [
        Fault(
            "respond",
            method="PUT",
            path="/manifests/sha256:",
            status=429,
            headers={"Retry-After": "1"},
        )
    ]
    options = _options()
    sink = RegistrySink(parse_registry_reference(proxy.ref("t/busy:v1")), options=options)
    sleeps: list[float] = []  # asked of the transport instead of the clock
    sink.client.transport = Transport(tls=options.tls, retry=options.retry, sleep=sleeps.append)
    ociforge.write_image(
        ociforge.open_image(f"oci-archive:{_archive(tmp_path, small_image)}"), sink
    )
    assert sink.pushed is not None
    first, second = proxy.seen("PUT", "/manifests/sha256:")
    assert (first.status, second.status) == (429, 201)
    assert sleeps == [1.0]  # Retry-After, not the 0.05 s backoff


def test_server_errors_are_retried(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    proxy.faults = [Fault("respond", method="HEAD", path="/blobs/", status=503, times=2)]
    _push(_archive(tmp_path, small_image), proxy.ref("t/flaky:v1"), jobs=1)
    heads = proxy.seen("HEAD", "/blobs/")
    assert [s.status for s in heads[:3]] == [503, 503, 404]


def test_unreachable_registry_fails_after_bounded_retries() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = RegistryOptions(tls_verify=False, retry=RetryPolicy(attempts=3, backoff=0.01))
    with pytest.raises(TransportError, match="connection refused"):
        ociforge.open_image(f"docker://127.0.0.1:{port}/nothing:v1", registry=options)


def test_token_expiring_mid_push_is_renewed(tmp_path: Path, big_image: images.BuiltImage) -> None:
    # The token server claims 300 s but signs tokens the registry accepts for 2 s more
    # (distribution allows 60 s of clock skew past exp); a blob held back for 3 s reaches the
    # registry with a dead token, is refused, and the push renews and carries on.
    token = TokenServer(expires_in=300, jwt_lifetime=-58)
    registry = start_registry(tmp_path / "registry", auth="token", token=token)
    proxy = FaultProxy(
        registry.host, [Fault("delay", method="PUT", path="/blobs/uploads/", seconds=3)]
    )
    try:
        sink = _push(
            _archive(tmp_path, big_image), proxy.ref("t/expiring:v1"), creds=registry.creds, jobs=1
        )
        assert sink.pushed is not None
        assert str(sink.pushed.digest) == big_image.digest
        refused = [r for r in registry.requests() if r.status == 401 and "/blobs/uploads/" in r.uri]
        assert len(refused) == 1
        push_tokens = [e for e in token.log if e.scopes == ["repository:t/expiring:pull,push"]]
        assert len(push_tokens) == 2
    finally:
        proxy.stop()
        registry.stop()


def test_short_token_lifetime_is_renewed_before_use(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    # expires_in 2 s, honestly (the registry, with its 60 s skew allowance, agrees); a 429 makes
    # the push wait 3 s, after which the old token must not be sent: the retried request
    # carries a fresh one and the registry refuses nothing.
    token = TokenServer(expires_in=2, jwt_lifetime=-58)
    registry = start_registry(tmp_path / "registry", auth="token", token=token)
    proxy = FaultProxy(
        registry.host,
        [
            Fault(
                "respond",
                method="PUT",
                path="/manifests/sha256:",
                status=429,
                headers={"Retry-After": "3"},
            )
        ],
    )
    try:
        sink = _push(_archive(tmp_path, small_image), proxy.ref("t/short:v1"), creds=registry.creds)
        assert sink.pushed is not None
        assert not [r for r in registry.requests() if r.status == 401 and r.uri != "/v2/"]
        assert len([e for e in token.log if e.scopes == ["repository:t/short:pull,push"]]) == 2
    finally:
        proxy.stop()
        registry.stop()


@pytest.mark.parametrize("mode", ["htpasswd-tls", "token"])
def test_wrong_password_is_one_clear_error(
    mode: str, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    if mode == "token":
        registry = start_registry(tmp_path / "registry", auth="token", token=TokenServer())
    else:
        registry = start_registry(tmp_path / "registry", auth="htpasswd", tls=True)
    try:
        flags = [f for f in ociforge_flags(registry) if not f.startswith("--creds")]
        result = run_cli(
            "push",
            f"oci-archive:{_archive(tmp_path, small_image)}",
            registry.ref("t/denied:v1"),
            f"--creds={registry.user}:wrong",
            *flags,
        )
        assert_clean_error(result, f"push to {registry.host}/t/denied", "testuser")
        # No retry storm: a ping, at most one authenticated attempt, at most one token request.
        assert len(registry.requests()) <= 2
        if registry.token is not None:
            assert len(registry.token.log) == 1
        assert not [r for r in registry.requests() if "/blobs/" in r.uri]
    finally:
        registry.stop()


def test_missing_credentials_say_how_to_give_them(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    registry = start_registry(tmp_path / "registry", auth="htpasswd")
    try:
        with pytest.raises(AuthError) as caught:
            _push(_archive(tmp_path, small_image), registry.ref("t/anon:v1"))
        assert caught.value.remedy == "credentials"
        assert "--" not in str(caught.value)
        archive = _archive(tmp_path, small_image)
        source = f"oci-archive:{archive}"
        result = run_cli("push", "--tls-verify=false", source, registry.ref("t/anon:v1"))
        assert_clean_error(result, "give credentials with --creds or --authfile")
    finally:
        registry.stop()


def test_upload_location_off_the_registry_is_refused(
    registry: Registry, proxy: FaultProxy, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    evil = "http://169.254.169.254/v2/steal/blobs/uploads/x"
    proxy.faults = [
        Fault("header", method="POST", path="/blobs/uploads/", headers={"Location": evil}, times=99)
    ]
    with pytest.raises(RegistryError, match="not on the registry itself; refused"):
        _push(_archive(tmp_path, small_image), proxy.ref("t/redirected:v1"))
    assert not proxy.seen("PUT", "/blobs/uploads/")  # no blob byte went anywhere


def test_token_realm_on_a_metadata_address_is_refused(
    tmp_path: Path, small_image: images.BuiltImage
) -> None:
    registry = start_registry(
        tmp_path / "registry",
        auth="token",
        token=TokenServer(),
        realm="http://169.254.169.254/token",
    )
    try:
        with pytest.raises(AuthError, match="internal address"):
            _push(_archive(tmp_path, small_image), registry.ref("t/realm:v1"), creds=registry.creds)
        assert registry.token is not None
        assert registry.token.log == []
    finally:
        registry.stop()
