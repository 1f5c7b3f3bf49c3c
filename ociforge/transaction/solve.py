"""Dependency resolution with libsolv: installed headers, repositories and local RPMs → Transaction.

The pool (:mod:`.pool`) holds the image's installed set, the repositories and the local
packages; this module turns a request into jobs, runs the solver and explains its answer.

Policy follows dnf 4 (libdnf's ``init_solver``; the oracle in the tests is dnf itself):
vendor changes allowed, ``BEST_OBEY_POLICY``, ``YUM_OBSOLETES``, weak dependencies installed
unless ``weak_deps=False``, no forced "best" (Fedora's ``best=False``). Repository
``priority`` (lower is preferred) and ``cost`` map to libsolv's priority and subpriority;
``includepkgs``/``excludepkgs`` hide packages from the solver. Specs are read as ``dnf
install`` reads them: a name, ``name-version``, ``name-version-release``, ``name.arch``, a
full NEVRA, a capability (``libfoo.so.1()(64bit)``, ``foo >= 1.2``), a glob, or a path
(``/usr/bin/x``, matched against file lists).

Two deliberate differences from dnf: ``remove`` has ``rpm -e`` semantics (an installed or
incoming package that still needs the removed one makes it an error that names it, where
``dnf remove`` would remove the dependents too), and a local package older than the
installed one of its name must be asked for with ``replace`` (rpm-ostree's
``override replace``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

import solv

from ..errors import DependencyError, RepoError
from ..repos.origin import LocalOrigin, RepoOrigin
from ..repos.repomd import check_href, parse_checksum
from ..rpm.header import Header
from ..rpm.nevra import Nevra
from .pool import PoolBuilder, nevra_of

if TYPE_CHECKING:
    from ..repos.metadata import RepoMetadata
    from ..rpm.package import RpmPackage

__all__ = [
    "Erase",
    "Install",
    "LocalOrigin",
    "Nevra",
    "RepoOrigin",
    "Transaction",
    "solve",
]

_SELECT: Final = (
    solv.Selection.SELECTION_NAME
    | solv.Selection.SELECTION_PROVIDES
    | solv.Selection.SELECTION_CANON
    | solv.Selection.SELECTION_DOTARCH
    | solv.Selection.SELECTION_REL
    | solv.Selection.SELECTION_GLOB
)
_SELECT_PATH: Final = (
    solv.Selection.SELECTION_FILELIST
    | solv.Selection.SELECTION_PROVIDES
    | solv.Selection.SELECTION_GLOB
)
_SELECT_INSTALLED: Final = (
    solv.Selection.SELECTION_NAME
    | solv.Selection.SELECTION_CANON
    | solv.Selection.SELECTION_DOTARCH
    | solv.Selection.SELECTION_GLOB
    | solv.Selection.SELECTION_INSTALLED_ONLY
)
_T = solv.Transaction
_REPLACING: Final = {
    _T.SOLVER_TRANSACTION_UPGRADE: "upgrade",
    _T.SOLVER_TRANSACTION_DOWNGRADE: "downgrade",
    _T.SOLVER_TRANSACTION_REINSTALL: "reinstall",
    _T.SOLVER_TRANSACTION_CHANGE: "reinstall",
}
_DEPENDENCY_RULES: Final = frozenset(
    {solv.Solver.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP, solv.Solver.SOLVER_RULE_PKG_REQUIRES}
)

Action = Literal["install", "upgrade", "downgrade", "reinstall"]


@dataclass(frozen=True, slots=True)
class Install:
    """A package the transaction installs, where it comes from and why.

    ``reason`` reads ``requested``, ``dependency of X (requires Y)``, ``recommended by X``
    …; ``replaces`` lists installed packages it upgrades, downgrades or obsoletes.
    """

    package: Nevra
    origin: RepoOrigin | LocalOrigin
    reason: str
    action: Action = "install"
    replaces: tuple[Nevra, ...] = ()

    def describe(self) -> str:
        """One line for people: ``install agent-1.0-1.x86_64 from main: requested``."""
        where = f"from {self.origin}" if isinstance(self.origin, RepoOrigin) else "local file"
        extra = f", replacing {', '.join(map(str, self.replaces))}" if self.replaces else ""
        return f"{self.action} {self.package} ({where}): {self.reason}{extra}"


@dataclass(frozen=True, slots=True)
class Erase:
    """An installed package the transaction removes, and why.

    ``index`` is its position in the ``installed`` sequence given to :func:`solve`.
    ``reason`` reads ``removed (requested)``, ``obsoleted by X`` or ``replaced by X``.
    """

    package: Nevra
    reason: str
    index: int
    kind: Literal["removed", "obsoleted", "replaced"] = "removed"

    def describe(self) -> str:
        """One line for people."""
        return f"erase {self.package}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Transaction:
    """What to add and remove, in rpm's install order, with the reasons.

    ``notes`` say what the caller should report: requests the image already satisfied,
    dependencies let through by ``nodeps``.
    """

    installs: tuple[Install, ...]
    erasures: tuple[Erase, ...]
    notes: tuple[str, ...] = ()

    def describe(self) -> list[str]:
        """Every change, one line each (for ``append --install`` to print)."""
        return [i.describe() for i in self.installs] + [e.describe() for e in self.erasures]

    @property
    def empty(self) -> bool:
        """Nothing to do."""
        return not self.installs and not self.erasures


@dataclass(slots=True)
class _Request:
    kind: Literal["install", "remove", "replace", "local"]
    spec: str
    ids: set[int] = field(default_factory=set)


class _Solve:
    """One resolution: jobs from requests, solving (with ``nodeps`` relief), the result."""

    def __init__(self, builder: PoolBuilder, *, nodeps: bool, weak_deps: bool) -> None:
        self.b = builder
        self.pool = builder.pool
        self.nodeps = nodeps
        self.weak_deps = weak_deps
        self.requests: list[_Request] = []
        self.jobs: list[Any] = []
        self.job_request: list[int] = []
        self.notes: list[str] = []
        self.weakened: set[int] = set()
        self.downgrades = False

    # --- requests -------------------------------------------------------------------------

    def _add_jobs(self, request: _Request, jobs: Iterable[Any]) -> None:
        self.requests.append(request)
        for job in jobs:
            self.jobs.append(job)
            self.job_request.append(len(self.requests) - 1)

    def _visible(self, ids: Iterable[int]) -> list[int]:
        return [i for i in ids if i not in self.b.excluded]

    def _local_by_path(self, spec: str) -> int | None:
        wanted = os.path.abspath(spec) if os.sep in spec or spec.endswith(".rpm") else None
        for sid, path in self.b.local.items():
            if spec == path or (wanted is not None and os.path.abspath(path) == wanted):
                return sid
        return None

    def _enabled(self) -> str:
        return ", ".join(self.b.repo_of) or "none"

    def install(self, spec: str) -> None:
        local = self._local_by_path(spec)
        if local is not None:
            self.local_install(local, spec)
            return
        selection = self.pool.select(spec, _SELECT_PATH if spec.startswith("/") else _SELECT)
        found = [s.id for s in selection.solvables()]
        if not found:
            raise DependencyError(
                f"no package matches {spec!r} in the image or the enabled repositories"
                f" ({self._enabled()})"
            )
        if not self._visible(found):
            raise DependencyError(
                f"every package matching {spec!r} is hidden by includepkgs/excludepkgs"
            )
        installed = [self.pool.solvables[i] for i in found if self.pool.solvables[i].isinstalled()]
        if installed:
            names = list(dict.fromkeys(str(s) for s in installed))
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            self.notes.append(f"{spec}: already installed ({shown}); not reinstalled")
        self._add_jobs(
            _Request("install", spec, set(found)), selection.jobs(solv.Job.SOLVER_INSTALL)
        )

    def local_install(self, sid: int, spec: str, *, replace: bool = False) -> None:
        s = self.pool.solvables[sid]
        older_than = [o for o in self._installed_named(s.name) if o.evrcmp(s) > 0]
        if older_than and not replace:
            raise DependencyError(
                f"{spec}: {s} is older than the installed {older_than[0]}; ask for it with"
                " replace (override replace) to downgrade"
            )
        if replace and not self._installed_named(s.name):
            raise DependencyError(
                f"cannot replace {s.name}: it is not installed (install it instead)"
            )
        if replace:
            self.downgrades = True
        kind: Literal["local", "replace"] = "replace" if replace else "local"
        job = self.pool.Job(solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_SOLVABLE, sid)
        self._add_jobs(_Request(kind, spec, {sid}), [job])

    def _installed_named(self, name: str) -> list[Any]:
        installed = self.pool.installed
        return [s for s in installed.solvables if s.name == name] if installed else []

    def remove(self, spec: str) -> None:
        selection = self.pool.select(spec, _SELECT_INSTALLED)
        found = [s.id for s in selection.solvables()]
        if not found:
            raise DependencyError(f"cannot remove {spec!r}: no installed package matches it")
        self._add_jobs(_Request("remove", spec, set(found)), selection.jobs(solv.Job.SOLVER_ERASE))

    def replace(self, spec: str) -> None:
        local = self._local_by_path(spec)
        if local is not None:
            self.local_install(local, spec, replace=True)
            return
        selection = self.pool.select(spec, _SELECT)
        candidates = [s for s in selection.solvables() if not s.isinstalled()]
        candidates = [s for s in candidates if s.id not in self.b.excluded]
        if not candidates:
            raise DependencyError(
                f"cannot replace {spec!r}: no package in the enabled repositories matches it"
            )
        best = self.pool.best_solvables(candidates)
        chosen = [s for s in best if self._installed_named(s.name)]
        if not chosen:
            names = ", ".join(sorted({s.name for s in best}))
            raise DependencyError(f"cannot replace {names}: not installed (install it instead)")
        self.downgrades = True
        jobs = [
            self.pool.Job(solv.Job.SOLVER_INSTALL | solv.Job.SOLVER_SOLVABLE, s.id) for s in chosen
        ]
        self._add_jobs(_Request("replace", spec, {s.id for s in chosen}), jobs)

    # --- solving --------------------------------------------------------------------------

    def _solver(self) -> Any:
        solver = self.pool.Solver()
        S = solv.Solver
        for flag in (
            S.SOLVER_FLAG_ALLOW_VENDORCHANGE,
            S.SOLVER_FLAG_BEST_OBEY_POLICY,
            S.SOLVER_FLAG_YUM_OBSOLETES,
            S.SOLVER_FLAG_KEEP_ORPHANS,
        ):
            solver.set_flag(flag, 1)
        if self.downgrades:
            solver.set_flag(S.SOLVER_FLAG_ALLOW_DOWNGRADE, 1)
        if not self.weak_deps:
            solver.set_flag(S.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)
        return solver

    def run(self) -> tuple[Any, Any]:
        while True:
            solver = self._solver()
            weaken = [
                self.pool.Job(solv.Job.SOLVER_WEAKENDEPS | solv.Job.SOLVER_SOLVABLE, sid)
                for sid in sorted(self.weakened)
            ]
            problems = solver.solve(self.jobs + weaken)
            if not problems:
                return solver, solver.transaction()
            if self.nodeps and self._relieve(problems):
                continue
            raise DependencyError(self._explain(problems))

    def _relieve(self, problems: Sequence[Any]) -> bool:
        """Weaken the Requires behind ``problems``; False when nothing more can be weakened."""
        more = False
        for problem in problems:
            for rule in problem.findallproblemrules():
                info = rule.info()
                s = info.solvable
                if info.type in _DEPENDENCY_RULES and s is not None and s.id not in self.weakened:
                    self.weakened.add(s.id)
                    more = True
        return more

    def _explain(self, problems: Sequence[Any]) -> str:
        parts: list[str] = []
        for problem in problems:
            asked = self._requests_of(problem)
            # The main rule says it best; every unmet capability is named as well, since each
            # one needs its own fix.
            rules = [problem.findproblemrule()] + [
                r
                for r in problem.findallproblemrules()
                if r.info().type == solv.Solver.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP
            ]
            reasons = []
            for rule in rules:
                text = self._describe_rule(rule.info())
                if text and text not in reasons:
                    reasons.append(text)
            if not reasons:
                reasons.append(str(problem))
            parts.append(f"{asked}: {'; '.join(reasons)}" if asked else "; ".join(reasons))
        hint = "" if self.nodeps else " (--nodeps lets unmet Requires through)"
        unmet = any(
            r.info().type in _DEPENDENCY_RULES for p in problems for r in p.findallproblemrules()
        )
        return " | ".join(parts) + (hint if unmet else "")

    def _requests_of(self, problem: Any) -> str:
        asked: list[str] = []
        for solution in problem.solutions():
            for element in solution.elements():
                if element.type != solv.Solver.SOLVER_SOLUTION_JOB:
                    continue
                index = element.jobidx
                if 0 <= index < len(self.job_request):
                    request = self.requests[self.job_request[index]]
                    verb = {"remove": "remove", "replace": "replace"}.get(request.kind, "install")
                    text = f"cannot {verb} {request.spec}"
                    if text not in asked:
                        asked.append(text)
        return ", ".join(asked)

    def _describe_rule(self, info: Any) -> str:
        S = solv.Solver
        s, other, dep = info.solvable, info.othersolvable, info.dep
        kind = info.type
        where = " (installed)" if s is not None and s.isinstalled() else ""
        owhere = " (installed)" if other is not None and other.isinstalled() else ""
        if kind == S.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP:
            return f"{s}{where} requires {dep}, which nothing provides"
        if kind == S.SOLVER_RULE_PKG_REQUIRES:
            providers = self.pool.whatprovides(dep)
            if providers and all(p.isinstalled() for p in providers):
                return f"{s}{where} still requires {dep}, which only packages being removed provide"
            return f"{s}{where} requires {dep}, but no package providing it can be installed"
        if kind == S.SOLVER_RULE_PKG_CONFLICTS:
            return f"{s}{where} conflicts with {other}{owhere} (Conflicts: {dep})"
        if kind == S.SOLVER_RULE_PKG_SELF_CONFLICT:
            return f"{s} conflicts with itself (Conflicts: {dep})"
        if kind == S.SOLVER_RULE_PKG_SAME_NAME:
            return f"cannot install both {s}{where} and {other}{owhere}"
        if kind in (
            S.SOLVER_RULE_PKG_OBSOLETES,
            S.SOLVER_RULE_PKG_INSTALLED_OBSOLETES,
            S.SOLVER_RULE_PKG_IMPLICIT_OBSOLETES,
        ):
            return f"{s}{where} obsoletes {other}{owhere} (Obsoletes: {dep})"
        if kind == S.SOLVER_RULE_PKG_NOT_INSTALLABLE:
            return f"{s} cannot be installed (wrong architecture, or hidden by excludepkgs)"
        if kind in (S.SOLVER_RULE_JOB_NOTHING_PROVIDES_DEP, S.SOLVER_RULE_JOB_UNKNOWN_PACKAGE):
            return f"nothing provides {dep}"
        if kind == S.SOLVER_RULE_JOB_PROVIDED_BY_SYSTEM:
            return f"{dep} is provided by the base image"
        if kind == S.SOLVER_RULE_JOB:
            return ""  # the request itself; named by _requests_of
        return str(info.problemstr())

    # --- the result -----------------------------------------------------------------------

    def result(self, solver: Any, transaction: Any) -> Transaction:
        transaction.order()
        requested: dict[int, str] = {}
        for request in self.requests:
            for sid in request.ids:
                requested.setdefault(sid, request.spec)
        installs: list[Install] = []
        replaced_by: dict[int, tuple[str, Any]] = {}
        for s in transaction.steps():
            if s.isinstalled():
                continue
            kind = transaction.steptype(
                s, _T.SOLVER_TRANSACTION_SHOW_ACTIVE | _T.SOLVER_TRANSACTION_SHOW_OBSOLETES
            )
            others = [o for o in transaction.allothersolvables(s) if o.isinstalled()]
            for other in others:
                verb = "replaced by" if other.name == s.name else "obsoleted by"
                replaced_by.setdefault(other.id, (verb, s))
            action: Action = _REPLACING.get(kind, "install")  # type: ignore[assignment]
            if action == "install" and any(o.name == s.name for o in others):
                action = "upgrade" if any(o.evrcmp(s) < 0 for o in others) else "downgrade"
            installs.append(
                Install(
                    package=nevra_of(s),
                    origin=self._origin(s),
                    reason=self._reason(solver, s, requested),
                    action=action,
                    replaces=tuple(nevra_of(o) for o in others),
                )
            )
        erasures: list[Erase] = []
        removal = {sid for r in self.requests if r.kind == "remove" for sid in r.ids}
        for s in transaction.steps():
            if not s.isinstalled():
                continue
            erase_kind: Literal["removed", "obsoleted", "replaced"] = "removed"
            if s.id in replaced_by:
                verb, by = replaced_by[s.id]
                reason = f"{verb} {by}"
                erase_kind = "replaced" if verb == "replaced by" else "obsoleted"
            elif s.id in removal:
                reason = "removed (requested)"
            else:
                reason = "removed"
            erasures.append(Erase(nevra_of(s), reason, self.b.installed_index[s.id], erase_kind))
        notes = list(self.notes)
        if self.weakened:
            notes.extend(self._unmet(transaction))
        return Transaction(tuple(installs), tuple(erasures), tuple(notes))

    def _origin(self, s: Any) -> RepoOrigin | LocalOrigin:
        local = self.b.local.get(s.id)
        if local is not None:
            return LocalOrigin(local)
        what = f"repo {s.repo.name}: {s}"
        if s.lookup_str(solv.SOLVABLE_MEDIABASE):
            raise RepoError(f"{what}: location xml:base points outside the repository; refused")
        href, _ = s.lookup_location()
        chk = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
        if chk is None:
            raise RepoError(f"{what}: no package checksum in the metadata")
        size = s.lookup_num(solv.SOLVABLE_DOWNLOADSIZE)
        return RepoOrigin(
            repo=s.repo.name,
            href=check_href(href, what=what),
            checksum=parse_checksum(chk.typestr(), chk.hex(), what=f"{what} checksum"),
            size=int(size) if size else None,
        )

    def _reason(self, solver: Any, s: Any, requested: dict[int, str]) -> str:
        spec = requested.get(s.id)
        if spec is not None:
            plain = spec in (s.name, str(s)) or s.id in self.b.local
            return "requested" if plain else f"requested as {spec}"
        reason, rule = solver.describe_decision(s)
        if reason == solv.Solver.SOLVER_REASON_WEAKDEP:
            for kind, other, dep in solver.describe_weakdep_decision(s):
                if kind == solv.Solver.SOLVER_REASON_SUPPLEMENTED:
                    return f"supplements {other} (Supplements: {dep})"
                return f"recommended by {other} (Recommends: {dep})"
        if rule is not None:
            info = rule.info()
            if info.type == solv.Solver.SOLVER_RULE_PKG_REQUIRES and info.solvable is not None:
                return f"dependency of {info.solvable} (requires {info.dep})"
            if info.type == solv.Solver.SOLVER_RULE_JOB:
                return "requested"
        return "needed by the transaction"

    def _unmet(self, transaction: Any) -> list[str]:
        kept = {s.id for s in transaction.keptsolvables()}
        result = kept | {s.id for s in transaction.newsolvables()}
        notes = []
        for sid in sorted(self.weakened):
            if sid not in result:
                continue
            s = self.pool.solvables[sid]
            for dep in s.lookup_deparray(solv.SOLVABLE_REQUIRES):
                if not any(p.id in result for p in self.pool.whatprovides(dep)):
                    notes.append(
                        f"{s} requires {dep}, which nothing in the image provides (nodeps)"
                    )
        return notes


def solve(
    *,
    installed: Sequence[Header],
    repos: Sequence[RepoMetadata] = (),
    local: Sequence[tuple[str, RpmPackage]] = (),
    install: Sequence[str] = (),
    remove: Sequence[str] = (),
    replace: Sequence[str] = (),
    architecture: str,
    nodeps: bool = False,
    weak_deps: bool = True,
) -> Transaction:
    """Resolve a request against the image's installed set, as ``dnf install`` would.

    ``installed`` are the image's rpmdb headers; ``repos`` fetched repositories;
    ``local`` ``(path, package)`` pairs of RPM files, each installed as requested unless
    ``replace`` names it. ``install`` takes dnf specs; ``remove`` installed package specs
    (``rpm -e`` semantics); ``replace`` specs or local paths whose package replaces the
    installed one of its name, up or down. ``architecture`` is the image's (``x86_64`` or
    ``amd64``). With ``nodeps`` unmet Requires are let through and reported in
    :attr:`Transaction.notes`; Conflicts never are.

    Raises :class:`DependencyError` with one line naming the request, the package and the
    unmet capability or conflict; :class:`RepoError` for unreadable metadata.
    """
    builder = PoolBuilder(architecture)
    builder.add_installed(installed)
    for meta in repos:
        builder.add_repo(meta)
    builder.add_local(local)
    builder.finish()
    job = _Solve(builder, nodeps=nodeps, weak_deps=weak_deps)
    replace_paths = {job._local_by_path(spec) for spec in replace} - {None}
    for sid in builder.local:
        if sid not in replace_paths:
            job.local_install(sid, builder.local[sid])
    for spec in install:
        job.install(spec)
    for spec in remove:
        job.remove(spec)
    for spec in replace:
        job.replace(spec)
    solver, transaction = job.run()
    return job.result(solver, transaction)
