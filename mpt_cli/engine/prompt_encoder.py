"""The prompt encoder of P-tuning: embedding -> bidirectional LSTM -> MLP, giving ``[P, H]`` soft tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ..choices import Choice
from ..errors import MptError


class EncoderKind(Choice):
    LSTM = "lstm"  # embedding -> BiLSTM -> MLP (P-tuning)
    MLP = "mlp"  # embedding -> MLP


@dataclass(frozen=True)
class PromptEncoderConfig:
    prompt_length: int = field(default=4, metadata={"help": "number of soft tokens P in the template"})
    hidden_size: int = field(default=768, metadata={"help": "the backbone's hidden size H"})
    kind: EncoderKind = field(default=EncoderKind.LSTM, metadata={"help": "lstm (P-tuning) or mlp (embedding -> MLP only)"})

    def __post_init__(self):
        object.__setattr__(self, "kind", EncoderKind.parse(self.kind, "prompt encoder kind"))
        if self.prompt_length < 1:
            raise MptError(f"prompt length must be at least 1, got {self.prompt_length}")


class PromptEncoder(nn.Module):
    """Maps ``P`` learned seed embeddings to the prompt: ``forward() -> [P, H]``.

    ``lstm``: embedding ``[P, H]`` -> 2-layer BiLSTM ``[P, 2H]`` -> MLP ``2H -> H -> H``.
    ``mlp``: embedding ``[P, H]`` -> MLP ``H -> H -> H``.
    The reparameterisation makes the soft tokens depend on each other, which trains faster and more
    stably than free vectors (Liu et al. 2021, P-tuning).
    """

    def __init__(self, config: PromptEncoderConfig):
        super().__init__()
        self.config = config
        hidden = config.hidden_size
        self.embedding = nn.Embedding(config.prompt_length, hidden)
        if config.kind == EncoderKind.LSTM:
            self.lstm = nn.LSTM(hidden, hidden, num_layers=2, bidirectional=True, batch_first=True)
            mlp_in = 2 * hidden
        else:
            self.lstm = None
            mlp_in = hidden
        self.mlp = nn.Sequential(nn.Linear(mlp_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden))

    def forward(self) -> torch.Tensor:
        seeds = self.embedding.weight.unsqueeze(0)  # [1, P, H]
        if self.lstm is not None:
            seeds = self.lstm(seeds)[0]  # [1, P, 2H]
        return self.mlp(seeds).squeeze(0)  # [P, H]
