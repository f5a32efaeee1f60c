"""Self-describing safetensors files: metadata records, validation on load, atomic writes, hashes.

Every mpt file stores a dataclass as string metadata (:class:`MetadataRecord`): text fields as they are,
everything else as JSON, checked against the field types when read back.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from dataclasses import fields
from datetime import datetime, timezone
from pathlib import Path

import torch

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
        try:
            values = {f.name: meta[f.name] if _is_text(f) else json.loads(meta[f.name]) for f in fields(cls) if f.name in meta}
        except (json.JSONDecodeError, RecursionError) as exc:
            raise MptError(f"{where} has damaged metadata: {exc}") from None
        return from_fields(cls, values, f"{where} has damaged metadata")


def from_fields(cls, values: dict, damaged: str):
    """``cls(**values)`` for a dataclass ``cls`` and JSON ``values`` that name only its fields, each of its
    annotated type; otherwise one error line that starts with ``damaged`` (which file, which part of it)."""
    known = [f.name for f in fields(cls)]
    try:
        unknown = [name for name in values if name not in known]
        if unknown:
            raise TypeError(f"unknown field {unknown[0]!r} (known: {', '.join(known)})")
        for f in fields(cls):
            if f.name in values and not _has_type(values[f.name], f.type):
                raise TypeError(f"{f.name} should be {f.type}, not {type(values[f.name]).__name__}")
        return cls(**values)
    except (TypeError, MptError) as exc:  # MptError: the dataclass's own checks, such as an unknown choice
        raise MptError(f"{damaged}: {exc}") from None


def _is_text(f) -> bool:
    return f.type in ("str", "str | None")


def _has_type(value, annotation: str) -> bool:
    """Whether a JSON value fits a field annotation such as ``int | None`` or ``list[str]``. Any other
    name is a :class:`~mpt_cli.choices.Choice`, stored as its text and parsed by the dataclass."""
    checks = {
        "None": lambda v: v is None,
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
        "bool": lambda v: isinstance(v, bool),
        "dict": lambda v: isinstance(v, dict),
        "list[str]": lambda v: isinstance(v, list) and all(isinstance(item, str) for item in v),
    }
    checks["tuple[str, ...]"] = checks["list[str]"]  # JSON has lists only
    return any(checks.get(alternative, checks["str"])(value) for alternative in annotation.split(" | "))


def check_tensor(tensor: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """``tensor`` if it is a finite floating-point tensor of ``shape``, else a clear error."""
    if not tensor.is_floating_point() or tuple(tensor.shape) != shape:
        raise MptError(f"{what} should be a float tensor of shape {list(shape)}, not {tensor.dtype} {list(tensor.shape)}")
    if not torch.isfinite(tensor).all():
        raise MptError(f"{what} holds NaN or infinite values")
    return tensor



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
        raise MptError(
            f"{broken[0]} holds NaN or infinite values (training diverged?), so {path} was not written; lower the learning rate"
        )
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
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - a safe_open handle is not iterable
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for damaged headers and data
        raise MptError(f"{path} is not a readable safetensors file (truncated or damaged?): {exc}") from None
    return tensors, meta


def read_metadata(path: Path) -> dict[str, str]:
    """The metadata of a safetensors file alone, without reading its tensors."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types for damaged headers
        raise MptError(f"{path} is not a readable safetensors file (truncated or damaged?): {exc}") from None


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
