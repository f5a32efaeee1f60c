"""Parallel corpora from the hub, in either of two layouts.

- XNLI's ``all_languages`` configuration (``facebook/xnli``): each row holds its premise and hypothesis in
  every language; its labels are not used (a one-text task reads the premises).
- Configurations that are languages, their splits row-aligned (``Davlan/sib200``, FLORES-style datasets):
  row i of the source language's split beside row i of the target's. A configuration named as the
  language loads at once (a cached copy offline); the list finds other spellings (``yor_Latn`` for yo).

A dataset whose ``all_languages`` features name its languages has the first layout; any other, the second.
"""

from __future__ import annotations

import functools
import hashlib

from ..errors import MptError
from ..languages import find_language, normalise
from ..task import Task
from .examples import aliases
from .hub import hub_languages, hub_revision, hub_table

Rows = list[tuple[str, ...]]
ALIGNMENT_IDS = ("index_id", "id")  # columns that name a row's sentence (SIB-200's index_id): equal when rows align


def hub_pairs(dataset_id: str, source: str, target: str, texts: int | Task, split: str) -> tuple[str, str, Rows]:
    """``source -> target`` rows of a hub corpus: the task's texts in the source language, then in the target
    language (2 or 4 fields), or sentence pairs where a two-text task meets a corpus of one text a row.
    ``texts``: the task (whose column names a corpus of configurations is read by), or its number of texts."""
    if _all_languages(dataset_id) is not None:
        name, digest, rows = _xnli_rows(dataset_id, source, target, split)
        count = texts if isinstance(texts, int) else len(texts.inputs)
        return name, digest, rows if count == 2 else [(r[0], r[2]) for r in rows]  # one text: the premises
    return _configuration_rows(dataset_id, source, target, reading_task(texts, dataset_id), split)


def reading_task(texts: int | Task, corpus: str) -> Task:
    """The task a corpus of a task's data is read with (its column names), where the caller gave one."""
    if not isinstance(texts, Task):
        raise TypeError(f"{corpus} holds a task's data: load_parallel reads it with the task, not a count of texts")
    return texts


def hub_corpus_languages(dataset_id: str, source: str) -> list[str]:
    """The languages of a hub corpus but ``source``: its ``all_languages`` features', else its configurations'."""
    spelled = _all_languages(dataset_id)
    languages = hub_languages(dataset_id, hub_revision(None, dataset_id)) if spelled is None else spelled
    return [code for code in dict.fromkeys(normalise(s) for s in languages) if code != source]


def check_hub_languages(dataset_id: str, languages) -> None:
    """Refuse, all at once and before any data is downloaded, the languages an ``all_languages`` corpus lacks
    (XNLI's has no ja or ko): its features name them. A corpus of configurations tells as each loads."""
    if _all_languages(dataset_id) is not None:
        _xnli_spellings(dataset_id, languages)


@functools.cache
def _all_languages(dataset_id: str) -> tuple[str, ...] | None:
    """The languages of the ``all_languages`` premises as the corpus spells them, from the dataset card's
    features (metadata only, no data file), or None where the dataset has no such configuration."""
    try:
        import datasets

        features = datasets.load_dataset_builder(dataset_id, "all_languages").info.features
        return tuple(features["premise"].languages)
    except Exception:  # noqa: BLE001 - no such configuration, or none readable: the per-language layout then says why
        return None


def _xnli_spellings(dataset_id: str, languages) -> list[str]:
    """Each of ``languages`` as the ``all_languages`` corpus spells it; one error names every language it lacks."""
    spelled = _all_languages(dataset_id)
    found = [find_language(lang, spelled) for lang in languages]
    missing = [lang for lang, entry in zip(languages, found) if entry is None]
    if missing:
        raise MptError(f"{dataset_id} (all_languages) has no parallel data in {', '.join(missing)}; it has {' '.join(spelled)}")
    return found


def _xnli_rows(dataset_id: str, source: str, target: str, split: str) -> tuple[str, str, Rows]:
    source, target = _xnli_spellings(dataset_id, (source, target))
    try:
        import datasets

        table = datasets.load_dataset(dataset_id, "all_languages", split=split)
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; the user needs the reason, not a traceback
        raise MptError(f"cannot load {dataset_id} (all_languages, {split}) from the Hugging Face hub: {exc}") from None
    rows = []
    for record in table:
        hypotheses = dict(zip(record["hypothesis"]["language"], record["hypothesis"]["translation"]))
        if source in record["premise"] and target in record["premise"] and source in hypotheses and target in hypotheses:
            rows.append((record["premise"][source], hypotheses[source], record["premise"][target], hypotheses[target]))
    digest = hashlib.sha256(f"{dataset_id}:{table._fingerprint}".encode()).hexdigest()
    return f"{dataset_id} (all_languages, {split})", digest, rows


def _configuration_rows(dataset_id: str, source: str, target: str, task: Task, split: str) -> tuple[str, str, Rows]:
    revision = hub_revision(task, dataset_id)
    (source_table, source_config), (target_table, target_config) = (
        hub_table(dataset_id, lang, split, revision) for lang in (source, target)
    )
    name = f"{dataset_id} ({source_config}, {target_config}, {split})"
    if len(source_table) != len(target_table):
        raise MptError(f"{name}: {source_config} has {len(source_table)} rows but {target_config} has {len(target_table)}; "
                       "a corpus of language configurations must be row-aligned (row i the same sentence in each)")  # fmt: skip
    for column in (c for c in ALIGNMENT_IDS if c in source_table.column_names and c in target_table.column_names):
        if list(source_table[column]) != list(target_table[column]):
            raise MptError(f"{name}: the rows are not aligned: their {column!r} columns differ")
        break
    source_rows, target_rows = (_texts(table, task, f"{dataset_id} ({config})") for table, config in
                                ((source_table, source_config), (target_table, target_config)))  # fmt: skip
    digest = hashlib.sha256(f"{dataset_id}:{source_table._fingerprint}:{target_table._fingerprint}".encode()).hexdigest()
    return name, digest, [s + t for s, t in zip(source_rows, target_rows)]


def _texts(table, task: Task, name: str) -> Rows:
    """The task's texts of every row, found by the task's column names or their aliases; a table of one text a
    row (FLORES's sentence, SIB-200's text) gives a two-text task sentences, which are paired with partners."""
    columns = table.column_names
    for wanted in (task.inputs, ("text",)):
        found = [next((alias for alias in aliases(column) if alias in columns), None) for column in wanted]
        if None not in found:
            return list(zip(*(map(str, table[column]) for column in found)))
    raise MptError(f"{name} has no {' and '.join(task.inputs)} column (it has {', '.join(columns)})")
