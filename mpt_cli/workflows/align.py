"""``mpt align`` and ``mpt translate``: train prompt translators, and apply them to the source prompt."""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..artifacts import (
    PromptArtifact,
    TranslatorArtifact,
    TranslatorInfo,
    provenance,
    tensor_sha256,
)
from ..data import load_nli, select
from ..outputs import check_writable
from ..data.parallel import DEFAULT_PARALLEL, load_parallel
from ..engine.align import AlignConfig, ParallelSet, train_translator
from ..engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from ..engine.train import LabelledSet
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError, require_positive, require_seed, unset_is_one
from .progress import Callbacks
from .prompts import load_backbone_for, open_source_prompt, score_prompt, source_prompt_path, template_and_labels, translated_info


@dataclass(frozen=True)
class AlignOptions:
    targets: tuple[str, ...]
    source: str = "en"
    prompts_dir: Path = Path("prompts")
    model: str | None = None  # default: the backbone recorded in the source prompt
    data: str | None = None  # few-shot (CE) data and default dev data; default: the source prompt's
    dev_data: str | None = None  # default: the validation split of ``data``, where it has the language
    parallel: str = DEFAULT_PARALLEL
    max_pairs: int | None = 8000
    heldout: int = 200
    width: int | None = None
    residual: bool = False
    init: str = "identity"
    align: AlignConfig = field(default_factory=AlignConfig)
    seed: int = 1
    max_dev_examples: int | None = None
    score_dev: bool = True  # score source and translated prompts on target dev data after training
    overwrite: bool = False
    cpu: bool = False

    def __post_init__(self):
        limits = {"max_pairs": unset_is_one(self.max_pairs), "max_dev_examples": unset_is_one(self.max_dev_examples)}
        require_positive(heldout=self.heldout, **limits)
        require_seed(self.seed)


@dataclass
class LanguageAlignment:
    target: str
    translator: Path
    pairs: int
    heldout_pairs: int
    steps: int
    heldout_kl_before: float
    heldout_kl_after: float
    dev_examples: int | None
    dev_accuracy_source: float | None
    dev_accuracy_translated: float | None
    seconds: float


def translator_path(prompts_dir: Path, source: str, target: str) -> Path:
    return Path(prompts_dir) / "translators" / f"{source}-{target}.safetensors"


def _check_targets(options: AlignOptions) -> None:
    if options.source in options.targets:
        raise MptError(f"{options.source} is the source language; choose other target languages")


