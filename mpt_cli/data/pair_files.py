"""Parallel corpora in local files, read as rows of sentences (one text a side, or a two-text task's two):

- a folder of ``{src}-{tgt}.tsv`` pair files, or one such ``.tsv`` (2 or 4 columns);
- two line-aligned text files;
- a folder of a task's row-aligned ``{split}-{lang}.tsv`` files (SIB-200's layout), read as ``--data`` reads them.

Each reader returns :data:`Rows` (a translator records the digest). :mod:`.parallel` chooses the reader and
turns rows into pairs.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import MptError
from ..languages import find_language, normalise
from ..task import Task
from .examples import expected_columns, read_texts
from .paths import files_found
from .text import read_lines

Rows = tuple[str, str, list[tuple[str, ...]]]
"""What each reader returns: the corpus's name in messages, the SHA-256 of what was read, the rows."""


def task_file_pairs(folder: Path, source: str, target: str, task: Task, split: str) -> Rows:
    """The rows of ``source``'s and ``target``'s ``split`` files side by side: the task's texts of both, row i
    with row i."""
    source_file, source_raw, source_rows = read_texts(task, folder, source, split)
    target_file, target_raw, target_rows = read_texts(task, folder, target, split)
    if len(source_rows) != len(target_rows):
        raise MptError(f"{source_file.name} has {len(source_rows)} rows but {target_file.name} has {len(target_rows)}: the "
                       f"{split} files of {folder} must be row-aligned (row i the same sentence in every language)")  # fmt: skip
    name = f"{folder} ({source_file.name}, {target_file.name})"
    _check_translated(name, task, source_rows, target_rows)
    digest = hashlib.sha256(hashlib.sha256(source_raw).digest() + hashlib.sha256(target_raw).digest()).hexdigest()
    return name, digest, [s + t for s, t in zip(source_rows, target_rows)]


def _check_translated(name: str, task: Task, source_rows: list[tuple[str, ...]], target_rows: list[tuple[str, ...]]) -> None:
    """Refuse a text column that is the same in both languages in every row: it was never translated, such as
    the label column of a one-text task's files (SIB-200's text<TAB>label) read as a two-text task's second text."""
    for position, column in enumerate(task.inputs):
        if len(source_rows) > 1 and all(s[position] == t[position] for s, t in zip(source_rows, target_rows)):
            raise MptError(f"{name}: the task's {column!r} column is the same in both languages in every row, so it "
                           f"is no translated text (a label?); task {task.name!r} reads {expected_columns(task)}")  # fmt: skip


def _read_lines(path: Path) -> tuple[str, list[str]]:
    raw, lines = read_lines(path)
    return hashlib.sha256(raw).hexdigest(), lines


def tsv_pairs(path: Path, swap: bool = False) -> Rows:
    """One file of source<TAB>target rows (or 4 columns); ``swap``: its halves are the other way round."""
    digest, lines = _read_lines(path)
    rows, width = [], None
    for number, line in enumerate(lines, 1):
        fields = tuple(line.split("\t"))
        if len(fields) not in (2, 4):
            problem = "no tab" if len(fields) == 1 else f"{len(fields)} fields"
            raise MptError(f"{path.name} line {number}: expected source<TAB>target (or 4 columns), found {problem}")
        if not all(f.strip() for f in fields):
            raise MptError(f"{path.name} line {number}: a column is empty")
        if width is not None and len(fields) != width:
            raise MptError(f"{path.name} line {number}: {len(fields)} fields where earlier lines have {width}")
        width = len(fields)
        if swap:
            half = len(fields) // 2
            fields = fields[half:] + fields[:half]
        rows.append(fields)
    return str(path), digest, rows


def pair_files(folder: Path) -> dict[tuple[str, str], Path]:
    """The ``{a}-{b}.tsv`` files of ``folder`` by their two languages, normalised; a name splits at the
    hyphen that leaves a language code on both sides (``en-pt-BR.tsv``: en and pt-BR)."""
    files = {}
    for path in sorted(folder.glob("*-*.tsv")):
        stem = path.stem
        for cut in (i for i, char in enumerate(stem) if char == "-"):
            try:
                files.setdefault((normalise(stem[:cut]), normalise(stem[cut + 1 :])), path)
                break
            except MptError:
                continue
    return files


def partner_files(folder: Path, source: str) -> dict[str, tuple[Path, bool]]:
    """The pair files of ``folder`` that pair ``source`` with another language, by that language, each with
    whether its columns are the other way round. A file is the language its name spells (``en-pt.tsv`` pt,
    ``en-pt-BR.tsv`` pt-BR); ``en-de.tsv`` comes before ``de-en.tsv``."""
    oriented: dict[tuple[str, str], tuple[Path, bool]] = {}
    for swap in (False, True):
        for (a, b), path in pair_files(folder).items():
            oriented.setdefault((b, a) if swap else (a, b), (path, swap))
    side = find_language(source, [first for first, _ in oriented])  # the source's own files, else its one variant's
    return {second: where for (first, second), where in oriented.items() if first == side}


def folder_pairs(folder: Path, source: str, target: str) -> Rows:
    """``target``'s pair file with ``source`` in a folder of pair files, either way round."""
    partners = partner_files(folder, source)
    # its own file, else the one file of its only script or region (pt: en-pt-BR.tsv where there is no en-pt.tsv)
    if (language := find_language(target, partners)) is None:
        found = files_found(pair_files(folder).values(), f"{source}-{target}.tsv")
        raise MptError(f"{folder} has no {source}-{target}.tsv (found: {found})")
    path, swap = partners[language]
    return tsv_pairs(path, swap)


def two_files(first: Path, second: Path) -> Rows:
    """Two line-aligned text files, line i of one the translation of line i of the other."""
    digest_a, lines_a = _read_lines(first)
    digest_b, lines_b = _read_lines(second)
    if len(lines_a) != len(lines_b):
        raise MptError(f"{first.name} has {len(lines_a)} lines but {second.name} has {len(lines_b)}; they must be line-aligned")
    for number, (a, b) in enumerate(zip(lines_a, lines_b), 1):
        if not a.strip() or not b.strip():
            raise MptError(f"line {number} is empty in {first.name if not a.strip() else second.name}")
    digest = hashlib.sha256((digest_a + digest_b).encode()).hexdigest()
    return f"{first},{second}", digest, list(zip(lines_a, lines_b))
