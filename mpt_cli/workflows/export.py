"""``mpt export``: one language's prompt in the files a PEFT user loads without mpt.

The output folder is a PEFT adapter folder with a prompt file and a model card beside it:

    DIR/
      adapter_config.json         PEFT LoraConfig (when the language has a low-rank part: below)
      adapter_model.safetensors   PEFT's weights, ``base_model.model.{layer}.lora_{A,B}.weight``
      prompt.safetensors          the prompt [P, H], with the template and label words in its metadata
      README.md                   model card; its first Python block labels one example without mpt

The low-rank part is the language's own adapter (``translate --method adapter``) and, for a ``--tune lora``
run, the run's LoRA adapters, which every language of the run goes through. Both are ``base(x) + s B A x``
on a linear layer, so where both adapt one layer they become one LoRA of their ranks summed: ``A``
stacked, ``B`` side by side. The base model is the run's backbone, or its tuned copy for ``--tune full``
(pointed to where it lies, or copied into ``DIR/backbone`` with ``copy_backbone``).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from ..artifacts import PromptArtifact
from ..engine.backbone import Tune, lora_config
from ..errors import MptError
from ..languages import describe, normalise
from ..model_card import export_card
from ..outputs import MARKER, atomic_path, check_writable
from ..store import DEFAULT_PROMPTS_DIR, PromptStore

PROMPT_FILE = "prompt.safetensors"
BACKBONE_FOLDER = "backbone"
EXAMPLE_TEXTS = ("A man is playing a guitar on stage.", "A man is making music.")
"""What the card labels when no text is given: the first for a task's first input, the second for its second."""


@dataclass(frozen=True)
class ExportOptions:
    lang: str
    output: Path
    prompts_dir: Path = DEFAULT_PROMPTS_DIR
    texts: tuple[str, ...] = ()  # the example the card labels, one text per task input (default: EXAMPLE_TEXTS)
    copy_backbone: bool = False  # --tune full: copy the tuned backbone into the export instead of pointing to it
    overwrite: bool = False


@dataclass
class Export:
    output: Path
    base_model: str  # what the adapter goes on: a hub id, or a folder (the tuned backbone)
    adapter_layers: int  # linear layers the PEFT adapter changes (0: no adapter folder written)
    files: list[str]


@dataclass(frozen=True)
class LowRank:
    """One low-rank update of a linear layer: ``scale * B A x``, ``A`` ``[r, in]``, ``B`` ``[out, r]``."""

    layer: str  # the module's name in the masked LM
    a: torch.Tensor
    b: torch.Tensor
    scale: float


def export(options: ExportOptions) -> Export:
    """Write ``options.lang``'s prompt, adapter and card into ``options.output``."""
    lang = normalise(options.lang)
    store = PromptStore(options.prompts_dir)
    check_writable(options.output, options.overwrite, folder=True, inputs=[options.prompts_dir])
    path = store.prompt_path(lang)
    if not path.is_file():
        have = sorted(p.stem for p in store.root.glob("*.safetensors")) if store.root.is_dir() else []
        raise MptError(f"no {describe(lang)} prompt in {store.root} (it has: {', '.join(have) or 'none'})")
    artifact = store.load_prompt(lang)
    info = artifact.info
    task = info.task_definition(str(path))
    texts = options.texts or EXAMPLE_TEXTS[: len(task.inputs)]
    if len(texts) != len(task.inputs):
        raise MptError(f"the {task.name} task takes {len(task.inputs)} texts ({', '.join(task.inputs)}); got {len(texts)}")
    if options.copy_backbone and info.tune != Tune.FULL:
        raise MptError(f"{path} was trained with --tune {info.tune}: there is no tuned backbone to copy")
    updates = low_rank_updates(store, artifact)
    tuned = store.needed_side(artifact, info.tuned_backbone, "tuned backbone") if info.tune == Tune.FULL else None
    with atomic_path(options.output, options.overwrite, folder=True, inputs=[options.prompts_dir]) as tmp:
        tmp.mkdir()
        if tuned is not None and options.copy_backbone:
            shutil.copytree(tuned, tmp / BACKBONE_FOLDER, ignore=shutil.ignore_patterns(MARKER))
            base = str(options.output / BACKBONE_FOLDER)
        else:
            base = info.backbone if tuned is None else str(tuned.resolve())
        if updates:
            write_peft_adapter(tmp, updates, base)
        _write_prompt(tmp / PROMPT_FILE, artifact, base)
        card = export_card(artifact, options.output, base, bool(updates), dict(zip(task.inputs, texts)))
        (tmp / "README.md").write_text(card, encoding="utf-8")
        files = sorted(str(p.relative_to(tmp)) for p in tmp.iterdir() if p.name != MARKER)
    return Export(options.output, base, len({u.layer for u in updates}), files)


