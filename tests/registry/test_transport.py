"""TLS and connection handling against the real registry: trust, client certs, plain HTTP."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import ociforge
from ociforge import RegistryError, RegistryOptions, SizeMismatch, TransportError
from ociforge.registry.client import RegistryClient
from ociforge.registry.options import TlsOptions
from ociforge.registry.protocol import MAX_ERROR_BYTES, Request
from ociforge.registry.reference import parse_registry_reference
from ociforge.registry.transport import Transport
from tests.support import images
from tests.support.pki import tls_pair
from tests.support.registry import Registry, start_registry
from tests.support.relay import Relay


def _push(image: images.BuiltImage, tmp_path: Path, target: str, options: RegistryOptions) -> str:
    archive = images.write_archive(str(tmp_path / "in.ociarchive"), [(image, "")])
    return str(ociforge.copy_image(f"oci-archive:{archive}", target, registry=options).digest)


def test_untrusted_certificate_fails_once_and_clearly(
    tls_registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    relay = Relay(tls_registry.host)  # counts the TCP connections the push makes
    try:
        with pytest.raises(TransportError, match="certificate verification failed"):
            _push(small_image, tmp_path, relay.ref("a:v1"), RegistryOptions(creds="u:p"))
        assert relay.connections == 1  # a handshake failure is not retried
    finally:
        relay.stop()
    assert tls_registry.requests() == []
    # The same through one client whose transport records the sleeps it is asked for.
    sleeps: list[float] = []
    reference = parse_registry_reference(tls_registry.ref("a"))
    client = RegistryClient(reference, options=RegistryOptions(creds="u:p"))
    client.transport = Transport(sleep=sleeps.append)
    with pytest.raises(TransportError, match="certificate verification failed"):
        client.get_manifest("v1")
    assert (client.transport.requests_sent, sleeps) == (1, [])


def test_cert_dir_trusts_the_registry(
    tls_registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    options = RegistryOptions(creds=tls_registry.creds, cert_dir=str(tls_registry.cert_dir))
    assert _push(small_image, tmp_path, tls_registry.ref("a:v1"), options) == small_image.digest


def test_tls_verify_false_skips_the_check(
    tls_registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    options = RegistryOptions(creds=tls_registry.creds, tls_verify=False)
    assert _push(small_image, tmp_path, tls_registry.ref("a:v1"), options) == small_image.digest


def test_plain_http_needs_tls_verify_false(
    registry: Registry, tmp_path: Path, small_image: images.BuiltImage
) -> None:
    with pytest.raises(TransportError) as caught:
        _push(small_image, tmp_path, registry.ref("a:v1"), RegistryOptions())
    assert caught.value.remedy == "plain-http"
    assert "--" not in str(caught.value)  # the hint is the CLI's to word
    assert (
        _push(small_image, tmp_path, registry.ref("a:v1"), RegistryOptions(tls_verify=False))
        == small_image.digest
    )


def test_client_certificate_from_cert_dir(tmp_path: Path, small_image: images.BuiltImage) -> None:
    client = tls_pair()
    client_ca, _ = client.write(tmp_path / "client-ca", "ca")
    registry = start_registry(tmp_path / "registry", tls=True, client_ca=client_ca)
    try:
        assert registry.cert_dir is not None
        without = RegistryOptions(cert_dir=str(registry.cert_dir))
        with pytest.raises(TransportError, match="TLS"):
            _push(small_image, tmp_path, registry.ref("a:v1"), without)
        (registry.cert_dir / "client.cert").write_bytes(client.cert_pem)
        (registry.cert_dir / "client.key").write_bytes(client.key_pem)
        assert _push(small_image, tmp_path, registry.ref("a:v1"), without) == small_image.digest
    finally:
        registry.stop()


def test_cert_dir_mistakes_are_reported(tmp_path: Path) -> None:
    directory = tmp_path / "certs"
    directory.mkdir()
    (directory / "client.cert").write_bytes(tls_pair().cert_pem)
    with pytest.raises(RegistryError, match=r"client\.cert has no matching \.key"):
        ociforge.open_image(
            "docker://127.0.0.1:1/a:v1", registry=RegistryOptions(cert_dir=str(directory))
        )
    with pytest.raises(RegistryError, match="--cert-dir"):
        ociforge.open_image(
            "docker://127.0.0.1:1/a:v1", registry=RegistryOptions(cert_dir=str(tmp_path / "none"))
        )


class _Hostile(http.server.BaseHTTPRequestHandler):
    """A server that answers with far more than anyone asked for."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status = 404 if self.path == "/error" else 200
        size = 8 << 20
        self.send_response(status)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        chunk = b"x" * (1 << 20)
        try:
            for _ in range(size >> 20):
                self.wfile.write(chunk)
        except OSError:
            pass


@pytest.fixture
def hostile() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_response_bodies_are_bounded(hostile: str) -> None:
    transport = Transport(tls=TlsOptions(verify=False))
    with pytest.raises(SizeMismatch, match="larger than 4096 bytes"):
        transport.request(Request("GET", hostile + "/big"), limit=4096, what="manifest")
    error = transport.request(Request("GET", hostile + "/error"), limit=4096, what="blob")
    assert error.status == 404
    assert len(error.body) == MAX_ERROR_BYTES  # an error body is cut, never read whole
