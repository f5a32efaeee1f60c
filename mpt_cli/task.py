"""The task: which texts are classified into which labels, and how it is posed as a cloze.

A task owns its name, its inputs (one text or two), its label names in order, the label word of each
label and its default template. NLI (``xnli``) is one task among others; a prompt file without a task
record is NLI, as every file written before tasks existed. A user's task comes from a small JSON (or
TOML) file::

    {"name": "stars", "inputs": ["text"], "labels": {"1": "terrible", "2": "bad", "3": "okay", "4": "good", "5": "great"},
     "template": "{text} It was {soft} {mask} ."}

``labels`` maps each label name to its label word, in label order. Optional keys: ``data`` (the
default ``--data``, a hub id or a path), ``languages`` (the codes ``all`` means, where the data's own
files or configurations should not decide).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import tomllib

from .errors import MptError
from .languages import normalise
from .template import CLOZE_SLOTS, parse_template
from .verbalizer import ALTERNATIVES

DEFAULT_TASK = "xnli"
EXTRA_WORDS = "+"  # --verbalizer BASE+WORDS: more words for each label, such as a new language's
TASK_FILE_KEYS = {"name", "inputs", "labels", "template", "data", "languages"}


@dataclass(frozen=True)
class Task:
    """A classification task: ``inputs`` texts per example, one of ``labels`` (in index order) each."""

    name: str
    inputs: tuple[str, ...]  # the template's text placeholders, in column order: ("text",) or two names
    labels: tuple[str, ...]
    words: tuple[str, ...]  # the default label word of each label
    template: str  # the default cloze template
    data: str | None = None  # the default --data: a hub dataset id or a local path (None: --data is required)
    languages: tuple[str, ...] = ()  # what 'all' means for this task, where its data does not say (a task file's own list)
    hub_revision: str | None = None  # the branch its hub dataset loads from, where the main branch cannot (a built-in's)
    word_presets: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False)  # named label-word sets

    def __post_init__(self):
        where = f"task {self.name!r}"
        if not 1 <= len(self.inputs) <= 2 or len(set(self.inputs)) != len(self.inputs):
            raise MptError(f"{where}: inputs must be one or two distinct names, got {list(self.inputs)}")
        for name in self.inputs:
            if not name.isidentifier() or name in CLOZE_SLOTS:
                raise MptError(f"{where}: input name {name!r} must be a plain word other than {' and '.join(CLOZE_SLOTS)}")
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels) or not all(s.strip() for s in self.labels):
            raise MptError(f"{where}: needs at least two distinct, non-empty label names, got {list(self.labels)}")
        self.check_words(self.words)
        self.check_template(self.template)

    # ------------------------------------------------------------------------------------ checks

    def check_template(self, template: str) -> None:
        parse_template(template, self.inputs)

    def check_words(self, words: tuple[str, ...]) -> None:
        if len(words) != len(self.labels) or not all(w.strip() for w in words):
            raise MptError(
                f"task {self.name!r} needs {len(self.labels)} label words, one for each of {', '.join(self.labels)}; "
                f"got {list(words)}"
            )

    # ---------------------------------------------------------------------------------- choices

    def verbalizer(self, spec: str | None) -> tuple[str, ...]:
        """The label words: the task's own (``spec`` None), a named preset, or comma-separated words in label order;
        ``BASE+WORDS`` adds WORDS (comma-separated, in label order) to BASE's as more alternatives, such as
        ``multilingual+verdadeiro,talvez,falso`` for Portuguese."""
        if spec is None:
            return self.words
        if EXTRA_WORDS in spec:
            base, extra = spec.rsplit(EXTRA_WORDS, 1)
            added = tuple(word.strip() for word in extra.split(","))
            if len(added) != len(self.labels) or not all(added):
                raise MptError(f"verbalizer {spec!r}: after {EXTRA_WORDS} give {len(self.labels)} comma-separated words, "
                               f"one more for each of {', '.join(self.labels)}")  # fmt: skip
            return tuple(ALTERNATIVES.join(pair) for pair in zip(self.verbalizer(base or None), added))
        if spec in self.word_presets:
            return self.word_presets[spec]
        words = tuple(word.strip() for word in spec.split(","))
        if len(words) != len(self.labels) or not all(words):
            presets = f"a preset ({', '.join(self.word_presets)}) or " if self.word_presets else ""
            raise MptError(
                f"verbalizer {spec!r} must be {presets}{len(self.labels)} comma-separated words for {', '.join(self.labels)}"
            )
        return words

    def label_index(self, value: object, where: str) -> int:
        """The index of a label given by name (any case) or by its index; a name wins where a name is a number."""
        text = str(value).strip()
        lowered = [name.lower() for name in self.labels]
        if text.lower() in lowered:
            return lowered.index(text.lower())
        if text.isdigit() and int(text) < len(self.labels):
            return int(text)
        indices = f"0-{len(self.labels) - 1}"
        raise MptError(f"{where}: unknown label {value!r} (expected one of {', '.join(self.labels)} or {indices})")

    # ------------------------------------------------------------------------------ persistence

    def identity(self) -> tuple:
        """What makes a prompt this task's: its name, inputs and labels, in order. Not the languages 'all'
        means, nor the template and label words, which a prompt records of its own (they may be overridden)."""
        return self.name, self.inputs, self.labels

    def record(self) -> dict:
        """What a prompt file records of its task; its template and label words are recorded beside it."""
        languages = {"languages": list(self.languages)} if self.languages else {}
        return {"name": self.name, "inputs": list(self.inputs), "labels": list(self.labels)} | languages

    @classmethod
    def from_record(cls, record: dict | None, template: str, words: list[str], where: str) -> Task:
        """The task a prompt file records (None: NLI, which every older file is), with the template and label
        words the prompt was trained with; a built-in task keeps its dataset and presets."""
        try:
            if record is None:
                base = BUILT_IN[DEFAULT_TASK]
            else:
                inputs, labels = tuple(record["inputs"]), tuple(record["labels"])
                if not all(isinstance(s, str) for s in (*inputs, *labels, record["name"])):
                    raise TypeError
                builtin = BUILT_IN.get(record["name"])
                same = builtin is not None and (inputs, labels) == (builtin.inputs, builtin.labels)
                languages = tuple(record.get("languages", ()))
                base = builtin if same else cls(record["name"], inputs, labels, tuple(words), template, languages=languages)
            return replace(base, template=template, words=tuple(words))
        except (KeyError, TypeError, AttributeError):
            raise MptError(f"{where} has damaged metadata: task {record!r}") from None
        except MptError as exc:
            raise MptError(f"{where} has damaged metadata: {exc}") from None

    @classmethod
    def load(cls, spec: str) -> Task:
        """A built-in task by name, or a user's task file (``.json`` or ``.toml``)."""
        if spec in BUILT_IN:
            return BUILT_IN[spec]
        path = Path(spec).expanduser()
        if not path.suffix:
            raise MptError(f"unknown task {spec!r}; use {', '.join(BUILT_IN)} or a task file (.json or .toml)")
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise MptError(f"cannot read task file {path}: {getattr(exc, 'strerror', None) or exc}") from None
        try:
            record = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
            raise MptError(f"task file {path} is not valid {path.suffix[1:].upper()}: {exc}") from None
        return cls._from_file(record, path)

    @classmethod
    def _from_file(cls, record: object, path: Path) -> Task:
        if not isinstance(record, dict):
            raise MptError(f"task file {path} must hold one object with {', '.join(sorted(TASK_FILE_KEYS))}")
        unknown = sorted(set(record) - TASK_FILE_KEYS)
        missing = sorted({"name", "inputs", "labels", "template"} - set(record))
        if unknown or missing:
            problem = f"unknown key {unknown[0]!r}" if unknown else f"no {missing[0]!r}"
            raise MptError(f"task file {path}: {problem} (keys: {', '.join(sorted(TASK_FILE_KEYS))})")
        labels, inputs = record["labels"], record["inputs"]
        if not isinstance(labels, dict) or any(_words(w) is None for w in labels.values()):
            raise MptError(
                f"task file {path}: labels must map each label name to its label word (or a list of words, such as one a "
                "language), in label order"
            )
        if not isinstance(inputs, list) or not all(isinstance(i, str) for i in inputs):
            raise MptError(f"task file {path}: inputs must be a list of one or two names, such as [\"text\"]")
        for key in ("name", "template", "data"):
            if key in record and not isinstance(record[key], str):
                raise MptError(f"task file {path}: {key} must be a string")
        languages = record.get("languages", [])
        if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
            raise MptError(f"task file {path}: languages must be a list of language codes, such as [\"en\", \"quy\"]")
        try:
            return cls(
                record["name"], tuple(inputs), tuple(labels), tuple(_words(w) for w in labels.values()), record["template"],
                record.get("data"),
                tuple(dict.fromkeys(normalise(code) for code in languages)),
            )  # fmt: skip
        except MptError as exc:
            raise MptError(f"task file {path}: {exc}") from None


