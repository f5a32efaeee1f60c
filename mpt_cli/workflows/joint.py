"""``mpt joint``: the source prompt, the translators and the tuned backbone learn together.

The source run in ``--prompts-dir`` gives the few-shot draw (its split manifest), the template, the
verbalizer and the tune mode, and, with ``start = source``, the starting point. The result is a new,
self-contained prompt folder (``--output``): the jointly trained source prompt, the one backbone or
adapter set every language shares (saved once, recorded in each file), every translator and translated
prompt. It is written beside and renamed into place as a whole, so it never mixes with another run.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ..artifacts import PromptArtifact, TranslatorArtifact, TranslatorInfo
from ..callbacks import Callbacks
from ..data import load_examples, select
from ..data.given import GivenData, GivenPairs
from ..data.parallel import (
    DEFAULT_PARALLEL,
    check_corpus_languages,
    corpus_label,
    load_parallel,
    local_corpus,
    split_heldout,
    target_languages,
)
from ..engine.align import ParallelSet, heldout_kl
from ..engine.backbone import DEFAULT_LORA_RANK, Backbone, Tune
from ..engine.cost import TRAIN_STEP_PASSES, clock, seconds_per_row
from ..engine.distributed import processes
from ..engine.joint import JointConfig, JointLearner, JointStart, MultiParallelSet
from ..engine.loop import LabelledSet, TrainResult, fit
from ..engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from ..engine.train import TrainConfig
from ..engine.translator import PromptTranslator, TranslatorConfig
from ..errors import MptError, require_positive, unset_is_one
from ..fileformat import provenance, tensor_sha256
from ..languages import ALL, DEFAULT_SOURCE, AllLanguages, normalise
from ..outputs import atomic_path, check_writable, local_paths
from ..store import DEFAULT_PROMPTS_DIR, PromptStore


@dataclass(frozen=True)
class JointOptions:
    targets: tuple[str, ...] | AllLanguages = ALL  # codes, normalised here; ALL: every language the corpus pairs with the source
    output: Path = Path("prompts-joint")
    source: str = DEFAULT_SOURCE
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    model: str | None = None  # default: the backbone the source prompt records
    task: str | None = None  # checked against the source prompt's task when given
    data: str | GivenData | None = None  # default: the data the source prompt was trained on
    parallel: str | GivenPairs = DEFAULT_PARALLEL  # or, in Python, pairs by target language (data/given.py)
    # the one owner of the joint run's pair counts, for `mpt joint` and reproduce's joint cells alike
    max_pairs: int | None = 1000
    heldout: int = 100
    width: int | None = None
    init: str = TranslatorConfig.init
    joint: JointConfig = field(default_factory=JointConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # learning rates and batch size; the epochs are ``joint.epochs``
    overwrite: bool = False
    cpu: bool = False

    def __post_init__(self):
        require_positive(heldout=self.heldout, max_pairs=unset_is_one(self.max_pairs))
        object.__setattr__(self, "source", normalise(self.source))
        object.__setattr__(self, "targets", target_languages(self.targets, self.source, self.parallel))


@dataclass
class JointLanguage:
    target: str
    pairs: int
    heldout_pairs: int
    heldout_kl_before: float
    heldout_kl_after: float


@dataclass
class JointRun:
    output: Path
    result: TrainResult
    languages: list[JointLanguage]
    seconds: float


def joint(options: JointOptions, callbacks: Callbacks | None = None) -> JointRun:
    """Train the joint run and write its prompt folder; every check runs before the model loads."""
    callbacks = callbacks or Callbacks()
    started = time.perf_counter()
    inputs = local_paths(options.prompts_dir, options.data, local_corpus(options.parallel))
    check_writable(options.output, options.overwrite, folder=True, inputs=inputs)
    store = PromptStore(options.prompts_dir)
    source = store.open_source(options.source)
    if source.info.tune == Tune.PROMPT:
        raise MptError(f"{store.prompt_path(options.source)} was trained with --tune prompt: nothing but the prompt learns, so "
                       "joint training has nothing to share; train the source prompt with --tune lora or full")  # fmt: skip
    task = store.task_of(source, options.task)
    translator_config = TranslatorConfig(source.info.hidden_size, options.width, False, options.init)
    check_corpus_languages(options.parallel, options.source, options.targets)  # every target's, before reading any
    corpora = {}  # every corpus is read before any training: a bad one fails the run before it writes anything
    for target in options.targets:
        callbacks.on_stage(f"{options.source}->{target}: reading parallel data from {corpus_label(options.parallel)}")
        corpora[target] = load_parallel(options.parallel, options.source, target, task, options.max_pairs, source.info.seed)
    data, manifest = options.data or source.info.data, source.info.split_manifest
    few_shot = select(load_examples(task, data, options.source, "train"), tuple(manifest["train_ids"]))
    dev = select(load_examples(task, data, options.source, "validation"), tuple(manifest["dev_ids"]))

    callbacks.on_stage(f"loading the backbone of {store.prompt_path(options.source)} (start: {options.joint.start})")
    torch.manual_seed(source.info.seed)
    backbone, encoder = _starting_point(store, source, options)
    scorer = store.scorer(source, backbone)
    labelled = lambda examples: LabelledSet(scorer.encode([e.texts for e in examples]), [e.label for e in examples])
    splits = {t: split_heldout(c.pairs, options.heldout, source.info.seed) for t, c in corpora.items()}
    train_pairs = [(i, p) for i, t in enumerate(options.targets) for p in splits[t][0]]
    pairs = MultiParallelSet(
        scorer.encode([p.source for _, p in train_pairs]),
        scorer.encode([p.target for _, p in train_pairs]),
        [i for i, _ in train_pairs],
    )
    heldout = {
        t: ParallelSet(scorer.encode([p.source for p in held]), scorer.encode([p.target for p in held]))
        for t, (_, held) in splits.items()
    }
    translators = nn.ModuleList(PromptTranslator(translator_config) for _ in options.targets) if options.joint.translate else None
    train = replace(options.train, epochs=options.joint.epochs)
    learner = JointLearner(
        backbone, encoder, labelled(few_shot), labelled(dev), scorer.label_words, train,
        translators=translators, pairs=pairs, joint=options.joint, seed=source.info.seed,
    )  # fmt: skip

    before = _heldout_kls(learner, heldout, options)
    callbacks.on_stage(
        f"joint training ({source.info.tune}{'' if translators is not None else ', no translator'}) on {len(few_shot)} examples "
        f"and {len(pairs.target)} parallel pairs in {len(options.targets)} languages, "
        f"scoring each epoch on {len(dev)} {options.source} dev examples"
    )
    steps = train.epochs * -(-len(few_shot) // train.batch_size)
    callbacks.on_stage(_cost(options, source, backbone, pairs, steps, len(dev), sum(len(h.target) for h in heldout.values())))
    callbacks.on_start(steps)
    result = fit(learner, train, source.info.seed, backbone.accelerator, callbacks.on_step, callbacks.on_epoch)
    after = _heldout_kls(learner, heldout, options)
    languages = [JointLanguage(t, len(splits[t][0]), len(splits[t][1]), before[t], after[t]) for t in options.targets]
    if processes(options.cpu).is_main:
        callbacks.on_stage(f"saving the joint run to {options.output}")
        with atomic_path(options.output, options.overwrite, folder=True, inputs=inputs) as folder:
            _save(PromptStore(folder), learner, source, replace(options, train=train), corpora, languages, result)
    return JointRun(Path(options.output), result, languages, time.perf_counter() - started)


def _starting_point(store: PromptStore, source: PromptArtifact, options: JointOptions) -> tuple[Backbone, PromptEncoder]:
    """The backbone (trainable as the source run was) and the prompt encoder the joint run starts from."""
    info = source.info
    encoder = PromptEncoder(PromptEncoderConfig(**info.prompt_encoder))
    if options.joint.start == JointStart.SOURCE:
        encoder.load_state_dict(store.training_state(source))
        backbone = store.load_backbone(source, options.model, cpu=options.cpu)
        backbone.set_tune(info.tune)  # a source run loads frozen, for use: here it learns on
        return backbone, encoder
    backbone = Backbone.load(options.model or info.backbone, cpu=options.cpu)
    info.check_backbone(backbone.fingerprint, backbone.hidden_size, backbone.name)
    backbone.set_tune(info.tune, info.lora_rank or DEFAULT_LORA_RANK)
    return backbone, encoder


def _cost(
    options: JointOptions, source: PromptArtifact, backbone: Backbone, pairs: MultiParallelSet, steps: int, dev: int, heldout: int
) -> str:
    """What the joint training costs here, said before it starts: its steps and an estimate of the time, from a
    timed forward pass of its pairs. A step trains a batch of examples and one of pairs (their English sides
    recomputed: the source prompt learns); the dev examples are scored after each epoch, the held-out pairs
    (both sides) before and after."""
    batch, kl = options.train.batch_size, options.joint.pairs_per_step
    per_row = seconds_per_row(backbone, source.prompt, pairs.target, batch)
    rows = steps * ((batch + kl) * TRAIN_STEP_PASSES + kl) + options.joint.epochs * dev + 2 * 2 * heldout
    return f"{steps} steps of {batch} examples and {kl} pairs: about {clock(per_row * rows)} here (estimated from a timed pass)"


def _heldout_kls(learner: JointLearner, heldout: dict[str, ParallelSet], options: JointOptions) -> dict[str, float]:
    """Held-out KL per language with the learner's current prompts and backbone."""
    learner.train_mode(False)
    with torch.no_grad():
        source_prompt = learner.encoder()
        target_prompts = learner.target_prompts(source_prompt)
        return {
            target: heldout_kl(
                learner.backbone, heldout[target], source_prompt, target_prompts[i], options.joint, learner.label_words
            )
            for i, target in enumerate(options.targets)
        }


