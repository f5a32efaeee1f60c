"""Groups of languages a user names in a file (``--groups FILE``): what a table's group means and a chart's
colours are by, such as whether the backbone was pretrained on a language, or its family.

The file is a TSV: a language code in the first column (any spelling :mod:`.languages` reads) and its group
in the second; further columns are ignored, so a published per-language table serves as it is. A first line
whose first field is no language code is a header, and its second field names the grouping.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .data.text import read_lines
from .errors import MptError
from .languages import normalise


@dataclass(frozen=True)
class LanguageGroups:
    name: str  # what the groups are by: the header's second field, else the file's name
    of: dict[str, str] = field(default_factory=dict)  # canonical tag -> group

    def group(self, language: str) -> str | None:
        return self.of.get(language)

    def means(self, values: Mapping[str, float | None]) -> dict[str, dict]:
        """The mean of ``values`` (by language) over each group's languages that have a value, with their count;
        groups in the file's order, and ``"no group"`` for languages the file does not name."""
        members: dict[str, list[float]] = {group: [] for group in dict.fromkeys(self.of.values())}
        for language, value in values.items():
            if value is not None:
                members.setdefault(self.of.get(language, "no group"), []).append(value)
        return {group: {"mean": statistics.mean(v), "languages": len(v)} for group, v in members.items() if v}


def load_groups(path: Path) -> LanguageGroups:
    """Read a groups file; a line without a group, or a language named twice with two groups, is refused."""
    path = Path(path)
    if not path.is_file():
        raise MptError(f"--groups {path}: no such file")
    _, lines = read_lines(path)
    name, of = path.stem, {}
    for number, line in enumerate(lines, 1):
        fields = [f.strip() for f in line.split("\t")]
        if not fields[0]:
            continue
        try:
            language = normalise(fields[0])
        except MptError:
            if number == 1:  # a header
                name = fields[1] if len(fields) > 1 and fields[1] else name
                continue
            raise MptError(f"{path.name} line {number}: {fields[0]!r} is not a language code") from None
        if len(fields) < 2 or not fields[1]:
            raise MptError(f"{path.name} line {number}: expected language<TAB>group")
        if of.setdefault(language, fields[1]) != fields[1]:
            raise MptError(f"{path.name} line {number}: {fields[0]} is in group {of[language]!r} already")
    if not of:
        raise MptError(f"{path.name} names no language")
    return LanguageGroups(name, of)

