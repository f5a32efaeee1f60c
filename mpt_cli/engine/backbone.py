"""The backbone: a masked LM, its tokenizer, its device (:mod:`.device`), and logits at the mask only.

This is the one place that touches the transformer. Everything else hands it a :class:`Batch` and a
prompt and gets back ``[B, C]`` logits over the label words (or ``[B, V]`` over the vocabulary).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from contextlib import nullcontext
from functools import cached_property
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..choices import Choice
from ..data.paths import local_path
from ..errors import MptError
from ..verbalizer import LabelWords
from .batching import IGNORED, Batch, MaskedBatch, rows_of
from .device import check_int8, make_accelerator, place
from .int8 import quantize_linear_layers
from .language_adapter import LanguageAdapters, Route


class Tune(Choice):
    """What learns with the prompt: nothing, LoRA adapters, or the transformer but its word embeddings."""

    PROMPT = "prompt"
    LORA = "lora"
    FULL = "full"

DEFAULT_MODEL = "xlm-roberta-base"
DEFAULT_LORA_RANK = 8


class Backbone:
    """A frozen-or-tuned masked LM that scores label words at the mask position.

    ``model`` keeps float32 weights (so fingerprints do not depend on the device); the forward pass
    runs under the accelerator's autocast (bf16 on a GPU, see :class:`.device.Precision`), and what it hands
    back, mask states and logits, is float32 whatever the precision.
    """

    def __init__(self, model, tokenizer, name: str, accelerator=None):
        self.name = name
        self.tokenizer = tokenizer
        self.accelerator = accelerator or make_accelerator()
        self.model = place(model, self.accelerator)
        self.tune = Tune.PROMPT
        self.model.requires_grad_(False)
        self.decoder = model.get_output_embeddings()  # Linear H -> V, usually tied to the input embeddings
        self._head_transform = _head_without_decoder(model, self.decoder)

    @classmethod
    def load(cls, name_or_dir: str, cpu: bool = False) -> Backbone:
        """Load any ``AutoModelForMaskedLM`` and its tokenizer from a hub id or a local directory."""
        from transformers import AutoModelForMaskedLM

        tokenizer, model = load_pretrained(AutoModelForMaskedLM, name_or_dir, "a masked language model")
        return cls(model, tokenizer, name_or_dir, make_accelerator(cpu))

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    @property
    def hidden_size(self) -> int:
        return self.model.get_input_embeddings().weight.shape[1]

    @property
    def max_length(self) -> int:
        """Longest input the model accepts, from the tokenizer or, failing that, the position table."""
        limit = self.tokenizer.model_max_length
        if not limit or limit > 100_000:  # tokenizers without a limit report a huge sentinel
            limit = getattr(self.model.config, "max_position_embeddings", 512) - 2
        return limit

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the input embedding matrix as loaded: identifies the backbone and its vocabulary."""
        return embedding_fingerprint(self.model)

    def set_tune(self, mode: str, lora_rank: int = DEFAULT_LORA_RANK) -> None:
        """Choose what learns besides the prompt: nothing (``prompt``), LoRA adapters, or the whole
        transformer (``full``).

        ``full`` leaves the word-embedding matrix frozen: the prompt lives in that space, and few-shot
        updates in one language would move only that language's rows away from the others'. It also
        halves the step time (the matrix is most of the parameters of a multilingual model).
        """
        mode = Tune.parse(mode, "tune mode")
        self.fingerprint  # noqa: B018 - fix the base fingerprint before any weight can change
        if mode == Tune.LORA and self.tune != Tune.LORA:  # adapters loaded or added already learn as they are
            self._add_lora(lora_rank)
        self.model.requires_grad_(mode == Tune.FULL)
        self.model.get_input_embeddings().requires_grad_(False)
        if mode == Tune.LORA:
            for name, param in self.model.named_parameters():
                param.requires_grad_("lora_" in name)
        self.tune = mode

    def _add_lora(self, rank: int) -> None:
        from peft import inject_adapter_in_model

        try:
            self.model = inject_adapter_in_model(lora_config(rank), self.model)
        except ValueError as exc:
            raise MptError(f"cannot add LoRA adapters to {self.name}: {exc}") from None

    def lora_state(self) -> dict[str, torch.Tensor]:
        from peft import get_peft_model_state_dict

        return {k: v.detach().cpu().contiguous() for k, v in get_peft_model_state_dict(self.model).items()}

    def load_lora_state(self, state: dict[str, torch.Tensor], rank: int) -> None:
        from peft import set_peft_model_state_dict

        if self.tune != Tune.LORA:
            self.set_tune(Tune.LORA, rank)
        set_peft_model_state_dict(self.model, {k: v.to(self.device) for k, v in state.items()})

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def to_int8(self) -> None:
        """From now on, compute the encoder's linear layers in int8 (:mod:`.int8`), for scoring on the CPU.

        Language adapters, added before or after, keep their low-rank updates in float32 on top of the
        int8 base; the MLM head stays float32 (it runs on the mask states alone). Training is over for
        this backbone: the int8 layers have no gradient.
        """
        check_int8(self.device.type == "cuda")
        quantize_linear_layers(self.model.base_model)

    @cached_property
    def language_adapters(self) -> LanguageAdapters:
        """The target languages' own adapters inside the model (none until one is added)."""
        return LanguageAdapters(self.model)

    def mask_states(
        self, batch: Batch, prompts: torch.Tensor, route: Route = None, mix: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Head-transformed hidden states at the mask: ``[B, H]``, float32.

        ``prompts`` is ``[P, H]`` (one prompt for the batch) or ``[B, P, H]`` (one per row); it replaces
        the input embeddings at ``batch.soft_positions``. ``route`` names the language adapter each row
        goes through (one language for all, one per row, or None: the model as it is). ``mix`` maps the
        encoder's states at the mask (``[B, H]``) before the MLM head's transform: mixup's place.

        On a CPU, where every padded token costs as much as a real one, a batch of far-apart lengths runs
        in pieces of similar length (:meth:`.Batch.pieces`); the rows and the outputs are the batch's.
        """
        pieces = batch.pieces() if self.device.type == "cpu" else []  # a GPU pads for free: one call is quickest
        with self.accelerator.autocast():
            if len(pieces) > 1:
                states = [
                    self._encoder_at_mask(batch.select(rows), rows_of(prompts, rows), rows_of(route, rows)) for rows in pieces
                ]
                at_mask = torch.cat(states)[torch.cat(pieces).argsort()]  # back in the batch's order
            else:
                at_mask = self._encoder_at_mask(batch, prompts, route)
            if mix is not None:
                at_mask = mix(at_mask)
            return self._head_transform(at_mask).float()  # the rest of the engine computes in float32

    def _encoder_at_mask(self, batch: Batch, prompts: torch.Tensor, route: Route) -> torch.Tensor:
        """The encoder's last hidden states at the mask, ``[B, H]``, with ``prompts`` in the soft slots."""
        embeds = self.model.get_input_embeddings()(batch.input_ids)  # [B, T, H]
        prompts = prompts.to(embeds.dtype)
        if prompts.dim() == 2:
            prompts = prompts.unsqueeze(0).expand(embeds.shape[0], -1, -1)
        index = batch.soft_positions.unsqueeze(-1).expand(-1, -1, embeds.shape[-1])
        embeds = embeds.scatter(1, index, prompts)
        with nullcontext() if route is None else self.language_adapters.route(route, embeds.shape[0]):
            hidden = self.model.base_model(inputs_embeds=embeds, attention_mask=batch.attention_mask)[0]
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), batch.mask_positions]

    def masked_lm_loss(self, batch: MaskedBatch, route: Route = None) -> torch.Tensor:
        """Cross entropy of the masked-LM head at ``batch``'s chosen pieces, among ``batch.vocabulary`` (a
        scalar), the text read through the language adapter ``route``: the masked-LM term (:mod:`.masked_lm`).
        Only the chosen positions go through the head, onto only those pieces: ``[M, V_l]``."""
        batch = batch.to(self.device)
        with self.accelerator.autocast():
            with nullcontext() if route is None else self.language_adapters.route(route, batch.input_ids.shape[0]):
                hidden = self.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)[0]
            chosen = batch.labels != IGNORED
            bias = self.decoder.bias
            logits = F.linear(
                self._head_transform(hidden[chosen]), self.decoder.weight[batch.vocabulary],
                None if bias is None else bias[batch.vocabulary],
            ).float()  # [M, V_l]  # fmt: skip
        return F.cross_entropy(logits, torch.searchsorted(batch.vocabulary, batch.labels[chosen]))

    def mask_logits(
        self, batch: Batch, prompts: torch.Tensor, words: LabelWords | None = None, route: Route = None
    ) -> torch.Tensor:
        """Logits at the mask for the label ``words`` (``[B, C]``), or for the whole vocabulary (``[B, V]``)."""
        return self.project(self.mask_states(batch, prompts, route), words)

    def project(self, states: torch.Tensor, words: LabelWords | None = None) -> torch.Tensor:
        """Mask states ``[B, H]`` to logits of the label ``words`` (``[B, C]``) or of the vocabulary (``[B, V]``)."""
        weight, bias = self.decoder.weight, self.decoder.bias
        if words is not None:
            weight = weight[words.piece_ids]
            bias = None if bias is None else bias[words.piece_ids]
        with self.accelerator.autocast():
            logits = F.linear(states, weight, bias).float()
        return logits if words is None else words.combine(logits)

    def save_model(self, directory: Path) -> None:
        """Write the (fully tuned) model and tokenizer as a Hugging Face model directory.

        The caller chooses the process that saves. transformers writes weights only on torch.distributed's
        rank 0, which would leave the folder empty where another launched process saves its own
        ``reproduce`` cell, so that rule is set aside for this call and the result checked.
        """
        self.model.should_save_on_this_rank = lambda is_main_process: is_main_process
        try:
            self.model.save_pretrained(directory)
        finally:
            del self.model.should_save_on_this_rank
        self.tokenizer.save_pretrained(directory)
        if not (Path(directory) / "config.json").is_file():
            raise MptError(f"transformers did not write the model to {directory}; please report this with `mpt env`")


