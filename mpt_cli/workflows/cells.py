"""The cells of ``mpt reproduce``: its options, one cell per (method, shots, seed), and how each method runs.

Every prompt method starts from the cell's soft-prompt run (``prompts/``): two-stage MPT translates into
that folder; the joint methods write their own, ``prompts-joint/`` and ``prompts-joint-no-translator/``;
the adapter methods translate a copy of the source run (hard links where the file system allows) in
``prompts-adapter/`` and ``prompts-adapter-no-translator/``.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..callbacks import Callbacks
from ..data import default_data, draw_split, load_examples
from ..data.examples import canonical_split, data_languages
from ..data.parallel import DEFAULT_MAX_PAIRS, DEFAULT_PARALLEL
from ..data.sampling import Shots, parse_shots
from ..engine.align import AlignConfig
from ..engine.backbone import DEFAULT_MODEL, Tune
from ..engine.distributed import processes
from ..engine.finetune import Classifier, finetune
from ..engine.joint import JointConfig
from ..engine.language_adapter import AdapterConfig
from ..engine.train import TrainConfig
from ..errors import MptError, require_positive, require_seed, unset_is_one
from ..fileformat import provenance
from ..languages import ALL, DEFAULT_SOURCE, AllLanguages, normalise, parse_languages
from ..metrics import score
from ..outputs import atomic_path
from ..store import PromptStore
from ..task import DEFAULT_TASK, Task
from .align_options import AlignOptions, TranslateMethod
from .evaluate import EvalOptions, evaluate
from .joint import JointOptions, joint
from .summary import Method
from .train_source import DEFAULT_TUNE, SourceOptions, train_source
from .translate import Outcome, translate

METHODS = tuple(Method)
JOINT_METHODS = (Method.JOINT, Method.JOINT_NO_TRANSLATOR)
ADAPTER_METHODS = (Method.ADAPTER, Method.ADAPTER_NO_TRANSLATOR)
PROMPT_METHODS = (Method.MPT, *JOINT_METHODS, *ADAPTER_METHODS)  # compared with soft-prompt transfer in the summary
PER_LANGUAGE_METHODS = (Method.SOFT_PROMPT, Method.MPT, *ADAPTER_METHODS)
"""Methods whose finished cell takes a language asked for later: its languages are trained one by one, so a
resumed run adds the new ones and keeps the rest. A joint cell trained its languages together, and a
finetune cell keeps no classifier: a language they lack stays missing from the table."""


@dataclass(frozen=True)
class ReproduceOptions:
    shots: tuple[Shots, ...] = (4, 8, 16, 32, 64)  # per class; "all": every training example
    dev_shots: Shots | None = None  # dev examples per class for choosing the epoch; None: the cell's shots
    seeds: tuple[int, ...] = (1, 2, 3)
    methods: tuple[str, ...] = METHODS
    languages: tuple[str, ...] | AllLanguages = ALL  # codes, normalised here; ALL: every language the data has for the split
    source: str = DEFAULT_SOURCE
    model: str = DEFAULT_MODEL
    task: Task | str = DEFAULT_TASK  # a built-in task's name, a task file, or a Task
    verbalizer: str | None = None  # the task's label words: a preset or comma-separated words; None: its own
    data: str | None = None  # None: the task's own dataset
    parallel: str = DEFAULT_PARALLEL
    split: str = "test"
    output: Path = Path("reproduce")
    tune: Tune = DEFAULT_TUNE
    train: TrainConfig = field(default_factory=TrainConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    joint: JointConfig = field(default_factory=JointConfig)
    adapter: AdapterConfig = field(default_factory=AdapterConfig)
    max_pairs: int | None = DEFAULT_MAX_PAIRS  # parallel pairs per language, for MPT and the adapter methods
    joint_pairs: int | None = JointOptions.max_pairs  # parallel pairs per language, for the joint methods
    max_examples: int | None = None
    cpu: bool = False

    def __post_init__(self):
        if unknown := [m for m in self.methods if m not in METHODS]:
            raise MptError(f"unknown method {unknown[0]!r}; use {Method.options()}")
        object.__setattr__(self, "methods", tuple(map(Method, self.methods)))
        task = self.task if isinstance(self.task, Task) else Task.load(self.task)
        task = replace(task, words=task.verbalizer(self.verbalizer))
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "data", default_data(task, self.data))
        object.__setattr__(self, "tune", Tune.parse(self.tune, "tune mode"))
        if self.tune == Tune.PROMPT and set(JOINT_METHODS) & set(self.methods):
            raise MptError("the joint methods need a tuned backbone (--tune lora or full); with --tune prompt leave them out")
        canonical_split(self.split)
        if not self.shots:
            raise MptError("no shots given")
        object.__setattr__(self, "shots", tuple(parse_shots(shots) for shots in self.shots))
        if self.dev_shots is not None:
            object.__setattr__(self, "dev_shots", parse_shots(self.dev_shots, "dev_shots"))
        for seed in self.seeds:
            require_seed(seed)
        require_positive(
            max_examples=unset_is_one(self.max_examples), max_pairs=unset_is_one(self.max_pairs),
            joint_pairs=unset_is_one(self.joint_pairs),
        )  # fmt: skip
        # last: 'all' asks the data (a folder listing, or the hub's configurations) once every option is valid
        object.__setattr__(self, "source", normalise(self.source))
        languages = parse_languages(self.languages)
        languages = tuple(data_languages(self.task, self.data, self.split)) if languages is ALL else languages
        object.__setattr__(self, "languages", languages)
        if self.source not in self.languages:
            raise MptError(f"the languages must include the source language {self.source}")
        if self.languages == (self.source,) and set(JOINT_METHODS) & set(self.methods):
            raise MptError(f"the joint methods train translators into target languages: add one besides {self.source}, "
                           "or leave them out")  # fmt: skip


@dataclass
class Cell:
    method: str
    shots: Shots
    seed: int
    folder: Path

    @property
    def results_path(self) -> Path:
        return self.folder / self.method / "results.json"

    def finished(self, languages: tuple[str, ...]) -> bool:
        """Whether this cell is done for ``languages``: its results exist and, where its method can add a
        language (:data:`PER_LANGUAGE_METHODS`), have every one of them."""
        if not self.results_path.is_file():
            return False
        return self.method not in PER_LANGUAGE_METHODS or set(languages) <= set(self.results()["languages"])

    def results(self) -> dict:
        return json.loads(self.results_path.read_text())

    @property
    def source_run(self) -> Path:
        """The soft-prompt run's folder, which every prompt method starts from."""
        return self.folder / "prompts"

    @property
    def prompts_dir(self) -> Path:
        """The prompts this method is evaluated with."""
        return self.folder / f"prompts-{self.method}" if self.method in (*JOINT_METHODS, *ADAPTER_METHODS) else self.source_run

    def __str__(self) -> str:
        return f"{self.method}, {self.shots} shots, seed {self.seed}"


