"""Opening prompt artifacts and putting them back on the backbone they were trained with."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from ..artifacts import PromptArtifact, PromptInfo, provenance, tensor_sha256
from ..outputs import MARKER, atomic_path, check_writable
from ..data import NLIExample
from ..engine.backbone import Backbone, weights_fingerprint
from ..engine.inference import label_probabilities
from ..errors import MptError
from ..metrics import Scores, score
from ..template import TemplateEncoder
from ..verbalizer import Verbalizer


def load_backbone_for(artifact: PromptArtifact, artifact_path: Path, model: str | None = None, cpu: bool = False) -> Backbone:
    """The backbone ``artifact`` needs: ``model`` (default: the recorded one), plus its LoRA adapters,
    or, for a fully tuned prompt, the tuned model directory saved beside it."""
    info = artifact.info
    if info.tune == "full":
        if model is not None and model != info.backbone:
            raise MptError(
                f"{artifact_path} was trained with --tune full on {info.backbone} and uses its tuned copy "
                f"{info.tuned_backbone}; --model {model} cannot replace it"
            )
        if not info.tuned_backbone or Path(info.tuned_backbone).name != info.tuned_backbone or info.tuned_backbone == "..":
            raise MptError(f"{artifact_path} names its tuned backbone {info.tuned_backbone!r}, which is not a folder beside it")
        directory = Path(artifact_path).parent / info.tuned_backbone
        if not directory.is_dir():
            raise MptError(f"{artifact_path} needs its tuned backbone {directory}, which is missing")
        backbone = Backbone.load(str(directory), cpu=cpu)
        if weights_fingerprint(backbone.model) != info.tuned_backbone_fingerprint:
            raise MptError(f"{directory} is not the backbone {artifact_path} was trained with (its weights changed)")
    else:
        backbone = Backbone.load(model or info.backbone, cpu=cpu)
    info.check_backbone(backbone.fingerprint, backbone.hidden_size, backbone.name)
    if info.tune == "lora":
        backbone.load_lora_state(artifact.lora_state, info.lora_rank)
    backbone.model.eval()
    return backbone


def template_and_labels(artifact: PromptArtifact, backbone: Backbone) -> tuple[TemplateEncoder, torch.Tensor]:
    """The template encoder and label-word ids recorded in ``artifact``, bound to ``backbone``'s tokenizer."""
    info = artifact.info
    template = TemplateEncoder(info.template, backbone.tokenizer, info.prompt_length, info.max_length)
    label_ids = torch.tensor(Verbalizer(tuple(info.verbalizer)).token_ids(backbone.tokenizer))
    return template, label_ids


def source_prompt_path(prompts_dir: Path, lang: str) -> Path:
    return Path(prompts_dir) / f"{lang}.safetensors"


def tuned_backbone_path(prompts_dir: Path, lang: str, fingerprint: str) -> Path:
    """A fully tuned backbone's folder, named after its weights: a new run never overwrites the folder
    an existing prompt points to, so a run killed between its two saves leaves the old pair intact."""
    return Path(prompts_dir) / f"{lang}.backbone-{fingerprint[:12]}"


def save_source_prompt(
    prompts_dir: Path, backbone: Backbone, prompt: torch.Tensor, info: PromptInfo, encoder_state: dict, overwrite: bool
) -> Path:
    """Write a trained source prompt ``[P, H]`` with what it needs: the tuned backbone folder (``full``,
    recorded in ``info``) or the LoRA adapters (``lora``, inside the file).

    The backbone is saved first, under a name of its own; the prompt then switches to it in one rename,
    and only after that is the backbone folder of the replaced prompt removed.
    """
    path = source_prompt_path(prompts_dir, info.language)
    check_writable(path, overwrite)
    replaced = _tuned_backbone_of(path)
    if info.tune == "full":
        fingerprint = weights_fingerprint(backbone.model)
        directory = tuned_backbone_path(prompts_dir, info.language, fingerprint)
        if not (directory / MARKER).is_file():
            with atomic_path(directory, overwrite=True, folder=True) as tmp:
                backbone.save_model(tmp)
        info.tuned_backbone, info.tuned_backbone_fingerprint = directory.name, fingerprint
    lora_state = backbone.lora_state() if info.tune == "lora" else {}
    PromptArtifact(prompt, info, encoder_state=encoder_state, lora_state=lora_state).save(path, overwrite)
    # the replaced prompt's backbone, and any left by a run killed before its prompt was saved
    stale = {replaced, *(d for d in path.parent.glob(f"{info.language}.backbone-*") if (d / MARKER).is_file())}
    for folder in stale - {None, path.parent / str(info.tuned_backbone)}:
        shutil.rmtree(folder, ignore_errors=True)
    return path


