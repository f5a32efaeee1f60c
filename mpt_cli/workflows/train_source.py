"""``mpt train-source``: draw K shots per class, train a soft prompt, save it as an artifact."""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ..artifacts import PromptInfo
from ..callbacks import Callbacks
from ..data import default_data, draw_split, load_examples
from ..data.given import GivenData, data_label
from ..data.sampling import Shots, parse_shots
from ..engine.backbone import DEFAULT_LORA_RANK, DEFAULT_MODEL, Backbone, Tune
from ..engine.distributed import processes
from ..engine.loop import EpochRecord, LabelledSet, TrainResult
from ..engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from ..engine.train import TrainConfig, train_prompt
from ..errors import require_positive, require_seed
from ..fileformat import provenance
from ..languages import DEFAULT_SOURCE, normalise
from ..outputs import check_writable, local_paths
from ..store import DEFAULT_PROMPTS_DIR, PromptStore
from ..task import DEFAULT_TASK, Task
from ..template import TemplateEncoder
from ..verbalizer import Verbalizer

DEFAULT_TUNE = Tune.FULL


@dataclass(frozen=True)
class SourceOptions:
    shots: Shots = 8  # per class, or "all": every training example
    dev_shots: Shots | None = None  # None: same as shots
    lang: str = DEFAULT_SOURCE
    model: str = DEFAULT_MODEL
    task: Task | str = DEFAULT_TASK  # a built-in task's name, a task file, or a Task
    data: str | GivenData | None = None  # None: the task's own dataset
    seed: int = 1
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    template: str | None = None  # None: the task's template
    verbalizer: str | tuple[str, ...] | None = None  # a preset or comma-separated words; None: the task's label words
    prompt_length: int = PromptEncoderConfig.prompt_length
    encoder: str = PromptEncoderConfig.kind
    tune: Tune = DEFAULT_TUNE
    lora_rank: int = DEFAULT_LORA_RANK
    max_length: int = 128
    train: TrainConfig = field(default_factory=TrainConfig)
    overwrite: bool = False
    cpu: bool = False

    def __post_init__(self):
        """Every setting is checked here, before any data is read or a model is loaded."""
        require_positive(max_length=self.max_length, lora_rank=self.lora_rank)
        object.__setattr__(self, "shots", parse_shots(self.shots))
        if self.dev_shots is not None:
            object.__setattr__(self, "dev_shots", parse_shots(self.dev_shots, "dev_shots"))
        require_seed(self.seed)
        object.__setattr__(self, "lang", normalise(self.lang))
        object.__setattr__(self, "tune", Tune.parse(self.tune, "tune mode"))
        task = self.task if isinstance(self.task, Task) else Task.load(self.task)
        object.__setattr__(self, "task", task)
        object.__setattr__(self, "data", default_data(task, self.data))
        object.__setattr__(self, "template", self.template or task.template)
        task.check_template(self.template)
        if not isinstance(self.verbalizer, tuple):
            object.__setattr__(self, "verbalizer", task.verbalizer(self.verbalizer))
        task.check_words(self.verbalizer)
        PromptEncoderConfig(self.prompt_length, kind=self.encoder)


@dataclass
class SourceRun:
    path: Path
    info: PromptInfo
    result: TrainResult
    seconds: float


def train_source(options: SourceOptions, callbacks: Callbacks | None = None) -> SourceRun:
    """Run the whole command; every check that can fail fast happens before the model is loaded."""
    callbacks = callbacks or Callbacks()
    started = time.perf_counter()
    lang = options.lang
    store = PromptStore(options.prompts_dir)
    out = store.prompt_path(lang)
    check_writable(out, options.overwrite, inputs=local_paths(options.data, options.model))
    task, verbalizer = options.task, Verbalizer(options.verbalizer)
    encoder_config = PromptEncoderConfig(options.prompt_length, kind=options.encoder)

    callbacks.on_stage(f"reading {data_label(options.data)} ({lang})")
    dev_shots = options.shots if options.dev_shots is None else options.dev_shots
    train_pool = load_examples(task, options.data, lang, "train")
    dev_pool = load_examples(task, options.data, lang, "validation")
    train, dev, manifest = draw_split(
        train_pool, dev_pool, task.labels, options.shots, dev_shots, options.seed, data_label(options.data), lang
    )

    callbacks.on_stage(f"loading {options.model}")
    backbone = Backbone.load(options.model, cpu=options.cpu)
    label_words = verbalizer.label_words(backbone.tokenizer)
    template = TemplateEncoder(
        options.template, backbone.tokenizer, options.prompt_length, min(options.max_length, backbone.max_length), task.inputs
    )
    encode = lambda examples: LabelledSet(template.encode([e.texts for e in examples]), [e.label for e in examples])

    random.seed(options.seed)
    torch.manual_seed(options.seed)
    backbone.set_tune(options.tune, options.lora_rank)
    encoder = PromptEncoder(replace(encoder_config, hidden_size=backbone.hidden_size))
    steps_per_epoch = -(-len(train) // options.train.batch_size)
    callbacks.on_stage(f"training ({options.tune}) on {len(train)} examples, scoring each epoch on {len(dev)} dev examples")
    callbacks.on_start(options.train.epochs * steps_per_epoch)
    result = train_prompt(
        backbone, encoder, encode(train), encode(dev), label_words, options.train, options.seed,
        callbacks.on_step, callbacks.on_epoch,
    )  # fmt: skip
    with torch.no_grad():
        prompt = encoder().cpu()

    info = _prompt_info(options, backbone, template, encoder, manifest, result, len(dev))
    if options.tune == Tune.FULL:
        callbacks.on_stage("saving the tuned backbone")
    if processes(options.cpu).is_main:
        store.save_source(backbone, prompt, info, encoder.state_dict(), options.overwrite)
    processes(options.cpu).barrier()  # no process goes on (to translate it, say) before the prompt is written
    return SourceRun(out, info, result, time.perf_counter() - started)


def _prompt_info(
    options: SourceOptions, backbone, template, encoder, manifest, result: TrainResult, dev_examples: int
) -> PromptInfo:
    """The metadata that makes the prompt self-describing: backbone, template, draw, training."""
    return PromptInfo(
        language=options.lang, backbone=options.model, backbone_fingerprint=backbone.fingerprint,
        hidden_size=backbone.hidden_size, prompt_length=options.prompt_length, tune=options.tune, template=options.template,
        verbalizer=list(options.verbalizer), max_length=template.max_length, task=options.task.record(),
        prompt_encoder=asdict(encoder.config), lora_rank=options.lora_rank if options.tune == Tune.LORA else None,
        data=data_label(options.data), shots=options.shots, seed=options.seed, split_manifest=json.loads(manifest.to_json()),
        split_manifest_sha256=manifest.sha256, dev_accuracy=result.dev_score, train_loss=result.train_loss,
        training=asdict(options.train) | {"best_epoch": result.best_epoch, "dev_examples": dev_examples},
        **provenance(),
    )  # fmt: skip


__all__ = ["Callbacks", "EpochRecord", "SourceOptions", "SourceRun", "train_source"]
