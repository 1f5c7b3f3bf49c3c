"""The scriptlet shell parser: words, redirections, here-documents and compound commands."""

from __future__ import annotations

import pytest

from ociforge.rpm.scriptlets import shell


def only(source: str) -> shell.Node:
    tree = shell.parse(source)
    assert len(tree.items) == 1 and not tree.items[0].rest
    (command,) = tree.items[0].first.commands
    return command


def simple(source: str) -> shell.Simple:
    command = only(source)
    assert isinstance(command, shell.Simple)
    return command


def test_quoting_and_parts() -> None:
    command = simple("""echo 'a b' "c $x ${y:-z} $(uname -r) `id -u`" d\\ e $1 ''""")
    assert [w.raw for w in command.words] == [
        "echo", "'a b'", '"c $x ${y:-z} $(uname -r) `id -u`"', "d\\ e", "$1", "''",
    ]  # fmt: skip
    quoted = command.words[2].parts
    assert [(p.kind, p.text, p.modifier) for p in quoted] == [
        ("lit", "c ", ""), ("var", "x", ""), ("lit", " ", ""), ("var", "y", ":-z"),
        ("lit", " ", ""), ("cmd", "uname -r", ""), ("lit", " ", ""), ("cmd", "id -u", ""),
        ("lit", "", ""),
    ]  # fmt: skip
    assert all(p.quoted for p in quoted)
    assert command.words[3].literal == "d e"
    assert command.words[5].literal == ""
    assert command.text == """echo 'a b' "c $x ${y:-z} $(uname -r) `id -u`" d\\ e $1 ''"""


def test_comments_and_continuations() -> None:
    command = simple("useradd -r \\\n   -g foo \\\n   foo # the user\n# nothing\n")
    assert [w.literal for w in command.words] == ["useradd", "-r", "-g", "foo", "foo"]
    assert command.text == "useradd -r -g foo foo"
    assert simple("echo a#b").words[1].literal == "a#b"


@pytest.mark.parametrize(
    ("source", "redirects"),
    [
        ("cmd >/dev/null 2>&1", [(None, ">", "/dev/null"), (2, ">&", "1")]),
        ("cmd &>/dev/null", [(None, "&>", "/dev/null")]),
        ("cmd 2> /dev/null", [(2, ">", "/dev/null")]),
        ("cmd >> /var/log/x", [(None, ">>", "/var/log/x")]),
        ("cmd < /etc/x 1>&2", [(None, "<", "/etc/x"), (1, ">&", "2")]),
    ],
)
def test_redirections(source: str, redirects: list[tuple[int | None, str, str]]) -> None:
    command = simple(source)
    assert [w.literal for w in command.words] == ["cmd"]
    assert [(r.fd, r.op, r.target.literal if r.target else None) for r in command.redirects] == (
        redirects
    )


def test_here_documents() -> None:
    tree = shell.parse(
        "a - <<EOF || :\nline $x\nEOF\nb <<-'END'\n\tquoted $y\n\tEND\nc <<\"Q\"\nq\nQ\n"
    )
    first = tree.items[0].first.commands[0]
    assert isinstance(first, shell.Simple)
    (doc,) = first.redirects
    assert (doc.heredoc, doc.expands) == ("line $x\n", True)
    assert tree.items[0].rest[0][0] == "||"
    second = tree.items[1].first.commands[0]
    assert isinstance(second, shell.Simple)
    assert (second.redirects[0].heredoc, second.redirects[0].expands) == ("quoted $y\n", False)
    third = tree.items[2].first.commands[0]
    assert isinstance(third, shell.Simple)
    assert third.redirects[0].heredoc == "q\n"


def test_operators_pipelines_and_negation() -> None:
    tree = shell.parse("! a | b && c || d; e &\nf")
    first = tree.items[0]
    assert first.first.negated and len(first.first.commands) == 2
    assert [op for op, _ in first.rest] == ["&&", "||"]
    assert len(tree.items) == 3


def test_if_elif_else_for_and_groups() -> None:
    node = only("if a; then b; elif c\nthen d; else e; fi")
    assert isinstance(node, shell.If)
    assert len(node.branches) == 2 and node.otherwise is not None
    loop = only("for v in x y; do\n  echo $v\ndone")
    assert isinstance(loop, shell.For) and loop.name == "v"
    assert [w.literal for w in loop.words or ()] == ["x", "y"]
    group = only("{ a; b; } >/dev/null")
    assert isinstance(group, shell.Group) and not group.subshell and group.redirects
    sub = only("( cd /tmp && ls )")
    assert isinstance(sub, shell.Group) and sub.subshell


def test_test_brackets_keep_their_operators() -> None:
    command = simple("[[ -f /x && $1 == 1 ]]")
    assert [w.raw for w in command.words] == ["[[", "-f", "/x", "&&", "$1", "==", "1", "]]"]


def test_assignments_and_arrays() -> None:
    command = simple('A=1 B= C="x y" modules=( $(find /x) )')
    assert [(name, value.raw) for name, value in command.assignments] == [
        ("A", "1"), ("B", ""), ("C", '"x y"'), ("modules", "( $(find /x) )"),
    ]  # fmt: skip
    assert command.assignments[3][1].parts[0].kind == "array"
    assert simple("env A=1").words[1].literal == "A=1"


def test_unsupported_constructs_are_nodes_and_parsing_goes_on() -> None:
    tree = shell.parse('case "$1" in\n  1) a ;;\n  *) b ;;\nesac\necho after\nf() { x; }\nf')
    kinds = [type(item.first.commands[0]).__name__ for item in tree.items]
    assert kinds == ["Unsupported", "Simple", "Unsupported", "Simple"]
    first = tree.items[0].first.commands[0]
    assert isinstance(first, shell.Unsupported) and first.reason == "case is not translated"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("echo 'x", "unclosed '"),
        ('echo "x', 'unclosed "'),
        ("echo $(x", r"no closing '\)'"),
        ("cat <<EOF\nnever ends", "never ends"),
        ("if a; then b", "expected 'fi'|if without fi"),
        ("fi", "unexpected 'fi'"),
        ("a && ", "a command is missing"),
        ("a >", "without a target"),
        ("; a", "unexpected ';'"),
    ],
)
def test_errors(source: str, message: str) -> None:
    with pytest.raises(shell.ShellError, match=message):
        shell.parse(source)
