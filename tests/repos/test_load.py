"""Loading a run's repositories: the image's files and variables, user options in order, keys."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ociforge.errors import RepoError
from ociforge.repos.load import (
    MappingImageFiles,
    RepoAction,
    RepoOptions,
    base_arch,
    detect_releasever,
    load_repos,
)
from ociforge.rpm.package import read_package
from tests.support.repos import Graph, Pkg, build_pkg
from tests.support.rpms import Key

FEDORA = (
    b"[fedora]\nname=Fedora $releasever\n"
    b"baseurl=https://dl.example/$contentdir/releases/$releasever/Everything/$basearch/os/\n"
    b"gpgcheck=1\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-$releasever-$basearch\n"
    b"\n[updates-testing]\nbaseurl=https://dl.example/testing/$releasever_major/\nenabled=0\n"
)


def image(key: Key, extra: dict[str, bytes] | None = None) -> MappingImageFiles:
    files = {
        "/etc/yum.repos.d/fedora.repo": FEDORA,
        "/etc/dnf/vars/contentdir": b"pub/fedora\n",
        "/etc/os-release": b'NAME="Fedora Linux"\nVERSION_ID=40\n',
    }
    for release in ("39", "40", "41", "9.4"):
        files[f"/etc/pki/rpm-gpg/RPM-GPG-KEY-fedora-{release}-x86_64"] = key.public.read_bytes()
    files.update(extra or {})
    return MappingImageFiles(files)


def test_image_repos_with_variables_and_keys(graph: Graph) -> None:
    (fedora,) = load_repos(image=image(graph.key), options=RepoOptions())
    assert fedora.config.baseurls == (
        "https://dl.example/pub/fedora/releases/40/Everything/x86_64/os/",
    )
    assert fedora.config.source == "image:/etc/yum.repos.d/fedora.repo:1"
    assert [k.fingerprint.hex().upper() for k in fedora.keys][:1] == [graph.key.fingerprint]


def test_enable_disable_and_user_repos_in_order(graph: Graph, tmp_path: Path) -> None:
    host = tmp_path / "extra.repo"
    host.write_text("[vendor]\nbaseurl=https://vendor.example/el9/\ngpgcheck=0\nenabled=0\n")
    files = image(graph.key)

    def ids(*actions: RepoAction, **kw: object) -> list[str]:
        options = RepoOptions(actions=actions, **kw)  # type: ignore[arg-type]
        return [r.id for r in load_repos(image=files, options=options)]

    assert ids(RepoAction("enable", "updates-testing")) == ["fedora", "updates-testing"]
    assert ids(RepoAction("disable", "*"), RepoAction("repo", "mine=https://m.example/r")) == [
        "mine"
    ]
    assert ids(RepoAction("repo", "mine=https://m.example/r"), RepoAction("disable", "*")) == []
    assert ids(RepoAction("repo-file", str(host)), RepoAction("enable", "vendor")) == [
        "fedora",
        "vendor",
    ]
    assert ids(RepoAction("disable", "fedora"), image_repos=False) == []
    listed = RepoOptions.from_lists(disable=["*"], enable=["updates-testing"], repo=["x=/srv/x"])
    assert [r.id for r in load_repos(image=files, options=listed)] == ["updates-testing", "x"]
    with pytest.raises(RepoError, match=r"--repo-file /nonexistent\.repo: No such file"):
        ids(RepoAction("repo-file", "/nonexistent.repo"))


def test_gpgkeys_come_from_the_image_never_the_host(graph: Graph, tmp_path: Path) -> None:
    # The key exists on this machine at the path the repo file names, but not in the image.
    host_key = tmp_path / "KEY"
    host_key.write_bytes(graph.key.public.read_bytes())
    text = f"[x]\nbaseurl=http://127.0.0.1:9/\ngpgcheck=1\ngpgkey=file://{host_key}\n".encode()
    files = MappingImageFiles({"/etc/yum.repos.d/x.repo": text})
    with pytest.raises(RepoError, match="no such file in the image"):
        load_repos(image=files, options=RepoOptions())
    unchecked = text.replace(b"gpgcheck=1", b"gpgcheck=0")
    (repo,) = load_repos(
        image=MappingImageFiles({"/etc/yum.repos.d/x.repo": unchecked}), options=RepoOptions()
    )
    assert repo.keys == ()


def test_bad_image_repo_file_names_file_and_line(graph: Graph) -> None:
    files = image(
        graph.key, {"/etc/yum.repos.d/broken.repo": b"[ok]\nbaseurl=http://a\n\nthis is not ini\n"}
    )
    with pytest.raises(
        RepoError, match=r"^image:/etc/yum\.repos\.d/broken\.repo:4: expected 'key=value'"
    ):
        load_repos(image=files, options=RepoOptions())


def test_releasever_sources(graph: Graph, tmp_path: Path) -> None:
    release = build_pkg(
        Pkg(
            "fedora-release",
            "41",
            provides=("system-release(releasever) = 41",),
            files=(("/etc/fedora-release", "x"),),
        ),
        tmp_path,
    )
    with open(release, "rb") as handle:
        header = read_package(handle).header
    assert detect_releasever([header]) == "41"
    files = image(graph.key)
    # os-release (no rpmdb), the installed set, /etc/dnf/vars, then the caller, in rising precedence:
    assert load_repos(image=files, options=RepoOptions())[0].config.name == "Fedora 40"
    assert (
        load_repos(image=files, options=RepoOptions(), installed=[header])[0].config.name
        == "Fedora 41"
    )
    with_var = image(graph.key, {"/etc/dnf/vars/releasever": b"39\n"})
    assert (
        load_repos(image=with_var, options=RepoOptions(), installed=[header])[0].config.name
        == "Fedora 39"
    )
    assert (
        load_repos(image=with_var, options=RepoOptions(releasever="9.4"))[0].config.name
        == "Fedora 9.4"
    )
    testing = load_repos(
        image=files, options=RepoOptions(releasever="9.4", actions=(RepoAction("enable", "*"),))
    )
    assert testing[1].config.baseurls == ("https://dl.example/testing/9/",)


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [("x86_64", ("x86_64", "x86_64")), ("amd64", ("x86_64", "x86_64")), ("arm64", ("aarch64", "aarch64")),
     ("i686", ("i686", "i386")), ("ppc64le", ("ppc64le", "ppc64le")), ("s390x", ("s390x", "s390x"))],
)  # fmt: skip
def test_arch_variables(architecture: str, expected: tuple[str, str]) -> None:
    assert base_arch(architecture) == expected


def test_importing_repos_loads_no_network_code() -> None:
    code = "import sys, ociforge.repos; print('requests' in sys.modules, 'solv' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
