"""``mpt inspect``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..outputs import human_size
from ..store import DEFAULT_PROMPTS_DIR
from ..workflows.inspect import inspect
from .common import handle_errors, print_json


@handle_errors
def inspect_command(
    path: Annotated[Path, typer.Argument(help="A prompt, translator or state file, or a prompts folder.")] = DEFAULT_PROMPTS_DIR,
    json_output: Annotated[bool, typer.Option("--json", help="Print the records as JSON on stdout.")] = False,
):
    """What a file in a prompts folder is: kind, language, backbone, sizes, data, and what it needs."""
    records = inspect(path)
    if json_output:
        print_json(records)
        return
    for record in records:
        typer.echo(_describe(record))


def _reach(tokenizer: dict) -> str:
    """How well the tokenizer reads the language, as translate's table says it."""
    unknown, ratio = tokenizer["unknown_share"], tokenizer["pieces_ratio"]
    said = ["unknown pieces " + ("-" if unknown is None else f"{unknown:.1%}")]
    if ratio is not None:  # a language with text and no pairs has no source side to compare with
        said.append(f"{ratio:.2f}x the source side's pieces")
    return ", ".join(said)


def _describe(record: dict) -> str:
    shape = " x ".join(str(n) for n in record.get("shape", []))
    language = f"{record['language']}, {record['language_name']}" if record.get("language_name") else record["language"]
    head = f"{record['path']}: {record['kind']} ({language}){', ' + shape if shape else ''}, {human_size(record['bytes'])}"
    lines = [head + (" [format of mpt 0.1]" if record.get("format_version") == 1 else "")]
    if "backbone" in record:
        lines.append(f"  backbone: {record['backbone']} (fingerprint {record['backbone_fingerprint'][:12]})"
                     + (f", tune {record['tune']}" if "tune" in record else ""))  # fmt: skip
    if record.get("task"):
        lines.append(f"  task: {record['task']}, label words {', '.join(record['verbalizer'])}")
    if record.get("data"):
        lines.append(f"  data: {record['data']}, {record['shots']} shots, seed {record['seed']}, "
                     f"split sha256 {str(record['split_manifest_sha256'])[:12]}")  # fmt: skip
    if record.get("corpus"):
        before, after = record["heldout_kl"]
        lines.append(f"  corpus: {record['corpus']} ({record['pairs']} pairs), held-out KL {before:.4f} -> {after:.4f}")
    if record.get("dev_accuracy") is not None:
        lines.append(f"  dev accuracy: {record['dev_accuracy']:.1%}")
    if record.get("tokenizer"):
        lines.append(f"  tokenizer: {_reach(record['tokenizer'])}")
    for need in record.get("needs", []):
        state = (
            "missing" if not need["present"]
            else {True: "present, matches", False: "present, DOES NOT MATCH", None: "present"}[need["matches"]]
        )  # fmt: skip
        size = f", {human_size(need['bytes'])}" if need["bytes"] else ""
        lines.append(f"  needs {need['what']}: {need['path']} ({state}{size})")
    return "\n".join(lines)

