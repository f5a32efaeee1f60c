"""``mpt export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..store import DEFAULT_PROMPTS_DIR
from ..workflows.export import ExportOptions, export
from .common import handle_errors, print_json


@handle_errors
def export_command(
    lang: Annotated[str, typer.Option(help="Language whose prompt to export (the source language too).")],
    output: Annotated[Path, typer.Option(help="New folder for the exported files (docs/export.md).")],
    prompts_dir: Annotated[Path, typer.Option(help="Folder of prompt artifacts.")] = DEFAULT_PROMPTS_DIR,
    text: Annotated[
        list[str] | None, typer.Option(help="The example the card's Python labels: once per task input, in order.")
    ] = None,
    copy_backbone: Annotated[
        bool, typer.Option(help="--tune full: copy the tuned backbone into the folder instead of pointing to it.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --output folder that mpt wrote.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print what was written as JSON on stdout.")] = False,
):
    """Write a language's prompt as files transformers and PEFT load without mpt, with a model card."""
    result = export(ExportOptions(lang, output, prompts_dir, tuple(text or ()), copy_backbone, overwrite))
    if json_output:
        print_json({"output": str(result.output), "base_model": result.base_model,
                    "adapter_layers": result.adapter_layers, "files": result.files})  # fmt: skip
        return
    adapter = f"a PEFT LoRA on {result.adapter_layers} layers" if result.adapter_layers else "no adapter"
    typer.echo(f"wrote {result.output}: {', '.join(result.files)} ({adapter}; base model {result.base_model})")
