"""``mpt reproduce``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..callbacks import Callbacks
from ..data.parallel import DEFAULT_PARALLEL
from ..engine.align import AlignConfig
from ..engine.backbone import DEFAULT_MODEL, Tune
from ..engine.joint import JointConfig
from ..engine.train import TrainConfig
from ..errors import MptError
from ..language_groups import LanguageGroups, load_groups
from ..languages import describe, script_of
from ..plot import check_plot, plot
from ..workflows.cells import METHODS
from ..workflows.reproduce import ReproduceOptions, reproduce
from ..workflows.summary import panels
from ..workflows.train_source import DEFAULT_TUNE
from .common import (
    DATA_HELP,
    DEV_SHOTS_HELP,
    GROUPS_HELP,
    LANGS_HELP,
    PARALLEL_HELP,
    PLOT_HELP,
    TASK_HELP,
    VERBALIZER_HELP,
    DecayToStartOption,
    MixupOption,
    SelectOption,
    console,
    handle_errors,
    log_epoch,
    print_json,
    quiet_libraries,
)

_train = TrainConfig()


def _integers(spec: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in spec.split(",") if part.strip())
    except ValueError:
        raise MptError(f"{what} must be comma-separated integers, got {spec!r}") from None
    if not values:
        raise MptError(f"no {what} given")
    return values


def _listed(values: tuple) -> str:
    """A default of :class:`ReproduceOptions` as the comma-separated option takes it."""
    return ",".join(map(str, values))


@handle_errors
def reproduce_command(
    shots: Annotated[
        str, typer.Option(help="Shot counts per class, comma-separated; 'all': every training example.")
    ] = _listed(ReproduceOptions.shots),
    seeds: Annotated[str, typer.Option(help="Seeds, comma-separated.")] = _listed(ReproduceOptions.seeds),
    dev_shots: Annotated[str | None, typer.Option(help=DEV_SHOTS_HELP.format("each cell's shots"))] = None,
    methods: Annotated[str, typer.Option(help=f"Methods, comma-separated: {', '.join(METHODS)}.")] = _listed(METHODS),
    langs: Annotated[str, typer.Option(help=LANGS_HELP)] = "all",
    source: Annotated[str, typer.Option(help="Source language.")] = ReproduceOptions.source,
    model: Annotated[str, typer.Option(help="Hub id or local directory of a masked LM.")] = DEFAULT_MODEL,
    task: Annotated[str, typer.Option(help=TASK_HELP)] = ReproduceOptions.task,
    data: Annotated[str | None, typer.Option(help=DATA_HELP)] = None,
    parallel: Annotated[str, typer.Option(help=PARALLEL_HELP)] = DEFAULT_PARALLEL,
    split: Annotated[str, typer.Option(help="Evaluation split: test or validation.")] = ReproduceOptions.split,
    output: Annotated[Path, typer.Option(help="Folder for every artifact, result and the summary.")] = ReproduceOptions.output,
    tune: Annotated[str, typer.Option(help=f"What learns with the source prompt: {Tune.options()}.")] = DEFAULT_TUNE.value,
    max_examples: Annotated[int | None, typer.Option(help="Evaluate at most this many examples per language.")] = None,
    max_pairs: Annotated[
        int, typer.Option(help="Parallel pairs per language for two-stage MPT and the adapter methods.")
    ] = ReproduceOptions.max_pairs,
    joint_pairs: Annotated[
        int, typer.Option(help="Parallel pairs per language for the joint methods (mpt joint's --max-pairs).")
    ] = ReproduceOptions.joint_pairs,
    verbalizer: Annotated[str | None, typer.Option(help=VERBALIZER_HELP)] = None,
    epochs: Annotated[int, typer.Option(help="Epochs of source-prompt and fine-tuning training.")] = _train.epochs,
    select: SelectOption = _train.select.value,
    mixup: MixupOption = _train.mixup,
    decay_to_start: DecayToStartOption = _train.decay_to_start,
    align_epochs: Annotated[
        int, typer.Option(help="Epochs over the parallel pairs (mpt and the adapter methods).")
    ] = AlignConfig().epochs,
    align_group_by_length: Annotated[
        bool, typer.Option(help="Batch parallel pairs of similar length together (mpt and the adapter methods).")
    ] = AlignConfig().group_by_length,
    joint_epochs: Annotated[
        int, typer.Option(help="Epochs of the joint methods over the few-shot examples.")
    ] = JointConfig().epochs,
    joint_start: Annotated[
        str, typer.Option(help="Joint methods: continue the source run (source) or start afresh (scratch).")
    ] = JointConfig().start.value,
    groups: Annotated[Path | None, typer.Option(help=GROUPS_HELP)] = None,
    plot_file: Annotated[Path | None, typer.Option("--plot", help=PLOT_HELP + " Replaced on every run.")] = None,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
):
    """The paper's table for your backbone: soft-prompt transfer, MPT (two-stage and joint, with its
    no-translator ablation) and fine-tuning, per language."""
    quiet_libraries()
    language_groups = load_groups(groups) if groups is not None else None
    if plot_file is not None:
        check_plot(plot_file, overwrite=True, inputs=[output])
    options = ReproduceOptions(
        shots=tuple(s.strip() for s in shots.split(",") if s.strip()), dev_shots=dev_shots, seeds=_integers(seeds, "seeds"),
        methods=tuple(m.strip() for m in methods.split(",")),
        languages=langs, source=source, model=model, task=task, verbalizer=verbalizer,
        data=data, parallel=parallel,
        split=split, output=output, tune=tune, max_examples=max_examples, max_pairs=max_pairs, joint_pairs=joint_pairs,
        train=TrainConfig(epochs=epochs, select=select, mixup=mixup, decay_to_start=decay_to_start),
        align=AlignConfig(epochs=align_epochs, group_by_length=align_group_by_length), cpu=cpu,
        joint=JointConfig(epochs=joint_epochs, start=joint_start),
    )  # fmt: skip
    # stages and epochs as lines: a cell can train for an hour, and a log file shows no progress bar
    summary = reproduce(options, Callbacks(on_stage=lambda message: console.log(message), on_epoch=log_epoch))
    if json_output:
        print_json(summary)
    console.print(_table(summary, language_groups))
    for warning in summary["tokenizer_warnings"].values():
        console.print(f"warning: {warning}", style="yellow", soft_wrap=True, highlight=False)
    for method, by_shots in summary["failed"].items():
        for count, reasons in by_shots.items():
            for lang, why in reasons.items():
                console.print(f"{method} {count}: {describe(lang)} failed ({why}); scored with the source prompt",
                              style="yellow", soft_wrap=True, highlight=False)  # fmt: skip
    console.print(f"summary: {output / 'summary.json'}", soft_wrap=True)
    if plot_file is not None:
        plot(plot_file, panels(summary, language_groups), overwrite=True, grouped_by=language_groups and language_groups.name)
        console.print(f"wrote {plot_file}", soft_wrap=True)


MISSING = "–"
"""A figure the table cannot give: a cell finished before its language was asked for."""


def _seconds(values: list[float | None]) -> str:
    return MISSING if None in values else f"{sum(values) / len(values):.0f}"


def _signed(value: float | None) -> str:
    return MISSING if value is None else f"{100 * value:+.1f}"


def _mean_gain(gains: list[float | None]) -> float | None:
    return None if None in gains else sum(gains) / len(gains)


def _table(summary: dict, groups: LanguageGroups | None = None) -> Table:
    """One row per language (any number of them), one column per method and shot count, then the gains; with
    ``groups``, each language's group and the means per group of the targets."""
    languages, source = summary["languages"], summary["source"]
    targets = [lang for lang in languages if lang != source]
    table = Table(title=f"accuracy (%), mean ± std over seeds ({summary['settings']['model']})")
    labels = ["language", "script", *(["group"] if groups else [])]
    for label in labels:
        table.add_column(label)
    cell = lambda stats: MISSING if stats is None else f"{100 * stats['mean']:.1f}±{100 * stats['std']:.1f}"
    average = lambda values: MISSING if None in values else f"{100 * sum(values) / len(values):.1f}"
    columns = []  # (header, value per language, value of the average, value of the targets, a mean over some languages)
    for row in summary["rows"]:
        values = {lang: cell(row["languages"][lang]) for lang in languages}
        means = lambda langs, row=row: average([row["languages"][lang] and row["languages"][lang]["mean"] for lang in langs])
        columns.append((f"{row['method']} {row['shots']}", values, cell(row["average"]), cell(row["targets"]), means))
        if "train_seconds" in row:  # what training each language took, mean over seeds
            timed = row["train_seconds"]
            seconds = {lang: MISSING if timed[lang] is None else f"{timed[lang]:.0f}" for lang in languages}
            mean = lambda langs, timed=timed: _seconds([timed[lang] for lang in langs]) if langs else ""
            columns.append((f"{row['method']} {row['shots']} s", seconds, "", mean(targets), mean))
    for method, by_shots in summary["gain_over_soft_prompt"].items():
        for shots, gains in by_shots.items():
            mean = lambda langs, gains=gains: _signed(_mean_gain([gains[lang] for lang in langs])) if langs else ""
            values = {lang: _signed(value) for lang, value in gains.items()}
            columns.append((f"{method} − soft-prompt {shots}", values, mean(languages), mean(targets), mean))
    for header, *_ in columns:
        table.add_column(header, justify="right")
    for lang in languages:
        group = [(groups.group(lang) or "-")] if groups else []
        table.add_row(describe(lang), script_of(lang), *group, *(values.get(lang, "") for _, values, *_ in columns))
    blank = [""] * (len(labels) - 1)
    table.add_section()
    table.add_row("average", *blank, *(column[2] for column in columns))
    table.add_row("targets", *blank, *(column[3] for column in columns))
    if groups:
        members = {}
        for lang in targets:
            members.setdefault(groups.group(lang) or "no group", []).append(lang)
        for group, langs in members.items():
            table.add_row(f"{groups.name}: {group} ({len(langs)})", *blank, *(column[4](langs) for column in columns))
    return table
