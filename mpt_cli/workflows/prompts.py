"""Opening prompt artifacts and putting them back on the backbone they were trained with."""

from __future__ import annotations

from pathlib import Path

import torch

from ..artifacts import PromptArtifact
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
