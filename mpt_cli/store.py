"""The prompts folder: the one place that knows its layout, and saves and loads what is in it.

    prompts/
      en.safetensors                  a source prompt [P, H] and its metadata (a few KB)
      de.safetensors                  a prompt translated from it, on the same backbone side
      translators/en-de.safetensors   a translator and the source prompt it was trained against
      en.backbone-<sha>/              --tune full: the tuned backbone every language of the run shares
      en.lora-<sha>.safetensors       --tune lora: the adapters every language of the run shares
      en.state-<sha>.safetensors      training state: the prompt encoder, to continue training
      de.adapter-<sha>.safetensors    a translated language's own adapter (translate's adapter method)
      README.md                       the model card: every language, how it was made, what eval measured

Every save rewrites the model card (:mod:`.folder_card`), and so does ``mpt eval`` with what it measured.
Side files are named after their content. A run writes its own beside the old ones and the prompt
switches to them in one rename, so a run killed half way leaves a prompt that loads; the side files of
the replaced prompt (and any a killed run left) are removed afterwards.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

from .artifacts import PromptArtifact, PromptInfo, StateInfo, read_state, read_state_file
from .data.paths import same_model
from .engine.backbone import Backbone, Tune, weights_fingerprint
from .engine.language_adapter import AdapterConfig
from .engine.scorer import Scorer
from .errors import MptError
from .fileformat import from_fields, provenance, tensor_sha256, tensors_sha256, with_prefix, write_safetensors
from .folder_card import write_card
from .outputs import MARKER, atomic_path, check_writable
from .task import Task
from .template import TemplateEncoder
from .verbalizer import Verbalizer

SIDE_FILE = re.compile(r"^(?P<lang>[^.]+)\.(?P<kind>backbone|lora|state|adapter)-[0-9a-f]{12}(\.safetensors)?$")
STATE_FILE_NAME = {"lora": "lora", "encoder": "state", "language-adapter": "adapter"}  # kind of state -> infix
DEFAULT_PROMPTS_DIR = Path("prompts")


class PromptStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)
        self.notes: list[str] = []  # things worth telling the user, such as an old file format

    # ---------------------------------------------------------------------------------------- layout

    def prompt_path(self, lang: str) -> Path:
        return self.root / f"{lang}.safetensors"

    def translator_path(self, source: str, target: str) -> Path:
        return self._translators / f"{source}-{target}.safetensors"

    @classmethod
    def of_translator(cls, path: Path) -> PromptStore:
        """The store the translator file at ``path`` belongs to."""
        return cls(Path(path).parent.parent)

    def translator_targets(self, source: str) -> list[str]:
        """The target languages that have a translator from ``source``."""
        found = self._translators.glob(f"{source}-*.safetensors")
        return sorted(p.name[len(source) + 1 : -len(".safetensors")] for p in found)

    def languages(self) -> list[str]:
        """The languages with a prompt file here, in the order of their names."""
        found = (p for p in self.root.glob("*.safetensors") if not SIDE_FILE.match(p.name))
        return sorted(p.name[: -len(".safetensors")] for p in found)

    def files(self) -> list[Path]:
        """The ``.safetensors`` files where the layout puts them: prompts and state files, then translators."""
        return [*sorted(self.root.glob("*.safetensors")), *sorted(self._translators.glob("*.safetensors"))]

    @property
    def _translators(self) -> Path:
        return self.root / "translators"

    def side_path(self, name: str | None, prompt: Path) -> Path:
        """A side file or folder named in ``prompt``'s metadata: only ever a plain name beside it."""
        if not name or Path(name).name != name or name in (".", ".."):
            raise MptError(f"{prompt} names {name!r} as a file it needs, which is not a file beside it")
        return prompt.parent / name

    def needed_side(self, artifact: PromptArtifact, name: str | None, what: str) -> Path:
        """The side file or folder ``name`` that ``artifact``'s prompt needs, or one error that names the prompt
        and the command that remakes it (side files are not copied with a prompt unless one copies them)."""
        info, prompt = artifact.info, self.prompt_path(artifact.info.language)
        path = self.side_path(name, prompt)
        if path.exists():
            return path
        if info.kind != "source":
            remake = f"mpt translate --to {info.language} --method adapter --prompts-dir {self.root} --overwrite"
        elif info.joint:
            joint = info.joint
            remake = f"mpt joint --to {','.join(joint['targets'])} --prompts-dir {joint['from']} --output {self.root} --overwrite"
        else:
            remake = f"mpt train-source --lang {info.language} --tune {info.tune} --prompts-dir {self.root} --overwrite"
        raise MptError(
            f"{prompt} needs its {what} {path.name}, which is missing beside it; copy it from the folder the prompt "
            f"was made in, or make it again: `{remake}`"
        )

    # --------------------------------------------------------------------------------------- loading

    def load_prompt(self, lang: str) -> PromptArtifact:
        path = self.prompt_path(lang)
        artifact = PromptArtifact.load(path)
        if artifact.legacy and not any(str(path) in note for note in self.notes):
            self.notes.append(f"{path} is in the format of mpt 0.1: it works; training it again writes the smaller files")
        return artifact

    def open_source(self, lang: str) -> PromptArtifact:
        """The trained (not translated) prompt for ``lang``, or a clear error naming the command to run."""
        path = self.prompt_path(lang)
        if not path.is_file():
            raise MptError(f"no source prompt at {path}; run `mpt train-source --lang {lang}` first")
        artifact = self.load_prompt(lang)
        if artifact.info.kind != "source":
            raise MptError(f"{path} is a translated prompt, not a trained source prompt")
        return artifact

    def task_of(self, artifact: PromptArtifact, expected: str | None = None) -> Task:
        """The task ``artifact`` was trained for; one clear error when it is not the ``expected`` one (a
        built-in task's name or a task file), where the user names one."""
        path = self.prompt_path(artifact.info.language)
        task = artifact.info.task_definition(str(path))
        if expected is not None:
            wanted = Task.load(expected)
            if wanted.identity() != task.identity():
                message = f"{path} was trained for task {task.name!r}, not {wanted.name!r}"
                if wanted.name == task.name:  # the same name: say what differs
                    shape = lambda t: f"inputs {', '.join(t.inputs)}; labels {', '.join(t.labels)}"
                    message += f" as {expected} defines it ({shape(wanted)}; the prompt's: {shape(task)})"
                raise MptError(message)
        return task

    def adapters(self, artifact: PromptArtifact) -> dict[str, torch.Tensor]:
        """The LoRA adapter weights a ``lora`` prompt needs."""
        if artifact.legacy:
            return with_prefix(artifact.legacy, "lora.")
        path = self.needed_side(artifact, artifact.info.adapters, "LoRA adapters")
        state = read_state(path, "lora")
        if tensors_sha256(state) != artifact.info.adapters_sha256:
            raise MptError(f"{path} is not the adapter set {self.prompt_path(artifact.info.language)} was trained with")
        return state

    def language_adapter(self, artifact: PromptArtifact) -> tuple[AdapterConfig, dict[str, torch.Tensor]]:
        """The configuration and weights of the adapter of its own a translated prompt names."""
        path = self.needed_side(artifact, artifact.info.language_adapter, "language adapter")
        state, info = read_state_file(path, "language-adapter")
        if tensors_sha256(state) != artifact.info.language_adapter_sha256:
            raise MptError(f"{path} is not the adapter {self.prompt_path(artifact.info.language)} was trained with")
        return from_fields(AdapterConfig, info.config, f"{path} has damaged metadata in config"), state

    def training_state(self, artifact: PromptArtifact) -> dict[str, torch.Tensor]:
        """The prompt-encoder weights of a source prompt, to continue training it."""
        if artifact.legacy:
            state = with_prefix(artifact.legacy, "encoder.")
        elif artifact.info.training_state:
            state = read_state(self.needed_side(artifact, artifact.info.training_state, "prompt-encoder weights"), "encoder")
        else:
            state = {}
        if not state:
            raise MptError(f"{self.prompt_path(artifact.info.language)} has no prompt-encoder weights to continue from")
        return state

    def load_backbone(self, artifact: PromptArtifact, model: str | None = None, cpu: bool = False) -> Backbone:
        """The backbone ``artifact`` needs: ``model`` (default: the recorded one) with its LoRA adapters,
        or, for a fully tuned prompt, the tuned backbone folder beside it."""
        info, path = artifact.info, self.prompt_path(artifact.info.language)
        if info.tune == Tune.FULL:
            if model is not None and not same_model(model, info.backbone):
                raise MptError(
                    f"{path} was trained with --tune full on {info.backbone} and uses its tuned copy "
                    f"{info.tuned_backbone}; --model {model} cannot replace it"
                )
            directory = self.needed_side(artifact, info.tuned_backbone, "tuned backbone")
            backbone = Backbone.load(str(directory), cpu=cpu)
            if weights_fingerprint(backbone.model) != info.tuned_backbone_fingerprint:
                raise MptError(f"{directory} is not the backbone {path} was trained with (its weights changed)")
        else:
            backbone = Backbone.load(model or info.backbone, cpu=cpu)
        info.check_backbone(backbone.fingerprint, backbone.hidden_size, backbone.name)
        if info.tune == Tune.LORA:
            backbone.load_lora_state(self.adapters(artifact), info.lora_rank)
        # a loaded run is used, not trained: its LoRA adapters too stay frozen (no gradient kept for them)
        # until a joint run, which continues training it, makes them trainable again with set_tune
        backbone.model.requires_grad_(False)
        backbone.model.eval()
        return backbone

    @staticmethod
    def scorer(artifact: PromptArtifact, backbone: Backbone) -> Scorer:
        """The task, template and label words recorded in ``artifact``, bound to ``backbone``."""
        info = artifact.info
        task = info.task_definition(f"the {info.language} prompt")
        template = TemplateEncoder(info.template, backbone.tokenizer, info.prompt_length, info.max_length, task.inputs)
        words = Verbalizer(tuple(info.verbalizer)).label_words(backbone.tokenizer)
        return Scorer(backbone, template, words, task)

    # ---------------------------------------------------------------------------------------- saving

    def save_source(
        self, backbone: Backbone, prompt: torch.Tensor, info: PromptInfo, encoder_state: dict, overwrite: bool
    ) -> Path:
        """Write a trained source prompt ``[P, H]`` with its side files: the tuned backbone (``full``) or
        the adapters (``lora``), and the prompt encoder. They are written first, the prompt last."""
        path = self.prompt_path(info.language)
        check_writable(path, overwrite)
        replaced = self._side_files_of(path, lambda old: [old.tuned_backbone, old.adapters, old.training_state])
        if info.tune == Tune.FULL:
            info.tuned_backbone_fingerprint = weights_fingerprint(backbone.model)
            info.tuned_backbone = self._write_side(
                info.language, "backbone", info.tuned_backbone_fingerprint, backbone.save_model
            )
        if info.tune == Tune.LORA:
            state = backbone.lora_state()
            info.adapters_sha256 = tensors_sha256(state)
            config = {"lora_rank": info.lora_rank}
            info.adapters = self._write_state(info.language, "lora", state, config, info.adapters_sha256)
        info.training_state = self._write_state(info.language, "encoder", encoder_state, info.prompt_encoder or {})
        PromptArtifact(prompt, info).save(path, overwrite)
        keep = {info.tuned_backbone, info.adapters, info.training_state}
        stale = [p for p in self.root.glob(f"{info.language}.*-*") if SIDE_FILE.match(p.name) and p.name not in keep]
        for item in {*replaced, *stale}:
            if item.name not in keep:
                shutil.rmtree(item) if item.is_dir() else item.unlink(missing_ok=True)
        write_card(self)
        return path

    def save_translated(
        self, source: PromptArtifact, target: str, prompt: torch.Tensor, translator: Path | None, dev_accuracy: float | None,
        overwrite: bool, adapter: tuple[AdapterConfig, dict[str, torch.Tensor]] | None = None, settings: dict | None = None,
        seconds: float | None = None, tokenizer: dict | None = None,
    ) -> Path:  # fmt: skip
        """Write ``source`` translated into ``target`` by the translator file ``translator`` (None: ``p_T = p_S``);
        it shares the source prompt's side files (recorded, not copied). The target's own ``adapter``
        (configuration and weights), when it has one, is written first, in a file of its own; the one it
        replaces is removed once the new prompt is in place. ``settings``: those it was trained with, recorded,
        ``seconds`` the training took, and ``tokenizer`` how well the tokenizer reads the language."""
        path = self.prompt_path(target)
        replaced = self._side_files_of(path, lambda old: [old.language_adapter])  # the source's are shared: kept
        info = replace(
            source.info,
            language=target,
            kind="translated",
            source_language=source.info.language,
            source_prompt_sha256=tensor_sha256(source.prompt),
            translator=None if translator is None else str(translator.relative_to(self.root)),
            dev_accuracy=dev_accuracy,
            training_state=None,
            translation=settings,
            seconds=None if seconds is None else round(seconds, 1),
            tokenizer=tokenizer,
            **provenance(),
        )
        if source.legacy and info.tune == Tune.LORA:  # a format-1 source keeps its adapters inside: give them a file
            info.adapters = self._write_state(source.info.language, "lora", self.adapters(source), {"lora_rank": info.lora_rank})
        if adapter is not None:
            config, state = adapter
            info.language_adapter_sha256 = sha = tensors_sha256(state)
            info.language_adapter = self._write_state(target, "language-adapter", state, config.to_json(), sha)
        PromptArtifact(prompt, info).save(path, overwrite)
        for old in replaced:
            if old.name != info.language_adapter:
                old.unlink(missing_ok=True)
        write_card(self)
        return path

    def _write_state(self, lang: str, kind: str, tensors: dict, config: dict, sha: str | None = None) -> str:
        """Write a state file named after its weights, unless it is there already; its name."""
        name = f"{lang}.{STATE_FILE_NAME[kind]}-{(sha or tensors_sha256(tensors))[:12]}.safetensors"
        if not (self.root / name).is_file():
            write_safetensors(self.root / name, tensors, StateInfo(kind=kind, language=lang, config=config, **provenance()), True)
        return name

    def _write_side(self, lang: str, kind: str, sha: str, write: Callable[[Path], None]) -> str:
        """Write a side folder named after its content, unless it is there already; its name."""
        name = f"{lang}.{kind}-{sha[:12]}"
        if not (self.root / name / MARKER).is_file():
            with atomic_path(self.root / name, overwrite=True, folder=True) as tmp:
                write(tmp)
        return name

    def _side_files_of(self, path: Path, names: Callable[[PromptInfo], list[str | None]]) -> list[Path]:
        """The side files and folders ``names`` picks from the prompt at ``path``, when there is one to replace."""
        try:
            info = PromptArtifact.load(path).info if path.is_file() else None
            sides = [self.side_path(name, path) for name in names(info) if name] if info else []
            return [side for side in sides if side.exists()]
        except MptError:  # a damaged prompt, or one naming files outside the folder: nothing of it to remove
            return []
