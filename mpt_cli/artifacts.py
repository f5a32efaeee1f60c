"""The file formats: prompt, state and translator files, validated against themselves on load.

A prompt file holds the prompt ``[P, H]`` and its metadata (:class:`PromptInfo`, docs/prompts-folder.md);
a state file holds weights a prompt depends on (LoRA adapters) or that only training needs (the prompt
encoder); a translator file holds a translator and the source prompt it was trained against. Where the
files go is :mod:`mpt_cli.store`'s business. Format 1 (mpt 0.1) kept the encoder and adapter weights
inside every prompt file; such files still load.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from .engine.translator import TranslatorConfig
from .errors import MptError
from .fileformat import (
    MetadataRecord,
    check_tensor,
    from_fields,
    read_safetensors,
    tensors_sha256,
    with_prefix,
    write_safetensors,
)
from .task import Task

__all__ = [
    "PromptArtifact", "PromptInfo", "StateInfo", "TranslatorArtifact", "TranslatorInfo", "read_state", "read_state_file",
]

@dataclass
class PromptInfo(MetadataRecord):
    """The metadata of a prompt artifact (documented in docs/prompts-folder.md)."""

    FORMAT = "mpt.prompt"
    KIND_OF_FILE = "prompt"

    language: str
    backbone: str
    backbone_fingerprint: str
    hidden_size: int
    prompt_length: int
    tune: str
    template: str
    verbalizer: list[str]
    max_length: int
    kind: str = "source"
    task: dict | None = None  # name, inputs and labels (Task.record); None: NLI, as in files written before tasks
    prompt_encoder: dict | None = None
    lora_rank: int | None = None
    tuned_backbone: str | None = None
    tuned_backbone_fingerprint: str | None = None
    data: str | None = None
    shots: int | str | None = None  # per class, or "all" (every training example)
    seed: int | None = None
    split_manifest: dict | None = None
    split_manifest_sha256: str | None = None
    dev_accuracy: float | None = None
    train_loss: float | None = None
    training: dict = field(default_factory=dict)
    training_state: str | None = None  # the state file with the prompt encoder, beside this file
    adapters: str | None = None  # for tune = lora: the state file with the adapters, beside this file
    adapters_sha256: str | None = None
    joint: dict | None = None  # for a jointly trained prompt (``mpt joint``): its settings and target languages
    source_language: str | None = None
    source_prompt_sha256: str | None = None
    translator: str | None = None  # translated prompts: the translator file (None: p_T = p_S, adapter only)
    language_adapter: str | None = None  # translated prompts: the state file with this language's own adapter
    language_adapter_sha256: str | None = None
    seconds: float | None = None  # translated prompts of the adapter method: the seconds training the language took
    translation: dict | None = None  # translated prompts of the adapter method: the settings they were trained with
    tokenizer: dict | None = None  # translated prompts: how well the backbone's tokenizer reads the language (TokenizerFit)
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""

    def task_definition(self, where: str = "this prompt") -> Task:
        """The task this prompt was trained for, with its template and label words."""
        return Task.from_record(self.task, self.template, self.verbalizer, where)

    def check_backbone(self, fingerprint: str, hidden_size: int, loaded_name: str) -> None:
        """Refuse a backbone other than the one this prompt was trained with."""
        if hidden_size != self.hidden_size:
            raise MptError(
                f"this {self.language} prompt has {self.hidden_size} dimensions per soft token, but {loaded_name} "
                f"has hidden size {hidden_size}: the prompt belongs to another backbone"
            )
        if fingerprint != self.backbone_fingerprint:
            raise MptError(
                f"this {self.language} prompt was trained on backbone {self.backbone} "
                f"(fingerprint {self.backbone_fingerprint[:12]}), not on {loaded_name} "
                f"(fingerprint {fingerprint[:12]}); pass --model {self.backbone}"
            )


@dataclass
class PromptArtifact:
    prompt: torch.Tensor  # [P, H]
    info: PromptInfo
    legacy: dict[str, torch.Tensor] = field(default_factory=dict)  # format 1: ``encoder.*`` and ``lora.*`` inside

    def save(self, path: Path, overwrite: bool = False) -> None:
        write_safetensors(path, {"prompt": self.prompt}, self.info, overwrite)

    @classmethod
    def load(cls, path: Path) -> PromptArtifact:
        tensors, meta = read_safetensors(path)
        info = PromptInfo.from_metadata(meta, str(path))
        if "prompt" not in tensors:
            raise MptError(f"{path} has no 'prompt' tensor")
        info.task_definition(str(path))  # the task, its template and one label word per label fit together
        check_tensor(tensors["prompt"], (info.prompt_length, info.hidden_size), f"the prompt in {path}")
        for name, tensor in tensors.items():
            check_tensor(tensor, tuple(tensor.shape), f"{name} in {path}")
        legacy = {name: tensor for name, tensor in tensors.items() if name != "prompt"}
        if with_prefix(legacy, "lora."):  # format 1: the adapters were inside; name them as format 2 does
            info.adapters_sha256 = tensors_sha256(with_prefix(legacy, "lora."))
        return cls(tensors["prompt"], info, legacy)


@dataclass
class StateInfo(MetadataRecord):
    """The metadata of a state file: what its weights are, and for which prompt language."""

    FORMAT = "mpt.state"
    KIND_OF_FILE = "state file"

    # "lora": adapters every prompt of a run needs; "language-adapter": one language's own adapter;
    # "encoder": the prompt encoder, for training only
    kind: str
    language: str
    config: dict = field(default_factory=dict)  # LoRA rank, or the prompt-encoder configuration
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""


def read_state(path: Path, kind: str) -> dict[str, torch.Tensor]:
    """The weights of a state file of ``kind``, checked to be finite."""
    return read_state_file(path, kind)[0]


def read_state_file(path: Path, kind: str) -> tuple[dict[str, torch.Tensor], StateInfo]:
    """The weights of a state file of ``kind``, checked to be finite, and its metadata."""
    tensors, meta = read_safetensors(path)
    info = StateInfo.from_metadata(meta, str(path))
    if info.kind != kind:
        raise MptError(f"{path} holds {info.kind} weights, not {kind}")
    for name, tensor in tensors.items():
        check_tensor(tensor, tuple(tensor.shape), f"{name} in {path}")
    return tensors, info


@dataclass
class TranslatorInfo(MetadataRecord):
    """The metadata of a translator file ``translators/{src}-{tgt}.safetensors``."""

    FORMAT = "mpt.translator"
    KIND_OF_FILE = "translator"

    source_language: str
    target_language: str
    architecture: dict  # TranslatorConfig fields
    backbone: str
    backbone_fingerprint: str
    source_prompt_sha256: str
    alignment: dict  # AlignConfig fields
    corpus: str
    corpus_sha256: str
    pairs: int
    heldout_pairs: int
    steps: int
    heldout_kl_before: float
    heldout_kl_after: float
    seed: int
    best_epoch: int | None = None  # the epoch the translator was kept from (None: written before it was recorded)
    dev: dict = field(default_factory=dict)  # dev accuracy of the source and translated prompts, when measured
    language_adapter: dict | None = None  # the AdapterConfig of the language adapter trained with it, if any
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""


@dataclass
class TranslatorArtifact:
    """Translator weights (``translator.*``) and the source prompt ``[P, H]`` they were trained against.

    With the hidden size H and the width W of the recorded architecture: ``up.weight [W, H]``, ``up.bias [W]``,
    ``down.weight [H, W]``, ``down.bias [H]``.
    """

    weights: dict[str, torch.Tensor]
    source_prompt: torch.Tensor
    info: TranslatorInfo

    def save(self, path: Path, overwrite: bool = False) -> None:
        tensors = {f"translator.{k}": v for k, v in self.weights.items()} | {"source_prompt": self.source_prompt}
        write_safetensors(path, tensors, self.info, overwrite)

    @classmethod
    def load(cls, path: Path, source: PromptInfo | None = None) -> TranslatorArtifact:
        """The translator file at ``path``, checked against its own metadata and, given the ``source`` prompt
        it is to translate, against that prompt's length P and hidden size H (its backbone's)."""
        tensors, meta = read_safetensors(path)
        info = TranslatorInfo.from_metadata(meta, str(path))
        config = from_fields(TranslatorConfig, info.architecture, f"{path} has damaged metadata in architecture")
        if "source_prompt" not in tensors or tensors["source_prompt"].dim() != 2:
            raise MptError(f"{path} has no 'source_prompt' tensor of 2 dimensions")
        hidden, width = config.hidden_size, config.resolved_width
        if source is not None and source.hidden_size != hidden:
            raise MptError(
                f"{path} translates prompts of hidden size {hidden}, but the {source.language} prompt has hidden size "
                f"{source.hidden_size}: the translator belongs to another backbone"
            )
        # a translator file does not record P: only the prompt it is to translate fixes it
        prompt_length = source.prompt_length if source is not None else tensors["source_prompt"].shape[0]
        shapes = {"up.weight": (width, hidden), "up.bias": (width,), "down.weight": (hidden, width), "down.bias": (hidden,)}
        names = {f"translator.{name}" for name in shapes} | {"source_prompt"}
        if tensors.keys() != names:
            raise MptError(f"{path} should hold the translator weights and source prompt {sorted(names)}, not {sorted(tensors)}")
        weights = with_prefix(tensors, "translator.")
        for name, shape in shapes.items():
            check_tensor(weights[name], shape, f"translator.{name} in {path}")
        check_tensor(tensors["source_prompt"], (prompt_length, hidden), f"the source prompt in {path}")
        return cls(weights, tensors["source_prompt"], info)
