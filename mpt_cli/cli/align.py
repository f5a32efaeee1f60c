"""``mpt align`` and ``mpt translate``: one set of options, two commands; align shows only those it uses."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..data.parallel import DEFAULT_MAX_PAIRS, DEFAULT_PARALLEL
from ..engine.align import AlignConfig
from ..engine.language_adapter import AdapterConfig
from ..engine.translator import TranslatorConfig
from ..errors import MptError
from ..languages import describe, language_name
from ..workflows.align import align
from ..workflows.align_options import AlignOptions, TranslateMethod
from ..workflows.translate import DEFAULT_METHOD, Outcome, translate
from .common import (
    PARALLEL_HELP,
    TARGETS_HELP,
    TASK_CHECK_HELP,
    PromptsModelOption,
    config_help,
    console,
    handle_errors,
    log_epoch,
    print_json,
    progress_callbacks,
    quiet_libraries,
)

_defaults = AlignConfig()
_adapter = AdapterConfig()
TRANSLATE_ONLY = (
    "method", "translator", "adapter_rank", "adapter_modules", "adapter_lr", "mlm_weight", "mlm_probability", "mlm_batch_size",
    "text",
)
"""Options of the adapter method: align trains prompt translators only, so it leaves them at their defaults."""


def _make_command(translating: bool):
    def command(
        to: Annotated[str, typer.Option("--to", help=TARGETS_HELP)],
        source: Annotated[str, typer.Option(help="Source language of the trained prompt.")] = AlignOptions.source,
        prompts_dir: Annotated[Path, typer.Option(help="Folder of prompt artifacts.")] = AlignOptions.prompts_dir,
        model: PromptsModelOption = None,
        task: Annotated[str | None, typer.Option(help=TASK_CHECK_HELP)] = None,
        data: Annotated[
            str | None, typer.Option(help="Data of the source prompt's few-shot draw and default dev data [default: its].")
        ] = None,
        dev_data: Annotated[
            str | None, typer.Option(help="Target-language dev data [default: --data's validation split].")
        ] = None,
        parallel: Annotated[str, typer.Option(help=PARALLEL_HELP)] = DEFAULT_PARALLEL,
        max_pairs: Annotated[int, typer.Option(help="Use at most this many parallel pairs per language.")] = DEFAULT_MAX_PAIRS,
        heldout: Annotated[int, typer.Option(help="Pairs held out to report the KL before and after.")] = AlignOptions.heldout,
        alpha: Annotated[float, typer.Option(help="Weight of the CE term (only with --train-source).")] = _defaults.alpha,
        kl: Annotated[str, typer.Option(help=config_help(AlignConfig, "kl_direction"))] = _defaults.kl_direction,
        kl_space: Annotated[str, typer.Option(help=config_help(AlignConfig, "kl_space"))] = _defaults.kl_space,
        freeze_source: Annotated[
            bool, typer.Option("--freeze-source/--train-source", help="Keep the source prompt fixed, or let it learn too.")
        ] = _defaults.freeze_source,
        epochs: Annotated[int, typer.Option(help=config_help(AlignConfig, "epochs"))] = _defaults.epochs,
        batch_size: Annotated[int, typer.Option(help=config_help(AlignConfig, "batch_size"))] = _defaults.batch_size,
        lr: Annotated[float, typer.Option(help=config_help(AlignConfig, "lr"))] = _defaults.lr,
        group_by_length: Annotated[
            bool, typer.Option(help=config_help(AlignConfig, "group_by_length"))
        ] = _defaults.group_by_length,
        translator_width: Annotated[int | None, typer.Option(help=config_help(TranslatorConfig, "width"))] = AlignOptions.width,
        residual: Annotated[bool, typer.Option(help=config_help(TranslatorConfig, "residual"))] = AlignOptions.residual,
        translator_init: Annotated[str, typer.Option(help=config_help(TranslatorConfig, "init"))] = AlignOptions.init,
        method: Annotated[
            str | None,
            typer.Option(help=f"{TranslateMethod.options()}: a translated prompt only (two-stage MPT), or with an adapter "
                         f"of the language's own, distilled from the source run [default: {DEFAULT_METHOD}]."),
        ] = None,
        translator: Annotated[
            bool, typer.Option(help="Learn a translator, or keep p_T = p_S and let the adapter alone learn (adapter method).")
        ] = AlignOptions.translator,
        adapter_rank: Annotated[int, typer.Option(help=config_help(AdapterConfig, "rank"))] = _adapter.rank,
        adapter_modules: Annotated[
            str, typer.Option(help=config_help(AdapterConfig, "modules"))
        ] = ",".join(_adapter.modules),
        adapter_lr: Annotated[float, typer.Option(help=config_help(AlignConfig, "adapter_lr"))] = _defaults.adapter_lr,
        mlm_weight: Annotated[float, typer.Option(help=config_help(AlignConfig, "mlm_weight"))] = _defaults.mlm_weight,
        mlm_probability: Annotated[
            float, typer.Option(help=config_help(AlignConfig, "mlm_probability"))
        ] = _defaults.mlm_probability,
        mlm_batch_size: Annotated[int, typer.Option(help=config_help(AlignConfig, "mlm_batch_size"))] = _defaults.mlm_batch_size,
        text: Annotated[
            str | None,
            typer.Option(help="The target language's own sentences for the masked-LM term, one a line: a file (one "
                         "language), or a folder of {lang}.txt files [default: the pairs' target side alone]."),
        ] = None,
        seed: Annotated[int, typer.Option(help="Seed for pair sampling, held-out split and shuffling.")] = AlignOptions.seed,
        max_dev_examples: Annotated[int | None, typer.Option(help="Score at most this many dev examples.")] = None,
        overwrite: Annotated[bool, typer.Option(help="Replace existing artifacts.")] = False,
        cpu: Annotated[bool, typer.Option(help="Run on the CPU even when a GPU is present.")] = False,
        json_output: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")] = False,
    ):
        quiet_libraries()
        options = AlignOptions(
            targets=to, source=source, prompts_dir=prompts_dir, model=model, task=task,
            data=data, dev_data=dev_data, parallel=parallel, max_pairs=max_pairs, heldout=heldout, width=translator_width,
            residual=residual, init=translator_init, seed=seed, max_dev_examples=max_dev_examples, overwrite=overwrite,
            cpu=cpu, method=method, translator=translator, adapter=AdapterConfig(rank=adapter_rank, modules=adapter_modules),
            align=AlignConfig(
                alpha=alpha, kl_direction=kl, kl_space=kl_space, freeze_source=freeze_source, epochs=epochs,
                batch_size=batch_size, lr=lr, adapter_lr=adapter_lr, group_by_length=group_by_length, mlm_weight=mlm_weight,
                mlm_probability=mlm_probability, mlm_batch_size=mlm_batch_size,
            ),
            text=text,
        )  # fmt: skip
        with progress_callbacks("aligning", log_epoch) as callbacks:
            if translating:
                written = translate(options, callbacks)
            else:
                aligned = align(options, callbacks)
        if translating:
            _report_translated(written, json_output)
        else:
            _report_aligned(aligned, json_output)

    if not translating:  # Typer reads the signature: without these parameters align has no such options
        signature = inspect.signature(command, eval_str=True)  # Typer takes a given signature as it is
        kept = [parameter for name, parameter in signature.parameters.items() if name not in TRANSLATE_ONLY]
        command.__signature__ = signature.replace(parameters=kept)
    command.__doc__ = (
        "Write translated prompts {lang}.safetensors, skipping languages an earlier run finished (same options as align)."
        if translating
        else "Train one prompt translator per target language on parallel data (alpha*CE + (1-alpha)*KL)."
    )
    return handle_errors(command)


def _alignment_row(result) -> dict:
    estimated = result.estimated_seconds and round(result.estimated_seconds, 3)
    rounded = {"seconds": round(result.seconds, 1), "estimated_seconds": estimated}
    return result.__dict__ | {"translator": str(result.translator)} | rounded


def _report_aligned(results, json_output: bool) -> None:
    if json_output:
        print_json([_alignment_row(r) for r in results])
    _alignment_table(results)


_pct = lambda x: "-" if x is None else f"{x:.1%}"


def _alignment_table(results) -> None:
    table = Table(title="align")
    for column in ("language", "pairs", "held-out KL before", "after", "dev n", "dev acc source", "dev acc translated"):
        table.add_column(column, justify="left" if column == "language" else "right")
    for r in results:
        table.add_row(
            r.target, str(r.pairs), f"{r.heldout_kl_before:.4f}", f"{r.heldout_kl_after:.4f}", str(r.dev_examples or "-"),
            _pct(r.dev_accuracy_source), _pct(r.dev_accuracy_translated),
        )  # fmt: skip
    console.print(table)
    for warning in (w for r in results if (w := r.behind_source())):
        console.print(f"warning: {warning}", style="yellow", soft_wrap=True, highlight=False)


def _report_translated(results, json_output: bool) -> None:
    """One row per language asked for, written, skipped or failed; a failed one ends the command with an error
    after the others are reported."""
    if json_output:
        print_json([
            {"language": r.target, "name": language_name(r.target), "outcome": r.outcome, "prompt": r.path and str(r.path),
             "translator": r.translator and str(r.translator), "alignment": r.alignment and _alignment_row(r.alignment),
             "tokenizer": r.fit and r.fit.to_json(), "warning": r.warning, "behind_source": r.behind_source,
             "error": r.error}
            for r in results
        ])  # fmt: skip
    table = Table(title="translate")
    columns = ("language", "outcome", "unknown pieces", "pieces vs source", "held-out KL before", "after", "dev acc source",
               "dev acc translated")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("language", "outcome") else "right")
    table.add_column("prompt (or why it failed)", overflow="fold")
    for r in results:
        a = r.alignment
        kl = ("-", "-") if a is None else (f"{a.heldout_kl_before:.4f}", f"{a.heldout_kl_after:.4f}")
        dev = ("-", "-") if a is None else (_pct(a.dev_accuracy_source), _pct(a.dev_accuracy_translated))
        note = r.error or str(r.path)
        if r.outcome == Outcome.WRITTEN and r.translator is None:
            note += " (no translator: p_T = p_S)"
        ratio = r.fit and r.fit.pieces_ratio
        reach = ("-" if r.fit is None else _pct(r.fit.unknown_share), "-" if ratio is None else f"{ratio:.2f}x")
        table.add_row(describe(r.target), str(r.outcome), *reach, *kl, *dev, note)
    console.print(table)
    for warning in (w for r in results for w in (r.warning, r.behind_source) if w):
        console.print(f"warning: {warning}", style="yellow", soft_wrap=True, highlight=False)
    if failed := [r.target for r in results if r.outcome == Outcome.FAILED]:
        raise MptError(
            f"{len(failed)} of {len(results)} languages failed ({', '.join(failed)}); the others are kept, "
            "and running the command again goes on with the failed ones"
        )


align_command = _make_command(translating=False)
translate_command = _make_command(translating=True)