def _save(
    store: PromptStore, learner: JointLearner, source: PromptArtifact, options, corpora, languages, result: TrainResult
) -> None:
    """The jointly trained source prompt (with the shared backbone or adapters), then each language's
    translator and translated prompt, all in the new folder."""
    with torch.no_grad():
        source_prompt = learner.encoder().cpu()
    info = replace(
        source.info,
        dev_accuracy=result.dev_score,
        train_loss=result.train_loss,
        training=asdict(options.train) | {"best_epoch": result.best_epoch, "dev_examples": len(learner.dev.labels)},
        joint=asdict(options.joint) | {
            "targets": list(options.targets), "parallel": corpus_label(options.parallel), "from": str(options.prompts_dir)
        },
        **provenance(),
    )
    store.save_source(learner.backbone, source_prompt, info, learner.encoder.state_dict(), overwrite=False)
    if learner.translators is None:  # the ablation: every language uses the source prompt as is
        return
    steps = options.train.epochs * -(-len(learner.train.labels) // options.train.batch_size)
    trained_source = PromptArtifact(source_prompt, info)  # as just saved: save_source recorded its side files in info
    for translator, language in zip(learner.translators, languages):
        corpus, target = corpora[language.target], language.target
        path = store.translator_path(options.source, target)
        translator_info = TranslatorInfo(
            source_language=options.source, target_language=target, architecture=asdict(translator.config),
            backbone=info.backbone, backbone_fingerprint=info.backbone_fingerprint,
            source_prompt_sha256=tensor_sha256(source_prompt), alignment=info.joint, corpus=corpus.name,
            corpus_sha256=corpus.sha256, pairs=language.pairs, heldout_pairs=language.heldout_pairs,
            steps=steps, heldout_kl_before=language.heldout_kl_before, heldout_kl_after=language.heldout_kl_after,
            seed=info.seed, best_epoch=result.best_epoch, **provenance(),
        )  # fmt: skip
        TranslatorArtifact({k: v.cpu() for k, v in translator.state_dict().items()}, source_prompt, translator_info).save(path)
        with torch.no_grad():
            prompt = translator(source_prompt.to(learner.backbone.device)).cpu()
        store.save_translated(trained_source, target, prompt, path, None, overwrite=False)
