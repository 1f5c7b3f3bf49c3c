"""dnf ``.repo`` files as frozen configs: INI parsing, ``$variables``, and enable/disable rules.

The rules are dnf's (libdnf's ``ConfigParser`` and ``ConfigRepo``): every section except
``[main]`` is a repository whose id is the section name; lines ``key=value``, continued on
lines that start with whitespace; ``#`` and ``;`` start comments; booleans read
``1/0/yes/no/true/false/on/off``; lists (``baseurl``, ``gpgkey``, ``includepkgs``,
``excludepkgs``) split on commas and whitespace; ``name`` defaults to the id. Values may use
``$var`` and ``${var}``; unknown variables are left as written (dnf 4 has no ``${var:-x}``).

Two defaults differ from dnf's compiled-in ones and follow what Fedora's and RHEL's
``/etc/dnf/dnf.conf`` set instead, because ``[main]`` is not read: ``gpgcheck`` is on and
``skip_if_unavailable`` is off.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from ..errors import RepoError

__all__ = [
    "RepoConfig",
    "RepoToggle",
    "parse_bool",
    "parse_repo_file",
    "parse_vars",
    "repo_from_url",
    "select_repos",
    "substitute",
]

_ID: Final = re.compile(r"^[A-Za-z0-9\-_.:]+$")
_VARIABLE: Final = re.compile(r"\$(?:(?P<plain>[A-Za-z0-9_]+)|\{(?P<name>[A-Za-z0-9_]+)\})")
_TRUE: Final = frozenset({"1", "yes", "true", "on"})
_FALSE: Final = frozenset({"0", "no", "false", "off"})
_LIST_SPLIT: Final = re.compile(r"[\s,]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class RepoConfig:
    """One repository as a ``.repo`` section describes it, variables already substituted.

    ``source`` says where it was defined (``FILE:LINE``, or ``--repo``) for messages.
    ``proxy`` is empty for "the environment's proxy" and ``_none_`` for none, as in dnf.
    """

    id: str
    name: str = ""
    baseurls: tuple[str, ...] = ()
    metalink: str = ""
    mirrorlist: str = ""
    enabled: bool = True
    gpgcheck: bool = True
    gpgkeys: tuple[str, ...] = ()
    repo_gpgcheck: bool = False
    sslverify: bool = True
    sslcacert: str = ""
    sslclientcert: str = ""
    sslclientkey: str = ""
    includepkgs: tuple[str, ...] = ()
    excludepkgs: tuple[str, ...] = ()
    priority: int = 99
    cost: int = 1000
    proxy: str = ""
    proxy_username: str = ""
    proxy_password: str = field(default="", repr=False)
    username: str = ""
    password: str = field(default="", repr=False)
    skip_if_unavailable: bool = False
    source: str = ""

    @property
    def label(self) -> str:
        """``repo ID (SOURCE)``, how messages name the repository."""
        return f"repo {self.id} ({self.source})" if self.source else f"repo {self.id}"


@dataclass(frozen=True, slots=True)
class RepoToggle:
    """One ``--enablerepo`` / ``--disablerepo``: comma-separated globs over repository ids."""

    enable: bool
    patterns: str

    def matches(self, repo_id: str) -> bool:
        """Whether one of the globs matches ``repo_id``."""
        return any(fnmatch.fnmatchcase(repo_id, p) for p in self.globs)

    @property
    def globs(self) -> tuple[str, ...]:
        """The individual globs."""
        return tuple(p for p in _LIST_SPLIT.split(self.patterns.strip()) if p)


def substitute(text: str, variables: Mapping[str, str]) -> str:
    """``text`` with dnf's ``$var`` forms replaced; unknown variables stay as written."""

    def replace(match: re.Match[str]) -> str:
        value = variables.get(match.group("plain") or match.group("name"))
        return match.group(0) if value is None else value

    return _VARIABLE.sub(replace, text)


