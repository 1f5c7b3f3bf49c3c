"""Authentication logic: challenges, scopes, realm checks, token responses and the cache."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ociforge import AuthError
from ociforge.registry.auth import (
    Authenticator,
    Challenge,
    Scope,
    TokenRequest,
    check_realm,
    merge_scopes,
    parse_challenges,
    parse_token_response,
    repository_scope,
    token_requests,
)
from ociforge.registry.credentials import Credentials

REALM = "https://auth.example/token"


def test_parse_challenges() -> None:
    (bearer,) = parse_challenges(
        'Bearer realm="https://auth.example/token",service="registry.example",'
        'scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope"'
    )
    assert bearer.scheme == "bearer"
    assert bearer.realm == REALM
    assert bearer.service == "registry.example"
    assert bearer.scopes == (
        Scope("repository", "a/b", ("pull", "push")),
        Scope("repository", "c", ("pull",)),
    )
    assert bearer.params["error"] == "insufficient_scope"


def test_parse_several_challenges_with_commas_and_escapes_in_quotes() -> None:
    header = (
        'Negotiate abc==, Basic realm="a, \\"quoted\\" realm" , Bearer realm=https://t/x,service=s'
    )
    assert [(c.scheme, dict(c.params)) for c in parse_challenges(header)] == [
        ("negotiate", {}),
        ("basic", {"realm": 'a, "quoted" realm'}),
        ("bearer", {"realm": "https://t/x", "service": "s"}),
    ]


@pytest.mark.parametrize("header", ['Bearer realm="unterminated', "=nope"])
def test_malformed_challenges(header: str) -> None:
    with pytest.raises(AuthError):
        parse_challenges(header)


def test_scopes() -> None:
    assert str(Scope.parse("repository:a/b:push,pull")) == "repository:a/b:pull,push"
    assert Scope.parse("registry:catalog:*") == Scope("registry", "catalog", ("*",))
    assert Scope.parse("repository:host:5000/x:pull").name == "host:5000/x"
    with pytest.raises(AuthError):
        Scope.parse("repository")
    merged = merge_scopes(
        [repository_scope("b", "push"), repository_scope("a", "pull")],
        [repository_scope("b", "pull")],
    )
    assert [str(s) for s in merged] == ["repository:a:pull", "repository:b:pull,push"]


@pytest.mark.parametrize(
    ("realm", "registry"),
    [
        ("https://auth.docker.io/token", "https://registry-1.docker.io/v2/"),
        ("http://127.0.0.1:9000/token", "http://127.0.0.1:5000/v2/"),  # both on loopback
        ("https://localhost/token", "https://127.0.0.1:5000/v2/"),
        ("http://auth.example/token", "http://registry.example/v2/"),
        ("https://10.0.0.5/token", "https://registry.example/v2/"),  # private networks are normal
    ],
)
def test_realm_accepted(realm: str, registry: str) -> None:
    assert check_realm(realm, registry) == realm


@pytest.mark.parametrize(
    ("realm", "registry"),
    [
        ("http://auth.example/token", "https://registry.example/v2/"),  # downgrade
        ("http://169.254.169.254/latest/meta-data", "http://registry.example/v2/"),
        ("http://169.254.169.254/latest/meta-data", "http://127.0.0.1:5000/v2/"),
        ("https://127.0.0.1:8080/token", "https://registry.example/v2/"),
        ("https://[::1]/token", "https://registry.example/v2/"),
        ("https://[::ffff:169.254.169.254]/t", "https://registry.example/v2/"),
        ("https://0.0.0.0/token", "https://registry.example/v2/"),
        ("https://localhost/token", "https://registry.example/v2/"),
        ("file:///etc/passwd", "https://registry.example/v2/"),
        ("https://user:pw@auth.example/token", "https://registry.example/v2/"),
        ("", "https://registry.example/v2/"),
        ("/token", "https://registry.example/v2/"),
    ],
)
def test_realm_refused(realm: str, registry: str) -> None:
    with pytest.raises(AuthError, match="realm"):
        check_realm(realm, registry)


def test_token_response() -> None:
    token = parse_token_response(
        b'{"token":"t","expires_in":300,"refresh_token":"r"}', issued=100.0, what="x"
    )
    assert (token.value, token.expires_at, token.refresh_token) == ("t", 390.0, "r")
    short = parse_token_response(b'{"access_token":"a","expires_in":2}', issued=0.0, what="x")
    assert (short.value, short.expires_at) == ("a", pytest.approx(1.8))
    default = parse_token_response(b'{"token":"t"}', issued=0.0, what="x")
    assert default.expires_at == 54.0  # Docker's 60 s default, renewed 6 s early
    for bad in (b"[]", b"{}", b'{"token": 5}', b"x", b" " * (2 << 20)):
        with pytest.raises(AuthError):
            parse_token_response(bad, issued=0.0, what="x")


def _challenge(realm: str = REALM, service: str = "svc") -> Challenge:
    return parse_challenges(f'Bearer realm="{realm}",service="{service}"')[0]


def test_token_requests_by_credential_kind() -> None:
    scopes = (repository_scope("a", "pull", "push"), repository_scope("b", "pull"))
    (anonymous,) = token_requests(_challenge(), scopes, None)
    assert anonymous.method == "GET"
    assert "Authorization" not in anonymous.headers
    assert parse_qs(urlsplit(anonymous.url).query) == {
        "service": ["svc"],
        "scope": ["repository:a:pull,push", "repository:b:pull"],
    }
    (basic,) = token_requests(_challenge(), scopes, Credentials("u", "p"))
    assert basic.headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()
    assert parse_qs(urlsplit(basic.url).query)["account"] == ["u"]
    post, fallback = token_requests(_challenge(), scopes, Credentials("u", "", "refresh"))
    assert post.method == "POST"
    assert post.form is not None
    assert post.form["grant_type"] == "refresh_token"
    assert post.form["refresh_token"] == "refresh"
    assert post.form["scope"] == "repository:a:pull,push repository:b:pull"
    assert fallback.method == "GET"
    assert fallback.headers["Authorization"] == "Basic " + base64.b64encode(b"u:refresh").decode()
    (with_query,) = token_requests(_challenge("https://auth.example/token?x=1"), scopes, None)
    assert with_query.url.startswith("https://auth.example/token?x=1&service=svc")


class FakeTokenServer:
    """Stands in for the network in these logic tests; the real one is in tests/support."""

    def __init__(self, *, status: int = 200, post_status: int = 200, expires_in: int = 300) -> None:
        self.requests: list[TokenRequest] = []
        self.status = status
        self.post_status = post_status
        self.expires_in = expires_in

    def __call__(self, request: TokenRequest) -> tuple[int, str, bytes]:
        self.requests.append(request)
        status = self.post_status if request.method == "POST" else self.status
        if status != 200:
            return status, "Unauthorized", b'{"details":"incorrect username or password"}'
        body = {"token": f"tok{len(self.requests)}", "expires_in": self.expires_in}
        return 200, "OK", json.dumps(body).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_tokens_are_cached_per_scope_and_renewed_on_expiry() -> None:
    fetch, clock = FakeTokenServer(expires_in=100), Clock()
    auth = Authenticator(
        "https://r.example/v2/", Credentials("u", "p"), fetch, name="r", clock=clock
    )
    auth.set_challenge(f'Bearer realm="{REALM}",service="svc"')
    push = (repository_scope("a", "pull", "push"),)
    assert auth.authorization(push) == "Bearer tok1"
    assert auth.authorization(push) == "Bearer tok1"
    # A token for pull,push also serves a pull of the same repository.
    assert auth.authorization((repository_scope("a", "pull"),)) == "Bearer tok1"
    assert auth.authorization((repository_scope("b", "pull"),)) == "Bearer tok2"
    clock.now += 89  # 90 s is the renewal point (100 s minus a tenth)
    assert auth.authorization(push) == "Bearer tok1"
    clock.now += 2
    assert auth.authorization(push) == "Bearer tok3"
    assert len(fetch.requests) == 3


def test_rejected_token_is_dropped_and_scopes_widened() -> None:
    fetch = FakeTokenServer()
    auth = Authenticator("https://r.example/v2/", None, fetch, name="r")
    auth.set_challenge(f'Bearer realm="{REALM}",service="svc"')
    first = auth.authorization((repository_scope("a", "pull"),))
    header = (
        f'Bearer realm="{REALM}",service="svc",scope="repository:c:pull",error="insufficient_scope"'
    )
    again = auth.challenged(header, (repository_scope("a", "pull"),), rejected=first)
    assert again == "Bearer tok2"
    assert parse_qs(urlsplit(fetch.requests[-1].url).query)["scope"] == [
        "repository:a:pull",
        "repository:c:pull",
    ]


def test_refused_credentials_are_one_error_not_a_storm() -> None:
    fetch = FakeTokenServer(status=401)
    auth = Authenticator(
        "https://r.example/v2/", Credentials("u", "wrong"), fetch, name="push to r/a"
    )
    auth.set_challenge(f'Bearer realm="{REALM}",service="svc"')
    with pytest.raises(
        AuthError, match=r"refused the credentials for user 'u'.*incorrect username"
    ):
        auth.authorization((repository_scope("a", "pull"),))
    assert len(fetch.requests) == 1
    anonymous = Authenticator("https://r.example/v2/", None, FakeTokenServer(status=401), name="r")
    anonymous.set_challenge(f'Bearer realm="{REALM}"')
    with pytest.raises(AuthError, match=r"requires authentication") as caught:
        anonymous.authorization(())
    assert caught.value.remedy == "credentials"  # the CLI words the hint


def test_identity_token_posts_then_falls_back_to_get() -> None:
    fetch = FakeTokenServer(post_status=404)
    auth = Authenticator(
        "https://r.example/v2/", Credentials(identity_token="refresh"), fetch, name="r"
    )
    auth.set_challenge(f'Bearer realm="{REALM}",service="svc"')
    assert auth.authorization(()) == "Bearer tok2"
    assert [r.method for r in fetch.requests] == ["POST", "GET"]


def test_basic_challenge() -> None:
    auth = Authenticator(
        "https://r.example/v2/", Credentials("u", "p"), FakeTokenServer(), name="r"
    )
    auth.set_challenge('Basic realm="registry"')
    header = auth.authorization(())
    assert header == "Basic " + base64.b64encode(b"u:p").decode()
    with pytest.raises(AuthError, match="refused the credentials for 'u'"):
        auth.challenged('Basic realm="registry"', (), rejected=header)
    nobody = Authenticator("https://r.example/v2/", None, FakeTokenServer(), name="r")
    nobody.set_challenge('Basic realm="registry"')
    with pytest.raises(AuthError, match="authentication required"):
        nobody.authorization(())


def test_unsupported_scheme_and_bad_realm_from_the_registry() -> None:
    auth = Authenticator("https://r.example/v2/", None, FakeTokenServer(), name="r")
    with pytest.raises(AuthError, match="unsupported authentication"):
        auth.set_challenge("Negotiate")
    with pytest.raises(AuthError, match="realm"):
        auth.set_challenge('Bearer realm="http://169.254.169.254/latest"')


def test_no_challenge_means_no_header() -> None:
    auth = Authenticator(
        "https://r.example/v2/", Credentials("u", "p"), FakeTokenServer(), name="r"
    )
    auth.set_challenge(None)
    assert auth.authorization(()) is None
    assert auth.scheme == ""
