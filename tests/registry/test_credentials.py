"""Credential lookup: --creds, every auth file in order, key normalisation, helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from ociforge import AuthError, InvalidReference, NotFound
from ociforge.registry.credentials import (
    Credentials,
    auth_file_paths,
    find_credentials,
    normalise_auth_key,
    parse_creds,
    run_credential_helper,
)


def _auth(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {"HOME": str(home), "XDG_RUNTIME_DIR": str(tmp_path / "run")}


def _no_helper(name: str, server: str) -> Credentials | None:
    raise AssertionError(f"helper {name} must not run")


def test_parse_creds() -> None:
    assert parse_creds("u:p:with:colons") == Credentials("u", "p:with:colons")
    assert parse_creds("u:") == Credentials("u", "")
    for bad in ("nopassword", ":p", ""):
        with pytest.raises(InvalidReference):
            parse_creds(bad)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("https://index.docker.io/v1/", "docker.io"),
        ("index.docker.io", "docker.io"),
        ("docker.io", "docker.io"),
        ("http://Registry.Example:5000/v2/", "registry.example:5000"),
        ("https://quay.io", "quay.io"),
        ("quay.io/ns/repo", "quay.io/ns/repo"),
        ("https://quay.io/ns/repo", "quay.io"),  # a Docker key: the path is never a repository
        ("quay.io/v1/", "quay.io"),
    ],
)
def test_normalise_keys(key: str, expected: str) -> None:
    assert normalise_auth_key(key) == expected


def test_search_order(env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["HOME"])
    paths = auth_file_paths(env=env)
    assert paths == [
        tmp_path / "run/containers/auth.json",
        home / ".config/containers/auth.json",
        home / ".docker/config.json",
        home / ".dockercfg",
    ]
    env2 = {
        **env,
        "REGISTRY_AUTH_FILE": "/x/auth.json",
        "DOCKER_CONFIG": "/d",
        "XDG_CONFIG_HOME": "/c",
    }
    assert auth_file_paths(env=env2) == [
        Path("/x/auth.json"),
        Path("/c/containers/auth.json"),
        Path("/d/config.json"),
        home / ".dockercfg",
    ]
    assert auth_file_paths(authfile="/f.json", env=env2)[0] == Path("/f.json")


def test_first_file_with_an_entry_wins(env: dict[str, str], tmp_path: Path) -> None:
    home = Path(env["HOME"])
    _write(home / ".dockercfg", {"quay.io": {"auth": _auth("legacy", "l")}})
    assert find_credentials("quay.io", env=env, helper=_no_helper) == Credentials("legacy", "l")
    _write(
        home / ".docker/config.json", {"auths": {"https://quay.io": {"auth": _auth("docker", "d")}}}
    )
    assert find_credentials("quay.io", env=env, helper=_no_helper) == Credentials("docker", "d")
    _write(
        home / ".config/containers/auth.json", {"auths": {"quay.io": {"auth": _auth("cfg", "c")}}}
    )
    assert find_credentials("quay.io", env=env, helper=_no_helper) == Credentials("cfg", "c")
    _write(
        tmp_path / "run/containers/auth.json", {"auths": {"quay.io": {"auth": _auth("run", "r")}}}
    )
    assert find_credentials("quay.io", env=env, helper=_no_helper) == Credentials("run", "r")
    explicit = _write(
        tmp_path / "explicit.json", {"auths": {"quay.io": {"auth": _auth("file", "f")}}}
    )
    env_file = {**env, "REGISTRY_AUTH_FILE": str(explicit)}
    assert find_credentials("quay.io", env=env_file, helper=_no_helper) == Credentials("file", "f")
    other = _write(tmp_path / "other.json", {"auths": {"quay.io": {"auth": _auth("flag", "g")}}})
    assert find_credentials(
        "quay.io", authfile=str(other), env=env_file, helper=_no_helper
    ) == Credentials("flag", "g")
    assert find_credentials(
        "quay.io", creds="cli:pw", authfile=str(other), env=env_file
    ) == Credentials("cli", "pw")
    # A file without an entry for the registry passes the search on.
    assert find_credentials("ghcr.io", env=env, helper=_no_helper) is None


def test_docker_config_env_and_docker_hub_key(env: dict[str, str], tmp_path: Path) -> None:
    _write(
        tmp_path / "dc/config.json",
        {"auths": {"https://index.docker.io/v1/": {"auth": _auth("hub", "h")}}},
    )
    found = find_credentials(
        "docker.io", "library/alpine", env={**env, "DOCKER_CONFIG": str(tmp_path / "dc")}
    )
    assert found == Credentials("hub", "h")


def test_namespaced_keys_most_specific_first(env: dict[str, str], tmp_path: Path) -> None:
    path = _write(
        tmp_path / "auth.json",
        {
            "auths": {
                "quay.io": {"auth": _auth("registry", "1")},
                "quay.io/team": {"auth": _auth("team", "2")},
                "quay.io/team/app": {"auth": _auth("app", "3")},
            }
        },
    )

    def find(repo: str) -> Credentials | None:
        return find_credentials("quay.io", repo, authfile=str(path), env=env, helper=_no_helper)

    assert find("team/app") == Credentials("app", "3")
    assert find("team/other") == Credentials("team", "2")
    assert find("elsewhere/x") == Credentials("registry", "1")


def test_identity_token_and_plain_fields(env: dict[str, str], tmp_path: Path) -> None:
    path = _write(
        tmp_path / "auth.json",
        {
            "auths": {
                "a.io": {"auth": _auth("u", "p"), "identitytoken": "refresh"},
                "b.io": {"username": "u2", "password": "p2"},
                "c.io": {},
            }
        },
    )

    def find(host: str) -> Credentials | None:
        return find_credentials(host, authfile=str(path), env=env, helper=_no_helper)

    assert find("a.io") == Credentials("u", "p", "refresh")
    assert find("b.io") == Credentials("u2", "p2")
    assert find("c.io") is None


def test_helpers_before_auths_and_store_after(env: dict[str, str], tmp_path: Path) -> None:
    calls: list[tuple[str, str]] = []

    def helper(name: str, server: str) -> Credentials | None:
        calls.append((name, server))
        return Credentials(f"from-{name}", "s") if name != "empty" else None

    path = _write(
        tmp_path / "config.json",
        {
            "auths": {"a.io": {"auth": _auth("file", "f")}, "b.io": {}, "docker.io": {}},
            "credHelpers": {"a.io": "special"},
            "credsStore": "store",
        },
    )

    def find(host: str) -> Credentials | None:
        return find_credentials(host, authfile=str(path), env=env, helper=helper)

    assert find("a.io") == Credentials("from-special", "s")
    assert find("b.io") == Credentials("from-store", "s")  # empty auths entry: ask the store
    assert find("docker.io") == Credentials("from-store", "s")
    assert calls == [
        ("special", "a.io"),
        ("store", "b.io"),
        ("store", "https://index.docker.io/v1/"),
    ]


def test_explicit_authfile_must_exist_and_parse(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no such file"):
        find_credentials("quay.io", authfile=str(tmp_path / "missing.json"), env=env)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(AuthError, match="not valid JSON"):
        find_credentials("quay.io", authfile=str(bad), env=env)
    _write(bad, {"auths": {"quay.io": {"auth": base64.b64encode(b"nocolon").decode()}}})
    with pytest.raises(AuthError, match="USER:PASSWORD"):
        find_credentials("quay.io", authfile=str(bad), env=env)


def _helper_script(directory: Path, name: str, body: str) -> None:
    script = directory / f"docker-credential-{name}"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_credential_helper_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A real executable on PATH speaking the protocol: server URL on stdin, JSON on stdout.
    _helper_script(
        bin_dir,
        "test",
        'read server\n[ "$1" = get ] || exit 2\n'
        'case "$server" in\n'
        '  quay.io) echo \'{"ServerURL":"quay.io","Username":"hu","Secret":"hs"}\' ;;\n'
        '  tok.io) echo \'{"ServerURL":"tok.io","Username":"<token>","Secret":"refresh"}\' ;;\n'
        '  *) echo "credentials not found in native keychain"; exit 1 ;;\n'
        "esac\n",
    )
    _helper_script(bin_dir, "broken", "echo 'store locked' >&2; exit 3\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    assert run_credential_helper("test", "quay.io") == Credentials("hu", "hs")
    assert run_credential_helper("test", "tok.io") == Credentials(identity_token="refresh")
    assert run_credential_helper("test", "other.io") is None
    with pytest.raises(AuthError, match="store locked"):
        run_credential_helper("broken", "quay.io")
    with pytest.raises(AuthError, match="not installed"):
        run_credential_helper("absent", "quay.io")