def _tuned_backbone_of(path: Path) -> Path | None:
    """The tuned backbone folder the prompt at ``path`` uses, when there is one to replace."""
    try:
        name = PromptArtifact.load(path).info.tuned_backbone if path.is_file() else None
    except MptError:
        return None
    folder = path.parent / name if name else None
    return folder if folder is not None and folder.parent == path.parent and folder.is_dir() else None


def translated_info(source: PromptArtifact, target: str, translator: Path, dev_accuracy: float | None) -> PromptInfo:
    """The metadata of ``source``'s prompt translated into ``target`` by the translator file ``translator``
    (relative to the prompts folder)."""
    return replace(
        source.info,
        language=target,
        kind="translated",
        source_language=source.info.language,
        source_prompt_sha256=tensor_sha256(source.prompt),
        translator=str(translator),
        dev_accuracy=dev_accuracy,
        **provenance(),
    )


def open_source_prompt(prompts_dir: Path, lang: str) -> tuple[Path, PromptArtifact]:
    """The trained (not translated) prompt for ``lang``, or a clear error naming the command to run."""
    path = source_prompt_path(prompts_dir, lang)
    if not path.is_file():
        raise MptError(f"no source prompt at {path}; run `mpt train-source --lang {lang}` first")
    artifact = PromptArtifact.load(path)
    if artifact.info.kind != "source":
        raise MptError(f"{path} is a translated prompt, not a trained source prompt")
    return path, artifact


def score_prompt(
    backbone: Backbone,
    template: TemplateEncoder,
    label_ids: torch.Tensor,
    prompt: torch.Tensor,
    examples: list[NLIExample],
    batch_size: int = 64,
    on_batch=None,
) -> tuple[Scores, torch.Tensor]:
    """Metrics and label probabilities ``[N, C]`` of ``prompt`` on labelled ``examples``."""
    encoded = template.encode([e.premise for e in examples], [e.hypothesis for e in examples])
    probs = label_probabilities(backbone, encoded, prompt, label_ids, batch_size, on_batch)
    return score([e.label for e in examples], probs.argmax(-1).tolist()), probs


@dataclass
class LanguagePrompt:
    language: str
    path: Path
    artifact: PromptArtifact
    translated: bool  # False: the source prompt used as is (a fallback, or the source language itself)


class PromptSet:
    """The source prompt and the prompts of several languages on one backbone, loaded once.

    Every prompt must come from the same source run (same backbone, template and verbalizer): translated
    prompts are inputs to one model, so rows of different languages can share a batch.
    """

    def __init__(self, prompts_dir: Path, source: str, model: str | None = None, cpu: bool = False):
        self.prompts_dir = Path(prompts_dir)
        self.source_path, self.source = open_source_prompt(prompts_dir, source)
        self.backbone = load_backbone_for(self.source, self.source_path, model, cpu)
        self.template, self.label_ids = template_and_labels(self.source, self.backbone)
        self.warnings: list[str] = []

    def source_for(self, lang: str) -> LanguagePrompt:
        """The source prompt, used as is on ``lang`` (vanilla soft-prompt transfer)."""
        return LanguagePrompt(lang, self.source_path, self.source, translated=False)

    def for_language(self, lang: str) -> LanguagePrompt:
        """``prompts/{lang}.safetensors`` when it exists, else the source prompt (with a warning)."""
        path = source_prompt_path(self.prompts_dir, lang)
        if lang == self.source.info.language:
            return self.source_for(lang)
        if not path.is_file():
            self.warnings.append(
                f"no {lang} prompt in {self.prompts_dir}: using the {self.source.info.language} prompt; "
                f"`mpt translate --to {lang}` would create one"
            )
            return self.source_for(lang)
        artifact = PromptArtifact.load(path)
        self._check_compatible(path, artifact)
        return LanguagePrompt(lang, path, artifact, translated=artifact.info.kind == "translated")

    def _check_compatible(self, path: Path, artifact: PromptArtifact) -> None:
        info, source = artifact.info, self.source.info
        info.check_backbone(self.backbone.fingerprint, self.backbone.hidden_size, self.backbone.name)
        same_run = (
            info.tune == source.tune
            and info.tuned_backbone_fingerprint == source.tuned_backbone_fingerprint
            and info.template == source.template
            and info.verbalizer == source.verbalizer
            and info.prompt_length == source.prompt_length
            and _same_tensors(artifact.lora_state, self.source.lora_state)
        )
        if not same_run:
            raise MptError(f"{path} does not come from the same source run as {self.source_path}; translate it again")
        if info.source_prompt_sha256 and info.source_prompt_sha256 != tensor_sha256(self.source.prompt):
            self.warnings.append(
                f"{path} was translated from an older {source.language} prompt; "
                f"`mpt translate --to {info.language} --overwrite` brings it up to date"
            )


def _same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
