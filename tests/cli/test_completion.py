"""Completion scripts and man pages cover every subcommand and flag, and the shells accept them."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ociforge.cli import build_parser
from ociforge.cli._reference import commands
from tests.support.cli import ociforge
from tests.support.tools import need

PARSER = build_parser()
COMMANDS = commands(PARSER)


def test_the_parser_walk_finds_every_command() -> None:
    names = {c.name for c in COMMANDS}
    assert {"append", "inspect", "copy", "mutate", "diff", "man", "completion"} <= names
    append = next(c for c in COMMANDS if c.name == "append")
    assert ("--rpm", True) in {(f, t) for f, t, _h in append.flags}
    assert ("--nodeps", False) in {(f, t) for f, t, _h in append.flags}


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_every_command_and_flag_is_in_the_script(shell: str) -> None:
    result = ociforge("completion", shell)
    assert result.code == 0, result.err
    for command in COMMANDS:
        assert command.name in result.out, command.name
        for flag, _takes, _help in command.flags:
            word = flag.lstrip("-") if shell == "fish" else flag
            assert word in result.out, (command.name, flag)


def _bash_complete(script: Path, *words: str) -> list[str]:
    line = " ".join(words)
    program = (
        f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _ociforge;"
        ' printf "%s\\n" "${COMPREPLY[@]}"'
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_bash_completes_commands_and_flags(tmp_path: Path) -> None:
    script = tmp_path / "ociforge.bash"
    script.write_text(ociforge("completion", "bash").out)
    assert "append" in _bash_complete(script, "ociforge", "app")
    assert _bash_complete(script, "ociforge", "append", "--no-w") == ["--no-weak-deps"]
    assert "--tls-verify" in _bash_complete(script, "ociforge", "--json", "copy", "--tls")


@pytest.mark.parametrize(("shell", "flag"), [("zsh", "-n"), ("fish", "--no-execute")])
def test_zsh_and_fish_parse_the_scripts(tmp_path: Path, shell: str, flag: str) -> None:
    need(shell)
    path = tmp_path / f"c.{shell}"
    path.write_text(ociforge("completion", shell).out)
    subprocess.run([shell, flag, str(path)], check=True)


def test_man_pages_cover_every_command_and_flag(tmp_path: Path) -> None:
    need("groff")
    result = ociforge("man", "--output-dir", str(tmp_path))
    assert result.code == 0, result.err
    pages = {p.name for p in tmp_path.iterdir()}
    assert pages == {"ociforge.1", *(f"ociforge-{c.name}.1" for c in COMMANDS)}
    for command in COMMANDS:
        page = (tmp_path / f"ociforge-{command.name}.1").read_text()
        rendered = subprocess.run(
            ["groff", "-k", "-man", "-Tutf8", "-ww"], input=page, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        assert rendered.stderr == "", (command.name, rendered.stderr)
        plain = re.sub(".\b", "", rendered.stdout)  # groff's overstrike bold and underline
        text = plain.replace("\u2010", "-").replace("\u2212", "-")
        for flag, _takes, _help in command.flags:
            assert flag in text, (command.name, flag)
    top = (tmp_path / "ociforge.1").read_text()
    assert all(f"ociforge-{c.name}" in top for c in COMMANDS)


def test_man_of_an_unknown_command_is_a_not_found() -> None:
    result = ociforge("man", "no-such-command")
    assert result.code == 3 and "no such command" in result.err
