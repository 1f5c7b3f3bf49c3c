"""Shared fixtures: isolated HOME, the stdlib-built sample images, a real registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import images
from tests.support.registry import Registry, start_registry


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # rpm, skopeo and credential lookups read $HOME; keep them away from the developer's.
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)


@pytest.fixture(scope="session")
def cosa_image() -> images.BuiltImage:
    """The COSA-shaped 50-layer image (built once per session)."""
    return images.cosa_image()


@pytest.fixture
def cosa_archive(tmp_path: Path, cosa_image: images.BuiltImage) -> Path:
    """The COSA-shaped image as an ociarchive: no ./ prefix, no ref name."""
    path = tmp_path / "fcos.ociarchive"
    images.write_archive(str(path), [(cosa_image, "")])
    return path


@pytest.fixture
def small_image() -> images.BuiltImage:
    """A two-layer image with ostree labels."""
    base = images.layer([images.directory("etc"), images.file("etc/os-release", "ID=fedora\n")])
    top = images.layer([images.directory("usr"), images.file("usr/hello", "hello\n", mode=0o755)])
    return images.image([base, top], labels={"ostree.bootable": "true", "containers.bootc": "1"})


@pytest.fixture
def chdir_tmp(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A fresh CNCF distribution registry on 127.0.0.1: no auth, plain HTTP."""
    server = start_registry(tmp_path / "registry")
    yield server
    server.stop()
