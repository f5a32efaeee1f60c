"""A language's own text for the masked-LM term (``--text``): a file of sentences, one a line, for the one
language a run translates into, or a folder of ``{lang}.txt`` files found by any spelling of the language
(``yo.txt`` or ``yor_Latn.txt``). Blank lines are passed over."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..errors import MptError
from ..languages import find_language
from .paths import local_path
from .text import read_lines


@dataclass(frozen=True)
class LanguageText:
    name: str  # the file read
    sha256: str  # of its bytes
    sentences: list[str]


def check_text(spec: str, targets: tuple[str, ...]) -> None:
    """Refuse a ``--text`` that cannot serve ``targets``: nothing there, or one file for several languages."""
    path = local_path(spec, "--text")
    if path is None:
        raise MptError(f"--text {spec} does not exist: give a file of sentences, one a line, or a folder of {{lang}}.txt files")
    if path.is_file() and len(targets) > 1:
        raise MptError(
            f"--text {path.name} is one file, so one language's sentences, but the run translates into {len(targets)}: "
            "give a folder of {lang}.txt files"
        )


def language_text(spec: str, lang: str) -> LanguageText | None:
    """``lang``'s sentences in ``spec`` (a file, or the folder's file of that language); None: the folder has none."""
    path = local_path(spec, "--text")
    if path.is_dir():
        found = find_language(lang, [file.stem for file in path.glob("*.txt")])
        if found is None:
            return None
        path = path / f"{found}.txt"
    raw, lines = read_lines(path)
    sentences = [line.strip() for line in lines if line.strip()]
    if not sentences:
        raise MptError(f"--text {path.name} has no sentences")
    return LanguageText(path.name, hashlib.sha256(raw).hexdigest(), sentences)