def lora_config(rank: int):
    """The PEFT ``LoraConfig`` of ``--tune lora`` at ``rank``: PEFT's layers for the model type, scale 2."""
    from peft import LoraConfig

    return LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.1)


def load_pretrained(auto_class, name_or_dir: str, what: str, **model_options):
    """``(tokenizer, model)`` from a hub id or a local directory, in float32.

    Weights load from safetensors only and no code from the model's repository runs: a model folder
    is data, never a program (pickled checkpoints can execute code when loaded).
    """
    from transformers import AutoTokenizer

    path = local_path(name_or_dir, "model directory")
    source = name_or_dir if path is None else str(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=False)
        model = auto_class.from_pretrained(
            source, dtype=torch.float32, use_safetensors=True, trust_remote_code=False, **model_options
        )
    except Exception as exc:  # noqa: BLE001 - OSError, ValueError, hub errors: all mean "cannot use this model"
        reason = " ".join(str(exc).split())[:400] or type(exc).__name__
        raise MptError(f"cannot load {what} from {name_or_dir}: {reason}") from None
    return tokenizer, model


def embedding_fingerprint(model) -> str:
    """SHA-256 of the input embedding matrix: names the backbone and its vocabulary."""
    return _digest([model.get_input_embeddings().weight])


def weights_fingerprint(model) -> str:
    """SHA-256 of every weight: names one fully tuned backbone."""
    return _digest([p for _, p in sorted(model.state_dict().items())])


def _digest(tensors: list[torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for tensor in tensors:
        tensor = tensor.detach().to("cpu", torch.float32).contiguous()
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().data)
    return digest.hexdigest()


def _head_without_decoder(model, decoder: nn.Module) -> nn.Module:
    """The MLM head with its vocabulary projection replaced by identity: ``[.., H] -> [.., H]``.

    BERT, RoBERTa and XLM-R heads are ``transform -> decoder``; a shallow copy that shares every
    weight but skips the decoder lets us project onto the label words alone.
    """
    for _, parent in model.named_modules():
        for child_name, child in parent.named_children():
            if child is decoder and parent is not model:
                head = copy.copy(parent)
                head._modules = dict(parent._modules)
                setattr(head, child_name, nn.Identity())
                return head
    raise MptError(f"unsupported masked-LM head in {type(model).__name__}: cannot find its vocabulary projection")
