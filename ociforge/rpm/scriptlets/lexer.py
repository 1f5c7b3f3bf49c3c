r"""Shell words and tokens: quoting, expansions, operators, redirections, here-documents.

The lexer turns a scriptlet into tokens for :mod:`.shell`: words (kept in parts, so a quoted
``"$x"`` and an unquoted ``$x`` stay different), operators, redirections with their targets
(a here-document's body attached) and newlines. ``\`` continuations and comments vanish here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

__all__ = ["NAME", "Part", "ShellError", "Token", "Word", "tokenize"]


class ShellError(ValueError):
    """A script this parser cannot read (unclosed quote, stray keyword…)."""


@dataclass(frozen=True, slots=True)
class Part:
    """A piece of a word: literal text, ``$name``, ``$(script)``, an array body, or opaque."""

    kind: Literal["lit", "var", "cmd", "array", "opaque"]
    text: str
    quoted: bool = False
    #: For ``${name:-x}``-style variables: the operator and its word (``:-``, ``x``).
    modifier: str = ""


@dataclass(frozen=True, slots=True)
class Word:
    """One shell word as written (``raw``) and in parts."""

    parts: tuple[Part, ...]
    raw: str

    @property
    def literal(self) -> str | None:
        """The word's text when it has no expansions, else None."""
        if all(p.kind == "lit" for p in self.parts):
            return "".join(p.text for p in self.parts)
        return None


_OPERATORS: Final = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_REDIRECTS: Final = ("<<<", "<<-", "&>>", "<<", ">>", ">&", "<&", "&>", ">|", "<>", ">", "<")
NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL: Final = "0123456789#?@*$!-"


@dataclass(slots=True)
class _Pending:
    """A redirection while lexing: a here-document's body arrives after its line ends."""

    fd: int | None
    op: str
    target: Word
    body: str = ""
    expands: bool = False


@dataclass(slots=True)
class Token:
    kind: Literal["word", "op", "redir", "newline"]
    text: str
    start: int
    end: int
    word: Word | None = None
    redirect: _Pending | None = None


