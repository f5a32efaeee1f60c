"""``mpt reproduce``: the paper's table (methods x shots, per language, mean and std over seeds).

Work is organised in cells, one per (shots, seed), under ``output/k{shots}-s{seed}/``:
``prompts/`` (the source prompt, its translators and translated prompts) and one folder per method with
its ``results.json``. A method whose ``results.json`` exists is not run again, so an interrupted run
resumes where it stopped; ``settings.json`` makes sure it resumes with the same settings. MPT starts
from the soft-prompt run's source prompt; the joint methods take its few-shot draw and settings and
write their own prompt folders, ``prompts-joint/`` and ``prompts-joint-no-translator/``.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..callbacks import Callbacks
from ..data import draw_split, load_nli
from ..data.nli import DEFAULT_DATA, canonical_split
from ..data.parallel import DEFAULT_MAX_PAIRS, DEFAULT_PARALLEL
from ..data.paths import resolved_spec
from ..engine.align import AlignConfig
from ..engine.backbone import DEFAULT_MODEL, Tune
from ..engine.distributed import Processes, alone, launched, processes
from ..engine.finetune import Classifier, finetune
from ..engine.joint import JointConfig
from ..engine.train import TrainConfig
from ..errors import MptError, ProcessError, require_positive, require_seed, unset_is_one
from ..fileformat import provenance
from ..languages import DEFAULT_SOURCE, XNLI_LANGUAGES
from ..metrics import score
from ..outputs import atomic_path
from ..store import PromptStore
from .align import AlignOptions
from .evaluate import EvalOptions, evaluate
from .joint import JointOptions, joint
from .summary import Method, summarise
from .train_source import DEFAULT_TUNE, SourceOptions, train_source
from .translate import translate

METHODS = tuple(Method)
JOINT_METHODS = (Method.JOINT, Method.JOINT_NO_TRANSLATOR)
PROMPT_METHODS = (Method.MPT, *JOINT_METHODS)  # compared with soft-prompt transfer in the summary


@dataclass(frozen=True)
class ReproduceOptions:
    shots: tuple[int, ...] = (4, 8, 16, 32, 64)
    seeds: tuple[int, ...] = (1, 2, 3)
    methods: tuple[str, ...] = METHODS
    languages: tuple[str, ...] = tuple(XNLI_LANGUAGES)
    source: str = DEFAULT_SOURCE
    model: str = DEFAULT_MODEL
    data: str = DEFAULT_DATA
    parallel: str = DEFAULT_PARALLEL
    split: str = "test"
    output: Path = Path("reproduce")
    tune: Tune = DEFAULT_TUNE
    train: TrainConfig = field(default_factory=TrainConfig)
    align: AlignConfig = field(default_factory=AlignConfig)
    joint: JointConfig = field(default_factory=JointConfig)
    max_pairs: int | None = DEFAULT_MAX_PAIRS  # parallel pairs per language, for MPT and the joint methods
    max_examples: int | None = None
    cpu: bool = False

    def __post_init__(self):
        if unknown := [m for m in self.methods if m not in METHODS]:
            raise MptError(f"unknown method {unknown[0]!r}; use {Method.options()}")
        object.__setattr__(self, "methods", tuple(map(Method, self.methods)))
        if self.source not in self.languages:
            raise MptError(f"the languages must include the source language {self.source}")
        object.__setattr__(self, "tune", Tune.parse(self.tune, "tune mode"))
        if self.tune == Tune.PROMPT and set(JOINT_METHODS) & set(self.methods):
            raise MptError("the joint methods need a tuned backbone (--tune lora or full); with --tune prompt leave them out")
        canonical_split(self.split)
        for shots in self.shots:
            require_positive(shots=shots)
        for seed in self.seeds:
            require_seed(seed)
        require_positive(max_examples=unset_is_one(self.max_examples), max_pairs=unset_is_one(self.max_pairs))


@dataclass
class Cell:
    method: str
    shots: int
    seed: int
    folder: Path

    @property
    def results_path(self) -> Path:
        return self.folder / self.method / "results.json"

    @property
    def source_run(self) -> Path:
        """The soft-prompt run's folder, which every prompt method starts from."""
        return self.folder / "prompts"

    @property
    def prompts_dir(self) -> Path:
        """The prompts this method is evaluated with."""
        return self.folder / f"prompts-{self.method}" if self.method in JOINT_METHODS else self.source_run

    def __str__(self) -> str:
        return f"{self.method}, {self.shots} shots, seed {self.seed}"


