"""The model card of a prompts folder (its ``README.md``): every language, how each was made, what ``mpt
eval`` measured. Rewritten from what the folder holds after every save and every evaluation.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Protocol

from .artifacts import PromptArtifact
from .errors import MptError
from .fileformat import read_metadata, tensor_sha256
from .languages import language_name
from .model_card import LICENSE, TAGS, hub_id, yaml_header
from .outputs import atomic_path, human_size

CARD_FILE = "README.md"


class PromptsFolder(Protocol):
    """What a card needs of the folder it describes (the store is one)."""

    root: Path
    notes: list[str]  # things worth telling the user

    def languages(self) -> list[str]: ...
    def load_prompt(self, lang: str) -> PromptArtifact: ...
    def prompt_path(self, lang: str) -> Path: ...


CARD_MARK = "<!-- mpt model card: train-source, translate, joint and eval rewrite this file -->"
"""Tells mpt's card from a README.md of someone else's, which mpt never replaces."""
_MEASURED = re.compile(r"^<!-- mpt measured: (\{.*\}) -->$", re.MULTILINE)


def is_card(text: str) -> bool:
    return CARD_MARK in text


def measured_in(text: str) -> dict[str, dict]:
    """What ``mpt eval`` measured, by language, as a card records it (``{}``: nothing, or not a card of mpt's)."""
    match = _MEASURED.search(text)
    try:
        found = json.loads(match.group(1)) if match else {}
    except json.JSONDecodeError:  # edited by hand: measured again by the next eval
        return {}
    return {lang: entry for lang, entry in found.items() if isinstance(entry, dict)} if isinstance(found, dict) else {}


def prompts_card(
    prompts: dict[str, PromptArtifact], translators: dict[str, dict], sizes: dict[str, int], measured: dict[str, dict],
    folder: str,
) -> str:  # fmt: skip
    """The card of a prompts folder: every language with a prompt (``prompts``, source prompts first), what
    ``translators`` record of the corpora (``corpus``, ``pairs``, by target language), each language's own
    files' ``sizes`` in bytes, and ``measured``: the test accuracy ``mpt eval`` measured, by language, of the
    prompts as they are (a language without a prompt of its own: the source prompt's)."""
    sources = [a for a in prompts.values() if a.info.kind == "source"]
    first = (sources or list(prompts.values()))[0].info
    task = first.task_definition()
    backbones = sorted({hub for a in prompts.values() if (hub := hub_id(a.info.backbone))})
    corpora = [hub for t in translators.values() if (hub := hub_id(t.get("corpus")))]
    header = yaml_header({
        "language": list(prompts),
        "license": LICENSE,
        "base_model": backbones[0] if len(backbones) == 1 else backbones,
        "datasets": list(dict.fromkeys([*([hub] if (hub := hub_id(first.data)) else []), *corpora])),
        "tags": TAGS,
        "metrics": ["accuracy"],
    })  # fmt: skip
    rows = ["| language | prompt | accuracy (mpt eval) | dev accuracy | its own files |", "| --- | --- | --- | --- | --- |"]
    for lang in [*prompts, *sorted(set(measured) - set(prompts))]:
        artifact = prompts.get(lang)
        kind = _kind(artifact.info) if artifact else f"none: the {first.language} prompt as it is"
        dev = f"{artifact.info.dev_accuracy:.1%}" if artifact and artifact.info.dev_accuracy is not None else "-"
        size = human_size(sizes[lang]) if lang in sizes else "-"
        rows.append(f"| {lang} ({language_name(lang)}) | {kind} | {_accuracy(measured.get(lang))} | {dev} | {size} |")
    made = [f"- {lang}: {_how_made(a.info, translators.get(lang))}" for lang, a in prompts.items()]
    example = ", ".join(f'"{name}"' for name in task.inputs)
    row = f"({example})" if len(task.inputs) > 1 else example
    target = next((lang for lang in prompts if lang != first.language), first.language)
    without_mpt = (
        "Without mpt, with transformers and PEFT: `mpt export` writes a language's prompt and adapter as a PEFT "
        "folder whose card holds the code."
    )
    use = [
        "## Use it",
        "",
        "With mpt (`pip install mpt-cli`):",
        "",
        "```",
        f"mpt predict --prompts-dir {folder} --lang {target} rows.tsv",
        f"mpt eval --prompts-dir {folder} --langs {','.join(prompts)}",
        f"mpt export --prompts-dir {folder} --lang {target} --output {target}-export",
        "```",
        "",
        "From Python:",
        "",
        "```python",
        "from mpt_cli import Classifier",
        "",
        f'classifier = Classifier.load("{folder}", lang="{target}")',
        f"print(classifier.predict([{row}])[0].probabilities)",
        "```",
        "",
        without_mpt,
    ]
    about = (
        f"Soft prompts for {task.name} ({', '.join(task.labels)}) on `{first.backbone}`, in {len(prompts)} "
        f"language{'s' if len(prompts) > 1 else ''}, made with mpt: template `{first.template}`, label words "
        f"{', '.join(first.verbalizer)}, `--tune {first.tune}`."
    )
    columns = (
        "Accuracy: what `mpt eval` last measured of the prompt as it is now; dev accuracy: on the few dev examples "
        "drawn when it was made."
    )
    return "\n".join([
        header, CARD_MARK, "", f"# {task.name}: mpt prompts", "", about, "", *rows, "",
        columns, "",
        "## How each was made", "", *made, "", *use, "",
        f"<!-- mpt measured: {json.dumps(measured, sort_keys=True)} -->", "",
    ])  # fmt: skip


def _kind(info) -> str:
    if info.kind == "source":
        return "trained with the other languages (mpt joint)" if info.joint else "source (mpt train-source)"
    return f"translated from {info.source_language}{', with an adapter of its own' if info.language_adapter else ''}"


def _accuracy(entry: dict | None) -> str:
    if not entry:
        return "not measured"
    where = f"{entry.get('split', '?')}, {entry.get('examples', '?')} examples of {entry.get('data', '?')}"
    return f"{entry['accuracy']:.1%} ({where}{', int8' if entry.get('int8') else ''})"


def _how_made(info, translator: dict | None) -> str:
    if info.kind == "source":
        training = info.training or {}
        chosen = ("epochs", "prompt_lr", "backbone_lr")
        settings = ", ".join(f"{key} {training[key]}" for key in chosen if training.get(key) is not None)
        joint = f"; jointly with {', '.join(info.joint.get('targets', []))}" if info.joint else ""
        return (f"trained on {info.data}, {info.shots} examples per class, seed {info.seed}, prompt length "
                f"{info.prompt_length}, --tune {info.tune}{', ' + settings if settings else ''}{joint}")  # fmt: skip
    parts = [f"translated from the {info.source_language} prompt"]
    if translator:
        parts.append(f"on {translator.get('corpus')} ({translator.get('pairs')} pairs)")
    settings = info.translation or {}
    chosen = ("epochs", "lr", "max_pairs", "adapter_rank", "adapter_lr")
    if spelt := ", ".join(f"{key} {settings[key]}" for key in chosen if settings.get(key) is not None):
        parts.append(spelt)
    if info.seconds is not None:
        parts.append(f"{info.seconds:.0f} s of training")
    return ", ".join(parts)


def write_card(folder: PromptsFolder, measured: dict[str, dict] | None = None) -> Path | None:
    """Rewrite ``folder``'s model card from the prompts in it; what ``mpt eval`` measured (``measured``, by
    language, and what the card held) is kept while the prompt measured is the one the language uses. A
    README.md that is not mpt's card, or a folder mpt cannot write, is left alone, with a note."""
    path = folder.root / CARD_FILE
    old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    if path.exists() and not is_card(old):
        folder.notes.append(f"{path} is not a model card mpt wrote, so mpt leaves it as it is")
        return None
    if not os.access(folder.root, os.W_OK):
        folder.notes.append(f"{folder.root} is not writable: its model card is not updated")
        return None
    prompts = {}
    for lang in folder.languages():
        try:
            prompts[lang] = folder.load_prompt(lang)
        except MptError:  # a damaged prompt: mpt inspect names it; the card lists the others
            continue
    if not prompts:
        return None
    prompts = dict(sorted(prompts.items(), key=lambda item: item[1].info.kind != "source"))  # source prompts first
    sources = {tensor_sha256(a.prompt) for a in prompts.values() if a.info.kind == "source"}
    in_use = lambda lang: {tensor_sha256(prompts[lang].prompt)} if lang in prompts else sources
    kept = {lang: entry for lang, entry in (measured_in(old) | (measured or {})).items()
            if entry.get("prompt_sha256") in in_use(lang)}  # fmt: skip
    translators = {}
    for lang, artifact in prompts.items():
        translator = folder.root / artifact.info.translator if artifact.info.translator else None
        if translator is not None and translator.is_file():
            meta = read_metadata(translator)
            translators[lang] = {"corpus": meta.get("corpus"), "pairs": meta.get("pairs")}
    sizes = {lang: _own_bytes(folder, artifact) for lang, artifact in prompts.items()}
    text = prompts_card(prompts, translators, sizes, kept, folder.root.name)  # a joint run writes in a temporary folder
    with atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def _own_bytes(folder: PromptsFolder, artifact: PromptArtifact) -> int:
    """The bytes of a language's own files: its prompt, and its adapter and translator, or a source run's side files."""
    info = artifact.info
    own = [info.language_adapter, info.translator] if info.kind != "source" else [info.tuned_backbone, info.adapters]
    paths = [folder.prompt_path(info.language), *(folder.root / name for name in own if name)]
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*") if p.is_dir() else []) if f.is_file()]
    return sum(f.stat().st_size for f in files)
