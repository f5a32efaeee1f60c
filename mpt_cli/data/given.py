"""Data given in Python rather than named by a path or a hub id: parallel pairs as a user holds them.

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
