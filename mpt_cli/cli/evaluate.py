"""``mpt eval``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..languages import describe
from ..workflows.evaluate import EvalOptions, EvalReport, evaluate
from .common import (
    DATA_HELP,
    LANGS_HELP,
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
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --output folder.")] = False,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    int8: Int8Option = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print results.json on stdout.")] = False,
):
    """Accuracy and macro-F1 per language, with the translated prompt where there is one."""
    quiet_libraries()
    options = EvalOptions(
        languages=langs, source=source, prompts_dir=prompts_dir, model=model,
        task=task, data=data, split=split, compare=compare, max_examples=max_examples, batch_size=batch_size, output=output,
        overwrite=overwrite, cpu=cpu, int8=int8,
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


def _table(report: EvalReport) -> Table:
    pct = lambda x: "-" if x is None else f"{100 * x:.1f}"
    signed = lambda x: "-" if x is None else f"{100 * x:+.1f}"
    english = next((r.scores.accuracy for r in report.results if r.language == report.source), None)
    compared = any(r.source_scores for r in report.results)
    table = Table(title=f"{report.run['split']} accuracy ({report.run['backbone']})")
    for column in ("lang", "prompt", "n", "acc", "F1", *(["src acc", "gain"] if compared else []), f"gap {report.source}"):
        table.add_column(column, justify="left" if column in ("lang", "prompt") else "right")
    for r in report.results:
        extra = [pct(r.source_scores and r.source_scores.accuracy), signed(r.gain)] if compared else []
        gap = None if english is None else english - r.scores.accuracy
        table.add_row(
            describe(r.language), r.prompt_kind,
            str(r.scores.examples), pct(r.scores.accuracy), pct(r.scores.macro_f1), *extra, pct(gap)
        )
    table.add_section()
    for label, targets in (("average", False), ("targets", True)):
        extra = [pct(report.average(targets, source_prompt=True)), signed(_diff(report, targets))] if compared else []
        table.add_row(label, "", "", pct(report.average(targets)), "", *extra, "")
    return table


def _diff(report: EvalReport, targets: bool) -> float | None:
    translated, source = report.average(targets), report.average(targets, source_prompt=True)
    return None if translated is None or source is None else translated - source
