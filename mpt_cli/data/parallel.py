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

import random
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from ..errors import MptError
from ..languages import ALL, AllLanguages, check_targets, find_language, languages_in, parse_languages
from ..task import BUILT_IN, Task
from .examples import SPLIT_ALIASES, canonical_split, split_files
from .given import GivenPairs, given_label, given_languages, given_rows, is_given
from .pair_files import folder_pairs, partner_files, task_file_pairs, tsv_pairs, two_files
from .parallel_hub import check_hub_languages, hub_corpus_languages, hub_pairs, reading_task
from .paths import existing_path, local_path, resolved_spec

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
    pairs = [lang for lang in partner_files(folder, source) if lang not in splits]
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
        name, digest, rows = two_files(first, second)
    elif form is Form.HUB:
        name, digest, rows = hub_pairs(corpus, source, target, texts, split or DEFAULT_SPLIT)
    elif form is Form.TASK_FOLDER:
        name, digest, rows = task_file_pairs(path, source, target, reading_task(texts, corpus), split or DEFAULT_SPLIT)
    elif form is Form.PAIR_FOLDER:
        name, digest, rows = folder_pairs(path, source, target)
    else:
        name, digest, rows = tsv_pairs(path)
    if not rows:
        raise MptError(f"the parallel corpus {name} has no sentence pairs")
    rng = random.Random(f"mpt-parallel-{seed}")
    if max_pairs is not None and len(rows) > max_pairs:
        rows = rng.sample(rows, max_pairs)
    return ParallelCorpus(name, digest, _as_pairs(rows, count, rng, name))


def split_heldout(pairs: list, heldout: int, seed: int, name: str = "the parallel corpus") -> tuple[list, list]:
    """A seeded held-out slice: ``heldout`` pairs, at most a fifth of the corpus (``name``), at least one."""
    count = max(1, min(heldout, len(pairs) // 5))
    if len(pairs) - count < 1:
        raise MptError(f"{name} has only {len(pairs)} pairs; alignment needs at least 2")
    order = list(range(len(pairs)))
    random.Random(f"mpt-heldout-{seed}").shuffle(order)
    held = set(order[:count])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def own_pairs(sentences: list[str], texts: int, seed: int, name: str) -> list[ParallelPair]:
    """A language's own ``sentences`` paired with themselves, task-shaped as a corpus's sentence pairs are
    (``texts`` of them an input; ``name``: where they came from), the same input on both sides: what a
    language with text and no pairs trains on."""
    return _as_pairs([(sentence, sentence) for sentence in sentences], texts, random.Random(f"mpt-parallel-{seed}"), name)


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
        languages = list(partner_files(path, source))
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


def check_corpus_languages(spec: str | GivenPairs, source: str, targets) -> None:
    """Refuse, all at once and before anything is downloaded, the languages a hub corpus lacks (XNLI's
    ``all_languages`` has no ja or ko): its card names them. Local corpora are read soon enough to tell."""
    form, corpus, _, _ = corpus_form(spec, source)
    if targets and form is Form.HUB:
        check_hub_languages(corpus, (source, *targets))