def plan(options: ReproduceOptions) -> list[Cell]:
    return [
        Cell(method, shots, seed, options.output / f"k{shots}-s{seed}")
        for shots in options.shots
        for seed in options.seeds
        for method in options.methods
    ]


def reproduce(options: ReproduceOptions, callbacks: Callbacks | None = None) -> dict:
    """Run every unfinished cell, then summarise all of them; returns the summary (also ``summary.json``).

    Launched processes share the unfinished cells out, whole ``k{shots}-s{seed}`` folders at a time (their
    methods share one source prompt), each running its cells as if alone; the summary waits for all.
    """
    callbacks = callbacks or Callbacks()
    group = processes(options.cpu)
    _check_same_settings(options)
    cells = plan(options)
    todo = [c for c in cells if not c.results_path.is_file()]
    group.barrier()  # every process has read the folder before any of them writes to it
    settings_path = options.output / "settings.json"
    if group.is_main and not settings_path.is_file():
        with atomic_path(settings_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(_results_settings(options), indent=2) + "\n")
    if len(todo) < len(cells):
        callbacks.on_stage(f"resuming: {len(cells) - len(todo)} of {len(cells)} cells already done")
    mine = _share(todo, group)
    if group.count > 1:
        callbacks.on_stage(f"{group.count} processes: this one runs {len(mine)} of the {len(todo)} cells")
    with alone():
        _run_cells(options, mine, callbacks)
    while not all(c.results_path.is_file() for c in todo):  # files, not a barrier: cells may take hours
        time.sleep(1)
    by_row = sorted(cells, key=lambda c: (options.methods.index(c.method), options.shots.index(c.shots)))
    results = {(c.method, c.shots, c.seed): json.loads(c.results_path.read_text()) for c in by_row if c.results_path.is_file()}
    summary = summarise(results, options.languages, options.source, compared=PROMPT_METHODS) | {
        "settings": _results_settings(options)
    }
    if group.is_main:
        with atomic_path(options.output / "summary.json", overwrite=True) as tmp:
            tmp.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _share(todo: list[Cell], group: Processes) -> list[Cell]:
    """This process's cells: folders (shots, seed) dealt round-robin in plan order."""
    folders = list(dict.fromkeys(c.folder for c in todo))
    dealt = {folder: i % group.count for i, folder in enumerate(folders)}
    return [c for c in todo if dealt[c.folder] == group.index]


def _run_cells(options: ReproduceOptions, cells: list[Cell], callbacks: Callbacks) -> None:
    durations: list[float] = []
    for number, cell in enumerate(cells, 1):
        eta = f", about {_clock(statistics.mean(durations) * (len(cells) - number + 1))} left" if durations else ""
        callbacks.on_stage(f"cell {number}/{len(cells)}: {cell}{eta}")
        started = time.perf_counter()
        try:
            results = RUNNERS[cell.method](options, cell, callbacks)
        except MptError as exc:
            if not launched():
                raise
            raise ProcessError(f"{cell}: {exc}") from None  # the other processes' cells may be fine
        with atomic_path(cell.results_path, overwrite=True) as tmp:
            tmp.write_text(json.dumps(results, indent=2, default=str) + "\n")
        durations.append(time.perf_counter() - started)


def _check_same_settings(options: ReproduceOptions) -> None:
    """Refuse to resume an ``--output`` whose cells were made with other settings: one table, one setting.

    Shots, seeds, methods and languages may differ between runs: they only choose cells and columns.
    """
    settings = _results_settings(options)
    path = options.output / "settings.json"
    if not path.is_file():
        return
    earlier = json.loads(path.read_text())
    for key, value in settings.items():
        if earlier.get(key) != value:
            raise MptError(
                f"{options.output} holds cells made with {key}={earlier.get(key)!r}, not {value!r}; "
                "resume with the same settings or choose another --output"
            )


