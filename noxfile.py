"""Developer sessions: ``nox -s lint typecheck tests``, plus ``bench`` and ``docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install("ruff")
    paths = ("ociforge", "tests", "benchmarks", "docs/tools", "noxfile.py")
    session.run("ruff", "check", *paths)
    session.run("ruff", "format", "--check", *paths)


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package with mypy --strict."""
    session.install("-e", ".[dev]")
    session.run("mypy", "--strict", "ociforge")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (tests needing a missing tool skip unless OCIFORGE_REQUIRE_TOOLS=1)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "2", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against the peer tools; prints the table for docs/performance.md."""
    session.install("-e", ".")
    session.run("python", "-m", "benchmarks", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Regenerate the CLI and API references, then run every example in README and docs/."""
    session.install("-e", ".[test]")
    session.run("python", "docs/tools/reference.py")
    session.run("pytest", "tests/test_docs.py", *session.posargs)