class _Lexer:
    def __init__(self, source: str) -> None:
        self.s = source
        self.i = 0
        self.tokens: list[Token] = []
        self.heredocs: list[Token] = []

    def error(self, message: str) -> ShellError:
        line = self.s.count("\n", 0, self.i) + 1
        return ShellError(f"line {line}: {message}")

    def matching(self, i: int, opener: str, closer: str) -> int:
        """Index just past the ``closer`` matching the ``opener`` before ``i``."""
        depth = 1
        while i < len(self.s):
            char = self.s[i]
            if char == "\\":
                i += 2
                continue
            if char in "'\"`":
                end = self.s.find(char, i + 1) if char == "'" else self.quoted_end(i + 1, char)
                if end < 0:
                    raise self.error(f"unclosed {char}")
                i = end + 1
                continue
            if self.s.startswith(opener, i):
                depth += 1
                i += len(opener)
                continue
            if self.s.startswith(closer, i):
                depth -= 1
                i += len(closer)
                if depth == 0:
                    return i
                continue
            i += 1
        raise self.error(f"no closing {closer!r}")

    def quoted_end(self, i: int, quote: str) -> int:
        while i < len(self.s):
            char = self.s[i]
            if char == "\\":
                i += 2
                continue
            if char == quote:
                return i
            if quote == '"' and self.s.startswith("$(", i):
                i = self.matching(i + 2, "(", ")")
                continue
            i += 1
        return -1

    def dollar(self, i: int, quoted: bool) -> tuple[Part, int]:
        """The expansion at ``s[i] == '$'``."""
        s = self.s
        nxt = s[i + 1 : i + 2]
        if s.startswith("$((", i):
            end = self.matching(i + 3, "((", "))")
            return Part("opaque", s[i:end], quoted), end
        if nxt == "(":
            end = self.matching(i + 2, "(", ")")
            return Part("cmd", s[i + 2 : end - 1], quoted), end
        if nxt == "{":
            end = self.matching(i + 2, "{", "}")
            body = s[i + 2 : end - 1]
            match = NAME.match(body) or re.match(r"[0-9]+|[#?@*$!-]", body)
            if match is None:
                return Part("opaque", s[i:end], quoted), end
            name, rest = match.group(), body[match.end() :]
            if rest.startswith("[") and rest.endswith("]"):
                rest = ""  # ${a[@]}: the whole array, as unknown as the variable
            op = re.match(r":?[-=?+]|##?|%%?|/", rest)
            if rest and op is None:
                return Part("opaque", s[i:end], quoted), end
            return Part("var", name, quoted, rest), end
        match = NAME.match(s, i + 1)
        if match:
            return Part("var", match.group(), quoted), match.end()
        if nxt and nxt in _SPECIAL:
            return Part("var", nxt, quoted), i + 2
        if nxt == "'" and not quoted:  # $'...': ANSI-C quoting
            end = self.quoted_end(i + 2, "'")
            if end < 0:
                raise self.error("unclosed $'")
            return Part("opaque", s[i : end + 1], quoted), end + 1
        return Part("lit", "$", quoted), i + 1

    def word(self) -> Token:
        s = self.s
        start = self.i
        parts: list[Part] = []
        lit: list[str] = []

        def flush(quoted: bool = False) -> None:
            if lit:
                parts.append(Part("lit", "".join(lit), quoted))
                lit.clear()

        i = self.i
        while i < len(s):
            char = s[i]
            if char in " \t\n;&|()<>" and not (
                char == "(" and not parts and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=", "".join(lit))
            ):
                break
            if char == "(":  # a=( … ): a bash array assignment
                end = self.matching(i + 1, "(", ")")
                flush()
                parts.append(Part("array", s[i + 1 : end - 1]))
                i = end
                continue
            if char == "\\":
                if s.startswith("\\\n", i):
                    i += 2
                    continue
                flush()
                parts.append(Part("lit", s[i + 1 : i + 2], True))
                i += 2
                continue
            if char == "'":
                end = s.find("'", i + 1)
                if end < 0:
                    raise self.error("unclosed '")
                flush()
                parts.append(Part("lit", s[i + 1 : end], True))
                i = end + 1
                continue
            if char == '"':
                flush()
                i = self.double_quoted(i + 1, parts)
                continue
            if char == "`":
                end = self.quoted_end(i + 1, "`")
                if end < 0:
                    raise self.error("unclosed `")
                flush()
                parts.append(Part("cmd", re.sub(r"\\([$`\\])", r"\1", s[i + 1 : end])))
                i = end + 1
                continue
            if char == "$":
                flush()
                part, i = self.dollar(i, False)
                parts.append(part)
                continue
            lit.append(char)
            i += 1
        flush()
        self.i = i
        raw = s[start:i]
        if not parts:  # "" or '' make an empty word
            parts.append(Part("lit", "", True))
        return Token("word", raw, start, i, Word(tuple(parts), raw))

    def double_quoted(self, i: int, parts: list[Part]) -> int:
        s = self.s
        lit: list[str] = []
        while i < len(s):
            char = s[i]
            if char == '"':
                if lit or not parts or parts[-1].kind != "lit":
                    parts.append(Part("lit", "".join(lit), True))
                return i + 1
            if char == "\\" and s[i + 1 : i + 2] in ('"', "\\", "$", "`", "\n"):
                if s[i + 1] != "\n":
                    lit.append(s[i + 1])
                i += 2
                continue
            if char in "$`":
                if lit:
                    parts.append(Part("lit", "".join(lit), True))
                    lit = []
                if char == "`":
                    end = self.quoted_end(i + 1, "`")
                    if end < 0:
                        raise self.error("unclosed `")
                    parts.append(Part("cmd", s[i + 1 : end], True))
                    i = end + 1
                else:
                    part, i = self.dollar(i, True)
                    parts.append(part)
                continue
            lit.append(char)
            i += 1
        raise self.error('unclosed "')

    def read_heredocs(self) -> None:
        """Bodies of the here-documents opened on the line just ended."""
        for token in self.heredocs:
            assert token.redirect is not None
            op, delimiter = token.redirect.op, token.redirect.target
            end_word = "".join(p.text for p in delimiter.parts)
            lines = []
            while True:
                if self.i >= len(self.s):
                    raise self.error(f"here-document delimited by {end_word!r} never ends")
                newline = self.s.find("\n", self.i)
                line = self.s[self.i : newline if newline >= 0 else len(self.s)]
                self.i = newline + 1 if newline >= 0 else len(self.s)
                if op == "<<-":
                    line = line.lstrip("\t")
                if line == end_word:
                    break
                lines.append(line + "\n")
            token.redirect.body = "".join(lines)
            token.redirect.expands = all(p.kind == "lit" and not p.quoted for p in delimiter.parts)
        self.heredocs.clear()

    def run(self) -> list[Token]:
        s = self.s
        while self.i < len(s):
            char = s[self.i]
            if char in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif char == "#":
                newline = s.find("\n", self.i)
                self.i = newline if newline >= 0 else len(s)
            elif char == "\n":
                self.tokens.append(Token("newline", "\n", self.i, self.i + 1))
                self.i += 1
                self.read_heredocs()
            elif self.redirect(None):
                continue
            elif op := next((o for o in _OPERATORS if s.startswith(o, self.i)), None):
                self.tokens.append(Token("op", op, self.i, self.i + len(op)))
                self.i += len(op)
            else:
                token = self.word()
                fd = token.text if token.text.isdigit() else None
                if fd is not None and self.redirect(int(fd), token.start):
                    continue
                self.tokens.append(token)
        if self.heredocs:
            raise self.error("here-document without a body")
        return self.tokens

    def redirect(self, fd: int | None, start: int | None = None) -> bool:
        s = self.s
        op = next((r for r in _REDIRECTS if s.startswith(r, self.i)), None)
        if op is None:
            return False
        begin = self.i if start is None else start
        self.i += len(op)
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        if self.i >= len(s) or s[self.i] in "\n;&|()<>":
            raise self.error(f"{op} without a target")
        target = self.word()
        assert target.word is not None
        token = Token(
            "redir", s[begin : self.i], begin, self.i, None, _Pending(fd, op, target.word)
        )
        if op in ("<<", "<<-"):
            self.heredocs.append(token)
        self.tokens.append(token)
        return True


def tokenize(source: str) -> list[Token]:
    """The tokens of ``source``. Raises :class:`ShellError` on an unclosed quote or heredoc."""
    return _Lexer(source).run()
