"""Load a task's labelled examples from the hub, an XTREME-style folder, or one file.

Every source yields the same thing: a list of :class:`Example` (the task's texts, one or two, and a
label index) whose ``id`` is stable (``{source}:{row}``), so a split manifest can name the examples a
prompt was trained on. Columns are the task's inputs in order, then the label (TSV without a header),
or are found by name (a TSV header, CSV, JSONL, the hub), with the aliases below.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import MptError
from ..languages import find_language, languages_in
from ..task import Task
from .given import GivenData, check_not_recorded, data_label, given_language, given_languages_of, is_given
from .hub import hub_languages, hub_revision, hub_table
from .paths import files_found, local_path
from .text import json_object, read_lines

COLUMN_ALIASES = {  # other names a column goes by in common datasets
    "premise": ("premise", "sentence1", "text_a"),
    "hypothesis": ("hypothesis", "sentence2", "text_b"),
    "text": ("text", "sentence", "text_a"),
    "text1": ("text1", "sentence1", "text_a"),
    "text2": ("text2", "sentence2", "text_b"),
    "label": ("label", "gold_label", "category"),
}
SPLIT_ALIASES = {"train": ("train",), "validation": ("dev", "validation"), "test": ("test",)}
FILE_SUFFIXES = (".tsv", ".jsonl", ".csv")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Example:
    id: str
    texts: tuple[str, ...]  # in the order of the task's inputs
    label: int | None = None  # an index into the task's labels


def aliases(column: str) -> tuple[str, ...]:
    """The names ``column`` may go by: its aliases, or only itself (a user task's own input names)."""
    return COLUMN_ALIASES.get(column, (column,))


def canonical_split(split: str) -> str:
    for name, names in SPLIT_ALIASES.items():
        if split in names:
            return name
    raise MptError(f"unknown split {split!r}; use train, validation (or dev) or test")


def default_data(task: Task, data: str | GivenData | None) -> str | GivenData:
    """``data``, or the task's own dataset when none is given."""
    if data is None and task.data is None:
        raise MptError(f"task {task.name!r} names no dataset of its own; pass --data")
    return task.data if data is None else data


def load_examples(task: Task, data: str | GivenData, lang: str, split: str, require_labels: bool = True) -> list[Example]:
    """Read ``split`` of ``lang`` from ``data``: data given in Python, a local folder or file, else a hub dataset id."""
    split = canonical_split(split)
    if is_given(data):
        return _given_examples(task, data, lang, split, require_labels)
    check_not_recorded(data)
    path = local_path(data, "data path")
    if path is None:
        examples = _load_hub(task, data, lang, split, require_labels)
    elif path.is_dir():
        examples = _read_file(task, _xtreme_file(path, lang, split), require_labels)
    else:
        examples = _read_file(task, path, require_labels)
    if not examples:
        raise MptError(f"no examples in {data} ({split}, {lang})")
    return examples


def split_files(folder: Path, split: str) -> dict[str, Path]:
    """The ``{split}-{lang}.tsv`` files of ``folder`` (any alias of the split), by the language as the file spells it."""
    files = {}
    for alias in SPLIT_ALIASES[split]:
        for path in sorted(folder.glob(f"{alias}-*.tsv")):
            files.setdefault(path.stem[len(alias) + 1 :], path)
    return files


def data_languages(task: Task, data: str | GivenData, split: str) -> list[str]:
    """The languages ``data`` has for ``split``: what ``--langs all`` means. A task file that names its
    languages decides; else the folder's files, or the hub dataset's configurations."""
    if task.languages:
        return list(task.languages)
    if is_given(data):
        return given_languages_of(data)
    split = canonical_split(split)
    path = local_path(data, "data path")
    if path is None:
        return hub_languages(data, hub_revision(task, data))
    if not path.is_dir():
        raise MptError(f"'all' needs a folder of {split}-{{lang}}.tsv files or a hub dataset; {path.name} is one file")
    languages = list(languages_in(split_files(path, split)))  # a file such as dev-old.tsv is no language's
    if not languages:
        raise MptError(f"{path} has no {split}-{{lang}}.tsv files, so 'all' finds no language")
    return languages


def _xtreme_file(folder: Path, lang: str, split: str) -> Path:
    files = split_files(folder, split)
    spelled = find_language(lang, files)
    if spelled is not None:
        return files[spelled]
    wanted = [f"{alias}-{lang}.tsv" for alias in SPLIT_ALIASES[split]]
    found = files_found(folder.glob("*-*.tsv"), wanted[0])
    raise MptError(f"{folder} has no {' or '.join(wanted)} (found: {found})")


def _file_rows(task: Task, path: Path):
    """The raw bytes of a task's data file, and its rows: (line number, the row by column name)."""
    if path.suffix not in FILE_SUFFIXES:
        raise MptError(f"{path}: unsupported file type {path.suffix!r}; use {', '.join(FILE_SUFFIXES)}")
    raw, lines = read_lines(path)
    if not raw.strip():
        raise MptError(f"{path} is empty")
    reader = {".tsv": _rows_tsv, ".csv": _rows_csv, ".jsonl": _rows_jsonl}[path.suffix]
    return raw, reader(task, lines, path)


def _read_file(task: Task, path: Path, require_labels: bool) -> list[Example]:
    examples = []
    for line_number, row in _file_rows(task, path)[1]:
        where = f"{path.name} line {line_number}"
        examples.append(_example(task, row, f"{path.name}:{len(examples)}", where, require_labels))
    return examples


def read_texts(task: Task, folder: Path, lang: str, split: str) -> tuple[Path, bytes, list[tuple[str, ...]]]:
    """The task's texts in every row of ``lang``'s ``split`` file of an XTREME-style folder, in file order, its
    labels unread (a side of a row-aligned parallel corpus); the file, and its raw bytes."""
    path = _xtreme_file(folder, lang, canonical_split(split))
    raw, rows = _file_rows(task, path)
    return path, raw, [_texts(task, row, f"{path.name} line {number}") for number, row in rows]


def header_columns(task: Task, fields: list[str], where: str) -> dict[str, int] | None:
    """Column positions of the task's inputs and label when ``fields`` is a header row (it names any of
    them), else None."""
    lowered = [f.strip().lower() for f in fields]
    found = {}
    for column in (*task.inputs, "label"):
        for alias in aliases(column):
            if alias in lowered:
                found[column] = lowered.index(alias)
                break
    if not found:
        return None
    for column in task.inputs:
        if column not in found:
            raise MptError(f"{where}: the header has no {column!r} column (found: {', '.join(fields)})")
    return found


def expected_columns(task: Task, label: bool = True) -> str:
    return "<TAB>".join([*task.inputs, *(["label"] if label else [])])


def _rows_tsv(task: Task, lines: list[str], path: Path):
    columns, width = None, len(task.inputs)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise MptError(f"{path.name} line {number}: empty line")
        fields = line.split("\t")
        if columns is None and number == 1 and (header := header_columns(task, fields, f"{path.name} line 1")):
            columns = header
            continue
        if columns is None:
            if not width <= len(fields) <= width + 1:
                found = "no tab" if len(fields) < 2 else f"{len(fields)} columns (a header row names extra ones)"
                raise MptError(f"{path.name} line {number}: expected {expected_columns(task)}, found {found}")
            yield number, dict(zip((*task.inputs, "label"), fields))
        else:
            yield number, {name: fields[i] if i < len(fields) else None for name, i in columns.items()}


def _rows_csv(task: Task, lines: list[str], path: Path):
    reader = csv.reader(io.StringIO("\n".join(lines)))
    try:
        header = next(reader, None)
        columns = header_columns(task, header or [], f"{path.name} line 1")
        if columns is None:
            raise MptError(f"{path.name}: the CSV header must name the columns {', '.join(task.inputs)} (and label)")
        for fields in reader:
            if fields:
                yield reader.line_num, {name: fields[i] if i < len(fields) else None for name, i in columns.items()}
    except csv.Error as exc:
        raise MptError(f"{path.name} line {reader.line_num}: {exc}") from None


def _rows_jsonl(task: Task, lines: list[str], path: Path):
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        record = json_object(line, f"{path.name} line {number}")
        yield number, {name: first_alias(record, name) for name in (*task.inputs, "label")}


def first_alias(record: dict, column: str):
    """The value of ``column`` in ``record`` under its own name or an alias, or None."""
    for alias in aliases(column):
        if alias in record:
            return record[alias]
    return None


def _texts(task: Task, row: dict, where: str) -> tuple[str, ...]:
    for column in task.inputs:
        if row.get(column) is None:
            raise MptError(f"{where}: missing column {column!r}")
    return tuple(str(row[column]) for column in task.inputs)


def _example(task: Task, row: dict, example_id: str, where: str, require_labels: bool) -> Example:
    texts = _texts(task, row, where)
    label = row.get("label")
    if label is None or str(label).strip() == "":
        if require_labels:
            raise MptError(f"{where}: missing label")
        parsed = None
    else:
        parsed = task.label_index(label, where)
    return Example(example_id, texts, parsed)


def _load_hub(task: Task, dataset_id: str, lang: str, split: str, require_labels: bool) -> list[Example]:
    table, config = hub_table(dataset_id, lang, split, hub_revision(task, dataset_id))
    return _table_examples(task, table, f"{dataset_id} ({config}, {split})", split, require_labels)


def _given_examples(task: Task, data: GivenData, lang: str, split: str, require_labels: bool) -> list[Example]:
    key, splits = given_language(data, lang)
    name = f"{data_label(data)}: {key}, {split}"
    table = next((splits[alias] for alias in SPLIT_ALIASES[split] if alias in splits), None)
    if table is None:
        raise MptError(f"{name}: no such split (given: {', '.join(map(str, splits)) or 'none'})")
    examples = _table_examples(task, table, name, split, require_labels)
    if not examples:
        raise MptError(f"{name}: no examples")
    return examples


def _table_examples(task: Task, table, name: str, split: str, require_labels: bool) -> list[Example]:
    """Examples of a hub table or of rows given in Python: records by column name (a class label's index is
    its name), or tuples of the task's texts then the label."""
    features = getattr(table, "features", {})
    label_column = next((a for a in aliases("label") if a in features), "label")
    names = getattr(features.get(label_column), "names", None)
    examples, unlabelled = [], 0
    for index, record in enumerate(table):
        if isinstance(record, dict):
            row = {name: first_alias(record, name) for name in (*task.inputs, "label")}
        elif isinstance(record, (tuple, list)):
            row = dict(zip((*task.inputs, "label"), record))
        else:
            raise MptError(f"{name} row {index}: expected a tuple of {expected_columns(task)} or a dict, not {record!r:.80}")
        if names is not None and isinstance(row["label"], int):
            if not 0 <= row["label"] < len(names):  # a class label's -1 (PAWS-X has some): no label of the task
                if require_labels:
                    unlabelled += 1
                    continue
                row["label"] = None
            else:
                row["label"] = names[row["label"]]
        examples.append(_example(task, row, f"{split}:{index}", f"{name} row {index}", require_labels))
    if unlabelled:
        log.warning(f"{name}: skipped {unlabelled} of {len(table)} rows with none of the task's labels")
    return examples
