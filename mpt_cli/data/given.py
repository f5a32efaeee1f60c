"""Data given in Python rather than named by a path or a hub id: parallel pairs and a task's data as a user
holds them (GivenData below).

``AlignOptions(parallel={"yo": [("The sea.", "Okun."), ...], "sw": [...]})``: a mapping of target language
(any spelling of its code) to its pairs, each ``(source, target)`` or, for a two-text task, four texts
(both texts in the source language, then both in the target language), as the rows of a pair file.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

from ..errors import MptError
from ..languages import find_language, normalise

GivenPairs = Mapping[str, Sequence[Sequence[str]]]


def is_given(spec) -> bool:
    return isinstance(spec, Mapping)


def given_label(pairs: GivenPairs) -> str:
    """How messages and records name pairs given in Python (they have no path)."""
    return f"pairs given in Python ({', '.join(map(str, pairs))})"


def given_languages(pairs: GivenPairs, source: str) -> list[str]:
    """The languages pairs are given for, but ``source``: what ``--to all`` means for them."""
    return [code for code in dict.fromkeys(normalise(lang) for lang in pairs) if code != source]


def given_rows(pairs: GivenPairs, target: str) -> tuple[str, str, list[tuple[str, ...]]]:
    """The pairs given for ``target`` (its entry in any spelling) as rows of 2 or 4 texts, checked; a name and
    a digest of their content, as a file's."""
    key = find_language(target, [str(lang) for lang in pairs])
    if key is None:
        raise MptError(f"no parallel pairs given for {target} (given for: {', '.join(map(str, pairs)) or 'none'})")
    name, rows = f"pairs given in Python for {key}", []
    for number, pair in enumerate(pairs[key]):
        row = tuple(pair) if isinstance(pair, Sequence) and not isinstance(pair, str) else (pair,)
        width = len(rows[0]) if rows else len(row)
        if len(row) != width or width not in (2, 4) or not all(isinstance(text, str) and text.strip() for text in row):
            expected = "(source, target), or 4 texts for a two-text task" if not rows else f"{width} texts as the first"
            raise MptError(f"{name}, pair {number}: expected {expected}, each a non-empty string; got {pair!r:.120}")
        rows.append(row)
    digest = hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()
    return name, digest, rows


GivenData = Mapping[str, Mapping[str, object]]
"""A task's data held in Python: language -> split -> rows, each a tuple of the task's texts then its label
(a headerless TSV line), a dict of named columns (a JSONL record), or a ``datasets.Dataset`` (its columns by
name, a class label by its name): ``{"en": load_dataset("Davlan/sib200", "eng_Latn")}``, or
``{"en": {"train": [("A great film.", "positive"), ...], "validation": [...]}}``."""
GIVEN_DATA = "data given in Python"  # what a prompt records as its data: no path or hub id is spelled so


def data_label(data: str | GivenData) -> str:
    """How messages and records name data: as given, or, held in Python, by its languages."""
    return f"{GIVEN_DATA} ({', '.join(map(str, data))})" if is_given(data) else data


def given_language(data: GivenData, lang: str) -> tuple[str, Mapping[str, object]]:
    """The entry of ``lang`` (in any spelling) in data given in Python, and its splits."""
    key = find_language(lang, [str(entry) for entry in data])
    if key is None:
        raise MptError(f"no data given for {lang} (given for: {', '.join(map(str, data)) or 'none'})")
    if not isinstance(data[key], Mapping):
        raise MptError(f"{GIVEN_DATA} for {key}: expected its splits, such as {{'train': rows, 'validation': rows}} "
                       f"or a datasets.DatasetDict, not {type(data[key]).__name__}")  # fmt: skip
    return key, data[key]


def given_languages_of(data: GivenData) -> list[str]:
    """The languages data given in Python has: what ``all`` means for it."""
    return list(dict.fromkeys(normalise(str(lang)) for lang in data))


def check_not_recorded(data: str) -> None:
    """Refuse the name a prompt recorded for data given in Python: the data itself was not saved."""
    if data.startswith(GIVEN_DATA):
        raise MptError(f"the prompt was trained on {data}, which is not saved with it; give the data again (data=...)")
