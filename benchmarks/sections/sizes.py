"""Bytes of each artifact kind for the backbone's hidden size."""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from .common import load

NAME = "sizes"


def table(args) -> dict[str, int]:
    from safetensors.torch import save_file

    from mpt_cli.engine.language_adapter import AdapterConfig
    from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
    from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig

    backbone = load(args)
    hidden = backbone.hidden_size
    result = {}
    with tempfile.TemporaryDirectory() as folder:

        def size_of(name, tensors):
            path = Path(folder) / name
            save_file({k: v.detach().float().contiguous() for k, v in tensors.items()}, str(path))
            result[name] = path.stat().st_size

        encoder = PromptEncoder(PromptEncoderConfig(4, hidden))
        size_of("prompt tensor only", {"prompt": torch.zeros(4, hidden)})
        size_of("prompt artifact (prompt + LSTM encoder)", {"prompt": torch.zeros(4, hidden)} | dict(encoder.state_dict()))
        size_of("translator (width 2H)", dict(PromptTranslator(TranslatorConfig(hidden)).state_dict()))
        backbone.set_tune("lora", 8)
        size_of("LoRA adapters (rank 8)", backbone.lora_state())
        backbone.language_adapters.add("de", AdapterConfig())
        size_of("language adapter (the default: rank 8, query, value, output.dense)", backbone.language_adapters.state("de"))
        unique = {t.data_ptr(): t for t in backbone.model.state_dict().values()}  # tied weights are saved once
        result["full backbone (float32 safetensors)"] = sum(t.numel() * 4 for t in unique.values())
    return result


def report(result: dict[str, int]) -> list[str]:
    return ["artifact sizes:", *(f"  {key:42s} {value / 2**20:10.2f} MB" for key, value in result.items())]
