"""Load labelled premise/hypothesis pairs from the hub, an XTREME-style folder, or one file.

Every source yields the same thing: a list of :class:`NLIExample` whose ``id`` is stable
(``{source}:{row}``), so a split manifest can name the examples a prompt was trained on.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..errors import MptError
from .paths import local_path
from .text import json_object, read_lines

DEFAULT_DATA = "facebook/xnli"  # XNLI on the Hugging Face hub: 15 languages, train/validation/test

LABELS = ("entailment", "neutral", "contradiction")
"""Label names in XNLI's id order (0, 1, 2)."""

COLUMN_ALIASES = {
    "premise": ("premise", "sentence1", "text_a"),
    "hypothesis": ("hypothesis", "sentence2", "text_b"),
    "label": ("label", "gold_label"),
}
SPLIT_ALIASES = {"train": ("train",), "validation": ("dev", "validation"), "test": ("test",)}
FILE_SUFFIXES = (".tsv", ".jsonl", ".csv")


@dataclass(frozen=True)
class NLIExample:
    id: str
    premise: str
    hypothesis: str
    label: int | None = None


def parse_label(value: object, where: str) -> int:
    """Map ``entailment``/``neutral``/``contradiction`` (any case) or XNLI ids 0/1/2 to an id."""
    text = str(value).strip().lower()
    if text in LABELS:
        return LABELS.index(text)
    if text in ("0", "1", "2"):
        return int(text)
    raise MptError(f"{where}: unknown label {value!r} (expected one of {', '.join(LABELS)} or 0, 1, 2)")


def canonical_split(split: str) -> str:
    for name, aliases in SPLIT_ALIASES.items():
        if split in aliases:
            return name
    raise MptError(f"unknown split {split!r}; use train, validation (or dev) or test")


def load_nli(data: str, lang: str, split: str, require_labels: bool = True) -> list[NLIExample]:
    """Read ``split`` of ``lang`` from ``data``: a local folder or file, else a hub dataset id."""
    split = canonical_split(split)
    path = local_path(data, "data path")
    if path is None:
        examples = _load_hub(data, lang, split, require_labels)
    elif path.is_dir():
        examples = _read_file(_xtreme_file(path, lang, split), require_labels)
    else:
        examples = _read_file(path, require_labels)
    if not examples:
        raise MptError(f"no examples in {data} ({split}, {lang})")
    return examples


def _xtreme_file(folder: Path, lang: str, split: str) -> Path:
    for alias in SPLIT_ALIASES[split]:
        candidate = folder / f"{alias}-{lang}.tsv"
        if candidate.is_file():
            return candidate
    available = sorted(p.name for p in folder.glob("*-*.tsv"))
    wanted = " or ".join(f"{alias}-{lang}.tsv" for alias in SPLIT_ALIASES[split])
    listing = ", ".join(available) if available else "none"
    raise MptError(f"{folder} has no {wanted} (found: {listing})")


def _read_file(path: Path, require_labels: bool) -> list[NLIExample]:
    if path.suffix not in FILE_SUFFIXES:
        raise MptError(f"{path}: unsupported file type {path.suffix!r}; use {', '.join(FILE_SUFFIXES)}")
    raw, lines = read_lines(path)
    if not raw.strip():
        raise MptError(f"{path} is empty")
    reader = {".tsv": _rows_tsv, ".csv": _rows_csv, ".jsonl": _rows_jsonl}[path.suffix]
    examples = []
    for line_number, row in reader(lines, path):
        where = f"{path.name} line {line_number}"
        examples.append(_example(row, f"{path.name}:{len(examples)}", where, require_labels))
    return examples


def header_columns(fields: list[str], where: str) -> dict[str, int] | None:
    """Column positions when ``fields`` is a header row (it names any known column), else None."""
    lowered = [f.strip().lower() for f in fields]
    found = {}
    for column, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in lowered:
                found[column] = lowered.index(alias)
                break
    if not found:
        return None
    for column in ("premise", "hypothesis"):
        if column not in found:
            raise MptError(f"{where}: the header has no {column!r} column (found: {', '.join(fields)})")
    return found


def _rows_tsv(lines: list[str], path: Path):
    columns = None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise MptError(f"{path.name} line {number}: empty line")
        fields = line.split("\t")
        if columns is None and number == 1 and (header := header_columns(fields, f"{path.name} line 1")):
            columns = header
            continue
        if columns is None:
            if not 2 <= len(fields) <= 3:
                found = "no tab" if len(fields) < 2 else f"{len(fields)} columns (a header row names extra ones)"
                raise MptError(f"{path.name} line {number}: expected premise<TAB>hypothesis<TAB>label, found {found}")
            yield number, {"premise": fields[0], "hypothesis": fields[1], "label": fields[2] if len(fields) > 2 else None}
        else:
            yield number, {name: fields[i] if i < len(fields) else None for name, i in columns.items()}


def _rows_csv(lines: list[str], path: Path):
    reader = csv.reader(io.StringIO("\n".join(lines)))
    try:
        header = next(reader, None)
        columns = header_columns(header or [], f"{path.name} line 1")
        if columns is None:
            raise MptError(f"{path.name}: the CSV header must name premise and hypothesis columns (or sentence1/sentence2)")
        for fields in reader:
            if fields:
                yield reader.line_num, {name: fields[i] if i < len(fields) else None for name, i in columns.items()}
    except csv.Error as exc:
        raise MptError(f"{path.name} line {reader.line_num}: {exc}") from None


def _rows_jsonl(lines: list[str], path: Path):
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = json_object(line, f"{path.name} line {number}")
        yield number, {name: _first_alias(record, name) for name in COLUMN_ALIASES}


def _first_alias(record: dict, column: str):
    for alias in COLUMN_ALIASES[column]:
        if alias in record:
            return record[alias]
    return None


def _example(row: dict, example_id: str, where: str, require_labels: bool) -> NLIExample:
    for column in ("premise", "hypothesis"):
        if row.get(column) is None:
            raise MptError(f"{where}: missing column {column!r}")
    label = row.get("label")
    if label is None or str(label).strip() == "":
        if require_labels:
            raise MptError(f"{where}: missing label")
        parsed = None
    else:
        parsed = parse_label(label, where)
    return NLIExample(example_id, str(row["premise"]), str(row["hypothesis"]), parsed)


def _load_hub(dataset_id: str, lang: str, split: str, require_labels: bool) -> list[NLIExample]:
    try:
        import datasets

        table = datasets.load_dataset(dataset_id, lang, split=split)
    except Exception as exc:  # noqa: BLE001 - the hub raises many types; the user needs the reason, not a traceback
        raise MptError(f"cannot load {dataset_id} ({lang}, {split}) from the Hugging Face hub: {exc}") from None
    names = getattr(table.features.get("label"), "names", None)
    examples = []
    for index, record in enumerate(table):
        row = {name: _first_alias(record, name) for name in COLUMN_ALIASES}
        if names is not None and isinstance(row["label"], int):
            row["label"] = names[row["label"]] if row["label"] >= 0 else None
        examples.append(_example(row, f"{split}:{index}", f"{dataset_id} {split} row {index}", require_labels))
    return examples
