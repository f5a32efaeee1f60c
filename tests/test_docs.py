"""Every mpt command line shown in README.md and docs/ parses with the CLI, without running it.

A command is a line in a fenced code block that runs ``mpt ...``, or ``python -m mpt_cli ...`` under any
launcher (``torchrun``, ``accelerate launch``): the arguments after ``mpt_cli`` are what mpt sees.
Each is parsed by Click exactly as the shell would hand it over, so an unknown option, a missing value
or a bad choice fails here naming the file and line, before a reader meets it.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer

from mpt_cli.choices import Choice
from mpt_cli.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = sorted([ROOT / "README.md", ROOT / "prompts" / "README.md", *(ROOT / "docs").glob("**/*.md")])

FENCE = re.compile(r"^\s*(```|~~~)")
# a quick look for a command before the shell-like split: `mpt` first (after VAR=value prefixes or a pipe)
# or `-m mpt_cli` anywhere; the tree listings and prose in code blocks are left alone
LOOKS_LIKE_MPT = re.compile(r"(^|[|;&]\s*)([A-Za-z_]\w*=\S*\s+)*mpt(\s|$)|-m\s+mpt_cli(\s|$)")
ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")


@dataclass(frozen=True)
class DocCommand:
    path: Path
    line: int  # where the command starts, 1-based
    args: tuple[str, ...]  # what mpt receives: the subcommand and its arguments

    @property
    def place(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_lines(text: str) -> list[tuple[int, str]]:
    """The logical lines of fenced code blocks, backslash continuations joined, with their first line number."""
    lines, inside, pending, start = [], False, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        if FENCE.match(line):
            inside, pending = not inside, ""
            continue
        if not inside:
            continue
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append((start, pending + line))
        pending = ""
    return lines


def mpt_arguments(words: list[str]) -> list[str] | None:
    """What mpt receives from one simple shell command, or None when it does not run mpt."""
    while words and ASSIGNMENT.match(words[0]):  # MPT_PRECISION=bf16 mpt ...
        words = words[1:]
    if words[:1] == ["mpt"]:
        return words[1:]
    for i in range(len(words) - 1):
        if words[i] == "-m" and words[i + 1] == "mpt_cli":  # python, torchrun, accelerate launch
            return words[i + 2 :]
    return None


def commands_in(path: Path) -> list[DocCommand]:
    found = []
    for line_number, line in code_lines(path.read_text(encoding="utf-8")):
        if not LOOKS_LIKE_MPT.search(line):
            continue
        # punctuation_chars splits off |, &&, ;, > and friends, so each simple command stands alone;
        # shlex also drops a trailing `# comment`
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        simple: list[list[str]] = [[]]
        for token in lexer:
            if token and set(token) <= set("|&;<>()"):
                simple.append([])
            else:
                simple[-1].append(token)
        for words in simple:
            args = mpt_arguments(words)
            # `...` stands for the options of the command above it: such a line is not a whole command
            if args is not None and "..." not in args:
                found.append(DocCommand(path, line_number, tuple(args)))
    return found


COMMANDS = [command for path in DOC_FILES if path.exists() for command in commands_in(path)]
CLI = typer.main.get_command(app)


def choice_of(option) -> type[Choice] | None:
    """The Choice enum whose values an option takes: its default is one of them (or a comma list of them),
    or it has no default and its help names them all (``--format``: "tsv or jsonl"). A file suffix in a help
    (``--data``: "one .tsv/.jsonl/.csv file") names a kind of file, not a value.

    Options still typed ``str`` are checked by the workflow only when it runs; this catches a misspelt
    value (``--tune ful``) in a doc without running anything. Typer-typed enums are checked by the parse."""
    default = option.default.value if isinstance(option.default, Choice) else option.default
    words = set(re.findall(r"[\w-]+", re.sub(r"\.\w+", " ", option.help or "")))
    for enum in all_subclasses(Choice):
        values = {member.value for member in enum}
        if set(str(default).split(",")) <= values if default is not None else values <= words:
            return enum
    return None


def all_subclasses(cls: type) -> list[type]:
    return [sub for direct in cls.__subclasses__() for sub in (direct, *all_subclasses(direct))]


def parse(args: tuple[str, ...]) -> None:
    """Parse ``mpt ARGS`` as the CLI would, without calling the command; raise its usage error if bad."""
    if not args or args[0].startswith("-"):  # `mpt --help`: the group's own options
        CLI.make_context("mpt", list(args))
        return
    name, *rest = args
    command = CLI.get_command(typer.Context(CLI), name)
    if command is None:
        raise typer.BadParameter(f"no such command {name!r}")
    context = command.make_context(name, rest)
    for option in command.params:
        enum = choice_of(option) if option.param_type_name == "option" else None
        value = context.params.get(option.name)
        if enum is None or value is None:
            continue
        items = str(value).split(",") if "comma" in (option.help or "") else [str(value)]
        for item in items:
            if item not in {member.value for member in enum}:
                raise typer.BadParameter(f"{item!r} is not one of {enum.options()}", context, option)


def problem_with(args: tuple[str, ...]) -> str | None:
    """Why ``mpt ARGS`` does not parse, or None when it does."""
    try:
        parse(args)
    except typer.Exit as exit_:  # --help ends parsing with status 0: the line is fine
        return None if exit_.exit_code == 0 else f"exit status {exit_.exit_code}"
    except typer.TyperException as error:  # every usage error of typer's copy of Click
        return error.format_message()
    return None


@pytest.mark.parametrize("command", COMMANDS, ids=[command.place for command in COMMANDS])
def test_command_in_the_docs_parses(command: DocCommand):
    problem = problem_with(command.args)
    if problem:
        pytest.fail(f"{command.place}: `mpt {shlex.join(command.args)}` does not parse: {problem}", pytrace=False)


def test_the_docs_show_commands():
    """The collector itself: if it found nothing, every test above would pass for the wrong reason."""
    files = {command.path for command in COMMANDS}
    assert ROOT / "README.md" in files
    assert any(ROOT / "docs" in path.parents for path in files)
    assert len(COMMANDS) >= 20
