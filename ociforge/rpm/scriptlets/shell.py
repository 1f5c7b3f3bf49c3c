r"""A parser for the shell that RPM scriptlets are written in, down to a tree nothing executes.

Tokens come from :mod:`.lexer`. It covers what macro expansions and vendor scriptlets use:
quoting, ``\`` continuations, comments, ``;``/``&&``/``||``/``|``/``&``, ``!``, redirections
(``>/dev/null 2>&1``, ``&>``), here-documents, ``$var``/``${var}``/``$(…)``/backticks,
``if``/``elif``/``else``, ``for … in``, ``{ …; }``, ``( … )``, bash arrays (``a=( … )``) and
``[[ … ]]``. ``case``, loops other than ``for``, functions and anything else come back as
:class:`Unsupported` nodes so the caller can refuse them by name. The parser never guesses:
an unclosed quote is a :class:`ShellError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from .lexer import NAME, Part, ShellError, Token, Word, tokenize

__all__ = [
    "AndOr",
    "For",
    "Group",
    "If",
    "Node",
    "Part",
    "Pipeline",
    "Redirect",
    "Sequence",
    "ShellError",
    "Simple",
    "Unsupported",
    "Word",
    "parse",
]


@dataclass(frozen=True, slots=True)
class Redirect:
    """``[fd]op target``; a here-document keeps its body (``expands``: unquoted delimiter)."""

    fd: int | None
    op: str
    target: Word | None = None
    heredoc: str | None = None
    expands: bool = False


@dataclass(frozen=True, slots=True)
class Simple:
    """A simple command: assignments, words, redirections and its source text."""

    assignments: tuple[tuple[str, Word], ...]
    words: tuple[Word, ...]
    redirects: tuple[Redirect, ...]
    text: str


@dataclass(frozen=True, slots=True)
class Pipeline:
    """``a | b | c`` (``negated`` for ``! a``)."""

    commands: tuple[Node, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class AndOr:
    """``a && b || c``: pipelines joined left to right by ``&&``/``||``."""

    first: Pipeline
    rest: tuple[tuple[str, Pipeline], ...]


@dataclass(frozen=True, slots=True)
class Sequence:
    """Commands run one after another."""

    items: tuple[AndOr, ...]


@dataclass(frozen=True, slots=True)
class If:
    """``if c; then b; elif c2; then b2; else e; fi``."""

    branches: tuple[tuple[Sequence, Sequence], ...]
    otherwise: Sequence | None
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class For:
    """``for name in words; do body; done`` (``words`` None: ``"$@"``)."""

    name: str
    words: tuple[Word, ...] | None
    body: Sequence
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class Group:
    """``{ body; }`` or, with ``subshell``, ``( body )``."""

    body: Sequence
    subshell: bool
    redirects: tuple[Redirect, ...] = ()


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A construct this parser does not model (``case``, ``while``, functions…)."""

    text: str
    reason: str


Node = Simple | If | For | Group | Unsupported

_KEYWORDS: Final = frozenset(
    {"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until",
     "case", "esac", "{", "}", "!", "function", "select", "time", "[[", "]]"}
)  # fmt: skip
_CLOSERS: Final = frozenset({"then", "elif", "else", "fi", "do", "done", "}", "esac"})


