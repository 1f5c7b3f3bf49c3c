"""Every command's ``--help`` ends with examples, and they are true: they parse, and they run.

The offline examples run, command by command, in a directory holding what ``ociforge demo``
writes, against the registry the registry how-to starts (``localhost:5000`` in the examples).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
from pathlib import Path

import pytest

from ociforge.cli import build_parser
from ociforge.cli._examples import EXAMPLES, Example
from tests.support.cli import ROOT, ociforge
from tests.support.demo_workspace import fill_workspace, run_demo
from tests.support.docs_registry import start_documented_registry

PARSER = build_parser()
SUBCOMMANDS = next(a for a in PARSER._actions if isinstance(a, argparse._SubParsersAction)).choices
LOCAL_REGISTRY = "localhost:5000"


def ociforge_words(command: str) -> list[list[str]]:
    """The argument words of each ``ociforge`` invocation in a shell command line."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    found, current = [], None
    for word in words:
        if word == "ociforge":
            current = []
            found.append(current)
        elif current is not None and word in ("|", ">", "<", "&&", ";", "<(", "(", ")", "||"):
            current = None
        elif current is not None:
            current.append(word)
    return found


def test_every_command_has_examples_that_use_it() -> None:
    assert set(EXAMPLES) == set(SUBCOMMANDS)
    for name, examples in EXAMPLES.items():
        assert any(words[:1] == [name] for e in examples for words in ociforge_words(e.command)), (
            name
        )
        assert "examples:" in SUBCOMMANDS[name].format_help(), name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_parse(name: str) -> None:
    for example in EXAMPLES[name]:
        for words in ociforge_words(example.command):
            try:
                PARSER.parse_args(words)
            except SystemExit as exc:
                pytest.fail(f"{name}: {example.command!r} does not parse ({exc.code})")


def test_examples_are_in_the_man_pages() -> None:
    for name, examples in EXAMPLES.items():
        page = ociforge("man", name).out
        assert ".SH EXAMPLES" in page
        for example in examples:
            assert example.command in page, (name, example.command)


@pytest.fixture(scope="module")
def demo_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(tmp_path_factory.mktemp("examples-demo") / "ociforge-demo")


def _localised(example: Example, host: str) -> str:
    """The command against the test registry (plain HTTP, so --tls-verify=false)."""
    if LOCAL_REGISTRY not in example.command:
        return example.command
    command = example.command.replace(LOCAL_REGISTRY, host)
    words = ociforge_words(example.command)[0]
    return command.replace(f"ociforge {words[0]} ", f"ociforge {words[0]} --tls-verify=false ", 1)


@pytest.mark.parametrize(
    "name", sorted(n for n, ex in EXAMPLES.items() if any(e.offline for e in ex))
)
def test_offline_examples_run(name: str, demo_output: Path, tmp_path: Path) -> None:
    env = fill_workspace(tmp_path, demo_output)
    env["HOME"] = str(tmp_path / "home")
    host = ""
    if any(LOCAL_REGISTRY in e.command for e in EXAMPLES[name]):
        howto = (Path(ROOT) / "docs" / "howto" / "registry.md").read_text()
        server = start_documented_registry(howto, "registry.yml", tmp_path / "registry")
        host = server.host
    try:
        for example in EXAMPLES[name]:
            if not example.offline:
                continue
            command = _localised(example, host)
            proc = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert proc.returncode == 0, f"{command}\n{proc.stdout}\n{proc.stderr}"
    finally:
        if host:
            server.stop()
