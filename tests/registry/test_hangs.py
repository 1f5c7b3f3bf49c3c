"""Nothing hangs: slow and stalled servers, long Retry-After, deadlines, odd token answers.

Every server here is scripted (tests/support/stubserver.py) and every limit is set small
through RetryPolicy, so each case shows in a second or two what would otherwise take minutes.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ociforge import AuthError, RetryPolicy, TransportError
from ociforge.registry.auth import parse_challenges, parse_token_response
from ociforge.registry.options import TlsOptions
from ociforge.registry.protocol import Request
from ociforge.registry.transport import Transport
from tests.support.cli import assert_clean_error
from tests.support.cli import ociforge as run_cli
from tests.support.stubserver import Answer, StubServer

_release = threading.Event()


def _drip(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Headers at once, then one body byte every 0.2 s (slowloris)."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        if _release.wait(0.2):
            return
        try:
            handler.wfile.write(b"x")
            handler.wfile.flush()
        except OSError:
            return


def _stall(handler: http.server.BaseHTTPRequestHandler) -> None:
    """Accept the request and never answer."""
    _release.wait(30)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    _release.clear()
    server = StubServer({"/drip": _drip, "/stall": _stall})
    yield server
    _release.set()
    server.stop()


def _transport(**retry: float) -> tuple[Transport, list[str]]:
    notes: list[str] = []
    policy = RetryPolicy(backoff=0, **retry)  # type: ignore[arg-type]
    return Transport(tls=TlsOptions(verify=False), retry=policy, notice=notes.append), notes


def test_a_server_dripping_bytes_is_cut_off(stub: StubServer) -> None:
    transport, _ = _transport(read_timeout=1)
    started = time.monotonic()
    with pytest.raises(TransportError, match="did not arrive within 1 s"):
        transport.request(Request("GET", stub.url + "/drip"), limit=4096, what="manifest")
    assert time.monotonic() - started < 4
    assert len(stub.hits("/drip")) == 1  # not asked again: a drip would only repeat


def test_a_stalled_connection_times_out(stub: StubServer) -> None:
    transport, notes = _transport(read_timeout=0.5, attempts=2)
    started = time.monotonic()
    with pytest.raises(TransportError, match="timed out"):
        transport.request(Request("GET", stub.url + "/stall"), limit=4096, what="manifest")
    assert time.monotonic() - started < 4
    assert len(notes) == 1 and "retry 1 of 1" in notes[0]


def test_retry_after_is_capped_with_a_note(stub: StubServer) -> None:
    stub.routes["/busy"] = Answer(429, {"Retry-After": "3600"})
    sleeps: list[float] = []
    notes: list[str] = []
    transport = Transport(
        tls=TlsOptions(verify=False),
        retry=RetryPolicy(attempts=3, max_retry_after=2),
        sleep=sleeps.append,
        notice=notes.append,
    )
    response = transport.request(Request("GET", stub.url + "/busy"), limit=4096, what="manifest")
    assert response.status == 429
    assert sleeps and max(sleeps) <= 2
    assert any("asked to wait 3600 s; waiting 2 s at most" in note for note in notes)


def test_the_overall_deadline_ends_retries(stub: StubServer) -> None:
    transport, _ = _transport(read_timeout=0.4, deadline=1.0, attempts=50)
    started = time.monotonic()
    with pytest.raises(TransportError, match="deadline"):
        transport.request(Request("GET", stub.url + "/stall"), limit=4096, what="manifest")
    assert time.monotonic() - started < 3


_TOKEN_ANSWERS = {
    "not-json": b"<html>gateway</html>",
    "token-not-a-string": b'{"token": 12345}',
    "huge-expires-in": b'{"token": "t", "expires_in": 1' + b"0" * 400 + b"}",
}


@pytest.mark.parametrize("case", sorted(_TOKEN_ANSWERS))
def test_odd_token_answers_are_one_line(stub: StubServer, case: str) -> None:
    stub.routes["/v2/"] = Answer(
        401, {"WWW-Authenticate": 'Bearer realm="{base}/token",service="s"'}
    )
    stub.routes["/token"] = Answer(200, body=_TOKEN_ANSWERS[case])
    stub.routes["/v2/r/manifests/"] = Answer(404, body=b'{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
    result = run_cli("inspect", "--tls-verify=false", f"docker://{stub.host}/r:v1")
    if case == "huge-expires-in":
        # Accepted (the lifetime is capped); the run goes on to the missing manifest.
        assert_clean_error(result, "manifest v1")
    else:
        assert_clean_error(result, "token")


def test_huge_token_lifetime_is_capped() -> None:
    token = parse_token_response(_TOKEN_ANSWERS["huge-expires-in"], issued=0.0, what="t")
    assert token.expires_at <= 24 * 3600


_header_text = st.text(
    alphabet=st.sampled_from(list('Bbearic ="\\,realm=scope:/\t;x')), max_size=80
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(st.one_of(_header_text, st.text(max_size=80)))
def test_fuzz_www_authenticate(header: str) -> None:
    try:
        challenges = parse_challenges(header)
    except AuthError:
        return
    for challenge in challenges:
        assert challenge.scheme == challenge.scheme.lower()
        assert all(isinstance(v, str) for v in challenge.params.values())


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=64),
        st.dictionaries(st.sampled_from(["token", "access_token", "expires_in"]), _json).map(
            lambda d: json.dumps(d).encode()
        ),
    )
)
def test_fuzz_token_response(body: bytes) -> None:
    try:
        token = parse_token_response(body, issued=100.0, what="t")
    except AuthError:
        return
    assert isinstance(token.value, str) and token.value
    assert 100.0 < token.expires_at <= 100.0 + 24 * 3600


def test_dns_failure_says_so_at_once() -> None:
    started = time.monotonic()
    result = run_cli("inspect", "docker://no-such-host.invalid/r:v1")
    assert_clean_error(result, "cannot resolve host name")
    assert "note: " not in result.err  # not retried
    assert time.monotonic() - started < 10


def test_debug_traces_requests_and_retry_times_notes(stub: StubServer) -> None:
    stub.routes["/v2/"] = Answer(503)
    ref = f"docker://user:pw@{stub.host}/r:v1".replace("user:pw@", "")
    result = run_cli("--debug", "inspect", "--tls-verify=false", "--retry-times", "2", ref)
    assert result.code == 1
    assert f"ociforge: debug: GET https://{stub.host}/v2/" in result.err or (
        f"ociforge: debug: GET http://{stub.host}/v2/ -> 503" in result.err
    )
    assert result.err.count("ociforge: note: ") >= 2
    assert len(stub.hits("/v2/")) == 3