class _Parser:
    def __init__(self, source: str, tokens: list[Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def keyword(self) -> str | None:
        token = self.peek()
        word = token.word if token is not None and token.kind == "word" else None
        if word is not None and word.literal in _KEYWORDS and not any(p.quoted for p in word.parts):
            return word.literal
        return None

    def skip_newlines(self) -> None:
        while (token := self.peek()) is not None and token.kind == "newline":
            self.pos += 1

    def expect(self, word: str) -> None:
        self.skip_newlines()
        if self.keyword() != word:
            token = self.peek()
            raise ShellError(f"expected {word!r}, found {token.text if token else 'the end'!r}")
        self.pos += 1

    def sequence(self, closers: frozenset[str] = frozenset()) -> Sequence:
        items = []
        while True:
            self.skip_newlines()
            token = self.peek()
            if (
                token is None
                or self.keyword() in closers
                or (token.kind == "op" and token.text == ")")
            ):
                break
            if token.kind == "op" and token.text in (";", "&"):
                raise ShellError(f"unexpected {token.text!r}")
            items.append(self.and_or())
            token = self.peek()
            if token is not None and token.kind == "op" and token.text in (";", "&"):
                self.pos += 1
        return Sequence(tuple(items))

    def and_or(self) -> AndOr:
        first = self.pipeline()
        rest = []
        while (
            (token := self.peek()) is not None and token.kind == "op" and token.text in ("&&", "||")
        ):
            self.pos += 1
            self.skip_newlines()
            rest.append((token.text, self.pipeline()))
        return AndOr(first, tuple(rest))

    def pipeline(self) -> Pipeline:
        negated = False
        if self.keyword() == "!":
            negated = True
            self.pos += 1
        commands = [self.command()]
        while (
            (token := self.peek()) is not None and token.kind == "op" and token.text in ("|", "|&")
        ):
            self.pos += 1
            self.skip_newlines()
            commands.append(self.command())
        return Pipeline(tuple(commands), negated)

    def redirects(self) -> tuple[Redirect, ...]:
        out = []
        while (token := self.peek()) is not None and token.kind == "redir":
            out.append(_redirect(token))
            self.pos += 1
        return tuple(out)

    def command(self) -> Node:
        token = self.peek()
        if token is None:
            raise ShellError("a command is missing at the end")
        keyword = self.keyword()
        if token.kind == "op" and token.text == "(":
            self.pos += 1
            body = self.sequence()
            closing = self.peek()
            if closing is None or closing.text != ")":
                raise ShellError("( without )")
            self.pos += 1
            return Group(body, True, self.redirects())
        if keyword == "{":
            self.pos += 1
            body = self.sequence(frozenset({"}"}))
            self.expect("}")
            return Group(body, False, self.redirects())
        if keyword == "if":
            return self.if_clause()
        if keyword == "for":
            return self.for_clause()
        if keyword in ("while", "until", "case", "function", "select", "time"):
            return self.unsupported(token, f"{keyword} is not translated")
        if keyword in _CLOSERS or keyword in ("then", "in"):
            raise ShellError(f"unexpected {keyword!r}")
        if self.function_definition():
            return self.unsupported(token, "shell functions are not translated", "{", "}")
        return self.simple()

    def function_definition(self) -> bool:
        """Whether ``name ( )`` starts here."""
        ahead = self.tokens[self.pos : self.pos + 3]
        return (
            len(ahead) == 3
            and ahead[0].word is not None
            and NAME.fullmatch(ahead[0].word.literal or "") is not None
            and [t.text for t in ahead[1:]] == ["(", ")"]
        )

    def unsupported(
        self, token: Token, reason: str, opener: str | None = None, closer: str | None = None
    ) -> Unsupported:
        """Skip to the end of the construct this keyword opens (balanced by its closer)."""
        pairs = {"case": ("case", "esac"), "while": ("do", "done"), "until": ("do", "done")}
        if opener is None:
            opener, closer = pairs.get(self.keyword() or "", (None, None))
        start = token.start
        depth = 0
        while (current := self.peek()) is not None:
            self.pos += 1
            word = current.word.literal if current.kind == "word" and current.word else None
            if closer is None:
                if current.kind == "newline":
                    break
                continue
            if word == opener:
                depth += 1
            elif word == closer:
                depth -= 1
                if depth <= 0:
                    break
        end = self.tokens[self.pos - 1].end
        return Unsupported(_collapse(self.source[start:end]), reason)

    def if_clause(self) -> If:
        self.pos += 1
        branches = []
        otherwise = None
        while True:
            condition = self.sequence(frozenset({"then"}))
            self.expect("then")
            body = self.sequence(frozenset({"elif", "else", "fi"}))
            branches.append((condition, body))
            self.skip_newlines()
            word = self.keyword()
            self.pos += 1
            if word == "elif":
                continue
            if word == "else":
                otherwise = self.sequence(frozenset({"fi"}))
                self.expect("fi")
            elif word != "fi":
                raise ShellError("if without fi")
            break
        return If(tuple(branches), otherwise, self.redirects())

    def for_clause(self) -> For:
        self.pos += 1
        token = self.peek()
        if token is None or token.word is None or token.word.literal is None:
            raise ShellError("for without a variable name")
        name = token.word.literal
        self.pos += 1
        words: list[Word] | None = None
        self.skip_newlines()
        if self.keyword() == "in":
            self.pos += 1
            words = []
            while (token := self.peek()) is not None and token.kind == "word":
                assert token.word is not None
                words.append(token.word)
                self.pos += 1
        token = self.peek()
        if token is not None and token.kind == "op" and token.text == ";":
            self.pos += 1
        self.expect("do")
        body = self.sequence(frozenset({"done"}))
        self.expect("done")
        return For(name, None if words is None else tuple(words), body, self.redirects())

    def simple(self) -> Simple:
        assignments: list[tuple[str, Word]] = []
        words: list[Word] = []
        redirects: list[Redirect] = []
        start = self.peek()
        assert start is not None
        last = start
        test = self.keyword() == "[["
        while (token := self.peek()) is not None:
            if token.kind == "redir":
                redirects.append(_redirect(token))
            elif token.kind == "word" and token.word is not None:
                word = token.word
                if test and word.literal == "]]":
                    test = False
                name = _assignment(word)
                if name is not None and not words:
                    assignments.append((name, _value(word, name)))
                else:
                    words.append(word)
            elif test and token.kind == "op" and token.text in ("&&", "||", "(", ")"):
                words.append(Word((Part("lit", token.text),), token.text))
            else:
                break
            last = token
            self.pos += 1
        if not words and not assignments and not redirects:
            raise ShellError(f"unexpected {start.text!r}")
        return Simple(
            tuple(assignments),
            tuple(words),
            tuple(redirects),
            _collapse(self.source[start.start : last.end]),
        )


def _collapse(text: str) -> str:
    """Source text on one line: continuations joined, runs of blanks made one space."""
    return re.sub(r"\s+", " ", text.replace("\\\n", " ")).strip()


def _assignment(word: Word) -> str | None:
    first = word.parts[0]
    if first.kind != "lit" or first.quoted:
        return None
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)\+?=", first.text)
    return match.group(1) if match else None


def _value(word: Word, name: str) -> Word:
    """The value part of ``name=value``."""
    first = word.parts[0]
    rest = first.text.split("=", 1)[1]
    parts = ((Part("lit", rest),) if rest else ()) + word.parts[1:]
    return Word(parts or (Part("lit", "", True),), word.raw.split("=", 1)[1])


def _redirect(token: Token) -> Redirect:
    pending = token.redirect
    assert pending is not None
    if pending.op in ("<<", "<<-"):
        return Redirect(pending.fd, pending.op, pending.target, pending.body, pending.expands)
    return Redirect(pending.fd, pending.op, pending.target)


def parse(source: str) -> Sequence:
    """The command tree of a script. Raises :class:`ShellError` on what cannot be read."""
    tokens = tokenize(source)
    parser = _Parser(source, tokens)
    tree = parser.sequence()
    if parser.peek() is not None:
        token = parser.peek()
        raise ShellError(f"unexpected {token.text if token else ''!r}")
    return tree