def _source_prompt(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> None:
    """Train the cell's source prompt unless an earlier method already did."""
    if PromptStore(cell.source_run).prompt_path(options.source).is_file():
        return
    source = SourceOptions(
        shots=cell.shots, dev_shots=options.dev_shots, lang=options.source, model=options.model, task=options.task,
        data=options.data, seed=cell.seed,
        prompts_dir=cell.source_run, tune=options.tune, train=options.train, overwrite=True, cpu=options.cpu,
    )  # fmt: skip
    train_source(source, callbacks)


def _evaluate(options: ReproduceOptions, cell: Cell, callbacks: Callbacks, use_translated: bool) -> dict:
    report = evaluate(
        EvalOptions(
            languages=options.languages, source=options.source, prompts_dir=cell.prompts_dir, model=options.model,
            data=options.data, split=options.split, use_translated=use_translated, max_examples=options.max_examples,
            output=cell.folder / cell.method, overwrite=True, cpu=options.cpu,
        ),
        replace(callbacks, on_start=lambda total: None),
    )  # fmt: skip
    return report.to_json()


def _run_soft_prompt(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    _source_prompt(options, cell, callbacks)
    return _evaluate(options, cell, callbacks, use_translated=False)


def _run_translation(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    """Two-stage MPT (into the source run's folder) or an adapter method (into a copy of it): translate
    the cell's source run into every target that has no prompt yet, then evaluate."""
    _source_prompt(options, cell, callbacks)
    adapted = cell.method in ADAPTER_METHODS
    if adapted:
        group = processes(options.cpu)
        if group.is_main and not cell.prompts_dir.is_dir():
            _copy_source_run(cell, options.source)
        group.barrier()  # processes running the cell together read the copy (every one waits: the folder test would race)
    targets = tuple(lang for lang in options.languages if lang != options.source)
    missing = tuple(t for t in targets if not PromptStore(cell.prompts_dir).prompt_path(t).is_file())
    failed = {}  # language -> why it failed (scored with the source prompt)
    earlier = cell.results().get("tokenizer", {}) if cell.results_path.is_file() else {}  # a run extended by languages
    badly_read = {lang: why for lang, why in earlier.items() if lang not in missing}  # language -> the tokenizer's warning
    if missing:
        align_options = AlignOptions(
            targets=missing, source=options.source, prompts_dir=cell.prompts_dir, model=options.model, data=options.data,
            parallel=options.parallel, max_pairs=options.max_pairs, align=options.align, seed=cell.seed,
            method=TranslateMethod.ADAPTER if adapted else TranslateMethod.PROMPT, adapter=options.adapter,
            translator=cell.method != Method.ADAPTER_NO_TRANSLATOR, score_dev=False, overwrite=True, cpu=options.cpu,
        )  # fmt: skip
        outcomes = translate(align_options, replace(callbacks, on_start=lambda total: None))
        failed = {t.target: t.error for t in outcomes if t.outcome == Outcome.FAILED}
        badly_read |= {t.target: t.warning for t in outcomes if t.warning}
    results = _evaluate(options, cell, callbacks, use_translated=True)
    return results | ({"failed": failed} if failed else {}) | ({"tokenizer": badly_read} if badly_read else {})


def _copy_source_run(cell: Cell, source: str) -> None:
    """Start ``cell.prompts_dir`` as the source run's prompt and side files, linked rather than copied where
    possible: every write replaces a file by renaming, so a link is never written through."""

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    with atomic_path(cell.prompts_dir, overwrite=True, folder=True) as tmp:
        shutil.copytree(cell.source_run, tmp, copy_function=link_or_copy,
                        ignore=lambda folder, names: [n for n in names if Path(folder) == cell.source_run
                                                      and not n.startswith(f"{source}.")])  # fmt: skip


def _run_finetune(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    task = options.task
    train_pool = load_examples(task, options.data, options.source, "train")
    dev_pool = load_examples(task, options.data, options.source, "validation")
    train, dev, _ = draw_split(
        train_pool, dev_pool, task.labels, cell.shots, options.dev_shots or cell.shots, cell.seed, options.data,
        options.source,
    )
    torch.manual_seed(cell.seed)
    classifier = Classifier(options.model, len(task.labels), cpu=options.cpu)
    finetune(classifier, train, dev, options.train, cell.seed)
    languages = {}
    for lang in options.languages:
        examples = load_examples(task, options.data, lang, options.split)[: options.max_examples]
        probs = classifier.probabilities(examples)
        languages[lang] = asdict(score([e.label for e in examples], probs.argmax(-1).tolist(), len(task.labels)))
    accuracies = [languages[lang]["accuracy"] for lang in options.languages]
    targets = [languages[lang]["accuracy"] for lang in options.languages if lang != options.source]
    return {
        "run": {
            "model": options.model, "task": task.name, "data": options.data, "split": options.split, "shots": cell.shots,
            "seed": cell.seed,
        } | provenance(),
        "languages": languages,
        "averages": {"all": statistics.mean(accuracies), "targets": statistics.mean(targets) if targets else None},
    }


def _run_joint(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    _source_prompt(options, cell, callbacks)
    translate = cell.method == Method.JOINT
    if not PromptStore(cell.prompts_dir).prompt_path(options.source).is_file():
        joint_options = JointOptions(
            targets=tuple(lang for lang in options.languages if lang != options.source), output=cell.prompts_dir,
            source=options.source, prompts_dir=cell.source_run, data=options.data, parallel=options.parallel,
            max_pairs=options.joint_pairs, joint=replace(options.joint, translate=translate), train=options.train,
            overwrite=True, cpu=options.cpu,
        )  # fmt: skip
        joint(joint_options, replace(callbacks, on_start=lambda total: None))
    return _evaluate(options, cell, callbacks, use_translated=translate)


RUNNERS = {
    Method.SOFT_PROMPT: _run_soft_prompt, Method.MPT: _run_translation, Method.JOINT: _run_joint,
    Method.JOINT_NO_TRANSLATOR: _run_joint, Method.ADAPTER: _run_translation, Method.ADAPTER_NO_TRANSLATOR: _run_translation,
    Method.FINETUNE: _run_finetune,
}  # fmt: skip


