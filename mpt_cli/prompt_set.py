"""The prompts of several languages on the one backbone their source run shares, loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .artifacts import PromptArtifact
from .engine.backbone import Backbone
from .engine.device import check_int8, uses_cuda
from .engine.scorer import Scorer
from .errors import MptError
from .fileformat import tensor_sha256
from .store import PromptStore
from .task import Task


@dataclass
class LanguagePrompt:
    language: str
    path: Path
    artifact: PromptArtifact
    translated: bool  # False: the source prompt used as is (a fallback, or the source language itself)
    adapted: bool = False  # the language has an adapter of its own in the backbone

    @property
    def route(self) -> str | None:
        """The language adapter its rows go through (None: the source model as it is)."""
        return self.language if self.adapted else None


class PromptSet:
    """The source prompt, its backbone and scorer, and each language's prompt on demand.

    Every prompt must come from the same source run (same backbone side, template and verbalizer):
    translated prompts are inputs to one model, so rows of different languages can share a batch. A
    language with an adapter of its own has it added to that model when its prompt is first asked for;
    rows are routed through it (:attr:`LanguagePrompt.route`), and other rows see the model as it is.

    The backbone loads when first needed, so that a command reads and checks its data (which needs
    only :attr:`task`) before the minutes a model can take to load. With ``int8`` its encoder computes
    its linear layers in int8 (:meth:`Backbone.to_int8`), for scoring on the CPU; language adapters add
    their float32 updates on top.
    """

    def __init__(
        self, prompts_dir: Path, source: str, model: str | None = None, cpu: bool = False, task: str | None = None,
        int8: bool = False,
    ):  # fmt: skip
        if int8:  # a device or precision int8 cannot use fails before any file is read
            check_int8(uses_cuda(cpu))
        self.int8 = int8
        self.store = PromptStore(prompts_dir)
        self.source = self.store.open_source(source)
        self.source_path = self.store.prompt_path(source)
        self.task: Task = self.store.task_of(self.source, task)  # the task the user names must be the prompts'
        self.model, self.cpu = model, cpu
        self.warnings: list[str] = self.store.notes

    @cached_property
    def backbone(self) -> Backbone:
        backbone = self.store.load_backbone(self.source, self.model, self.cpu)
        if self.int8:  # after the run's fingerprints are checked on its float32 weights
            backbone.to_int8()
        return backbone

    @cached_property
    def scorer(self) -> Scorer:
        return self.store.scorer(self.source, self.backbone)

    def source_for(self, lang: str) -> LanguagePrompt:
        """The source prompt, used as is on ``lang`` (vanilla soft-prompt transfer)."""
        return LanguagePrompt(lang, self.source_path, self.source, translated=False)

    def for_language(self, lang: str) -> LanguagePrompt:
        """``{lang}.safetensors`` when it exists, else the source prompt (with a warning)."""
        path = self.store.prompt_path(lang)
        if lang == self.source.info.language:
            return self.source_for(lang)
        if not path.is_file():
            self.warnings.append(
                f"no {lang} prompt in {self.store.root}: using the {self.source.info.language} prompt; "
                f"`mpt translate --to {lang}` would create one"
            )
            return self.source_for(lang)
        artifact = self.store.load_prompt(lang)
        self._check_compatible(path, artifact)
        adapted = artifact.info.language_adapter is not None
        if adapted and lang not in self.backbone.language_adapters.configs:
            config, state = self.store.language_adapter(artifact)
            self.backbone.language_adapters.add(lang, config, state=state)
        return LanguagePrompt(lang, path, artifact, translated=artifact.info.kind == "translated", adapted=adapted)

    def _check_compatible(self, path: Path, artifact: PromptArtifact) -> None:
        info, source = artifact.info, self.source.info
        info.check_backbone(self.backbone.fingerprint, self.backbone.hidden_size, self.backbone.name)
        same_run = (
            info.tune == source.tune
            and info.tuned_backbone_fingerprint == source.tuned_backbone_fingerprint
            and info.adapters_sha256 == source.adapters_sha256
            and artifact.info.task_definition(str(path)).identity() == self.task.identity()
            and info.template == source.template
            and info.verbalizer == source.verbalizer
            and info.prompt_length == source.prompt_length
        )
        if not same_run:
            raise MptError(f"{path} does not come from the same source run as {self.source_path}; translate it again")
        if info.source_prompt_sha256 and info.source_prompt_sha256 != tensor_sha256(self.source.prompt):
            self.warnings.append(
                f"{path} was translated from an older {source.language} prompt; "
                f"`mpt translate --to {info.language} --overwrite` brings it up to date"
            )
