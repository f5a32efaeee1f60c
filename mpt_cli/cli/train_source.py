"""``mpt train-source``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..engine.backbone import DEFAULT_MODEL, Tune
from ..engine.prompt_encoder import PromptEncoderConfig
from ..engine.train import TrainConfig
from ..workflows.train_source import DEFAULT_TUNE, SourceOptions, train_source
from .common import (
    DATA_HELP,
    DEV_SHOTS_HELP,
    TASK_HELP,
    VERBALIZER_HELP,
    DecayToStartOption,
    MixupOption,
    SelectOption,
    config_help,
    console,
    handle_errors,
    log_epoch,
    print_json,
    progress_callbacks,
    quiet_libraries,
)

_train = TrainConfig()


@handle_errors
def train_source_command(
    shots: Annotated[
        str, typer.Option(help="Training examples per class, or 'all': every training example, classes as they come.")
    ] = str(SourceOptions.shots),
    lang: Annotated[str, typer.Option(help="Source language.")] = SourceOptions.lang,
    model: Annotated[str, typer.Option(help="Hub id or local directory of a masked LM with its tokenizer.")] = DEFAULT_MODEL,
    task: Annotated[str, typer.Option(help=TASK_HELP)] = SourceOptions.task,
    data: Annotated[str | None, typer.Option(help=DATA_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Seed for sampling, initialisation and shuffling.")] = SourceOptions.seed,
    dev_shots: Annotated[str | None, typer.Option(help=DEV_SHOTS_HELP.format("--shots"))] = None,
    prompts_dir: Annotated[Path, typer.Option(help="Folder for prompt artifacts.")] = SourceOptions.prompts_dir,
    tune: Annotated[str, typer.Option(help=f"What learns with the prompt: {Tune.options()}.")] = DEFAULT_TUNE.value,
    template: Annotated[
        str | None, typer.Option(help="Cloze template: the task's inputs ({premise} {hypothesis}, {text}, ...), {soft} and "
                                 "{mask}, each once [default: the task's].")
    ] = None,
    verbalizer: Annotated[str | None, typer.Option(help=VERBALIZER_HELP)] = None,
    prompt_length: Annotated[
        int, typer.Option(help=config_help(PromptEncoderConfig, "prompt_length"))
    ] = SourceOptions.prompt_length,
    encoder: Annotated[str, typer.Option(help=config_help(PromptEncoderConfig, "kind"))] = SourceOptions.encoder,
    epochs: Annotated[int, typer.Option(help="Training epochs; --select says which weights are kept.")] = _train.epochs,
    batch_size: Annotated[int, typer.Option(help=config_help(TrainConfig, "batch_size"))] = _train.batch_size,
    prompt_lr: Annotated[float, typer.Option(help=config_help(TrainConfig, "prompt_lr"))] = _train.prompt_lr,
    backbone_lr: Annotated[float | None, typer.Option(help=config_help(TrainConfig, "backbone_lr"))] = _train.backbone_lr,
    select: SelectOption = _train.select.value,
    mixup: MixupOption = _train.mixup,
    decay_to_start: DecayToStartOption = _train.decay_to_start,
    lora_rank: Annotated[int, typer.Option(help="LoRA rank (with --tune lora).")] = SourceOptions.lora_rank,
    max_length: Annotated[
        int, typer.Option(help="Maximum tokens per example; only the texts are truncated.")
    ] = SourceOptions.max_length,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing artifact.")] = False,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
):
    """Learn a soft prompt for a task (NLI by default) in the source language from K examples per class."""
    quiet_libraries()
    train = TrainConfig(
        epochs=epochs, batch_size=batch_size, prompt_lr=prompt_lr, backbone_lr=backbone_lr, select=select, mixup=mixup,
        decay_to_start=decay_to_start,
    )
    options = SourceOptions(
        shots=shots, dev_shots=dev_shots, lang=lang, model=model, task=task, data=data, seed=seed, prompts_dir=prompts_dir,
        template=template, verbalizer=verbalizer, prompt_length=prompt_length, encoder=encoder, tune=tune,
        lora_rank=lora_rank, max_length=max_length, train=train, overwrite=overwrite, cpu=cpu,
    )  # fmt: skip
    with progress_callbacks("training", log_epoch) as callbacks:
        run = train_source(options, callbacks)
    info = run.info
    summary = {
        "artifact": str(run.path),
        "language": info.language,
        "task": options.task.name,
        "backbone": info.backbone,
        "tune": info.tune,
        "shots": info.shots,
        "seed": info.seed,
        "best_epoch": run.result.best_epoch,
        "train_loss": run.result.train_loss,
        "dev_accuracy": run.result.dev_score,
        "dev_examples": info.training["dev_examples"],
        "tuned_backbone": info.tuned_backbone,
        "seconds": round(run.seconds, 1),
        "history": [r.__dict__ for r in run.result.history],
    }
    if json_output:
        print_json(summary)
    table = Table(title="train-source", show_header=False)
    for key in (
        "artifact", "language", "task", "backbone", "tune", "shots", "seed", "best_epoch", "train_loss", "dev_accuracy", "seconds"
    ):
        value = summary[key]
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