def parse_vars(files: Mapping[str, bytes]) -> dict[str, str]:
    """Variables from ``/etc/dnf/vars``-style files: file name → its first line, stripped."""
    out = {}
    for name, data in files.items():
        if _ID.match(name) is None or "." in name:
            continue  # editor backups and the like, which dnf's name check skips too
        lines = data.decode("utf-8", "replace").splitlines()
        out[name] = lines[0].strip() if lines else ""
    return out


def parse_bool(text: str, *, what: str) -> bool:
    """A dnf boolean; anything else is a :class:`RepoError` naming ``what``."""
    lowered = text.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise RepoError(f"{what}: {text!r} is not a boolean (1/0, yes/no, true/false, on/off)")


def _split(text: str) -> tuple[str, ...]:
    return tuple(part for part in _LIST_SPLIT.split(text.strip()) if part)


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise RepoError(f"{what}: {text!r} is not an integer") from None


def _keep(text: str, what: str) -> str:
    return text.strip()


#: Key → (RepoConfig field, converter). ``exclude`` is the older spelling of ``excludepkgs``.
_KEYS: Final[dict[str, tuple[str, Callable[[str, str], object]]]] = {
    "name": ("name", _keep),
    "baseurl": ("baseurls", lambda t, w: _split(t)),
    "metalink": ("metalink", _keep),
    "mirrorlist": ("mirrorlist", _keep),
    "enabled": ("enabled", lambda t, w: parse_bool(t, what=w)),
    "gpgcheck": ("gpgcheck", lambda t, w: parse_bool(t, what=w)),
    "gpgkey": ("gpgkeys", lambda t, w: _split(t)),
    "repo_gpgcheck": ("repo_gpgcheck", lambda t, w: parse_bool(t, what=w)),
    "sslverify": ("sslverify", lambda t, w: parse_bool(t, what=w)),
    "sslcacert": ("sslcacert", _keep),
    "sslclientcert": ("sslclientcert", _keep),
    "sslclientkey": ("sslclientkey", _keep),
    "includepkgs": ("includepkgs", lambda t, w: _split(t)),
    "excludepkgs": ("excludepkgs", lambda t, w: _split(t)),
    "exclude": ("excludepkgs", lambda t, w: _split(t)),
    "priority": ("priority", _integer),
    "cost": ("cost", _integer),
    "proxy": ("proxy", _keep),
    "proxy_username": ("proxy_username", _keep),
    "proxy_password": ("proxy_password", _keep),
    "username": ("username", _keep),
    "password": ("password", _keep),
    "skip_if_unavailable": ("skip_if_unavailable", lambda t, w: parse_bool(t, what=w)),
}


@dataclass(slots=True)
class _Section:
    name: str
    line: int
    values: dict[str, tuple[str, int]] = field(default_factory=dict)


def _sections(text: str, source: str) -> Iterator[_Section]:
    current: _Section | None = None
    key: str | None = None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        stripped = line.strip()
        where = f"{source}:{number}"
        if not stripped:
            key = None
            continue
        if stripped[0] in "#;":
            continue
        if line[0] in " \t" and key is not None and current is not None:
            value, start = current.values[key]
            current.values[key] = (f"{value}\n{stripped}", start)
            continue
        if stripped.startswith("["):
            if not stripped.endswith("]"):
                raise RepoError(f"{where}: section header {stripped!r} has no closing ']'")
            if current is not None:
                yield current
            current = _Section(stripped[1:-1].strip(), number)
            key = None
            continue
        name, equals, value = stripped.partition("=")
        if not equals or not name.strip():
            raise RepoError(f"{where}: expected 'key=value' or '[section]', got {stripped!r}")
        if current is None:
            raise RepoError(f"{where}: {name.strip()!r} before any [section]")
        # Keys are case-sensitive and a repeated key overrides the earlier one, as in libdnf.
        key = name.strip()
        current.values[key] = (value.strip(), number)
    if current is not None:
        yield current


