"""The resolver against dnf itself: same request, same base rpmdb, same repositories, same answer.

dnf runs for real (``tsflags=noscripts``) on a copy of a CoreOS-shaped root whose rpmdb rpm
wrote; what it added and removed is read back with ``rpm -qa``. ociforge resolves the same
request from the same root's headers and the same repositories, fetched by ociforge.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from ociforge.errors import DependencyError, FileConflictError
from ociforge.registry.options import RetryPolicy
from ociforge.repos.config import RepoConfig
from ociforge.repos.fetch import FetchOptions, fetch_metadata
from ociforge.repos.metadata import RepoMetadata, Repository
from ociforge.repos.origin import LocalOrigin, RepoOrigin
from ociforge.rpm.package import RpmPackage, read_package
from ociforge.transaction.fileconflicts import check_file_conflicts
from ociforge.transaction.solve import Transaction, solve
from tests.support import dnf
from tests.support.repos import Graph, installed_headers


@pytest.fixture(scope="module")
def metadata(graph: Graph, tmp_path_factory: pytest.TempPathFactory) -> dict[str, RepoMetadata]:
    cache = tmp_path_factory.mktemp("solve-cache")
    out = {}
    for name in ("main", "extra"):
        repo = Repository(
            RepoConfig(id=name, baseurls=(f"file://{graph.repo(name)}",), gpgcheck=False)
        )
        (out[name],) = fetch_metadata(
            [repo], options=FetchOptions(cache_dir=str(cache), retry=RetryPolicy(attempts=1))
        )
    return out


def with_config(meta: RepoMetadata, **config: object) -> RepoMetadata:
    import dataclasses

    repository = Repository(dataclasses.replace(meta.config, **config), meta.repository.keys)  # type: ignore[arg-type]
    return dataclasses.replace(meta, repository=repository)


def local(graph: Graph, nevra: str) -> tuple[str, RpmPackage]:
    path = graph.rpm(nevra)
    with open(path, "rb") as handle:
        return str(path), read_package(handle)


def ours(graph: Graph, repos: Sequence[RepoMetadata], **request: object) -> Transaction:
    return solve(
        installed=installed_headers(graph.base_root),
        repos=repos,
        architecture="x86_64",
        **request,  # type: ignore[arg-type]
    )


def changes(txn: Transaction) -> tuple[set[str], set[str]]:
    return {str(i.package) for i in txn.installs}, {str(e.package) for e in txn.erasures}


def theirs(
    graph: Graph, workdir: Path, args: list[str], repos: Sequence[str] = ("main",), **kw: object
) -> tuple[dnf.DnfResult, set[str], set[str]]:
    urls = {name: f"file://{graph.repo(name)}" for name in repos}
    result = dnf.dnf_run(graph.base_root, workdir, args, repos=urls, **kw)  # type: ignore[arg-type]
    base = dnf.rpm_qa(graph.base_root, workdir / "dnf-home")
    return result, set(result.installed - base), set(base - result.installed)


CASES = {
    # name: (our request, dnf arguments)
    "version range, file dep, rich dep, satisfied dep, noarch, weak dep": (
        {"install": ["agent"]},
        ["install", "agent"],
    ),
    "weak deps off": ({"install": ["agent"], "weak_deps": False}, ["install", "agent", "--setopt=install_weak_deps=False"]),
    "two-sided version range": ({"install": ["tool"]}, ["install", "tool"]),
    "two providers of one capability": ({"install": ["mailer"]}, ["install", "mailer"]),
    "obsoletes erase the installed package": ({"install": ["libnew"]}, ["install", "libnew"]),
    "a file path": ({"install": ["/usr/libexec/agent-helper"]}, ["install", "/usr/libexec/agent-helper"]),
    "a capability with a version": ({"install": ["libfoo >= 2.5"]}, ["install", "libfoo >= 2.5"]),
    "name-version": ({"install": ["libfoo-1.0"]}, ["install", "libfoo-1.0"]),
    "best arch": ({"install": ["libmulti"]}, ["install", "libmulti"]),
    "both arches": ({"install": ["libmulti.i686", "libmulti.x86_64"]}, ["install", "libmulti.i686", "libmulti.x86_64"]),
    "already installed is not reinstalled or updated": ({"install": ["basepkg"]}, ["install", "basepkg"]),
    "already provided capability": ({"install": ["basecap"]}, ["install", "basecap"]),
    "explicit upgrade": ({"install": ["basepkg-2.0"]}, ["install", "basepkg-2.0"]),
    "a glob": ({"install": ["mta-*"]}, ["install", "mta-*"]),
    "a full NEVRA": ({"install": ["libfoo-2.0-1.x86_64"]}, ["install", "libfoo-2.0-1.x86_64"]),
    "name-version-release": ({"install": ["libfoo-1.0-1"]}, ["install", "libfoo-1.0-1"]),
    "name.noarch": ({"install": ["agent-data.noarch"]}, ["install", "agent-data.noarch"]),
    "several at once": ({"install": ["tool", "agent"]}, ["install", "tool", "agent"]),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_same_choice_as_dnf(
    case: str, graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    request, args = CASES[case]
    result, added, removed = theirs(graph, tmp_path, args)
    assert result.ok, result.output
    txn = ours(graph, [metadata["main"]], **request)
    assert changes(txn) == (added, removed)


def test_agent_transaction_explains_itself(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    txn = ours(graph, [metadata["main"]], install=["agent"])
    names = [i.package.name for i in txn.installs]
    assert names[-1] == "agent" and set(names[:-1]) >= {"libfoo", "helper", "libbar", "agent-data"}
    why = {i.package.name: i.reason for i in txn.installs}
    assert why == {
        "agent": "requested",
        "agent-data": "dependency of agent-1.0-1.x86_64 (requires agent-data)",
        "helper": "dependency of agent-1.0-1.x86_64 (requires /usr/libexec/agent-helper)",
        "libbar": "dependency of agent-1.0-1.x86_64 (requires (libbar if basepkg))",
        "libfoo": "dependency of agent-1.0-1.x86_64 (requires libfoo >= 1.5)",
        "agent-extras": "recommended by agent-1.0-1.x86_64 (Recommends: agent-extras)",
    }
    for install in txn.installs:
        origin = install.origin
        assert isinstance(origin, RepoOrigin) and origin.repo == "main"
        file = graph.repo("main") / origin.href
        assert file.name == f"{install.package}.rpm"
        assert origin.checksum.value == hashlib.sha256(file.read_bytes()).hexdigest()
        assert origin.size == file.stat().st_size
    assert txn.erasures == () and txn.notes == ()
    assert txn.describe()[-1] == "install agent-1.0-1.x86_64 (from main): requested"


def test_obsoleted_package_is_named(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    txn = ours(graph, [metadata["main"]], install=["libnew"])
    (erase,) = txn.erasures
    assert erase.reason == "obsoleted by libnew-2.0-1.x86_64"
    assert installed_headers(graph.base_root)[erase.index].string(1000) == "libold"
    (install,) = txn.installs
    assert [str(n) for n in install.replaces] == ["libold-1.0-1.x86_64"]


def test_priorities(graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path) -> None:
    extra = with_config(metadata["extra"], priority=10)
    for request, args in (
        ({"install": ["libfoo"]}, ["install", "libfoo"]),
        ({"install": ["tool"]}, ["install", "tool"]),
    ):
        result, added, removed = theirs(
            graph, tmp_path, args, repos=("main", "extra"), priorities={"extra": 10}
        )
        assert result.ok, result.output
        txn = ours(graph, [metadata["main"], extra], **request)
        assert changes(txn) == (added, removed)
        assert "libfoo-2.5-1.x86_64" in added
    # Without the priority the newest wins, from whichever repository has it.
    txn = ours(graph, [metadata["main"], metadata["extra"]], install=["libfoo"])
    assert changes(txn) == ({"libfoo-3.0-1.x86_64"}, set())


def test_excludepkgs_and_includepkgs(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    result, added, removed = theirs(
        graph, tmp_path, ["install", "agent", "--setopt=main.excludepkgs=libfoo-3*"]
    )
    assert result.ok, result.output
    excluded = with_config(metadata["main"], excludepkgs=("libfoo-3*",))
    assert changes(ours(graph, [excluded], install=["agent"])) == (added, removed)
    assert "libfoo-2.0-1.x86_64" in added
    only = with_config(metadata["main"], includepkgs=("agent*", "helper", "libbar", "libfoo"))
    with pytest.raises(DependencyError, match="hidden by includepkgs/excludepkgs"):
        ours(graph, [only], install=["mailer"])


def test_local_package_pulls_from_repos(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    path, package = local(graph, "localpkg-1.0-1.x86_64")
    result, added, removed = theirs(graph, tmp_path, ["install", path])
    assert result.ok, result.output
    txn = ours(graph, [metadata["main"]], local=[(path, package)])
    assert changes(txn) == (added, removed)
    origin = next(i for i in txn.installs if i.package.name == "localpkg").origin
    assert isinstance(origin, LocalOrigin) and origin.path == path


def test_downgrade_needs_replace(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    older = local(graph, "basepkg-0.9-1.x86_64")
    with pytest.raises(
        DependencyError,
        match=r"older than the installed basepkg-1\.0-1\.x86_64; ask for it with replace",
    ):
        ours(graph, [metadata["main"]], local=[older])
    # dnf itself downgrades a local file without asking; the result is the same once asked.
    result, added, removed = theirs(graph, tmp_path, ["install", older[0]])
    assert result.ok, result.output
    txn = ours(graph, [metadata["main"]], local=[older], replace=[older[0]])
    assert changes(txn) == (added, removed)
    assert txn.installs[0].action == "downgrade"
    assert txn.erasures[0].reason == "replaced by basepkg-0.9-1.x86_64"


def test_replace_from_a_repository(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    txn = ours(graph, [metadata["main"]], replace=["basepkg"])
    assert changes(txn) == ({"basepkg-2.0-1.x86_64"}, {"basepkg-1.0-1.x86_64"})
    assert txn.installs[0].action == "upgrade"
    with pytest.raises(DependencyError, match="cannot replace agent: not installed"):
        ours(graph, [metadata["main"]], replace=["agent"])


def dnf_refuses(graph: Graph, tmp_path: Path, args: list[str]) -> str:
    result, added, removed = theirs(graph, tmp_path, args)
    assert not result.ok and not added and not removed, result.output
    return result.output


def test_conflicts_refused_like_dnf(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    assert "conflicts with basepkg" in dnf_refuses(graph, tmp_path, ["install", "unrelated"])
    with pytest.raises(DependencyError) as caught:
        ours(graph, [metadata["main"]], install=["unrelated"])
    assert str(caught.value) == (
        "cannot install unrelated: unrelated-1.0-1.x86_64 conflicts with basepkg-1.0-1.x86_64"
        " (installed) (Conflicts: basepkg)"
    )
    with pytest.raises(DependencyError, match="conflicts with"):
        ours(graph, [metadata["main"]], install=["unrelated"], nodeps=True)  # never let through


def test_unmet_requires_refused_like_dnf_and_let_through_by_nodeps(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    assert "nothing provides nonexistent >= 2" in dnf_refuses(
        graph, tmp_path, ["install", "needs-missing"]
    )
    with pytest.raises(DependencyError) as caught:
        ours(graph, [metadata["main"]], install=["needs-missing"])
    assert str(caught.value) == (
        "cannot install needs-missing: needs-missing-1.0-1.x86_64 requires nonexistent >= 2,"
        " which nothing provides (--nodeps lets unmet Requires through)"
    )
    txn = ours(graph, [metadata["main"]], install=["needs-missing"], nodeps=True)
    assert changes(txn) == ({"needs-missing-1.0-1.x86_64"}, set())
    assert txn.notes == (
        "needs-missing-1.0-1.x86_64 requires nonexistent >= 2, which nothing in the image"
        " provides (nodeps)",
    )


def test_file_conflict_refused_like_dnf(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    output = dnf_refuses(graph, tmp_path, ["install", "clash"])
    assert (
        "file /usr/share/base/shared.conf from install of clash-1.0-1.x86_64 conflicts with file from package basepkg-1.0-1.x86_64"
        in output
    )
    txn = ours(graph, [metadata["main"]], install=["clash"])  # the solver sees no file contents
    incoming = [local(graph, str(i.package))[1].header for i in txn.installs]
    with pytest.raises(FileConflictError) as caught:
        check_file_conflicts(
            installed=installed_headers(graph.base_root), incoming=incoming, architecture="x86_64"
        )
    assert str(caught.value) == (
        "file /usr/share/base/shared.conf from install of clash-1.0-1.x86_64 conflicts with"
        " file from package basepkg-1.0-1.x86_64 (different content)"
    )


def rpm_erase_test(graph: Graph, name: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rpm", "--root", str(graph.base_root), "--dbpath", "/usr/share/rpm", "-e", "--test", name],
        capture_output=True,
        text=True,
        env={"HOME": str(tmp_path)},
        check=False,
    )


def test_remove_has_rpm_e_semantics(
    graph: Graph, metadata: dict[str, RepoMetadata], tmp_path: Path
) -> None:
    refused = rpm_erase_test(graph, "victim", tmp_path)
    assert refused.returncode != 0
    assert "victimcap is needed by (installed) dependent-1.0-1.x86_64" in refused.stderr
    with pytest.raises(DependencyError) as caught:
        ours(graph, [metadata["main"]], remove=["victim"])
    assert str(caught.value).startswith(
        "cannot remove victim: dependent-1.0-1.x86_64 (installed) still requires victimcap,"
        " which only packages being removed provide"
    )
    txn = ours(graph, [metadata["main"]], remove=["victim"], nodeps=True)
    assert changes(txn) == (set(), {"victim-1.0-1.x86_64"})
    assert txn.erasures[0].reason == "removed (requested)"
    assert txn.notes and "dependent-1.0-1.x86_64 requires victimcap" in txn.notes[0]
    # A package nothing needs goes, as with rpm -e.
    assert rpm_erase_test(graph, "dependent", tmp_path).returncode == 0
    assert changes(ours(graph, [], remove=["dependent"])) == (set(), {"dependent-1.0-1.x86_64"})
    # What an incoming package needs cannot be removed either.
    with pytest.raises(DependencyError, match="cannot install needs-victim"):
        ours(graph, [metadata["main"]], remove=["victim", "dependent"], install=["needs-victim"])


def test_unknown_specs(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    with pytest.raises(
        DependencyError,
        match=r"no package matches 'nosuch' in the image or the enabled repositories \(main\)",
    ):
        ours(graph, [metadata["main"]], install=["nosuch"])
    with pytest.raises(
        DependencyError, match="cannot remove 'agent': no installed package matches it"
    ):
        ours(graph, [metadata["main"]], remove=["agent"])
    with pytest.raises(DependencyError, match="no package matches '/usr/bin/nothing'"):
        ours(graph, [metadata["main"]], install=["/usr/bin/nothing"])


def test_already_installed_is_a_note(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    txn = ours(graph, [metadata["main"]], install=["basepkg"])
    assert txn.empty
    assert txn.notes == ("basepkg: already installed (basepkg-1.0-1.x86_64); not reinstalled",)


def test_oci_architecture_names(graph: Graph, metadata: dict[str, RepoMetadata]) -> None:
    txn = solve(
        installed=installed_headers(graph.base_root),
        repos=[metadata["main"]],
        install=["libmulti"],
        architecture="amd64",
    )
    assert changes(txn) == ({"libmulti-1.0-1.x86_64"}, set())
    # An i686 image cannot take x86_64 packages.
    with pytest.raises(DependencyError):
        solve(
            installed=[], repos=[metadata["main"]], install=["libmulti.x86_64"], architecture="i686"
        )
