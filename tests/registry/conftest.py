"""Registry fixtures: a fresh real registry per test, in each auth/TLS mode (plain: conftest)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.registry import Registry, start_registry
from tests.support.tokenserver import TokenServer


@pytest.fixture
def tls_registry(tmp_path: Path) -> Iterator[Registry]:
    """htpasswd (bcrypt) over TLS with a self-signed CA."""
    server = start_registry(tmp_path / "registry", auth="htpasswd", tls=True)
    yield server
    server.stop()


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[Registry]:
    """Bearer tokens from the test token server, plain HTTP."""
    server = start_registry(tmp_path / "registry", auth="token", token=TokenServer())
    yield server
    server.stop()


@pytest.fixture(params=["plain", "htpasswd-tls", "token"])
def any_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    """Each of the three modes in turn."""
    mode = request.param
    if mode == "plain":
        server = start_registry(tmp_path / "registry")
    elif mode == "htpasswd-tls":
        server = start_registry(tmp_path / "registry", auth="htpasswd", tls=True)
    else:
        server = start_registry(tmp_path / "registry", auth="token", token=TokenServer())
    yield server
    server.stop()