def parse_repo_file(
    text: str, *, source: str, variables: Mapping[str, str] | None = None
) -> tuple[RepoConfig, ...]:
    """Every repository section of one ``.repo`` file (``[main]`` is skipped).

    ``source`` names the file in messages; every malformed line or value is a
    :class:`RepoError` naming ``FILE:LINE``. Unknown keys are ignored, as dnf does.
    """
    variables = variables or {}
    out: list[RepoConfig] = []
    seen: dict[str, int] = {}
    for section in _sections(text, source):
        where = f"{source}:{section.line}"
        if section.name == "main":
            continue
        if _ID.match(section.name) is None:
            raise RepoError(
                f"{where}: bad repository id {section.name!r} (letters, digits and -_.: only)"
            )
        if section.name in seen:
            raise RepoError(
                f"{where}: repository {section.name!r} is already defined at line"
                f" {seen[section.name]}"
            )
        seen[section.name] = section.line
        fields: dict[str, object] = {"id": section.name, "source": where}
        for key, (value, line) in section.values.items():
            known = _KEYS.get(key)
            if known is None:
                continue
            target, convert = known
            fields[target] = convert(substitute(value, variables), f"{source}:{line}: {key}")
        fields.setdefault("name", section.name)
        config = RepoConfig(**fields)  # type: ignore[arg-type]
        if not (config.baseurls or config.metalink or config.mirrorlist):
            raise RepoError(
                f"{where}: repository {config.id!r} has no baseurl, metalink or mirrorlist"
            )
        out.append(config)
    return tuple(out)


def repo_from_url(spec: str) -> RepoConfig:
    """``--repo ID=URL``: a baseurl repository, enabled, without signature checks.

    A plain absolute path means a directory on this machine (``file://``). Signatures
    are off because there is no key to check them with; give a ``.repo`` file with
    ``gpgkey`` (``--repo-file``) to have them checked.
    """
    repo_id, equals, url = spec.partition("=")
    repo_id, url = repo_id.strip(), url.strip()
    if not equals or not repo_id or not url:
        raise RepoError(f"--repo {spec!r}: expected ID=URL")
    if _ID.match(repo_id) is None:
        raise RepoError(f"--repo {spec!r}: bad repository id {repo_id!r}")
    if url.startswith("/"):
        url = "file://" + url
    return RepoConfig(id=repo_id, name=repo_id, baseurls=(url,), gpgcheck=False, source="--repo")


def select_repos(
    steps: Sequence[RepoToggle | Sequence[RepoConfig]],
) -> tuple[RepoConfig, ...]:
    """The enabled repositories after ``steps`` (in command-line order), in definition order.

    A step is either repositories being defined (the image's files, a ``--repo-file``, a
    ``--repo``) or a toggle, which sets ``enabled`` on every repository defined *before it*
    whose id one of its globs matches; so ``--disablerepo '*' --repo x=URL`` keeps ``x``.
    An ``--enablerepo`` glob that matches nothing is an error (as in dnf); ``--disablerepo``
    globs may match nothing. Two definitions of one id are an error naming both places.
    """
    defined: dict[str, RepoConfig] = {}
    state: dict[str, bool] = {}
    for step in steps:
        if isinstance(step, RepoToggle):
            for glob in step.globs:
                hits = [rid for rid in state if fnmatch.fnmatchcase(rid, glob)]
                if step.enable and not hits:
                    known = ", ".join(state) or "none"
                    raise RepoError(f"--enablerepo {glob}: no repository matches (known: {known})")
                for rid in hits:
                    state[rid] = step.enable
            continue
        for repo in step:
            if repo.id in defined:
                raise RepoError(
                    f"repository {repo.id!r} is defined twice: {defined[repo.id].source or '?'}"
                    f" and {repo.source or '?'}"
                )
            defined[repo.id] = repo
            state[repo.id] = repo.enabled
    return tuple(
        dataclasses.replace(repo, enabled=True) for rid, repo in defined.items() if state[rid]
    )
