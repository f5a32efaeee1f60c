"""Evaluation throughput: mpt's engine against the bare encoder (the limit), the pipeline one writes by hand
with transformers, and PEFT's P-tuning forward, on the same examples and batch size."""

from __future__ import annotations

import torch

from .common import HAND_PADDING, PROMPT_LENGTH, encoded_inputs, examples, label_words, random_prompt

NAME = "eval"


def eval_mpt(backbone, args):
    """mpt's evaluation: batches sorted by length, logits of the label words at the mask only."""
    from mpt_cli.engine.inference import label_probabilities

    encoded = encoded_inputs(backbone, examples(args))
    prompt, ids = random_prompt(backbone), label_words(backbone)
    return len(encoded), lambda: label_probabilities(backbone, encoded, prompt, ids, args.batch_size)


def eval_bare_encoder(backbone, args):
    """The limit: the encoder alone on mpt's batches (same tokens, order and padding), no head."""
    from mpt_cli.engine.batching import by_length, collate

    encoded = encoded_inputs(backbone, examples(args))
    batches = [
        collate(encoded, rows, backbone.tokenizer.pad_token_id, PROMPT_LENGTH).to(backbone.device)
        for rows in by_length(encoded, args.batch_size)
    ]

    @torch.no_grad()
    def run():
        backbone.model.eval()
        for batch in batches:
            with backbone.accelerator.autocast():
                backbone.model.base_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask)

    return len(encoded), run


def hand_written_texts(backbone, pairs: list[tuple[str, str]]) -> list[str]:
    """The NLI template written out as text, as one writes it by hand: ``premise . hypothesis ? <mask> .``"""
    return [f"{p} . {h} ? {backbone.tokenizer.mask_token} ." for p, h in pairs]


def eval_hand_written(backbone, args):
    """What a user writes with transformers: pad to 128, full-vocabulary logits at every position."""
    texts = hand_written_texts(backbone, examples(args))
    tok = backbone.tokenizer
    ids = label_words(backbone).piece_ids.tolist()

    @torch.no_grad()
    def run():
        backbone.model.eval()
        for start in range(0, len(texts), args.batch_size):
            batch = tok(
                texts[start : start + args.batch_size],
                padding="max_length", truncation=True, max_length=HAND_PADDING, return_tensors="pt",
            ).to(backbone.device)  # fmt: skip
            with backbone.accelerator.autocast():
                logits = backbone.model(**batch).logits  # [B, 128, V]
            logits[batch["input_ids"] == tok.mask_token_id][:, ids].softmax(-1).cpu()

    return len(texts), run


PEFT_VIRTUAL_TOKENS = 4


def peft_ptuning(backbone):
    """PEFT's P-tuning around the backbone: 4 virtual tokens from an LSTM encoder."""
    import peft

    config = peft.PromptEncoderConfig(
        task_type="FEATURE_EXTRACTION", num_virtual_tokens=PEFT_VIRTUAL_TOKENS, encoder_hidden_size=backbone.hidden_size,
        encoder_reparameterization_type="LSTM",
    )  # fmt: skip
    return peft.get_peft_model(backbone.model, config)


def peft_padding(backbone) -> int:
    """The text tokens of a P-tuning input: 128, or fewer where the virtual tokens would run past the model's
    position table (a small model's)."""
    return min(HAND_PADDING, backbone.max_length - PEFT_VIRTUAL_TOKENS)


def eval_peft(backbone, args):
    """PEFT's P-tuning forward (4 virtual tokens, LSTM encoder), padded to 128, full logits as PEFT returns them."""
    texts = hand_written_texts(backbone, examples(args))
    tok = backbone.tokenizer
    model = peft_ptuning(backbone)
    ids = label_words(backbone).piece_ids.tolist()

    @torch.no_grad()
    def run():
        model.eval()
        for start in range(0, len(texts), args.batch_size):
            batch = tok(
                texts[start : start + args.batch_size],
                padding="max_length", truncation=True, max_length=peft_padding(backbone), return_tensors="pt",
            ).to(backbone.device)  # fmt: skip
            with backbone.accelerator.autocast():
                logits = model(**batch).logits[:, PEFT_VIRTUAL_TOKENS:]  # drop the virtual tokens
            logits[batch["input_ids"] == tok.mask_token_id][:, ids].softmax(-1).cpu()

    return len(texts), run


VARIANTS = {
    "eval-mpt": eval_mpt,
    "eval-bare-encoder": eval_bare_encoder,
    "eval-hand-written": eval_hand_written,
    "eval-peft-ptuning": eval_peft,
}
