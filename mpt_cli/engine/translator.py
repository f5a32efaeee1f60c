"""The prompt translator: a two-layer perceptron applied to each soft token, ``[P, H] -> [P, H]``."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..choices import Choice
from ..errors import MptError


class TranslatorInit(Choice):
    IDENTITY = "identity"  # start as p_T = p_S
    RANDOM = "random"  # PyTorch's default initialisation


@dataclass(frozen=True)
class TranslatorConfig:
    hidden_size: int = field(metadata={"help": "prompt dimension H (the backbone's hidden size)"})
    width: int | None = field(default=None, metadata={"help": "hidden width of the perceptron [default: 2H]"})
    residual: bool = field(default=False, metadata={"help": "p_T = p_S + MLP(p_S) instead of the paper's p_T = MLP(p_S)"})
    init: TranslatorInit = field(
        default=TranslatorInit.IDENTITY, metadata={"help": "identity: start as p_T = p_S; random: PyTorch default"}
    )

    def __post_init__(self):
        object.__setattr__(self, "init", TranslatorInit.parse(self.init, "translator init"))
        if self.init == TranslatorInit.IDENTITY and not self.residual and self.resolved_width < 2 * self.hidden_size:
            raise MptError(f"identity initialisation needs a width of at least 2H = {2 * self.hidden_size}")

    @property
    def resolved_width(self) -> int:
        return self.width or 2 * self.hidden_size



class PromptTranslator(nn.Module):
    """``p_T = W_down ReLU(W_up p_S + b_up) + b_down`` (MPT, arXiv 2403.12407), per soft token.

    Identity initialisation: with ``W_up = [I; -I]`` and ``W_down = [I, -I]`` the map is
    ``ReLU(p) - ReLU(-p) = p``, so alignment starts from plain soft-prompt transfer (the source prompt
    used as is) and moves only as far as the alignment loss asks. Extra width starts switched off
    (zero output weights). The residual variant starts at ``p_S + 0`` for the same reason.
    """

    def __init__(self, config: TranslatorConfig):
        super().__init__()
        self.config = config
        hidden, width = config.hidden_size, config.resolved_width
        self.up = nn.Linear(hidden, width)
        self.down = nn.Linear(width, hidden)
        if config.init == TranslatorInit.IDENTITY:
            self._init_identity()

    @torch.no_grad()
    def _init_identity(self) -> None:
        hidden = self.config.hidden_size
        self.down.weight.zero_()
        self.down.bias.zero_()
        if self.config.residual:
            return
        eye = torch.eye(hidden)
        self.up.weight[:hidden] = eye
        self.up.weight[hidden : 2 * hidden] = -eye
        self.up.bias[: 2 * hidden] = 0
        self.down.weight[:, :hidden] = eye
        self.down.weight[:, hidden : 2 * hidden] = -eye

    def forward(self, source_prompt: torch.Tensor) -> torch.Tensor:
        """``[P, H] -> [P, H]``."""
        translated = self.down(torch.relu(self.up(source_prompt)))
        return source_prompt + translated if self.config.residual else translated
