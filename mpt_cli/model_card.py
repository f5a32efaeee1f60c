"""Model cards: the ``README.md`` in the Hugging Face model-card form (a YAML header, then text).

The header is written by hand, every value a string or a list of strings as JSON quotes them (a JSON
string is a YAML scalar), so it parses with any YAML reader and needs none to be written.
"""

from __future__ import annotations

import json
from pathlib import Path

from .artifacts import PromptArtifact
from .data.paths import existing_path
from .languages import language_name

TAGS = ["mpt", "prompt-tuning", "soft-prompt", "cross-lingual", "text-classification"]
LICENSE = "other"  # the weights derive from the base model and the training data: their licences govern


def yaml_header(fields: dict[str, str | list[str] | None]) -> str:
    """``---``, one ``key: value`` or ``key:`` with ``- item`` lines per field (empty ones left out), ``---``."""
    lines = ["---"]
    for key, value in fields.items():
        if value is None or value == []:
            continue
        if isinstance(value, str):
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
        else:
            lines.append(f"{key}:")
            lines += [f"- {json.dumps(item, ensure_ascii=False)}" for item in value]
    return "\n".join([*lines, "---"]) + "\n"


def hub_id(spec: str | None) -> str | None:
    """``spec`` when it names a hub repository, None for a local path (the hub's metadata takes ids only)."""
    return None if not spec or existing_path(spec) is not None or spec.startswith((".", "/", "~")) else spec


def export_card(artifact: PromptArtifact, output: Path, base: str, adapter: bool, texts: dict[str, str]) -> str:
    """The card of an ``mpt export`` folder: what it holds, and a Python block that labels ``texts`` with
    transformers, PEFT, safetensors and torch alone (no mpt), printing each label's probability."""
    info = artifact.info
    task = info.task_definition()
    name = language_name(info.language)
    header = yaml_header({
        "language": [info.language],
        "license": LICENSE,
        "base_model": hub_id(info.backbone),
        "library_name": "peft" if adapter else "transformers",
        "datasets": [d] if (d := hub_id(info.data)) else [],
        "tags": [*TAGS, *(["lora", "peft"] if adapter else [])],
        "metrics": ["accuracy"],
    })  # fmt: skip
    parts = [*(["the language adapter"] if info.language_adapter else []),
             *(["the LoRA adapters of the source run"] if info.tune == "lora" else [])]  # fmt: skip
    files = []
    if adapter:
        files.append(f"- `adapter_config.json`, `adapter_model.safetensors`: a PEFT LoRA ({' and '.join(parts)}) on `{base}`")
    files.append(
        f"- `prompt.safetensors`: the prompt (`prompt`, {info.prompt_length} soft tokens of {info.hidden_size} dimensions) "
        "and, in its metadata, the template, the label words and the labels"
    )
    if info.tune == "full":
        files.append(f"- `{base}`: the backbone tuned with the prompt (`--tune full`), the base model of the files here")
    made = f"translated from the {info.source_language} prompt" if info.kind == "translated" else "trained"
    accuracy = f"{info.dev_accuracy:.1%} on a small dev draw" if info.dev_accuracy is not None else "not measured"
    about = (
        f"A soft prompt for {task.name} ({', '.join(task.labels)}) in {name} ({info.language}), {made} on "
        f"`{info.backbone}`; dev accuracy: {accuracy}. Its soft tokens replace the input embeddings of the "
        "template's `{soft}` slots; a label scores as the mean logit of its label words' pieces at `<mask>`."
    )
    with_mpt = (
        f"With mpt, from the prompts folder it came from: `mpt predict --lang {info.language} FILE` (a TSV of the task's texts)."
    )
    shortened = (
        "mpt shortens texts longer than the prompt's `max_length` (in the metadata), longest text first; this example does not."
    )
    return "\n".join([
        header, f"# {task.name}: a {name} prompt made with mpt", "", about, "", *files, "", with_mpt, "",
        "## Use it from Python (no mpt)", "", "```python", _python_block(output, base, adapter, texts), "```", "",
        shortened, "",
    ])  # fmt: skip


def _python_block(output: Path, base: str, adapter: bool, texts: dict[str, str]) -> str:
    """Labels ``texts`` as mpt does: the template piece by piece, the prompt at the soft slots, the label
    words' mean logit at the mask, softmax over the labels."""
    lines = [
        "import json",
        "import re",
        "",
        "import torch",
        *(["from peft import PeftModel"] if adapter else []),
        "from safetensors import safe_open",
        "from transformers import AutoModelForMaskedLM, AutoTokenizer",
        "",
        f"EXPORT = {json.dumps(str(output))}  # this folder",
        f"BASE = {json.dumps(base)}  # the model the prompt{' and adapter' if adapter else ''} belong to",
        f"texts = {json.dumps(texts, ensure_ascii=False)}",
        "",
        'with safe_open(f"{EXPORT}/prompt.safetensors", framework="pt") as f:',
        '    prompt, meta = f.get_tensor("prompt"), f.metadata()  # prompt: [P, H]',
        "tokenizer = AutoTokenizer.from_pretrained(BASE)",
        "model = AutoModelForMaskedLM.from_pretrained(BASE, dtype=torch.float32)",
        *(["model = PeftModel.from_pretrained(model, EXPORT)"] if adapter else []),
        "model.eval()",
        "",
        "",
        "def ids(text):",
        '    return tokenizer(text, add_special_tokens=False)["input_ids"]',
        "",
        "",
        "# the template piece by piece: texts, soft slots (any id: their embeddings are replaced), <mask>",
        'bare, full = ids("x"), tokenizer("x")["input_ids"]  # the special tokens around a text',
        "start = next(i for i in range(len(full)) if full[i : i + len(bare)] == bare)",
        "input_ids, soft, mask = full[:start], 0, 0",
        'for piece in re.split(r"(\\{[^{}]*\\})", meta["template"]):',
        '    name = piece[1:-1] if piece.startswith("{") else None',
        '    if name == "soft":',
        "        soft = len(input_ids)",
        "        input_ids += [tokenizer.unk_token_id] * len(prompt)",
        '    elif name == "mask":',
        "        mask = len(input_ids)",
        "        input_ids.append(tokenizer.mask_token_id)",
        "    elif name:",
        "        input_ids += ids(texts[name])",
        "    elif piece.strip():",
        "        input_ids += ids(piece.strip())",
        "input_ids = torch.tensor([input_ids + full[start + len(bare) :]])",
        "",
        "with torch.no_grad():",
        "    embeds = model.get_input_embeddings()(input_ids)",
        "    embeds[0, soft : soft + len(prompt)] = prompt",
        "    logits = model(inputs_embeds=embeds, attention_mask=torch.ones_like(input_ids)).logits[0, mask]  # [V]",
        "# a label's logit: the mean over its words (joined by |) of the mean logit of each word's pieces",
        "scores = torch.stack([",
        '    torch.stack([logits[ids(word.strip())].mean() for word in words.split("|")]).mean()',
        '    for words in json.loads(meta["label_words"])',
        "])",
        'for label, p in zip(json.loads(meta["labels"]), scores.softmax(-1).tolist()):',
        '    print(f"{label}\\t{p:.6f}")',
    ]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ the prompts folder's card
