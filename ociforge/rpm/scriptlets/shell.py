r"""A parser for the shell that RPM scriptlets are written in, down to a tree nothing executes.

It covers what macro expansions and vendor scriptlets use: quoting, ``\\`` continuations,
comments, ``;``/``&&``/``||``/``|``/``&``, ``!``, redirections (``>/dev/null 2>&1``, ``&>``),
here-documents, ``$var``/``${var}``/``$(…)``/backticks, ``if``/``elif``/``else``, ``for … in``,
``{ …; }``, ``( … )``, bash arrays (``a=( … )``) and ``[[ … ]]``. ``case``, loops other than
``for``, functions and anything else come back as :class:`Unsupported` nodes so the caller can
refuse them by name. The parser never guesses: an unclosed quote is a :class:`ShellError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

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

_OPERATORS: Final = ("&&", "||", ";;", "|&", ";", "&", "|", "(", ")")
_REDIRECTS: Final = ("<<<", "<<-", "&>>", "<<", ">>", ">&", "<&", "&>", ">|", "<>", ">", "<")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL: Final = "0123456789#?@*$!-"
_KEYWORDS: Final = frozenset(
    {"if", "then", "elif", "else", "fi", "for", "in", "do", "done", "while", "until",
     "case", "esac", "{", "}", "!", "function", "select", "time", "[[", "]]"}
)  # fmt: skip
_CLOSERS: Final = frozenset({"then", "elif", "else", "fi", "do", "done", "}", "esac"})


@dataclass(slots=True)
class _Pending:
    """A redirection while lexing: a here-document's body arrives after its line ends."""

    fd: int | None
    op: str
    target: Word
    body: str = ""
    expands: bool = False


@dataclass(slots=True)
class _Token:
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
        self.tokens: list[_Token] = []
        self.heredocs: list[_Token] = []

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
            match = _NAME.match(body) or re.match(r"[0-9]+|[#?@*$!-]", body)
            if match is None:
                return Part("opaque", s[i:end], quoted), end
            name, rest = match.group(), body[match.end() :]
            if rest.startswith("[") and rest.endswith("]"):
                rest = ""  # ${a[@]}: the whole array, as unknown as the variable
            op = re.match(r":?[-=?+]|##?|%%?|/", rest)
            if rest and op is None:
                return Part("opaque", s[i:end], quoted), end
            return Part("var", name, quoted, rest), end
        match = _NAME.match(s, i + 1)
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

    def word(self) -> _Token:
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
        return _Token("word", raw, start, i, Word(tuple(parts), raw))

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

    def run(self) -> list[_Token]:
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
                self.tokens.append(_Token("newline", "\n", self.i, self.i + 1))
                self.i += 1
                self.read_heredocs()
            elif self.redirect(None):
                continue
            elif op := next((o for o in _OPERATORS if s.startswith(o, self.i)), None):
                self.tokens.append(_Token("op", op, self.i, self.i + len(op)))
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
        token = _Token(
            "redir", s[begin : self.i], begin, self.i, None, _Pending(fd, op, target.word)
        )
        if op in ("<<", "<<-"):
            self.heredocs.append(token)
        self.tokens.append(token)
        return True


class _Parser:
    def __init__(self, source: str, tokens: list[_Token]) -> None:
        self.source = source
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token | None:
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
            and _NAME.fullmatch(ahead[0].word.literal or "") is not None
            and [t.text for t in ahead[1:]] == ["(", ")"]
        )

    def unsupported(
        self, token: _Token, reason: str, opener: str | None = None, closer: str | None = None
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


def _redirect(token: _Token) -> Redirect:
    pending = token.redirect
    assert pending is not None
    if pending.op in ("<<", "<<-"):
        return Redirect(pending.fd, pending.op, pending.target, pending.body, pending.expands)
    return Redirect(pending.fd, pending.op, pending.target)


def parse(source: str) -> Sequence:
    """The command tree of a script. Raises :class:`ShellError` on what cannot be read."""
    tokens = _Lexer(source).run()
    parser = _Parser(source, tokens)
    tree = parser.sequence()
    if parser.peek() is not None:
        token = parser.peek()
        raise ShellError(f"unexpected {token.text if token else ''!r}")
    return tree