def _words(value) -> str | None:
    """A task file's label word, or its list of words read together; None if it is neither."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and value and all(isinstance(w, str) for w in value):
        return ALTERNATIVES.join(value)
    return None


_TRUE_MAYBE_FALSE = {  # true/maybe/false in the 15 XNLI languages: the default NLI words (DPA's multilingual verbalizer)
    "en": ("true", "maybe", "false"), "ar": ("صحيح", "ربما", "خطأ"), "bg": ("вярно", "може", "невярно"),
    "de": ("wahr", "vielleicht", "falsch"), "el": ("αληθές", "ίσως", "ψευδές"), "es": ("verdadero", "quizás", "falso"),
    "fr": ("vrai", "peut-être", "faux"), "hi": ("सही", "शायद", "गलत"), "ru": ("верно", "возможно", "неверно"),
    "sw": ("kweli", "labda", "uongo"), "th": ("จริง", "อาจจะ", "เท็จ"), "tr": ("doğru", "belki", "yanlış"),
    "ur": ("صحیح", "شاید", "غلط"), "vi": ("đúng", "có lẽ", "sai"), "zh": ("对", "也许", "错"),
}  # fmt: skip
_MULTILINGUAL = tuple(ALTERNATIVES.join(words) for words in zip(*_TRUE_MAYBE_FALSE.values()))

BUILT_IN: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "xnli", ("premise", "hypothesis"), ("entailment", "neutral", "contradiction"),
            # chosen on dev (e5-mlm, --tune full, seeds 1-3): true-maybe-false in the 15 XNLI languages read together
            # beat English true-maybe-false at 4-64 shots (docs/results/2026-12-01-few-shots.md), which had beaten
            # yes-maybe-no on dev-en at 64 shots (49.9% against 47.4%)
            _MULTILINGUAL, "{premise} . {hypothesis} ? {soft} {mask} .", data="facebook/xnli",
            word_presets={
                "yes-maybe-no": ("yes", "maybe", "no"),
                "right-maybe-wrong": ("right", "maybe", "wrong"),
                "true-maybe-false": ("true", "maybe", "false"),
                "multilingual": _MULTILINGUAL,
            },
        ),
        Task(  # paraphrase identification; PET poses it as "s1 ? [MASK] , s2" with yes/no
            "pawsx", ("text1", "text2"), ("0", "1"), ("no", "yes"), "{text1} ? {soft} {mask} , {text2}",
            data="google-research-datasets/paws-x",
        ),
        Task(  # topic classification of single sentences (FLORES-200), labels as the dataset spells them
            "sib200", ("text",),
            ("science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"),
            ("science", "travel", "politics", "sports", "health", "entertainment", "geography"),
            "{text} {soft} {mask} .", data="Davlan/sib200",
            # its main branch was a loading script (sib200.py) over data/{config}/{split}.tsv, which datasets >= 4
            # refuses to run; the hub's parquet export holds each FLORES-200 configuration as a folder of parquet
            # files and loads whether or not main still carries the script (docs/tasks.md says what was checked)
            hub_revision="refs/convert/parquet",
        ),
    )
}  # fmt: skip
