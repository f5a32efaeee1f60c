"""``mpt joint``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..data.parallel import DEFAULT_PARALLEL
from ..engine.joint import JointConfig, JointStart
from ..engine.train import TrainConfig
from ..engine.translator import TranslatorConfig
from ..workflows.joint import JointOptions, joint
from .common import (
    PARALLEL_HELP,
    TARGETS_HELP,
    TASK_CHECK_HELP,
    DecayToStartOption,
    MixupOption,
    PromptsModelOption,
    SelectOption,
    config_help,
    console,
    handle_errors,
    log_epoch,
    print_json,
    progress_callbacks,
    quiet_libraries,
)

_joint, _train = JointConfig(), TrainConfig()


@handle_errors
def joint_command(
    to: Annotated[str, typer.Option("--to", help=TARGETS_HELP)],
    output: Annotated[Path, typer.Option(help="New prompt folder for the joint run.")] = JointOptions.output,
    source: Annotated[str, typer.Option(help="Source language of the trained prompt.")] = JointOptions.source,
    prompts_dir: Annotated[
        Path, typer.Option(help="The source run: few-shot draw, settings, starting point.")
    ] = JointOptions.prompts_dir,
    model: PromptsModelOption = None,
    task: Annotated[str | None, typer.Option(help=TASK_CHECK_HELP)] = None,
    data: Annotated[str | None, typer.Option(help="Data of the few-shot draw [default: the source prompt's].")] = None,
    parallel: Annotated[str, typer.Option(help=PARALLEL_HELP)] = DEFAULT_PARALLEL,
    max_pairs: Annotated[int, typer.Option(help="Parallel pairs per language.")] = JointOptions.max_pairs,
    heldout: Annotated[
        int, typer.Option(help="Pairs per language held out to report the KL before and after.")
    ] = JointOptions.heldout,
    alpha: Annotated[float, typer.Option(help=config_help(JointConfig, "alpha"))] = _joint.alpha,
    kl: Annotated[str, typer.Option(help=config_help(JointConfig, "kl_direction"))] = _joint.kl_direction,
    kl_space: Annotated[str, typer.Option(help=config_help(JointConfig, "kl_space"))] = _joint.kl_space,
    pairs_per_step: Annotated[int, typer.Option(help=config_help(JointConfig, "pairs_per_step"))] = _joint.pairs_per_step,
    translator_lr: Annotated[float, typer.Option(help=config_help(JointConfig, "translator_lr"))] = _joint.translator_lr,
    translator: Annotated[
        bool, typer.Option("--translator/--no-translator", help=config_help(JointConfig, "translate"))
    ] = _joint.translate,
    translator_width: Annotated[int | None, typer.Option(help=config_help(TranslatorConfig, "width"))] = JointOptions.width,
    translator_init: Annotated[str, typer.Option(help=config_help(TranslatorConfig, "init"))] = JointOptions.init,
    start: Annotated[str, typer.Option(help=f"{JointStart.options()}: {config_help(JointConfig, 'start')}.")] = _joint.start,
    epochs: Annotated[int, typer.Option(help=config_help(JointConfig, "epochs"))] = _joint.epochs,
    prompt_lr: Annotated[float, typer.Option(help=config_help(TrainConfig, "prompt_lr"))] = _train.prompt_lr,
    backbone_lr: Annotated[float | None, typer.Option(help=config_help(TrainConfig, "backbone_lr"))] = _train.backbone_lr,
    select: SelectOption = _train.select.value,
    mixup: MixupOption = _train.mixup,
    decay_to_start: DecayToStartOption = _train.decay_to_start,
    overwrite: Annotated[bool, typer.Option(help="Replace an --output folder written by an earlier joint run.")] = False,
    cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
):
    """Train the source prompt, one translator per target language and the tuned backbone together
    (alpha*CE + (1-alpha)*KL) into a new prompt folder."""
    quiet_libraries()
    options = JointOptions(
        targets=to, output=output, source=source, prompts_dir=prompts_dir, model=model, task=task,
        data=data,
        parallel=parallel,
        max_pairs=max_pairs, heldout=heldout, width=translator_width, init=translator_init, overwrite=overwrite, cpu=cpu,
        joint=JointConfig(
            alpha=alpha, kl_direction=kl, kl_space=kl_space, pairs_per_step=pairs_per_step, translator_lr=translator_lr,
            start=start, translate=translator, epochs=epochs,
        ),
        train=TrainConfig(
            prompt_lr=prompt_lr, backbone_lr=backbone_lr, select=select, mixup=mixup, decay_to_start=decay_to_start
        ),
    )  # fmt: skip
    with progress_callbacks("joint training", log_epoch) as callbacks:
        run = joint(options, callbacks)
    if json_output:
        print_json({
            "output": str(run.output), "best_epoch": run.result.best_epoch, "dev_accuracy": run.result.dev_score,
            "seconds": round(run.seconds, 1), "languages": [language.__dict__ for language in run.languages],
        })  # fmt: skip
    kept = f"epoch kept {run.result.best_epoch}, {options.source} dev {run.result.dev_score:.1%}"
    table = Table(title=f"joint run: {run.output} ({kept})")
    for column in ("language", "pairs", "held-out KL before", "after"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for language in run.languages:
        table.add_row(
            language.target, str(language.pairs), f"{language.heldout_kl_before:.4f}", f"{language.heldout_kl_after:.4f}"
        )
    console.print(table)
