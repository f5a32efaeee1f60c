"""``mpt eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..languages import describe, script_of
from ..workflows.evaluate import EvalOptions, EvalReport, evaluate
from .common import (
    DATA_HELP,
    GROUPS_HELP,
    LANGS_HELP,
    PLOT_HELP,
    TASK_CHECK_HELP,
    Int8Option,
    PromptsModelOption,
    console,
    handle_errors,
    print_json,
    progress_callbacks,
    quiet_libraries,
)


@handle_errors
def eval_command(
    langs: Annotated[str, typer.Option(help=LANGS_HELP)] = "all",
    split: Annotated[str, typer.Option(help="test, validation (dev) or train.")] = EvalOptions.split,
    task: Annotated[str | None, typer.Option(help=TASK_CHECK_HELP)] = None,
    data: Annotated[str | None, typer.Option(help=DATA_HELP)] = None,
    prompts_dir: Annotated[Path, typer.Option(help="Folder of prompt artifacts.")] = EvalOptions.prompts_dir,
    source: Annotated[str, typer.Option(help="Language of the trained source prompt.")] = EvalOptions.source,
    model: PromptsModelOption = None,
    compare: Annotated[bool, typer.Option(help="Also score the source prompt on every language, and show the gain.")] = False,
    max_examples: Annotated[int | None, typer.Option(help="Score at most this many examples per language.")] = None,
    batch_size: Annotated[int, typer.Option(help="Examples per forward pass.")] = EvalOptions.batch_size,
    output: Annotated[Path | None, typer.Option(help="Folder for results.json and {split}-{lang}.tsv predictions.")] = None,
    plot: Annotated[Path | None, typer.Option(help=PLOT_HELP)] = None,
    groups: Annotated[Path | None, typer.Option(help=GROUPS_HELP)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --output folder or --plot file.")] = False,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    int8: Int8Option = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print results.json on stdout.")] = False,
):
    """Accuracy and macro-F1 per language, with the translated prompt where there is one."""
    quiet_libraries()
    options = EvalOptions(
        languages=langs, source=source, prompts_dir=prompts_dir, model=model,
        task=task, data=data, split=split, compare=compare, max_examples=max_examples, batch_size=batch_size, output=output,
        plot=plot, groups=groups, overwrite=overwrite, cpu=cpu, int8=int8,
    )  # fmt: skip
    with progress_callbacks("scoring") as callbacks:
        report = evaluate(options, callbacks)
    for warning in report.warnings:
        console.print(f"warning: {warning}", style="yellow", soft_wrap=True, highlight=False)
    if json_output:
        print_json(report.to_json())
    console.print(_table(report))
    if output:
        console.print(f"wrote {output}/results.json and the prediction files", soft_wrap=True)
    if plot:
        console.print(f"wrote {plot}", soft_wrap=True)


def _table(report: EvalReport) -> Table:
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"
    signed = lambda x: "-" if x is None else f"{100 * x:+.1f}"
    english = next((r.scores.accuracy for r in report.results if r.language == report.source), None)
    compared = any(r.source_scores for r in report.results)
    grouped = report.groups is not None
    timed = [""] if any(r.train_seconds is not None for r in report.results) else []  # a column of training seconds
    table = Table(title=f"{report.run['split']} accuracy ({report.run['backbone']})")
    columns = ("lang", "script", *(["group"] if grouped else []), "prompt", "n", "acc", "F1",
               *(["src acc", "gain"] if compared else []), f"gap {report.source}", *(["train s"] if timed else []))  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("lang", "script", "group", "prompt") else "right")
    for r in report.results:
        extra = [pct(r.source_scores and r.source_scores.accuracy), signed(r.gain)] if compared else []
        gap = None if english is None else english - r.scores.accuracy
        group = [report.groups.group(r.language) or "-"] if grouped else []
        table.add_row(
            describe(r.language), script_of(r.language), *group, r.prompt_kind,
            str(r.scores.examples), pct(r.scores.accuracy), pct(r.scores.macro_f1), *extra, pct(gap),
            *([f"{r.train_seconds:.0f}" if r.train_seconds is not None else "-"] if timed else []),
        )
    blank = [""] * (columns.index("acc") - 1)  # between a summary row's label and its accuracy
    table.add_section()
    for label, targets in (("average", False), ("targets", True)):
        extra = [pct(report.average(targets, source_prompt=True)), signed(_diff(report, targets))] if compared else []
        table.add_row(label, *blank, pct(report.average(targets)), "", *extra, "", *timed)
    if grouped:
        table.add_section()
        source_means = report.group_means(source_prompt=True)
        for group, stats in report.group_means().items():
            source = source_means[group]["mean"]
            extra = [pct(source), signed(stats["mean"] - source)] if compared else []
            table.add_row(f"{report.groups.name}: {group}", *blank[:-1], str(stats["languages"]), pct(stats["mean"]), "",
                          *extra, "", *timed)  # fmt: skip
    return table


def _diff(report: EvalReport, targets: bool) -> float | None:
    translated, source = report.average(targets), report.average(targets, source_prompt=True)
    return None if translated is None or source is None else translated - source
