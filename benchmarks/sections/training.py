"""One training step of the prompt (backbone frozen): mpt's against PEFT's P-tuning step, same examples."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .common import PROMPT_LENGTH, encoded_inputs, examples, label_words
from .evaluation import PEFT_VIRTUAL_TOKENS, hand_written_texts, peft_padding, peft_ptuning

NAME = "train"


def train_mpt(backbone, args):
    """Forward, backward to the prompt encoder, update."""
    from mpt_cli.engine.batching import collate
    from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig

    encoded = encoded_inputs(backbone, examples(args))[: args.train_batch]
    encoder = PromptEncoder(PromptEncoderConfig(PROMPT_LENGTH, backbone.hidden_size)).to(backbone.device)
    optimizer = torch.optim.AdamW(encoder.parameters(), lr=1e-3)
    ids = label_words(backbone)
    labels = [i % 3 for i in range(len(encoded))]  # timings only: any labels do
    batch = collate(encoded, list(range(len(encoded))), backbone.tokenizer.pad_token_id, PROMPT_LENGTH, labels)
    batch = batch.to(backbone.device)
    backbone.model.train()

    def run():
        loss = F.cross_entropy(backbone.mask_logits(batch, encoder(), ids), batch.labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return len(encoded), run


def train_peft(backbone, args):
    """PEFT P-tuning step on the same examples: full logits, cross entropy on the label words at the mask
    (each label's logit the mean of its pieces', as mpt's)."""
    tok = backbone.tokenizer
    texts = hand_written_texts(backbone, examples(args)[: args.train_batch])
    model = peft_ptuning(backbone)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    ids = label_words(backbone)
    batch = tok(texts, padding=True, truncation=True, max_length=peft_padding(backbone), return_tensors="pt")
    batch = batch.to(backbone.device)
    labels = torch.tensor([i % 3 for i in range(len(texts))], device=backbone.device)
    model.train()

    def run():
        with backbone.accelerator.autocast():
            logits = model(**batch).logits[:, PEFT_VIRTUAL_TOKENS:]  # [B, T, V]
        at_mask = logits[batch["input_ids"] == tok.mask_token_id]  # [B, V]
        loss = F.cross_entropy(ids.combine(at_mask[:, ids.piece_ids].float()), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return len(texts), run


VARIANTS = {"train-mpt": train_mpt, "train-peft-ptuning": train_peft}
