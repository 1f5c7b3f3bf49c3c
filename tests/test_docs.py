"""Every example in README.md and docs/ runs: console blocks in bash, python blocks in one namespace.

A page runs in its own copy of the directory ``ociforge demo`` writes (run here through the CLI, as
a reader would): ``fcos.ociarchive`` (the sample COSA-shaped image),
``hello-agent-1.0-1.noarch.rpm`` (a sample package), ``config.ign`` (a sample Ignition config)
and ``derived.ociarchive``; a page that uses them says so, and ``ociforge`` on PATH runs this
checkout. Nothing else is prepared. A page that needs more says so in an HTML
comment, e.g. ``<!-- needs: registry -->`` (the no-auth registry docs/howto/registry.md shows how
to start, address in ``$REGISTRY``; ``registry-auth``: its htpasswd one, in ``$AUTH_REGISTRY``) or
``<!-- needs: createrepo_c -->`` (a peer tool on PATH).
Blocks in other languages (yaml, json, text) are output samples and are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import ROOT
from tests.support.demo_workspace import DEMO_INPUTS, fill_workspace, run_demo
from tests.support.docs_registry import start_documented_registry
from tests.support.tools import need

_FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(page: Path) -> Iterator[tuple[str, str, int]]:
    text = page.read_text()
    for match in _FENCE.finditer(text):
        language, body = match.group(1), match.group(2)
        if language in ("console", "python"):
            yield language, body, text[: match.start()].count("\n") + 1


DOCS = [
    page
    for page in sorted([Path(ROOT) / "README.md", *(Path(ROOT) / "docs").rglob("*.md")])
    if any(True for _ in blocks(page))
]


REGISTRY_HOWTO = Path(ROOT) / "docs" / "howto" / "registry.md"


def commands(body: str) -> list[str]:
    """``$ command`` lines of a console block, with backslash continuations joined."""
    out: list[str] = []
    current: str | None = None
    for line in body.splitlines():
        if current is not None:
            current += "\n" + line
            if not line.endswith("\\"):
                out.append(current)
                current = None
        elif line.startswith("$ "):
            if line.endswith("\\"):
                current = line[2:]
            else:
                out.append(line[2:])
    return out


def needs(page: Path) -> set[str]:
    found = re.findall(r"<!--\s*needs:\s*([^>]*?)\s*-->", page.read_text())
    return {word for group in found for word in group.split()}


# What a page that uses the demo's files tells its reader (checked below).
WHERE_TO_RUN = "ociforge demo"


@pytest.fixture(scope="session")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("docs-demo") / "ociforge-demo")


@pytest.fixture
def workspace(tmp_path: Path, demo_output: Path) -> tuple[Path, dict[str, str]]:
    return tmp_path, fill_workspace(tmp_path, demo_output)


@pytest.mark.parametrize("page", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_examples_run(
    page: Path,
    workspace: tuple[Path, dict[str, str]],
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    directory, env = workspace
    wanted = needs(page)
    servers = {
        "registry": ("registry.yml", "REGISTRY"),
        "registry-auth": ("registry-auth.yml", "AUTH_REGISTRY"),
    }
    howto = REGISTRY_HOWTO.read_text()
    for word in sorted(wanted & servers.keys()):
        name, variable = servers[word]
        # Started from the config and the commands docs/howto/registry.md shows.
        server = start_documented_registry(howto, name, tmp_path_factory.mktemp(word))
        request.addfinalizer(server.stop)
        env[variable] = server.host
    tools = sorted(wanted - servers.keys())
    if tools:
        need(*tools)  # a peer tool the page's examples run (createrepo_c …)
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for language, body, line in blocks(page):
        where = f"{page.relative_to(ROOT)}:{line}"
        if language == "console":
            for command in commands(body):
                proc = subprocess.run(
                    ["bash", "-euo", "pipefail", "-c", command],
                    cwd=directory,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=300,
                    check=False,
                )
                assert proc.returncode == 0, f"{where}: $ {command}\n{proc.stdout}\n{proc.stderr}"
                ran += 1
        else:
            old = os.getcwd()
            os.chdir(directory)
            saved = {k: os.environ.get(k) for k in ("REGISTRY", "AUTH_REGISTRY")}
            os.environ.update({k: v for k, v in env.items() if k in saved})
            try:
                exec(compile(body, where, "exec"), namespace)
            finally:
                os.chdir(old)
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
            ran += 1
    assert ran


def test_pages_say_where_their_inputs_come_from() -> None:
    """A page whose examples use the demo's files tells the reader to run ``ociforge demo`` first."""
    for page in DOCS:
        text = page.read_text()
        code = "".join(body for _, body, _ in blocks(page))
        used = [name for name in DEMO_INPUTS if name in code]
        if used:
            assert WHERE_TO_RUN in text, (
                f"{page.name} uses {used} but never says where they come from"
            )


def test_every_shell_example_is_runnable() -> None:
    """Examples are ```console or ```python (both run); other shell blocks must say why not."""
    for page in sorted([Path(ROOT) / "README.md", *(Path(ROOT) / "docs").rglob("*.md")]):
        text = page.read_text()
        for match in _FENCE.finditer(text):
            language = match.group(1)
            if language in ("sh", "bash", "shell"):
                before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
                assert before.startswith("<!-- not run:"), (
                    f"{page.name}: a {language} block that is not run needs"
                    " '<!-- not run: why -->' before it, or use ```console"
                )
        bare = re.findall(r"^```\n(?!\s*$)", text, re.M)
        opening = [m.group(1) for m in re.finditer(r"^```(\S*)", text, re.M)][0::2]
        assert "" not in opening, f"{page.name}: a code block without a language ({len(bare)})"


def test_cli_and_api_references_are_current() -> None:
    """docs/cli.md and docs/api.md are generated; regenerate with docs/tools/reference.py."""
    proc = subprocess.run(
        [sys.executable, str(Path(ROOT) / "docs" / "tools" / "reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": ROOT},
    )
    assert proc.returncode == 0, proc.stderr