def _results_settings(options: ReproduceOptions) -> dict:
    """Everything the accuracies depend on, flat (``train.epochs``) and JSON-normal; local paths resolved."""
    settings = {
        "model": resolved_spec(options.model), "data": resolved_spec(options.data), "parallel": resolved_spec(options.parallel),
        "split": options.split, "source": options.source, "tune": options.tune,
        "max_examples": options.max_examples, "max_pairs": options.max_pairs,
    }  # fmt: skip
    for name, config in (("train", options.train), ("align", options.align), ("joint", options.joint)):
        settings |= {f"{name}.{key}": value for key, value in asdict(config).items()}
    return json.loads(json.dumps(settings))


def _source_prompt(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> None:
    """Train the cell's source prompt unless an earlier method already did."""
    if PromptStore(cell.source_run).prompt_path(options.source).is_file():
        return
    source = SourceOptions(
        shots=cell.shots, lang=options.source, model=options.model, data=options.data, seed=cell.seed,
        prompts_dir=cell.source_run, tune=options.tune, train=options.train, overwrite=True, cpu=options.cpu,
    )  # fmt: skip
    train_source(source, replace(callbacks, on_epoch=lambda record: None))


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


def _run_mpt(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    _source_prompt(options, cell, callbacks)
    targets = tuple(lang for lang in options.languages if lang != options.source)
    missing = tuple(t for t in targets if not PromptStore(cell.prompts_dir).prompt_path(t).is_file())
    if missing:
        align_options = AlignOptions(
            targets=missing, source=options.source, prompts_dir=cell.prompts_dir, model=options.model, data=options.data,
            parallel=options.parallel, max_pairs=options.max_pairs, align=options.align, seed=cell.seed,
            score_dev=False, overwrite=True, cpu=options.cpu,
        )  # fmt: skip
        translate(align_options, replace(callbacks, on_start=lambda total: None))
    return _evaluate(options, cell, callbacks, use_translated=True)


def _run_finetune(options: ReproduceOptions, cell: Cell, callbacks: Callbacks) -> dict:
    train_pool = load_nli(options.data, options.source, "train")
    dev_pool = load_nli(options.data, options.source, "validation")
    train, dev, _ = draw_split(train_pool, dev_pool, cell.shots, cell.shots, cell.seed, options.data, options.source)
    torch.manual_seed(cell.seed)
    classifier = Classifier(options.model, cpu=options.cpu)
    finetune(classifier, train, dev, options.train, cell.seed)
    languages = {}
    for lang in options.languages:
        examples = load_nli(options.data, lang, options.split)[: options.max_examples]
        probs = classifier.probabilities(examples)
        languages[lang] = asdict(score([e.label for e in examples], probs.argmax(-1).tolist()))
    accuracies = [languages[lang]["accuracy"] for lang in options.languages]
    targets = [languages[lang]["accuracy"] for lang in options.languages if lang != options.source]
    return {
        "run": {"model": options.model, "data": options.data, "split": options.split, "shots": cell.shots, "seed": cell.seed}
        | provenance(),
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
            max_pairs=options.max_pairs, joint=replace(options.joint, translate=translate), train=options.train,
            overwrite=True, cpu=options.cpu,
        )  # fmt: skip
        joint(joint_options, replace(callbacks, on_start=lambda total: None, on_epoch=lambda record: None))
    return _evaluate(options, cell, callbacks, use_translated=translate)


RUNNERS = {
    Method.SOFT_PROMPT: _run_soft_prompt, Method.MPT: _run_mpt, Method.JOINT: _run_joint, Method.JOINT_NO_TRANSLATOR: _run_joint,
    Method.FINETUNE: _run_finetune,
}  # fmt: skip


def _clock(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{max(1, minutes)} min"