def align(options: AlignOptions, callbacks: Callbacks | None = None) -> list[LanguageAlignment]:
    """Train one translator per target language and save it; report held-out KL and dev accuracy."""
    callbacks = callbacks or Callbacks()
    _check_targets(options)
    source_path, source = open_source_prompt(options.prompts_dir, options.source)
    outputs = {t: translator_path(options.prompts_dir, options.source, t) for t in options.targets}
    for path in outputs.values():
        check_writable(path, options.overwrite)
    TranslatorConfig(source.info.hidden_size, options.width, options.residual, options.init)  # validate early
    corpora = {}  # every corpus is read before any training, so a bad one fails the run before it writes anything
    for target in options.targets:
        callbacks.on_stage(f"{options.source}->{target}: reading parallel data from {options.parallel}")
        corpora[target] = load_parallel(options.parallel, options.source, target, options.max_pairs, options.seed)

    callbacks.on_stage(f"loading the backbone of {source_path}")
    backbone = load_backbone_for(source, source_path, options.model, options.cpu)
    template, label_ids = template_and_labels(source, backbone)
    data = options.data or source.info.data
    few_shot = None
    if not options.align.freeze_source:
        manifest = source.info.split_manifest
        examples = select(load_nli(data, options.source, "train"), tuple(manifest["train_ids"]))
        encoded = template.encode([e.premise for e in examples], [e.hypothesis for e in examples])
        few_shot = LabelledSet(encoded, [e.label for e in examples])

    results = []
    for target in options.targets:
        started = time.perf_counter()
        corpus = corpora[target]
        train_pairs, heldout_pairs = split_heldout(corpus.pairs, options.heldout, options.seed)
        encode = lambda pairs, side: template.encode(  # noqa: E731
            [getattr(p, side)[0] for p in pairs], [getattr(p, side)[1] for p in pairs]
        )
        train_set = ParallelSet(encode(train_pairs, "source"), encode(train_pairs, "target"))
        heldout_set = ParallelSet(encode(heldout_pairs, "source"), encode(heldout_pairs, "target"))

        torch.manual_seed(options.seed)
        translator = PromptTranslator(TranslatorConfig(backbone.hidden_size, options.width, options.residual, options.init))
        source_side = _source_side(source, options.align.freeze_source)
        steps_per_epoch = -(-len(train_pairs) // options.align.batch_size)
        callbacks.on_stage(f"{options.source}->{target}: aligning on {len(train_pairs)} pairs, {len(heldout_pairs)} held out")
        callbacks.on_start(options.align.epochs * steps_per_epoch)
        outcome = train_translator(
            backbone, translator, source_side, train_set, heldout_set, few_shot, label_ids, options.align, options.seed,
            callbacks.on_step,
        )  # fmt: skip
        with torch.no_grad():
            adapted_source = source_side() if isinstance(source_side, PromptEncoder) else source_side
            translated = translator(adapted_source.to(backbone.device)).cpu()

        dev = _dev_scores(options, data, target, backbone, template, label_ids, source.prompt, translated, callbacks)
        info = TranslatorInfo(
            source_language=options.source,
            target_language=target,
            architecture=asdict(translator.config),
            backbone=source.info.backbone,
            backbone_fingerprint=source.info.backbone_fingerprint,
            source_prompt_sha256=tensor_sha256(source.prompt),
            alignment=asdict(options.align),
            corpus=corpus.name,
            corpus_sha256=corpus.sha256,
            pairs=len(train_pairs),
            heldout_pairs=len(heldout_pairs),
            steps=outcome.steps,
            heldout_kl_before=outcome.heldout_kl_before,
            heldout_kl_after=outcome.heldout_kl_after,
            seed=options.seed,
            dev=dev,
            **provenance(),
        )
        weights = {k: v.cpu() for k, v in translator.state_dict().items()}
        TranslatorArtifact(weights, adapted_source.detach().cpu(), info).save(outputs[target], options.overwrite)
        results.append(
            LanguageAlignment(
                target, outputs[target], len(train_pairs), len(heldout_pairs), outcome.steps, outcome.heldout_kl_before,
                outcome.heldout_kl_after, dev.get("examples"), dev.get("source_accuracy"), dev.get("translated_accuracy"),
                time.perf_counter() - started,
            )
        )  # fmt: skip
    return results


def split_heldout(pairs: list, heldout: int, seed: int) -> tuple[list, list]:
    """A seeded held-out slice: ``heldout`` pairs, at most a fifth of the corpus, at least one."""
    count = max(1, min(heldout, len(pairs) // 5))
    if len(pairs) - count < 1:
        raise MptError(f"the parallel corpus has only {len(pairs)} pairs; alignment needs at least 2")
    order = list(range(len(pairs)))
    random.Random(f"mpt-heldout-{seed}").shuffle(order)
    held = set(order[:count])
    return [p for i, p in enumerate(pairs) if i not in held], [p for i, p in enumerate(pairs) if i in held]


def _source_side(source: PromptArtifact, freeze: bool) -> PromptEncoder | torch.Tensor:
    """The fixed source prompt, or its encoder (restored from the artifact) when it keeps learning."""
    if freeze:
        return source.prompt
    if not source.encoder_state:
        raise MptError("the source prompt has no encoder weights, so it cannot keep learning; use --freeze-source")
    encoder = PromptEncoder(PromptEncoderConfig(**source.info.prompt_encoder))
    encoder.load_state_dict(source.encoder_state)
    return encoder


def _dev_scores(options, data, target, backbone, template, label_ids, source_prompt, translated, callbacks) -> dict:
    """Dev accuracy of the source and the translated prompt on the target language, when dev data exists."""
    if not options.score_dev:
        return {}
    dev_data = options.dev_data or data
    try:
        examples = load_nli(dev_data, target, "validation")
    except MptError as exc:
        if options.dev_data:  # asked for explicitly: its problems are the user's to see
            raise
        callbacks.on_stage(f"no {target} dev data in {dev_data} ({exc}); skipping dev accuracy")
        return {}
    examples = examples[: options.max_dev_examples] if options.max_dev_examples else examples
    callbacks.on_stage(f"{options.source}->{target}: scoring {len(examples)} dev examples with both prompts")
    source_scores, _ = score_prompt(backbone, template, label_ids, source_prompt, examples)
    translated_scores, _ = score_prompt(backbone, template, label_ids, translated, examples)
    return {
        "data": dev_data,
        "examples": len(examples),
        "source_accuracy": source_scores.accuracy,
        "translated_accuracy": translated_scores.accuracy,
    }


@dataclass
class TranslatedPrompt:
    target: str
    path: Path
    translator: Path
    alignment: LanguageAlignment | None  # when its translator was trained by this call


def existing_translators(prompts_dir: Path, source: str) -> list[str]:
    folder = Path(prompts_dir) / "translators"
    return sorted(p.name[len(source) + 1 : -len(".safetensors")] for p in folder.glob(f"{source}-*.safetensors"))


def translate(options: AlignOptions, callbacks: Callbacks | None = None) -> list[TranslatedPrompt]:
    """Write ``{target}.safetensors`` for every target, training the missing translators first."""
    callbacks = callbacks or Callbacks()
    _check_targets(options)
    source_path, source = open_source_prompt(options.prompts_dir, options.source)
    outputs = {t: source_prompt_path(options.prompts_dir, t) for t in options.targets}
    for path in outputs.values():
        check_writable(path, options.overwrite)
    missing = [t for t in options.targets if not translator_path(options.prompts_dir, options.source, t).is_file()]
    aligned = {}
    if missing:
        callbacks.on_stage(f"no translator yet for {', '.join(missing)}: running the alignment first")
        aligned = {r.target: r for r in align(replace(options, targets=tuple(missing)), callbacks)}
    source_hash = tensor_sha256(source.prompt)
    written = []
    for target in options.targets:
        path = translator_path(options.prompts_dir, options.source, target)
        artifact = TranslatorArtifact.load(path)
        if artifact.info.source_prompt_sha256 != source_hash:
            raise MptError(
                f"{path} was trained for another {options.source} prompt ({source_path} changed since); "
                f"run `mpt align --to {target} --overwrite`"
            )
        translator = PromptTranslator(TranslatorConfig(**artifact.info.architecture))
        translator.load_state_dict(artifact.weights)
        with torch.no_grad():
            prompt = translator(artifact.source_prompt)
        info = translated_info(source, target, path.relative_to(options.prompts_dir), artifact.info.dev.get("translated_accuracy"))
        PromptArtifact(prompt, info, lora_state=source.lora_state).save(outputs[target], options.overwrite)
        written.append(TranslatedPrompt(target, outputs[target], path, aligned.get(target)))
    return written
