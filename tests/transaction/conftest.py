"""The repository graph (rpmbuild + createrepo_c), built once per test session."""

from __future__ import annotations

import pytest

from tests.support import repos


@pytest.fixture(scope="session")
def graph(tmp_path_factory: pytest.TempPathFactory) -> repos.Graph:
    return repos.graph(tmp_path_factory)
