"""``append --install/--remove/--replace/--rpm`` end to end, with dnf and rpm as the oracles.

The base is the repository graph's CoreOS-shaped root (tests/support/repos.py) as an
ociarchive; the ``main`` repository is served over loopback HTTP. What ociforge's layer adds
must be what dnf installs into a copy of the same root, and the unpacked result must pass
``rpm -V``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.support import repos, rpmroot
from tests.support.cli import assert_clean_error, ociforge
from tests.support.dnf import dnf_run, rpm_qa
from tests.support.tools import need, run


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> repos.Graph:
    return repos.graph(tmp_path_factory)


@pytest.fixture(scope="module")
def served(graph: repos.Graph) -> object:
    with repos.serve(graph.repo("main").parent) as server:
        yield server


@pytest.fixture
def base(tmp_path: Path, graph: repos.Graph) -> Path:
    root = tmp_path / "base-root"
    shutil.copytree(graph.base_root, root, symlinks=True)
    archive = tmp_path / "base.ociarchive"
    rpmroot.write_base_archive(root, archive)
    return archive


def main_url(server: object, graph: repos.Graph) -> str:
    return f"{server.url}/{graph.repo('main').name}"  # type: ignore[attr-defined]


def append(
    base: Path, out: Path, url: str, *args: str, cache: Path
) -> tuple[int, dict[str, object], str]:
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--disablerepo",
        "*",
        "--repo",
        f"main={url}",
        "--json",
        *args,
        env={"XDG_CACHE_HOME": str(cache)},
    )
    doc = json.loads(result.out) if result.code == 0 else {}
    return result.code, doc, result.err


def unpacked_packages(archive: Path, tmp: Path) -> tuple[Path, frozenset[str]]:
    out = ociforge("unpack", f"oci-archive:{archive}", str(tmp / "bundle"))
    assert out.code == 0, out.err
    rootfs = tmp / "bundle" / "rootfs"
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    return rootfs, rpm_qa(rootfs, home)


@pytest.mark.parametrize(
    "request_", [["agent"], ["tool"], ["mailer"], ["/usr/libexec/agent-helper"]]
)
def test_install_adds_what_dnf_adds(
    tmp_path: Path, graph: repos.Graph, served: object, base: Path, request_: list[str]
) -> None:
    need("dnf", "rpm", "createrepo_c")
    url = main_url(served, graph)
    out = tmp_path / "out.ociarchive"
    args = [a for spec in request_ for a in ("--install", spec)]
    code, doc, err = append(base, out, url, *args, cache=tmp_path / "cache")
    assert code == 0, err
    theirs = dnf_run(graph.base_root, tmp_path / "dnf", ["install", *request_], repos={"main": url})
    assert theirs.ok, theirs.output
    _rootfs, ours = unpacked_packages(out, tmp_path)
    assert ours == theirs.installed
    assert doc["transaction"], doc
    assert all(line.split()[0] in ("install", "upgrade", "erase") for line in doc["transaction"])  # type: ignore[union-attr]


def test_the_result_verifies_with_rpm(
    tmp_path: Path, graph: repos.Graph, served: object, base: Path
) -> None:
    need("rpm", "createrepo_c")
    out = tmp_path / "out.ociarchive"
    code, doc, err = append(
        base, out, main_url(served, graph), "--install", "agent", cache=tmp_path / "c"
    )
    assert code == 0, err
    rootfs, installed = unpacked_packages(out, tmp_path)
    names = [p for p in doc["packages"] if not str(p).startswith("gpg-pubkey")]  # type: ignore[union-attr]
    assert names and all(p in installed for p in names)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    verify = run(
        ["rpm", "--root", str(rootfs), "--dbpath", "/usr/share/rpm", "-V", "--nodeps", "agent"],
        env=env,
    )
    assert verify.stdout == ""


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["--install", "needs-missing"], ["needs-missing", "nothing provides"]),
        (["--install", "unrelated"], ["unrelated", "basepkg"]),
        (["--install", "clash"], ["clash", "/usr/share/base/shared.conf"]),
        (["--remove", "victim"], ["victim", "dependent"]),
        (["--install", "no-such-package"], ["no-such-package"]),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    tmp_path: Path,
    graph: repos.Graph,
    served: object,
    base: Path,
    args: list[str],
    fragments: list[str],
) -> None:
    need("createrepo_c")
    out = tmp_path / "out.ociarchive"
    before = base.read_bytes()
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--disablerepo",
        "*",
        "--repo",
        f"main={main_url(served, graph)}",
        *args,
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert_clean_error(result, *fragments)  # type: ignore[arg-type]
    assert not out.exists()
    assert base.read_bytes() == before


def test_remove_gives_rpm_e_result(tmp_path: Path, graph: repos.Graph, base: Path) -> None:
    need("rpm")
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append", f"oci-archive:{base}", f"oci-archive:{out}", "--remove", "libold", "--json"
    )
    assert result.code == 0, result.err
    assert (
        json.loads(result.out)["removed"]
        == [p for p in json.loads(result.out)["removed"] if p.startswith("libold-")]
        != []
    )
    theirs = tmp_path / "theirs"
    shutil.copytree(graph.base_root, theirs, symlinks=True)
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    run(["rpm", "--root", str(theirs), "--dbpath", "/usr/share/rpm", "-e", "libold"], env=env)
    _rootfs, ours = unpacked_packages(out, tmp_path)
    assert ours == rpm_qa(theirs, tmp_path / "home")


def test_local_rpm_pulls_its_dependencies_from_the_repositories(
    tmp_path: Path, graph: repos.Graph, served: object, base: Path
) -> None:
    need("dnf", "rpm", "createrepo_c")
    url = main_url(served, graph)
    local = graph.rpm(repos.LOCAL[0].nevra)
    out = tmp_path / "out.ociarchive"
    code, _doc, err = append(base, out, url, "--rpm", str(local), cache=tmp_path / "c")
    assert code == 0, err
    theirs = dnf_run(
        graph.base_root, tmp_path / "dnf", ["install", str(local)], repos={"main": url}
    )
    assert theirs.ok, theirs.output
    _rootfs, ours = unpacked_packages(out, tmp_path)
    assert ours == theirs.installed


def test_rpm_by_url(tmp_path: Path, graph: repos.Graph, served: object, base: Path) -> None:
    need("createrepo_c")
    url = main_url(served, graph)
    repo = graph.repo("main")
    href = next(p.relative_to(repo) for p in repo.rglob("agent-data-*.rpm"))
    out = tmp_path / "out.ociarchive"
    result = ociforge(
        "append",
        f"oci-archive:{base}",
        f"oci-archive:{out}",
        "--rpm",
        f"{url.rstrip('/')}/{href}",
        "--json",
        env={"XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert result.code == 0, result.err
    assert any(p.startswith("agent-data-") for p in json.loads(result.out)["packages"])