def low_rank_updates(store: PromptStore, artifact: PromptArtifact) -> list[LowRank]:
    """Every low-rank update a prompt's rows go through: the run's LoRA adapters (``--tune lora``), then the
    language's own adapter."""
    info, updates = artifact.info, []
    if info.tune == Tune.LORA:
        state = store.adapters(artifact)  # PEFT's names: {layer}.lora_A.weight, {layer}.lora_B.weight
        config = lora_config(info.lora_rank)
        scale = config.lora_alpha / config.r
        for key in sorted(k for k in state if k.endswith(".lora_A.weight")):
            layer = key[: -len(".lora_A.weight")]
            updates.append(LowRank(layer, state[key], state[f"{layer}.lora_B.weight"], scale))
    if info.language_adapter:
        config, state = store.language_adapter(artifact)  # {layer}.A, {layer}.B
        for key in sorted(k for k in state if k.endswith(".A")):
            layer = key[: -len(".A")]
            updates.append(LowRank(layer, state[key], state[f"{layer}.B"], config.scale))
    return updates


def write_peft_adapter(folder: Path, updates: list[LowRank], base_model: str) -> None:
    """``adapter_config.json`` and ``adapter_model.safetensors`` as PEFT writes them, for ``updates``.

    PEFT has one scale per layer, ``lora_alpha / r``: where every update has the same scale ``s`` it is kept
    (``lora_alpha = s r``) and the weights are written as trained; otherwise each ``B`` takes its own scale
    and PEFT's is 1. A layer of another rank than the most common one is named in ``rank_pattern``.
    """
    from peft import LoraConfig
    from safetensors.torch import save_file

    scales = {u.scale for u in updates}
    common_scale = scales.pop() if len(scales) == 1 else 1.0
    layers: dict[str, list[LowRank]] = {}
    for update in updates:
        layers.setdefault(update.layer, []).append(update)
    tensors, ranks = {}, {}
    for layer, parts in layers.items():
        prefix = f"base_model.model.{layer}"
        tensors[f"{prefix}.lora_A.weight"] = torch.cat([u.a.float() for u in parts]).contiguous()  # [sum r, in]
        tensors[f"{prefix}.lora_B.weight"] = torch.cat(
            [u.b.float() * (u.scale / common_scale) for u in parts], dim=1
        ).contiguous()  # [out, sum r]
        ranks[layer] = sum(u.a.shape[0] for u in parts)
    rank = Counter(ranks.values()).most_common(1)[0][0]
    others = {layer: r for layer, r in ranks.items() if r != rank}

    def alpha(r: int) -> int | float:  # as PEFT's own configs write it: a whole number where it is one
        value = common_scale * r
        return int(value) if float(value).is_integer() else value

    config = LoraConfig(
        r=rank, lora_alpha=alpha(rank), target_modules=sorted(layers), lora_dropout=0.0, inference_mode=True,
        rank_pattern=others, alpha_pattern={layer: alpha(r) for layer, r in others.items()}, base_model_name_or_path=base_model,
    )  # fmt: skip
    config.save_pretrained(str(folder))
    save_file(tensors, str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})


def _write_prompt(path: Path, artifact: PromptArtifact, base_model: str) -> None:
    """The prompt ``[P, H]`` and what places and reads it: template, label words, the task's labels and inputs."""
    from safetensors.torch import save_file

    info = artifact.info
    task = info.task_definition()
    metadata = {
        "language": info.language,
        "base_model": base_model,
        "template": info.template,
        "inputs": json.dumps(list(task.inputs)),
        "labels": json.dumps(list(task.labels)),
        "label_words": json.dumps(list(info.verbalizer), ensure_ascii=False),
        "max_length": str(info.max_length),
    }
    save_file({"prompt": artifact.prompt.float().contiguous()}, str(path), metadata=metadata)
