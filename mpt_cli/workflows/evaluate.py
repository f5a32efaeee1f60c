"""``mpt eval``: accuracy per language with the best available prompt, on one loaded backbone."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..callbacks import Callbacks
from ..data import default_data, load_examples
from ..data.examples import canonical_split, data_languages
from ..data.given import GivenData, data_label
from ..engine.batching import EVAL_BATCH_SIZE
from ..engine.distributed import processes
from ..errors import require_positive, unset_is_one
from ..fileformat import provenance, tensor_sha256
from ..folder_card import write_card
from ..language_groups import LanguageGroups, load_groups
from ..languages import ALL, DEFAULT_SOURCE, AllLanguages, language_name, normalise, parse_languages, script_of
from ..metrics import Scores
from ..outputs import atomic_path, check_writable, local_paths
from ..plot import Bar, Panel, check_plot, plot
from ..prompt_set import PromptSet
from ..store import DEFAULT_PROMPTS_DIR

COLLAPSE_SHARE = 0.8


@dataclass(frozen=True)
class EvalOptions:
    languages: tuple[str, ...] | AllLanguages = ALL  # codes, normalised here; ALL: every language the data has for the split
    source: str = DEFAULT_SOURCE
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    model: str | None = None
    task: str | None = None  # checked against the prompts' task when given
    data: str | GivenData | None = None  # None: the prompts' task's own dataset
    split: str = "test"
    compare: bool = False
    use_translated: bool = True  # False: the source prompt on every language (soft-prompt transfer)
    max_examples: int | None = None
    batch_size: int = EVAL_BATCH_SIZE
    output: Path | None = None
    plot: Path | None = None  # a chart of the accuracy per language (.png or .svg)
    groups: Path | None = None  # a language<TAB>group file: means per group, the chart's colours
    overwrite: bool = False
    cpu: bool = False
    int8: bool = False  # the encoder's linear layers in int8, on the CPU

    def __post_init__(self):
        require_positive(batch_size=self.batch_size, max_examples=unset_is_one(self.max_examples))
        canonical_split(self.split)
        object.__setattr__(self, "languages", parse_languages(self.languages))
        object.__setattr__(self, "source", normalise(self.source))


@dataclass
class LanguageResult:
    language: str
    prompt: str  # path of the prompt used
    prompt_kind: str  # "translated" or "source"
    prompt_sha256: str
    scores: Scores
    predictions: list[int]
    source_scores: Scores | None = None  # with --compare, for translated prompts
    train_seconds: float | None = None  # what training the language's own prompt took (mpt translate's adapters)

    @property
    def gain(self) -> float | None:
        return None if self.source_scores is None else self.scores.accuracy - self.source_scores.accuracy


@dataclass
class EvalReport:
    results: list[LanguageResult]
    labels: tuple[str, ...]  # the task's, in index order
    source: str
    warnings: list[str]
    run: dict = field(default_factory=dict)
    groups: LanguageGroups | None = None

    def average(self, targets_only: bool = False, source_prompt: bool = False) -> float | None:
        chosen = [r for r in self.results if not (targets_only and r.language == self.source)]
        values = [(r.source_scores or r.scores).accuracy if source_prompt else r.scores.accuracy for r in chosen]
        return sum(values) / len(values) if values else None

    def to_json(self) -> dict:
        english = next((r.scores.accuracy for r in self.results if r.language == self.source), None)
        languages = {}
        for r in self.results:
            entry = {"name": language_name(r.language), "script": script_of(r.language)} | asdict(r.scores) | {
                "labels": list(self.labels),
                "prompt": {"path": r.prompt, "kind": r.prompt_kind, "sha256": r.prompt_sha256},
                "gap_to_source": None if english is None else english - r.scores.accuracy,
            }
            if r.source_scores is not None:
                entry |= {"source_prompt": asdict(r.source_scores), "gain": r.gain}
            if r.train_seconds is not None:
                entry["train_seconds"] = r.train_seconds
            if self.groups is not None:
                entry["group"] = self.groups.group(r.language)
            languages[r.language] = entry
        averages = {"all": self.average(), "targets": self.average(targets_only=True)}
        if any(r.source_scores for r in self.results):
            averages |= {"all_source_prompt": self.average(source_prompt=True),
                         "targets_source_prompt": self.average(targets_only=True, source_prompt=True)}  # fmt: skip
        report = {"run": self.run, "languages": languages, "averages": averages, "warnings": self.warnings}
        if self.groups is not None:
            report["groups"] = {"by": self.groups.name, "targets": self.group_means()}
        return report

    def group_means(self, source_prompt: bool = False) -> dict[str, dict]:
        """Each group's mean accuracy over its target languages (``--groups``)."""
        targets = [r for r in self.results if r.language != self.source]
        pick = lambda r: (r.source_scores or r.scores).accuracy if source_prompt else r.scores.accuracy
        return self.groups.means({r.language: pick(r) for r in targets}) if self.groups else {}

    def bars(self) -> list[Bar]:
        """The chart's bars: the target languages, the source prompt beside where it was scored (``--compare``)."""
        return [
            Bar(r.language, r.scores.accuracy, r.source_scores and r.source_scores.accuracy,
                self.groups.group(r.language) if self.groups else None)
            for r in self.results if r.language != self.source
        ]  # fmt: skip


