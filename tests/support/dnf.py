"""Debian's dnf 4 as the oracle: its own config parser, and real installs into scratch roots.

Two facts make dnf usable here (measured with dnf 4.14 / rpm 4.18 on Debian 12):

* Debian's rpm keeps ``%_dbpath`` at ``$HOME/.rpmdb``, which dnf then looks for *inside* the
  installroot and finds empty. A ``$HOME/.rpmmacros`` with ``%_dbpath /var/lib/rpm`` makes it
  read the Fedora-style database of the root (``/var/lib/rpm`` → ``../../usr/share/rpm`` in
  the CoreOS-shaped roots of :mod:`tests.support.rpmroot`).
* ``--config`` with a file of our own keeps the host's ``/etc/dnf/dnf.conf`` (Debian ships
  ``best=False``, ``skip_if_unavailable=True``) out of the comparison.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.tools import REQUIRED, need

_CONFIG_PROBE = textwrap.dedent(
    """\
    import json, sys
    import dnf
    base = dnf.Base()
    base.conf.reposdir = [sys.argv[1]]
    for key, value in json.loads(sys.argv[2]).items():
        base.conf.substitutions[key] = value
    base.read_all_repos()
    out = []
    for repo in base.repos.values():
        out.append({
            "id": repo.id, "name": repo.name, "baseurls": list(repo.baseurl),
            "metalink": repo.metalink or "", "mirrorlist": repo.mirrorlist or "",
            "enabled": bool(repo.enabled), "gpgkeys": list(repo.gpgkey),
            "repo_gpgcheck": bool(repo.repo_gpgcheck), "sslverify": bool(repo.sslverify),
            "sslcacert": repo.sslcacert or "", "sslclientcert": repo.sslclientcert or "",
            "sslclientkey": repo.sslclientkey or "", "includepkgs": list(repo.includepkgs),
            "excludepkgs": list(repo.excludepkgs), "priority": repo.priority, "cost": repo.cost,
            "proxy": repo.proxy or "", "proxy_username": repo.proxy_username or "",
            "skip_if_unavailable": bool(repo.skip_if_unavailable),
            "gpgcheck": bool(repo.gpgcheck),
        })
    print(json.dumps(out))
    """
)


def need_python_dnf() -> None:
    need("dnf")
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import dnf"], check=False, capture_output=True
    )
    if probe.returncode != 0:
        message = "needs Debian's python3-dnf (/usr/bin/python3 -c 'import dnf' failed)"
        if REQUIRED:
            pytest.fail(message + " but OCIFORGE_REQUIRE_TOOLS=1")
        pytest.skip(message)


def dnf_repo_configs(
    reposdir: Path, variables: dict[str, str], home: Path
) -> list[dict[str, object]]:
    """What dnf's own parser makes of every ``.repo`` file in ``reposdir``."""
    need_python_dnf()
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["/usr/bin/python3", "-c", _CONFIG_PROBE, str(reposdir), json.dumps(variables)],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        check=True,
    )
    return list(json.loads(proc.stdout.splitlines()[-1]))


@dataclass(frozen=True)
class DnfResult:
    returncode: int
    output: str
    #: ``name-[epoch:]version-release.arch`` lines of the root's rpmdb afterwards.
    installed: frozenset[str]

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def rpm_qa(root: Path, home: Path) -> frozenset[str]:
    need("rpm")
    proc = subprocess.run(
        [
            "rpm",
            "--root",
            str(root),
            "--dbpath",
            "/usr/share/rpm",
            "-qa",
            "--qf",
            "%{NAME}-%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}.%{ARCH}\\n",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
        check=True,
    )
    return frozenset(line for line in proc.stdout.splitlines() if line and "gpg-pubkey" not in line)


def dnf_run(
    base_root: Path,
    workdir: Path,
    args: list[str],
    *,
    repos: dict[str, str],
    priorities: dict[str, int] | None = None,
    weak_deps: bool = True,
) -> DnfResult:
    """Run ``dnf ARGS`` for real (``tsflags=noscripts``) on a copy of ``base_root``.

    ``repos`` maps ids to baseurls (``file://`` or ``http://``). The copy is left in
    ``workdir/root`` for inspection.
    """
    need("dnf", "rpm")
    root = workdir / "root"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(base_root, root, symlinks=True)
    home = workdir / "dnf-home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".rpmmacros").write_text("%_dbpath /var/lib/rpm\n")
    config = workdir / "dnf.conf"
    config.write_text(
        "[main]\ngpgcheck=0\nbest=False\nskip_if_unavailable=False\n"
        f"install_weak_deps={int(weak_deps)}\nreposdir=/nonexistent\n"
        f"cachedir={workdir / 'dnf-cache'}\nkeepcache=0\n"
    )
    argv = [
        "dnf",
        f"--config={config}",
        f"--installroot={root}",
        "--releasever=1",
        "--disablerepo=*",
        "--setopt=tsflags=noscripts",
        "--nogpgcheck",
        "-y",
    ]
    for repo_id, url in repos.items():
        argv += [f"--repofrompath={repo_id},{url}"]
        if priorities and repo_id in priorities:
            argv += [f"--setopt={repo_id}.priority={priorities[repo_id]}"]
    proc = subprocess.run(
        argv + args,
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home), "LC_ALL": "C.UTF-8"},
        check=False,
        timeout=300,
    )
    return DnfResult(proc.returncode, proc.stdout + proc.stderr, rpm_qa(root, home))
