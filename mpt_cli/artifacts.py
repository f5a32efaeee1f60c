"""Prompt artifacts: one safetensors file per language, self-describing, written atomically.

Tensors: ``prompt`` ``[P, H]`` (what the model consumes), ``encoder.*`` (prompt-encoder weights, to
resume training) and, for LoRA-tuned prompts, ``lora.*`` (adapter weights). Metadata: see
:class:`PromptInfo` and ``prompts/README.md``.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch

from .errors import MptError
from .outputs import atomic_path

FORMAT_VERSION = 1


class MetadataRecord:
    """Dataclass metadata stored in a safetensors header: text fields as-is, everything else as JSON."""

    FORMAT = ""
    KIND_OF_FILE = ""

    def to_metadata(self) -> dict[str, str]:
        meta = {"format": self.FORMAT, "format_version": str(FORMAT_VERSION)}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                meta[f.name] = value if _is_text(f) else json.dumps(value, sort_keys=True)
        return meta

    @classmethod
    def from_metadata(cls, meta: dict[str, str], where: str):
        if meta.get("format") != cls.FORMAT:
            raise MptError(f"{where} is not an mpt {cls.KIND_OF_FILE} (format {meta.get('format')!r})")
        if meta.get("format_version") != str(FORMAT_VERSION):
            raise MptError(
                f"{where} has format version {meta.get('format_version')}; this mpt reads version {FORMAT_VERSION}"
            )
        values = {}
        try:
            for f in fields(cls):
                if f.name in meta:
                    values[f.name] = meta[f.name] if _is_text(f) else json.loads(meta[f.name])
            return cls(**values)
        except (json.JSONDecodeError, TypeError) as exc:
            raise MptError(f"{where} has damaged metadata: {exc}") from None


def _is_text(f) -> bool:
    return f.type in ("str", "str | None")


@dataclass
class PromptInfo(MetadataRecord):
    """The metadata of a prompt artifact (documented in ``prompts/README.md``)."""

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
    prompt_encoder: dict | None = None
    lora_rank: int | None = None
    tuned_backbone: str | None = None
    tuned_backbone_fingerprint: str | None = None
    data: str | None = None
    shots: int | None = None
    seed: int | None = None
    split_manifest: dict | None = None
    split_manifest_sha256: str | None = None
    dev_accuracy: float | None = None
    train_loss: float | None = None
    training: dict = field(default_factory=dict)
    joint: dict | None = None  # for a jointly trained prompt (``mpt joint``): its settings and target languages
    source_language: str | None = None
    source_prompt_sha256: str | None = None
    translator: str | None = None
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""

    def check_backbone(self, fingerprint: str, hidden_size: int, loaded_name: str) -> None:
        """Refuse a backbone other than the one this prompt was trained with."""
        if hidden_size != self.hidden_size or fingerprint != self.backbone_fingerprint:
            raise MptError(
                f"this {self.language} prompt was trained on backbone {self.backbone} "
                f"(fingerprint {self.backbone_fingerprint[:12]}), not on {loaded_name} "
                f"(fingerprint {fingerprint[:12]}); pass --model {self.backbone}"
            )


@dataclass
class PromptArtifact:
    prompt: torch.Tensor  # [P, H]
    info: PromptInfo
    encoder_state: dict[str, torch.Tensor] = field(default_factory=dict)
    lora_state: dict[str, torch.Tensor] = field(default_factory=dict)

    def save(self, path: Path, overwrite: bool = False) -> None:
        tensors = {"prompt": self.prompt}
        tensors |= {f"encoder.{k}": v for k, v in self.encoder_state.items()}
        tensors |= {f"lora.{k}": v for k, v in self.lora_state.items()}
        write_safetensors(path, tensors, self.info, overwrite)

    @classmethod
    def load(cls, path: Path) -> "PromptArtifact":
        tensors, meta = read_safetensors(path)
        info = PromptInfo.from_metadata(meta, str(path))
        if "prompt" not in tensors:
            raise MptError(f"{path} has no 'prompt' tensor")
        return cls(
            prompt=tensors["prompt"],
            info=info,
            encoder_state=_with_prefix(tensors, "encoder."),
            lora_state=_with_prefix(tensors, "lora."),
        )


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
    dev: dict = field(default_factory=dict)  # dev accuracy of the source and translated prompts, when measured
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""


@dataclass
class TranslatorArtifact:
    """Translator weights (``translator.*``) and the source prompt ``[P, H]`` they were trained against."""

    weights: dict[str, torch.Tensor]
    source_prompt: torch.Tensor
    info: TranslatorInfo

    def save(self, path: Path, overwrite: bool = False) -> None:
        tensors = {f"translator.{k}": v for k, v in self.weights.items()} | {"source_prompt": self.source_prompt}
        write_safetensors(path, tensors, self.info, overwrite)

    @classmethod
    def load(cls, path: Path) -> "TranslatorArtifact":
        tensors, meta = read_safetensors(path)
        info = TranslatorInfo.from_metadata(meta, str(path))
        if "source_prompt" not in tensors:
            raise MptError(f"{path} has no 'source_prompt' tensor")
        return cls(_with_prefix(tensors, "translator."), tensors["source_prompt"], info)


def tensor_sha256(tensor: torch.Tensor) -> str:
    """Hash of a tensor's float32 values: detects a source prompt that changed."""
    return hashlib.sha256(tensor.detach().to("cpu", torch.float32).contiguous().numpy().data).hexdigest()


def _with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], info: MetadataRecord, overwrite: bool) -> None:
    """Write float32 CPU copies of ``tensors`` with ``info`` as metadata, atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    with atomic_path(path, overwrite) as tmp:
        save_file(tensors, str(tmp), metadata=info.to_metadata())


def read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; truncated or foreign files give a clear error."""
    from safetensors import safe_open

    if not path.is_file():
        raise MptError(f"{path} does not exist")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:  # safetensors raises its own error types for damaged headers and data
        raise MptError(f"{path} is not a readable safetensors file (truncated or damaged?): {exc}") from None
    return tensors, meta


def provenance() -> dict:
    """Package versions, the command line and the time, for every artifact's metadata."""
    import importlib.metadata as md

    versions = {}
    for package in ("mpt-cli", "torch", "transformers", "peft", "safetensors", "accelerate"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            pass
    return {
        "versions": versions,
        "command": " ".join(["mpt", *sys.argv[1:]]) if sys.argv else "",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
