"""Seconds per language of ``mpt translate`` with its default method and settings, on ``--translate-pairs``
parallel pairs per language: one run of one language, then of two, and so on up to ``--translate-languages``,
each run from a fresh copy of the same source prompt, so the seconds per language show what languages
sharing one run (one model load, one data read) save.

The inputs are made from ``--data`` (timings only, never accuracy): the source prompt is trained on its
first ``--examples`` rows (8 shots a label, one epoch; not timed), every language's dev data is those
rows, and each corpus pairs its sentences with the same sentences in another order (English on both
sides, so no corpus is needed).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from .common import data_rows, load

NAME = "translate"
TARGETS = ("de", "fr", "es", "ru", "zh", "ar", "hi", "sw", "th", "tr", "ur", "vi", "el", "bg")  # added in this order
SHOTS = 8


def table(args) -> dict:
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.align_options import AlignOptions
    from mpt_cli.workflows.train_source import SourceOptions, train_source
    from mpt_cli.workflows.translate import DEFAULT_METHOD, Outcome, translate

    targets = TARGETS[: args.translate_languages]
    cpu = args.device == "cpu"
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        data = _labelled_data(args, work / "data", targets)
        parallel = _parallel_corpus(args, work / "parallel", targets)
        source = work / "source"
        model = _model_folder(args, work)
        train_source(SourceOptions(shots=SHOTS, model=model, data=data, prompts_dir=source, cpu=cpu, train=TrainConfig(epochs=1)))
        for count in range(1, len(targets) + 1):
            prompts = Path(shutil.copytree(source, work / f"languages-{count}"))
            options = AlignOptions(targets=targets[:count], prompts_dir=prompts, data=data, parallel=parallel, cpu=cpu)
            start = time.perf_counter()
            done = translate(options)
            seconds = time.perf_counter() - start
            failed = [f"{d.target}: {d.error}" for d in done if d.outcome != Outcome.WRITTEN]
            if failed:
                raise RuntimeError(f"translate failed for {'; '.join(failed)}")
            runs.append({"languages": count, "seconds": round(seconds, 2), "seconds_per_language": round(seconds / count, 2)})
    return {"method": str(DEFAULT_METHOD), "pairs_per_language": args.translate_pairs, "runs": runs}


def report(result: dict) -> list[str]:
    head = f"translate ({result['method']}, {result['pairs_per_language']} pairs a language), one run of N languages:"
    return [head, *(f"  {r['languages']:2d} languages {r['seconds']:9.1f} s   {r['seconds_per_language']:8.1f} s per language"
                    for r in result["runs"])]  # fmt: skip


def _labelled_data(args, folder: Path, targets: tuple[str, ...]) -> str:
    """train-en, dev-en and every target's dev file: the first ``--examples`` rows, labels dealt in turn."""
    from mpt_cli.task import BUILT_IN

    labels = BUILT_IN["xnli"].labels
    rows = [(r[0], r[1], labels[i % len(labels)]) for i, r in enumerate(data_rows(args)[: args.examples])]
    if len(rows) < SHOTS * len(labels):
        needed = SHOTS * len(labels)
        raise ValueError(f"the translate section needs --examples {needed} or more (a source prompt of {SHOTS} shots)")
    folder.mkdir()
    text = "".join("\t".join(row) + "\n" for row in rows)
    for name in ("train-en", "dev-en", *(f"dev-{lang}" for lang in targets)):
        (folder / f"{name}.tsv").write_text(text, encoding="utf-8")
    return str(folder)


def _parallel_corpus(args, folder: Path, targets: tuple[str, ...]) -> str:
    """en-{lang}.tsv: ``--translate-pairs`` lines, the sentences of ``--data`` against the same sentences reversed."""
    sentences = [text for row in data_rows(args) for text in row[:2]]
    lines = [f"{sentences[i % len(sentences)]}\t{sentences[-1 - i % len(sentences)]}\n" for i in range(args.translate_pairs)]
    folder.mkdir()
    for lang in targets:
        (folder / f"en-{lang}.tsv").write_text("".join(lines), encoding="utf-8")
    return str(folder)


def _model_folder(args, work: Path) -> str:
    """``--model`` as mpt loads it: the folder itself, or (a config.json, another tokenizer) a saved copy."""
    if not args.model.endswith(".json") and not args.tokenizer:
        return args.model
    backbone = load(args)
    backbone.save_model(work / "model")
    return str(work / "model")
