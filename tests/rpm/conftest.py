"""RPMs built once per test session with the real rpmbuild, rpmsign and gpg."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import rpms


@pytest.fixture(scope="session")
def rpm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rpms")


@pytest.fixture(scope="session")
def tiny_rpms(rpm_dir: Path) -> dict[str, Path]:
    """``tiny`` with each payload compressor."""
    return {codec: rpms.build(rpms.TINY, rpm_dir, payload=codec) for codec in rpms.PAYLOADS}


@pytest.fixture(scope="session")
def rsa_key(rpm_dir: Path) -> rpms.Key:
    return rpms.make_key(rpm_dir, "rsa2048")


@pytest.fixture(scope="session")
def ed25519_key(rpm_dir: Path) -> rpms.Key:
    return rpms.make_key(rpm_dir, "ed25519")


@pytest.fixture(scope="session")
def signed_rpms(
    tiny_rpms: dict[str, Path], rsa_key: rpms.Key, ed25519_key: rpms.Key, rpm_dir: Path
) -> dict[str, Path]:
    """``tiny`` (zstd) signed by rpmsign with each throwaway key."""
    return {
        "rsa": rpms.sign(tiny_rpms["zstd"], rsa_key, rpm_dir),
        "ed25519": rpms.sign(tiny_rpms["zstd"], ed25519_key, rpm_dir),
    }