def evaluate(options: EvalOptions, callbacks: Callbacks | None = None) -> EvalReport:
    callbacks = callbacks or Callbacks()
    started = time.perf_counter()
    inputs = local_paths(options.prompts_dir, options.data, options.model)
    if options.output is not None:
        check_writable(options.output, options.overwrite, folder=True, inputs=inputs)  # fail before the work, not after
    if options.plot is not None:
        check_plot(options.plot, options.overwrite, inputs)
    groups = load_groups(options.groups) if options.groups is not None else None
    prompts = PromptSet(options.prompts_dir, options.source, options.model, options.cpu, options.task, options.int8)
    task, data = prompts.task, default_data(prompts.task, options.data)
    languages = data_languages(task, data, options.split) if options.languages is ALL else options.languages
    datasets = {}  # read and checked before the backbone loads: a bad file fails in seconds
    for lang in languages:
        examples = load_examples(task, data, lang, options.split)
        datasets[lang] = examples[: options.max_examples] if options.max_examples else examples
    callbacks.on_stage(f"loading the backbone of the prompts in {options.prompts_dir}")
    chosen = [prompts.for_language(lang) if options.use_translated else prompts.source_for(lang) for lang in languages]
    passes = sum(len(datasets[p.language]) * (2 if options.compare and p.translated else 1) for p in chosen)
    callbacks.on_start(passes)

    results = []
    for prompt in chosen:
        examples = datasets[prompt.language]
        callbacks.on_stage(f"{prompt.language}: {len(examples)} examples with the {_kind(prompt)} prompt")
        score_with = lambda tensor, route=None: prompts.scorer.score(
            tensor, examples, options.batch_size, callbacks.on_advance, route  # noqa: B023 - called before the loop moves on
        )
        scores, probs = score_with(prompt.artifact.prompt, prompt.route)
        source_scores = None
        if options.compare and prompt.translated:  # the source prompt on the source model: the translation's gain
            source_scores, _ = score_with(prompts.source.prompt)
        if max(scores.predicted_share) > COLLAPSE_SHARE:
            top = scores.predicted_share.index(max(scores.predicted_share))
            prompts.warnings.append(
                f"{prompt.language}: {max(scores.predicted_share):.0%} of predictions are {task.labels[top]!r}; "
                "the prompt has collapsed"
            )
        results.append(
            LanguageResult(
                prompt.language, str(prompt.path), _kind(prompt), tensor_sha256(prompt.artifact.prompt), scores,
                probs.argmax(-1).tolist(), source_scores, prompt.artifact.info.seconds if prompt.translated else None,
            )
        )  # fmt: skip

    info = prompts.source.info
    run = {
        "backbone": info.backbone,
        "backbone_fingerprint": info.backbone_fingerprint,
        "tune": info.tune,
        "task": task.name,
        "data": data_label(data),
        "split": options.split,
        "max_examples": options.max_examples,
        "int8": options.int8,
        "source_prompt": str(prompts.source_path),
        "seconds": round(time.perf_counter() - started, 1),
    } | provenance()
    report = EvalReport(results, task.labels, options.source, prompts.warnings, run, groups)
    if processes(options.cpu).is_main:  # the prompts folder's model card records what was measured
        write_card(prompts.store, {
            r.language: {"accuracy": r.scores.accuracy, "examples": r.scores.examples, "split": options.split,
                         "data": data_label(data), "int8": options.int8, "prompt_sha256": r.prompt_sha256,
                         "measured": run["created"]}
            for r in results
        })  # fmt: skip
    if options.output is not None and processes(options.cpu).is_main:
        write_outputs(report, options.output, options.split, options.overwrite)
    if options.plot is not None and processes(options.cpu).is_main:
        title = f"{task.name}, {options.split}: accuracy per language ({info.backbone})"
        plot(options.plot, [Panel(title, report.bars())], options.overwrite, groups.name if groups else None)
    return report


def _kind(prompt) -> str:
    return "translated" if prompt.translated else "source"


def write_outputs(report: EvalReport, output: Path, split: str, overwrite: bool) -> None:
    """``results.json`` and XTREME-style prediction files ``{split}-{lang}.tsv`` (one label a line)."""
    import json

    prefix = "dev" if split in ("dev", "validation") else split
    with atomic_path(output, overwrite, folder=True) as folder:
        folder.mkdir()
        (folder / "results.json").write_text(json.dumps(report.to_json(), indent=2, default=str) + "\n")
        for r in report.results:
            (folder / f"{prefix}-{r.language}.tsv").write_text("".join(report.labels[p] + "\n" for p in r.predictions))
