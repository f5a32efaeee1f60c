"""The file formats: self-describing safetensors files, validated on load and written atomically.

A prompt file holds the prompt ``[P, H]`` and its metadata (:class:`PromptInfo`, ``prompts/README.md``);
a state file holds weights a prompt depends on (LoRA adapters) or that only training needs (the prompt
encoder); a translator file holds a translator and the source prompt it was trained against. Where the
files go is :mod:`mpt_cli.store`'s business. Format 1 (mpt 0.1) kept the encoder and adapter weights
inside every prompt file; such files still load.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path

import torch

from .data.nli import LABELS
from .errors import MptError
from .outputs import atomic_path

FORMAT_VERSION = 2
READABLE_VERSIONS = ("1", "2")


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
        if meta.get("format_version") not in READABLE_VERSIONS:
            raise MptError(
                f"{where} has format version {meta.get('format_version')}; this mpt reads version {FORMAT_VERSION}"
            )
        values = {}
        try:
            for f in fields(cls):
                if f.name in meta:
                    values[f.name] = meta[f.name] if _is_text(f) else json.loads(meta[f.name])
                    if not _has_type(values[f.name], f.type):
                        raise TypeError(f"{f.name} should be {f.type}, not {type(values[f.name]).__name__}")
            return cls(**values)
        except (json.JSONDecodeError, TypeError, RecursionError) as exc:
            raise MptError(f"{where} has damaged metadata: {exc}") from None


def _is_text(f) -> bool:
    return f.type in ("str", "str | None")


def _has_type(value, annotation: str) -> bool:
    """Whether a JSON value fits a field annotation such as ``int | None`` or ``list[str]``."""
    checks = {
        "None": lambda v: v is None,
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "bool": lambda v: isinstance(v, bool),
        "dict": lambda v: isinstance(v, dict),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    }
    return any(checks[alternative](value) for alternative in annotation.split(" | "))


def check_tensor(tensor: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """``tensor`` if it is a finite floating-point tensor of ``shape``, else a clear error."""
    if not tensor.is_floating_point() or tuple(tensor.shape) != shape:
        raise MptError(f"{what} should be a float tensor of shape {list(shape)}, not {tensor.dtype} {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise MptError(f"{what} holds NaN or infinite values")
    return tensor


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
    training_state: str | None = None  # the state file with the prompt encoder, beside this file
    adapters: str | None = None  # for tune = lora: the state file with the adapters, beside this file
    adapters_sha256: str | None = None
    joint: dict | None = None  # for a jointly trained prompt (``mpt joint``): its settings and target languages
    source_language: str | None = None
    source_prompt_sha256: str | None = None
    translator: str | None = None
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""

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
    def load(cls, path: Path) -> "PromptArtifact":
        tensors, meta = read_safetensors(path)
        info = PromptInfo.from_metadata(meta, str(path))
        if "prompt" not in tensors:
            raise MptError(f"{path} has no 'prompt' tensor")
        if len(info.verbalizer) != len(LABELS):
            raise MptError(f"{path} has damaged metadata: its verbalizer should name {len(LABELS)} words, not {info.verbalizer!r}")
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

    kind: str  # "lora": adapters the prompts need; "encoder": the prompt encoder, for training only
    language: str
    config: dict = field(default_factory=dict)  # LoRA rank, or the prompt-encoder configuration
    versions: dict = field(default_factory=dict)
    command: str = ""
    created: str = ""


def read_state(path: Path, kind: str) -> dict[str, torch.Tensor]:
    """The weights of a state file of ``kind``, checked to be finite."""
    tensors, meta = read_safetensors(path)
    info = StateInfo.from_metadata(meta, str(path))
    if info.kind != kind:
        raise MptError(f"{path} holds {info.kind} weights, not {kind}")
    for name, tensor in tensors.items():
        check_tensor(tensor, tuple(tensor.shape), f"{name} in {path}")
    return tensors


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
        if "source_prompt" not in tensors or tensors["source_prompt"].dim() != 2:
            raise MptError(f"{path} has no 'source_prompt' tensor of 2 dimensions")
        try:
            hidden, width = info.architecture["hidden_size"], info.architecture.get("width") or 2 * info.architecture["hidden_size"]
        except (KeyError, TypeError):
            raise MptError(f"{path} has damaged metadata: architecture {info.architecture!r}") from None
        shapes = {"up.weight": (width, hidden), "up.bias": (width,), "down.weight": (hidden, width), "down.bias": (hidden,)}
        weights = with_prefix(tensors, "translator.")
        if weights.keys() != shapes.keys():
            raise MptError(f"{path} should hold the translator weights {sorted(shapes)}, not {sorted(weights)}")
        for name, shape in shapes.items():
            check_tensor(weights[name], shape, f"translator.{name} in {path}")
        check_tensor(tensors["source_prompt"], (tensors["source_prompt"].shape[0], hidden), f"the source prompt in {path}")
        return cls(weights, tensors["source_prompt"], info)


def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """Hash of named tensors (names, shapes and float32 values): names a set of weights."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        digest.update(f"{name}{tuple(tensors[name].shape)}".encode())
        digest.update(tensors[name].detach().to("cpu", torch.float32).contiguous().numpy().data)
    return digest.hexdigest()


def tensor_sha256(tensor: torch.Tensor) -> str:
    """Hash of a tensor's float32 values: detects a source prompt that changed."""
    return hashlib.sha256(tensor.detach().to("cpu", torch.float32).contiguous().numpy().data).hexdigest()


def with_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], info: MetadataRecord, overwrite: bool) -> None:
    """Write float32 CPU copies of ``tensors`` with ``info`` as metadata, atomically."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in tensors.items()}
    broken = [name for name, tensor in tensors.items() if not torch.isfinite(tensor).all()]
    if broken:
        raise MptError(f"{broken[0]} holds NaN or infinite values (training diverged?), so {path} was not written; lower the learning rate")
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
