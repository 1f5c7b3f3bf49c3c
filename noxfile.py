"""Developer sessions: ``nox -s lint typecheck tests``, plus ``bench`` and ``docs``."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def lint(session: nox.Session) -> None:
    """Lint and check formatting with ruff."""
    session.install("ruff")
    session.run("ruff", "check", "ociforge", "tests", "benchmarks", "noxfile.py")
    session.run("ruff", "format", "--check", "ociforge", "tests", "benchmarks", "noxfile.py")


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
    """Check the documentation: every example in docs/ runs (see tests/test_docs.py)."""
    session.install("-e", ".[test]")
    session.run("pytest", "tests/test_docs.py", *session.posargs)
