"""Local path or hub id: the one rule for every option that takes either (``--data``, ``--parallel``, ``--model``)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from ..errors import MptError

PATH_SUFFIXES = (".tsv", ".jsonl", ".csv", ".txt")  # the data files mpt reads; no hub id ends so
SHOWN_FILES = 8  # a message that a folder lacks a file names at most this many of the files it has


def existing_path(spec: str | Path) -> Path | None:
    """The local file or folder ``spec`` names (``~`` expanded), or None: a hub id, or nothing there."""
    path = Path(spec).expanduser()
    return path if path.exists() else None


def local_path(spec: str, what: str) -> Path | None:
    """The local file or folder ``spec`` names, or None for a hub id.

    A spec that can only be a path (it starts with ``.``, ``/`` or ``~``, ends like a data file, or has
    more than the one ``/`` of ``owner/name``) but names nothing is an error: asking the hub would only
    hide the typo behind a download failure.
    """
    path = existing_path(spec)
    if path is None and (spec.startswith((".", "/", "~")) or spec.endswith(PATH_SUFFIXES) or spec.count("/") > 1):
        raise MptError(f"{what} {spec} does not exist")
    return path


def resolved_spec(spec: str) -> str:
    """A local path made absolute (the same folder named two ways is one spec); a hub id as given."""
    path = existing_path(spec)
    return spec if path is None else str(path.resolve())


def same_model(given: str, recorded: str) -> bool:
    """Whether ``given`` names the model recorded as ``recorded``: the same hub id, or one local folder
    spelt either way (relative, absolute, through a link)."""
    return resolved_spec(given) == resolved_spec(recorded)


def files_found(paths: Iterable[Path], wanted: str) -> str:
    """The files a folder has, for a message that it lacks ``wanted``: every name, or where there are more than
    ``SHOWN_FILES`` (SIB-200's folder has 555), the names closest to ``wanted`` and how many others."""
    names = sorted(path.name for path in paths)
    if len(names) <= SHOWN_FILES:
        return ", ".join(names) or "none"
    closest = difflib.get_close_matches(wanted, names, n=SHOWN_FILES, cutoff=0)
    return f"{', '.join(closest)} and {len(names) - len(closest)} more"
