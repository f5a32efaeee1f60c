"""Parallel corpora for the alignment task, turned into task-shaped pairs: one or two texts a side.

Accepted forms (``--parallel``):
- a folder of ``{src}-{tgt}.tsv`` files (``en-de.tsv``: ``english<TAB>german`` per line, or the 4
  columns below; ``de-en.tsv`` is read with its halves swapped);
- a folder of a task's ``{split}-{lang}.tsv`` files that are row-aligned, row i the same sentence in every
  language (SIB-200's layout): the source file's texts beside the target file's, row by row, from the split
  named after a colon (``sib200/:test``; default train). Its files are read as ``--data`` reads them;
- one ``.tsv`` file with 2 columns (a sentence pair) or 4 columns (a two-text task's texts, such as premise
  and hypothesis, in the source language, then in the target language);
- two line-aligned text files, ``SOURCE_FILE,TARGET_FILE``;
- in Python, a mapping of target language to its pairs (given.py);
- a hub dataset id (default ``facebook/xnli``), its split after a colon as above: XNLI's ``all_languages``
  layout, or configurations that are languages with row-aligned splits (``Davlan/sib200``): parallel_hub.py.

For a one-text task a sentence pair is one example a side. For a two-text task, single sentences become
inputs as text 1 = sentence i and text 2 = sentence j of a fixed, seeded random partner j != i, identical
on both sides, so both sides see the same pairing.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..errors import MptError
from ..languages import ALL, AllLanguages, check_targets, find_language, languages_in, normalise, parse_languages
from ..task import BUILT_IN, Task
from .examples import SPLIT_ALIASES, canonical_split, expected_columns, read_texts, split_files
from .given import GivenPairs, given_label, given_languages, given_rows, is_given
from .parallel_hub import check_hub_languages, hub_corpus_languages, hub_pairs, reading_task
from .paths import existing_path, local_path, resolved_spec
from .text import read_lines

DEFAULT_PARALLEL = BUILT_IN["xnli"].data  # XNLI's all_languages configuration: the training set in every language
# per language: accuracy was flat from a few hundred pairs on (XNLI 500-1,488, SIB-200 100-701), and time grows
# with the pairs; 1,000 is where every published figure stands (docs/results/2026-12-07-pairs-and-cost.md)
DEFAULT_MAX_PAIRS = 1000
DEFAULT_SPLIT = "train"  # the split a corpus of a task's files, or a hub dataset's configurations, pairs


@dataclass(frozen=True)
class ParallelPair:
    source: tuple[str, ...]  # the task's texts in the source language: (text,) or (text1, text2)
    target: tuple[str, ...]  # the same in the target language


@dataclass(frozen=True)
class ParallelCorpus:
    name: str  # where it came from
    sha256: str  # of the raw content, before sampling
    pairs: list[ParallelPair]


class Form(Enum):
    """The forms a parallel corpus comes in (the module's docstring)."""

    TWO_FILES = "two line-aligned files"
    TSV = "a file of pairs"
    PAIR_FOLDER = "a folder of pair files"
    TASK_FOLDER = "a folder of a task's files"
    HUB = "a hub dataset"
    GIVEN = "pairs given in Python"


def corpus_split(spec: str | Path | GivenPairs) -> tuple[str | GivenPairs, str | None]:
    """``--parallel``'s corpus, and the split it names after a colon (``Davlan/sib200:test``), or None."""
    spec = str(spec) if isinstance(spec, Path) else spec
    if not isinstance(spec, str) or ":" not in spec or existing_path(spec) is not None:
        return spec, None
    corpus, _, split = spec.rpartition(":")
    return corpus, canonical_split(split)


def corpus_label(spec: str | Path | GivenPairs) -> str:
    """How messages and records name a corpus: as given, or, for pairs given in Python, their languages."""
    return given_label(spec) if is_given(spec) else str(spec)


def local_corpus(spec: str | GivenPairs) -> str | None:
    """The part of ``spec`` that may name local files (its split dropped), for ``local_paths``."""
    return None if is_given(spec) else corpus_split(spec)[0]


def resolved_corpus(spec: str) -> str:
    """``spec`` with a local corpus made absolute and a split in its canonical name: one corpus, one spelling."""
    corpus, split = corpus_split(spec)
    return resolved_spec(corpus) + ("" if split is None else f":{split}")


def corpus_form(spec: str | GivenPairs, source: str) -> tuple[Form, str, Path | None, str | None]:
    """What ``spec`` is, read for ``source``: its form, the corpus without its split, the local path, the split.

    A folder is a task's when a split is named, or when it has no pair file of ``source`` but a
    ``train-{source}.tsv``; a split is refused where the corpus has none."""
    corpus, split = corpus_split(spec)
    path = None
    if is_given(corpus):
        return Form.GIVEN, corpus, None, None
    if not isinstance(corpus, str):
        raise MptError(f"parallel: give a path, a hub id or a mapping of language to pairs, not {type(corpus).__name__}")
    if "," in corpus and existing_path(corpus) is None:
        form = Form.TWO_FILES
    elif (path := local_path(corpus, "parallel corpus")) is None:
        form = Form.HUB
    elif not path.is_dir():
        form = Form.TSV
    elif split is not None or _is_task_folder(path, source):
        form = Form.TASK_FOLDER
    else:
        form = Form.PAIR_FOLDER
    if split is not None and form not in (Form.TASK_FOLDER, Form.HUB):
        raise MptError(f"{spec}: only a folder of {{split}}-{{lang}}.tsv files or a hub dataset has splits; "
                       f"{corpus} is {form.value}")  # fmt: skip
    return form, corpus, path, split


def _is_task_folder(folder: Path, source: str) -> bool:
    """A folder with ``train-{source}.tsv`` and no pair file of ``source`` (``dev-en.tsv`` names a split, though
    ``dev`` is also a language code)."""
    splits = {alias for aliases in SPLIT_ALIASES.values() for alias in aliases}
    pairs = [lang for lang in _partner_files(folder, source) if lang not in splits]
    return not pairs and find_language(source, split_files(folder, DEFAULT_SPLIT)) is not None


def load_parallel(
    spec: str | GivenPairs, source: str, target: str, texts: int | Task = 2, max_pairs: int | None = None, seed: int = 1
) -> ParallelCorpus:
    """Read a corpus for ``source -> target`` as examples of the task's texts, and keep a seeded random
    ``max_pairs`` of it. ``texts`` is the task, or where the corpus is of sentence pairs (files), its number
    of texts: a task's files and a hub dataset's columns are read by the task's column names."""
    count = texts if isinstance(texts, int) else len(texts.inputs)
    form, corpus, path, split = corpus_form(spec, source)
    if form is Form.GIVEN:
        name, digest, rows = given_rows(corpus, target)
    elif form is Form.TWO_FILES:
        first, second = (Path(p.strip()).expanduser() for p in corpus.split(",", 1))
        name, digest, rows = _two_files(first, second)
    elif form is Form.HUB:
        name, digest, rows = hub_pairs(corpus, source, target, texts, split or DEFAULT_SPLIT)
    elif form is Form.TASK_FOLDER:
        name, digest, rows = _task_files(path, source, target, reading_task(texts, corpus), split or DEFAULT_SPLIT)
    elif form is Form.PAIR_FOLDER:
        name, digest, rows = _folder(path, source, target)
    else:
        name, digest, rows = str(path), *_tsv(path, swap=False)
    if not rows:
        raise MptError(f"the parallel corpus {name} has no sentence pairs")
    rng = random.Random(f"mpt-parallel-{seed}")
    if max_pairs is not None and len(rows) > max_pairs:
        rows = rng.sample(rows, max_pairs)
    return ParallelCorpus(name, digest, _as_pairs(rows, count, rng, name))


def _task_files(folder: Path, source: str, target: str, task: Task, split: str) -> tuple[str, str, list[tuple[str, ...]]]:
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


def split_heldout(pairs: list, heldout: int, seed: int, name: str = "the parallel corpus") -> tuple[list, list]:
    """A seeded held-out slice: ``heldout`` pairs, at most a fifth of the corpus (``name``), at least one."""
    count = max(1, min(heldout, len(pairs) // 5))
    if len(pairs) - count < 1:
        raise MptError(f"{name} has only {len(pairs)} pairs; alignment needs at least 2")
    order = list(range(len(pairs)))
    random.Random(f"mpt-heldout-{seed}").shuffle(order)
    held = set(order[:count])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def _as_pairs(rows: list[tuple[str, ...]], texts: int, rng: random.Random, name: str) -> list[ParallelPair]:
    """Rows of ``2 * texts`` fields are already pairs; for a two-text task, rows of 2 sentences get a partner
    sentence as the second text."""
    if texts == 1:
        if len(rows[0]) != 2:
            raise MptError(f"{name} has {len(rows[0])} columns; a task of one text needs source<TAB>target sentence pairs")
        return [ParallelPair((r[0],), (r[1],)) for r in rows]
    if len(rows[0]) == 4:
        return [ParallelPair((r[0], r[1]), (r[2], r[3])) for r in rows]
    if len(rows) < 2:
        raise MptError(f"{name} has one sentence pair; a sentence-level parallel corpus needs at least 2 sentence pairs")
    order = list(range(len(rows)))
    rng.shuffle(order)
    partner = {order[k]: order[(k + 1) % len(order)] for k in range(len(order))}  # a derangement
    return [ParallelPair((row[0], rows[partner[i]][0]), (row[1], rows[partner[i]][1])) for i, row in enumerate(rows)]


def _read_lines(path: Path) -> tuple[str, list[str]]:
    raw, lines = read_lines(path)
    return hashlib.sha256(raw).hexdigest(), lines


def _tsv(path: Path, swap: bool) -> tuple[str, list[tuple[str, ...]]]:
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
    return digest, rows


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


def _partner_files(folder: Path, source: str) -> dict[str, tuple[Path, bool]]:
    """The pair files of ``folder`` that pair ``source`` with another language, by that language, each with
    whether its columns are the other way round. A file is the language its name spells (``en-pt.tsv`` pt,
    ``en-pt-BR.tsv`` pt-BR); ``en-de.tsv`` comes before ``de-en.tsv``."""
    oriented: dict[tuple[str, str], tuple[Path, bool]] = {}
    for swap in (False, True):
        for (a, b), path in pair_files(folder).items():
            oriented.setdefault((b, a) if swap else (a, b), (path, swap))
    side = find_language(source, [first for first, _ in oriented])  # the source's own files, else its one variant's
    return {second: where for (first, second), where in oriented.items() if first == side}


def _folder(folder: Path, source: str, target: str) -> tuple[str, str, list[tuple[str, ...]]]:
    partners = _partner_files(folder, source)
    # its own file, else the one file of its only script or region (pt: en-pt-BR.tsv where there is no en-pt.tsv)
    if (language := find_language(target, partners)) is None:
        found = ", ".join(sorted(p.name for p in pair_files(folder).values())) or "none"
        raise MptError(f"{folder} has no {source}-{target}.tsv (found: {found})")
    path, swap = partners[language]
    return (str(path), *_tsv(path, swap))


def corpus_languages(spec: str | GivenPairs, source: str) -> list[str]:
    """The languages a parallel corpus pairs with ``source``: what ``--to all`` means."""
    form, corpus, path, split = corpus_form(spec, source)
    if form is Form.HUB:
        return hub_corpus_languages(corpus, source)
    if form is Form.GIVEN:
        return given_languages(corpus, source)
    if form is Form.TASK_FOLDER:
        languages = [lang for lang in languages_in(split_files(path, split or DEFAULT_SPLIT)) if lang != source]
    elif form is Form.PAIR_FOLDER:
        languages = list(_partner_files(path, source))
    else:
        raise MptError(f"--to all needs a folder or a hub corpus; {spec} pairs one language: name it")
    if not languages:
        files = f"{source}-xx.tsv pair files" if form is Form.PAIR_FOLDER else f"{split or DEFAULT_SPLIT}-xx.tsv files"
        raise MptError(f"{path} holds no {files}, so --to all finds no language")
    return languages


def target_languages(targets: str | Iterable[str] | AllLanguages, source: str, spec: str | GivenPairs) -> tuple[str, ...]:
    """The target languages of a transfer from ``source``, read as :func:`parse_languages` reads them; ALL
    is every language the corpus ``spec`` pairs with ``source``."""
    targets = parse_languages(targets, "target languages")
    targets = tuple(corpus_languages(spec, source)) if targets is ALL else targets
    check_targets(source, targets)
    return targets


def _two_files(first: Path, second: Path) -> tuple[str, str, list[tuple[str, ...]]]:
    digest_a, lines_a = _read_lines(first)
    digest_b, lines_b = _read_lines(second)
    if len(lines_a) != len(lines_b):
        raise MptError(f"{first.name} has {len(lines_a)} lines but {second.name} has {len(lines_b)}; they must be line-aligned")
    for number, (a, b) in enumerate(zip(lines_a, lines_b), 1):
        if not a.strip() or not b.strip():
            raise MptError(f"line {number} is empty in {first.name if not a.strip() else second.name}")
    digest = hashlib.sha256((digest_a + digest_b).encode()).hexdigest()
    return f"{first},{second}", digest, list(zip(lines_a, lines_b))


def check_corpus_languages(spec: str | GivenPairs, source: str, targets) -> None:
    """Refuse, all at once and before anything is downloaded, the languages a hub corpus lacks (XNLI's
    ``all_languages`` has no ja or ko): its card names them. Local corpora are read soon enough to tell."""
    form, corpus, _, _ = corpus_form(spec, source)
    if targets and form is Form.HUB:
        check_hub_languages(corpus, (source, *targets))
