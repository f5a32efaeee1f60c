"""``mpt predict``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from ..callbacks import Callbacks
from ..data.rows import RowFormat, RowReader
from ..engine.distributed import is_main_process, launched
from ..errors import MptError
from ..outputs import atomic_path, check_writable, local_paths
from ..workflows.predict import PredictOptions, predict
from .common import TASK_CHECK_HELP, Int8Option, PromptsModelOption, console, handle_errors, progress_bar, quiet_libraries

SKIPPED_SHOWN = 10


@handle_errors
def predict_command(
    input_file: Annotated[
        str, typer.Argument(metavar="FILE", help="TSV (the task's texts first, or named in a header) or JSONL; '-' for stdin.")
    ],
    lang: Annotated[str | None, typer.Option(help="Language of every row.")] = None,
    lang_column: Annotated[
        str | None, typer.Option(help="Column (header name, JSON key or 1-based number) with each row's language.")
    ] = None,
    prompts_dir: Annotated[Path, typer.Option(help="Folder of prompt artifacts.")] = PredictOptions.prompts_dir,
    source: Annotated[str, typer.Option(help="Language of the trained source prompt (the fallback).")] = PredictOptions.source,
    model: PromptsModelOption = None,
    task: Annotated[str | None, typer.Option(help=TASK_CHECK_HELP)] = None,
    input_format: Annotated[str | None, typer.Option(help="tsv or jsonl [default: from the file name; stdin: tsv].")] = None,
    output_format: Annotated[
        str | None, typer.Option("--format", help="Output format, tsv or jsonl [default: the input's].")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout (atomically).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --output file.")] = False,
    skip_bad_rows: Annotated[bool, typer.Option(help="Skip malformed rows (and report them) instead of stopping.")] = False,
    chunk_size: Annotated[
        int, typer.Option(help="Rows read and labelled at a time (memory stays flat).")
    ] = PredictOptions.chunk_size,
    batch_size: Annotated[int, typer.Option(help="Rows per forward pass.")] = PredictOptions.batch_size,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    int8: Int8Option = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a summary as JSON on stderr at the end.")] = False,
):
    """Label rows of the task's texts with the prompt of their language; rows keep their order and columns."""
    quiet_libraries()
    options = PredictOptions(
        lang, lang_column, source, prompts_dir, model, task, output_format, chunk_size, batch_size, cpu, int8
    )
    from_name = RowFormat.JSONL if input_file.endswith(".jsonl") else RowFormat.TSV
    fmt = RowFormat.parse(input_format or from_name, "input format")
    inputs = local_paths(input_file if input_file != "-" else None, prompts_dir)
    if output is not None:
        check_writable(output, overwrite, inputs=inputs)
    if input_file == "-":
        if launched():
            raise MptError("launched processes cannot share stdin: give the pairs as a file")
        if sys.stdin is None or sys.stdin.closed:
            raise MptError("stdin is closed: pipe the pairs in, or give a file")
        stream, size, name = sys.stdin.buffer, None, "stdin"
    else:
        path = Path(input_file)
        if not path.is_file():
            raise MptError(f"input file {input_file} does not exist")
        stream, size, name = path.open("rb"), path.stat().st_size, path.name
    reader = RowReader(stream, name, fmt, lang_column, skip_bad_rows)
    with stream, progress_bar() as progress:
        task = progress.add_task("labelling", total=size, visible=size is not None)
        callbacks = Callbacks(on_stage=lambda m: console.log(m), on_advance=lambda done: progress.update(task, completed=done))
        if output is None or not is_main_process():  # launched: the other processes' stdout is /dev/null
            summary = predict(options, reader, _stdout_writer(), callbacks)
        else:
            with atomic_path(output, overwrite, inputs=inputs) as tmp, tmp.open("w", encoding="utf-8") as handle:
                summary = predict(options, reader, handle.write, callbacks)
    for warning in summary.warnings:
        console.print(f"warning: {warning}", style="yellow", soft_wrap=True, highlight=False)
    if summary.skipped:
        console.print(f"skipped {len(summary.skipped)} bad rows:", style="yellow")
        for _, message in summary.skipped[:SKIPPED_SHOWN]:
            console.print(f"  {message}", soft_wrap=True, highlight=False)
    by_language = ", ".join(f"{k} {v}" for k, v in sorted(summary.languages.items()))
    console.print(f"labelled {summary.rows} rows ({by_language})" + (f"; wrote {output}" if output else ""), soft_wrap=True)
    if json_output:
        payload = {
            "rows": summary.rows, "languages": dict(summary.languages), "skipped": summary.skipped, "warnings": summary.warnings,
        }  # fmt: skip
        console.print_json(data=payload)


def _stdout_writer():
    def write(line: str) -> None:
        sys.stdout.write(line)

    return write
