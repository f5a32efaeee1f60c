"""``mpt inspect``: what a file in a prompts folder is, and whether what it needs is there."""

from __future__ import annotations

from pathlib import Path

from ..artifacts import PromptArtifact, StateInfo, TranslatorArtifact
from ..errors import MptError
from ..fileformat import read_safetensors, tensor_sha256, tensors_sha256
from ..languages import language_name
from ..outputs import MARKER
from ..store import SIDE_FILE, PromptStore


def inspect(path: Path) -> list[dict]:
    """One record per mpt file at ``path`` (a file, or every mpt file of a prompts folder)."""
    path = Path(path)
    if path.is_dir():
        return [describe(p) for p in PromptStore(path).files()]
    if not path.is_file():
        raise MptError(f"{path} does not exist")
    return [describe(path)]


def describe(path: Path) -> dict:
    """Kind, language, backbone, shapes, size, data and what the file depends on."""
    _, meta = read_safetensors(path)
    kind = meta.get("format")
    if kind == "mpt.prompt":
        return _prompt(path)
    if kind == "mpt.translator":
        return _translator(path)
    if kind == "mpt.state":
        info = StateInfo.from_metadata(meta, str(path))
        return {"path": str(path), "kind": f"{info.kind} state", "language": info.language,
                "language_name": language_name(info.language), "bytes": path.stat().st_size,
                "config": info.config, "created": info.created}  # fmt: skip
    raise MptError(f"{path} is not an mpt file (format {kind!r})")


def _prompt(path: Path) -> dict:
    store = PromptStore(path.parent)
    artifact = PromptArtifact.load(path)
    info = artifact.info
    needs = []
    if info.tuned_backbone:
        folder = path.parent / info.tuned_backbone
        present = folder.is_dir()
        # the folder is named after the weights' fingerprint; a legacy folder is checked on load
        matches = present and (not SIDE_FILE.match(folder.name) or info.tuned_backbone_fingerprint[:12] in folder.name)
        needs.append(_need("tuned backbone", folder, present, matches, _folder_bytes(folder) if present else None))
    if info.adapters:
        needs.append(_state_need("adapters", path.parent / info.adapters, info.adapters_sha256))
    if info.training_state:
        state = path.parent / info.training_state
        needs.append(_need("training state", state, state.is_file(), None))
    if info.kind == "translated":
        source = store.prompt_path(info.source_language)
        matches = source.is_file() and tensor_sha256(PromptArtifact.load(source).prompt) == info.source_prompt_sha256
        needs.append(_need("source prompt", source, source.is_file(), matches))
        if info.translator:  # none for the adapter method's ablation (p_T = p_S)
            translator = path.parent / info.translator
            needs.append(_need("translator", translator, translator.is_file(), None))
    if info.language_adapter:
        needs.append(_state_need("language adapter", path.parent / info.language_adapter, info.language_adapter_sha256))
    return {
        "path": str(path), "kind": f"{info.kind} prompt",
        "language": info.language, "language_name": language_name(info.language),
        "format_version": 1 if artifact.legacy else 2, "shape": list(artifact.prompt.shape), "bytes": path.stat().st_size,
        "backbone": info.backbone,
        "backbone_fingerprint": info.backbone_fingerprint, "tune": info.tune,
        "task": info.task_definition(str(path)).name, "template": info.template, "verbalizer": info.verbalizer,
        "data": info.data, "shots": info.shots, "seed": info.seed,
        "split_manifest_sha256": info.split_manifest_sha256, "dev_accuracy": info.dev_accuracy, "joint": info.joint is not None,
        "tokenizer": info.tokenizer,
        "created": info.created, "needs": needs,
    }  # fmt: skip


def _translator(path: Path) -> dict:
    artifact = TranslatorArtifact.load(path)
    info = artifact.info
    source = PromptStore.of_translator(path).prompt_path(info.source_language)
    matches = source.is_file() and tensor_sha256(PromptArtifact.load(source).prompt) == info.source_prompt_sha256
    return {
        "path": str(path), "kind": "translator", "language": f"{info.source_language}->{info.target_language}",
        "language_name": language_name(info.target_language),
        "shape": list(artifact.weights["up.weight"].shape), "bytes": path.stat().st_size, "backbone": info.backbone,
        "backbone_fingerprint": info.backbone_fingerprint, "architecture": info.architecture, "corpus": info.corpus,
        "corpus_sha256": info.corpus_sha256, "pairs": info.pairs, "heldout_kl": [info.heldout_kl_before, info.heldout_kl_after],
        "dev": info.dev, "created": info.created, "needs": [_need("source prompt", source, source.is_file(), matches)],
    }  # fmt: skip


def _need(what: str, path: Path, present: bool, matches: bool | None, size: int | None = None) -> dict:
    size = size if size is not None else (path.stat().st_size if present and path.is_file() else None)
    return {"what": what, "path": str(path), "present": present, "matches": matches, "bytes": size}


def _state_need(what: str, path: Path, sha256: str | None) -> dict:
    present = path.is_file()
    matches = present and tensors_sha256(read_safetensors(path)[0]) == sha256
    return _need(what, path, present, matches)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
