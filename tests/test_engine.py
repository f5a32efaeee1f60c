"""The backbone (mask logits, tuning modes), the prompt encoder and batched inference."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from conftest import MAX_POSITIONS, MULTI_TOKEN_WORD, NLI, raises_mpt, token_ids, toy_rows

from mpt_cli.engine.backbone import Backbone
from mpt_cli.engine.batching import Batch, by_length, collate, shuffled
from mpt_cli.engine.inference import accuracy, label_probabilities
from mpt_cli.engine.language_adapter import AdapterConfig
from mpt_cli.engine.prompt_encoder import EncoderKind, PromptEncoder, PromptEncoderConfig
from mpt_cli.template import TemplateEncoder
from mpt_cli.verbalizer import LabelWords, Verbalizer

P = 3


@pytest.fixture
def backbone(load_backbone) -> Backbone:
    return load_backbone()


def encode(backbone, rows):
    encoder = TemplateEncoder(NLI.template, backbone.tokenizer, P, backbone.max_length, NLI.inputs)
    return encoder.encode([(r[0], r[1]) for r in rows])


def make_batch(backbone, rows=None, labels=False):
    rows = rows or toy_rows(2, seed=11)  # six rows; padding differs because lengths differ
    rows = [(p + " very" * i, h, label) for i, (p, h, label) in enumerate(rows)]
    encoded = encode(backbone, rows)
    label_ids = [["entailment", "neutral", "contradiction"].index(r[2]) for r in rows] if labels else None
    return collate(encoded, list(range(len(encoded))), backbone.tokenizer.pad_token_id, P, label_ids)


def label_words(backbone) -> LabelWords:
    """The single-piece words of the yes-maybe-no preset: label ``c`` is piece ``c``."""
    words = Verbalizer(NLI.verbalizer("yes-maybe-no")).label_words(backbone.tokenizer)
    assert words.weights is None
    return words


def random_prompt(backbone, seed=0, rows=None) -> torch.Tensor:
    shape = (P, backbone.hidden_size) if rows is None else (rows, P, backbone.hidden_size)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------


def test_tiny_model_loads_from_its_directory(backbone, tiny_model_dir, tokenizer):
    assert backbone.name == str(tiny_model_dir)
    assert backbone.hidden_size == 32
    assert backbone.max_length == MAX_POSITIONS - 2
    assert backbone.tokenizer.mask_token_id == tokenizer.mask_token_id
    assert backbone.device.type == "cpu"
    assert len(backbone.fingerprint) == 64
    assert backbone.fingerprint == Backbone.load(str(tiny_model_dir), cpu=True).fingerprint


def test_other_model_has_another_fingerprint(backbone, load_backbone, other_model_dir):
    assert load_backbone(other_model_dir).fingerprint != backbone.fingerprint


def test_missing_model_directory(tmp_path):
    with raises_mpt("model directory", "does not exist"):
        Backbone.load(str(tmp_path / "nowhere"), cpu=True)


def test_directory_without_a_model(tmp_path):
    with raises_mpt("cannot load a masked language model", str(tmp_path)):
        Backbone.load(str(tmp_path), cpu=True)


# --------------------------------------------------------------------------------------------------
# Mask logits
# --------------------------------------------------------------------------------------------------


def test_mask_logits_shapes_and_label_columns(backbone):
    batch, prompt, ids = make_batch(backbone), random_prompt(backbone), label_words(backbone)
    with torch.no_grad():
        labels = backbone.mask_logits(batch, prompt, ids)
        vocabulary = backbone.mask_logits(batch, prompt)
    assert labels.shape == (6, 3)
    assert vocabulary.shape == (6, len(backbone.tokenizer))
    torch.testing.assert_close(labels, vocabulary[:, ids.piece_ids])


def test_mask_logits_of_a_multi_piece_word_are_the_mean_of_its_pieces(backbone):
    batch, prompt = make_batch(backbone), random_prompt(backbone)
    words = ("yes", MULTI_TOKEN_WORD, "no")
    multi = Verbalizer(words).label_words(backbone.tokenizer)
    with torch.no_grad():
        labels = backbone.mask_logits(batch, prompt, multi)
        vocabulary = backbone.mask_logits(batch, prompt)
    expected = torch.stack([vocabulary[:, token_ids(backbone.tokenizer, word)].mean(-1) for word in words], dim=-1)
    assert labels.shape == (6, 3)
    torch.testing.assert_close(labels, expected, rtol=1e-5, atol=1e-5)


def test_mask_logits_equal_the_plain_masked_lm(backbone):
    """The head-without-decoder shortcut gives exactly the full MLM head's logits at the mask."""
    batch, prompt, ids = make_batch(backbone), random_prompt(backbone), label_words(backbone)
    model = backbone.model.eval()
    with torch.no_grad():
        embeds = model.get_input_embeddings()(batch.input_ids).clone()
        for row in range(len(embeds)):
            embeds[row, batch.soft_positions[row]] = prompt
        full = model(inputs_embeds=embeds, attention_mask=batch.attention_mask).logits
        expected = full[torch.arange(len(full)), batch.mask_positions][:, ids.piece_ids]
        got = backbone.mask_logits(batch, prompt, ids)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    # and the prompt matters: another prompt changes the logits
    assert not torch.allclose(backbone.mask_logits(batch, random_prompt(backbone, seed=1), ids), got)


def test_per_row_prompts(backbone):
    batch, ids = make_batch(backbone), label_words(backbone)
    shared = random_prompt(backbone)
    with torch.no_grad():
        expected = backbone.mask_logits(batch, shared, ids)
        torch.testing.assert_close(backbone.mask_logits(batch, shared.expand(6, -1, -1).clone(), ids), expected)
        per_row = random_prompt(backbone, seed=5, rows=6)
        mixed = backbone.mask_logits(batch, per_row, ids)
        for row in range(6):
            torch.testing.assert_close(mixed[row], backbone.mask_logits(batch, per_row[row], ids)[row])


def backward_once(backbone) -> torch.Tensor:
    backbone.model.train()
    batch = make_batch(backbone, labels=True)
    prompt = random_prompt(backbone).requires_grad_(True)
    F.cross_entropy(backbone.mask_logits(batch, prompt, label_words(backbone)), batch.labels).backward()
    return prompt


def test_prompt_mode_freezes_the_backbone(backbone):
    backbone.set_tune("prompt")
    assert backbone.trainable_parameters() == []
    prompt = backward_once(backbone)
    assert prompt.grad is not None and prompt.grad.abs().sum() > 0
    assert [name for name, p in backbone.model.named_parameters() if p.grad is not None] == []


def test_lora_mode_trains_only_adapters(backbone):
    fingerprint = backbone.fingerprint
    backbone.set_tune("lora", lora_rank=4)
    trainable = [name for name, p in backbone.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    assert len(backbone.trainable_parameters()) == len(trainable)
    backward_once(backbone)
    with_grad = [name for name, p in backbone.model.named_parameters() if p.grad is not None]
    assert with_grad and all("lora_" in name for name in with_grad)
    assert set(backbone.lora_state()) and all("lora_" in key for key in backbone.lora_state())
    assert backbone.fingerprint == fingerprint


def test_full_mode_freezes_only_the_word_embeddings(backbone):
    backbone.set_tune("full")
    embeddings = backbone.model.get_input_embeddings().weight
    assert not embeddings.requires_grad
    assert all(p is not embeddings for p in backbone.trainable_parameters())
    frozen = [p for p in backbone.model.parameters() if not p.requires_grad]
    assert len(frozen) == 1 and frozen[0] is embeddings  # the decoder shares (ties) this matrix
    backward_once(backbone)
    assert embeddings.grad is None
    layer = backbone.model.roberta.encoder.layer[0].attention.self.query.weight
    assert layer.grad is not None and layer.grad.abs().sum() > 0


def test_unknown_tune_mode(backbone):
    with raises_mpt("tune mode 'adapter'", "prompt, lora, full"):
        backbone.set_tune("adapter")


# --------------------------------------------------------------------------------------------------
# Prompt encoder
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["lstm", "mlp"])
def test_prompt_encoder_output_shape(kind):
    encoder = PromptEncoder(PromptEncoderConfig(prompt_length=5, hidden_size=16, kind=kind))
    prompt = encoder()
    assert prompt.shape == (5, 16)
    assert (encoder.lstm is None) == (kind == "mlp")
    prompt.sum().backward()
    assert encoder.embedding.weight.grad is not None


def test_prompt_encoder_config_takes_its_kind_as_text_and_validates():
    """Metadata stores the kind as text: it comes back as the typed choice, equal to its text."""
    config = PromptEncoderConfig(prompt_length=2, hidden_size=8, kind="mlp")
    assert config.kind is EncoderKind.MLP and config.kind == "mlp" and f"{config.kind}" == "mlp"
    assert PromptEncoderConfig(**json.loads(json.dumps(asdict(config)))) == config
    with raises_mpt("kind 'gru'", "lstm, mlp"):
        PromptEncoderConfig(kind="gru")
    with raises_mpt("prompt length must be at least 1"):
        PromptEncoderConfig(prompt_length=0)


# --------------------------------------------------------------------------------------------------
# Batching and inference
# --------------------------------------------------------------------------------------------------


def test_collate_pads_right_and_points_at_soft_tokens_and_mask(backbone):
    rows = toy_rows(1, seed=3)
    rows = [(rows[0][0] + " very very very", *rows[0][1:]), *rows[1:]]
    encoded = encode(backbone, rows)
    batch = collate(encoded, [2, 0], backbone.tokenizer.pad_token_id, P, [0, 1, 2])
    assert batch.rows.tolist() == [2, 0] and batch.labels.tolist() == [2, 0]
    for i, row in enumerate([2, 0]):
        length = len(encoded[row].input_ids)
        assert batch.input_ids[i, :length].tolist() == encoded[row].input_ids
        assert batch.attention_mask[i].tolist() == [1] * length + [0] * (batch.input_ids.shape[1] - length)
        assert (batch.input_ids[i, length:] == backbone.tokenizer.pad_token_id).all()
        assert batch.soft_positions[i].tolist() == list(range(encoded[row].soft_start, encoded[row].soft_start + P))
        assert batch.mask_positions[i] == encoded[row].mask_position


def test_by_length_covers_every_row_once_longest_first(backbone):
    encoded = encode(backbone, [(p + " very" * (i % 4), h, label) for i, (p, h, label) in enumerate(toy_rows(3, seed=4))])
    batches = by_length(encoded, 4)
    assert sorted(r for rows in batches for r in rows) == list(range(9))
    lengths = [len(encoded[r].input_ids) for rows in batches for r in rows]
    assert lengths == sorted(lengths, reverse=True)


def padded_tokens(batches: list[list[int]], lengths: list[int]) -> int:
    return sum(max(lengths[r] for r in rows) * len(rows) for rows in batches)


def test_length_grouped_epochs_cover_every_row_once_with_less_padding_and_differ():
    lengths = torch.randint(5, 100, (300,), generator=torch.Generator().manual_seed(0)).tolist()
    generator = torch.Generator().manual_seed(1)
    first, second = shuffled(300, 16, generator, lengths), shuffled(300, 16, generator, lengths)
    for epoch in (first, second):
        assert sorted(r for rows in epoch for r in rows) == list(range(300))
        assert sorted(len(rows) for rows in epoch)[1:] == [16] * 18  # 300 = 18 x 16 + 12
    assert first == shuffled(300, 16, torch.Generator().manual_seed(1), lengths)  # seeded
    assert first != second and {tuple(rows) for rows in first} != {tuple(rows) for rows in second}
    random_batches = shuffled(300, 16, torch.Generator().manual_seed(1))
    assert padded_tokens(first, lengths) < 0.8 * padded_tokens(random_batches, lengths)


def test_pieces_cut_a_batch_where_the_padding_saved_is_worth_a_call():
    lengths = [5, 50, 6, 52, 7]
    mask = torch.tensor([[1] * n + [0] * (52 - n) for n in lengths])
    batch = Batch(input_ids=mask, attention_mask=mask, soft_positions=torch.zeros(5, P, dtype=torch.long),
                  mask_positions=torch.zeros(5, dtype=torch.long), rows=torch.arange(5))
    assert [rows.tolist() for rows in batch.pieces(piece_cost=32)] == [[0, 2, 4], [1, 3]]
    assert [rows.tolist() for rows in batch.pieces(piece_cost=1000)] == [[0, 1, 2, 3, 4]]  # not worth a call
    assert [rows.tolist() for rows in batch.pieces(piece_cost=0)] == [[0], [2], [4], [1], [3]]
    short = batch.select(torch.tensor([0, 4]))
    assert short.input_ids.shape == (2, 7) and short.rows.tolist() == [0, 4]


def test_a_batch_of_far_apart_lengths_runs_in_pieces_with_what_each_row_gets_alone(backbone):
    """Rows, per-row prompts and per-row language adapters, in a batch the CPU cuts into pieces: each row's
    logits and its prompt's gradient are those of the row alone, unpadded."""
    rows = [(p + " very" * (40 * (i % 2)), h, label) for i, (p, h, label) in enumerate(toy_rows(2, seed=11))]
    encoded, ids = encode(backbone, rows), label_words(backbone)
    backbone.language_adapters.add("bg", AdapterConfig(rank=2), seed=1)
    adapters = backbone.language_adapters
    for name, weights in adapters.state("bg").items():  # B starts at zero: give the adapter an effect
        adapters.load_state("bg", {name: torch.randn(weights.shape, generator=torch.Generator().manual_seed(2))})
    route = ["bg", None, None, "bg", "bg", None]
    backbone.model.eval()
    batch = collate(encoded, list(range(6)), backbone.tokenizer.pad_token_id, P)
    assert len(batch.pieces()) > 1
    prompts = random_prompt(backbone, rows=6).requires_grad_(True)
    together = backbone.mask_logits(batch, prompts, ids, route=route)
    together.sum().backward()
    for row in range(6):
        prompt = prompts[row].detach().clone().requires_grad_(True)
        alone = backbone.mask_logits(collate(encoded, [row], backbone.tokenizer.pad_token_id, P), prompt, ids, route=route[row])
        alone.sum().backward()
        torch.testing.assert_close(together[row], alone[0], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(prompts.grad[row], prompt.grad, rtol=1e-4, atol=1e-5)


def test_label_probabilities_keep_input_order(backbone):
    rows = [(p + " very" * (i % 3), h, label) for i, (p, h, label) in enumerate(toy_rows(3, seed=8))]
    encoded, ids, prompt = encode(backbone, rows), label_words(backbone), random_prompt(backbone)
    probs = label_probabilities(backbone, encoded, prompt, ids, batch_size=2)
    assert probs.shape == (9, 3)
    torch.testing.assert_close(probs.sum(-1), torch.ones(9))
    single = torch.cat([label_probabilities(backbone, [e], prompt, ids) for e in encoded])
    torch.testing.assert_close(probs, single, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(probs, probs[0].expand(9, -1), atol=1e-4)


def test_label_probabilities_with_a_prompt_per_row_from_a_table(backbone):
    rows = [(p + " very" * (i % 3), h, label) for i, (p, h, label) in enumerate(toy_rows(2, seed=9))]
    encoded, ids = encode(backbone, rows), label_words(backbone)
    table = random_prompt(backbone, seed=2, rows=2)  # [2, P, H]
    prompt_of = torch.tensor([0, 1, 1, 0, 1, 0])
    probs = label_probabilities(backbone, encoded, table, ids, batch_size=4, prompt_of=prompt_of)
    for row in range(6):
        alone = label_probabilities(backbone, [encoded[row]], table[prompt_of[row]], ids)[0]
        torch.testing.assert_close(probs[row], alone)
    assert not torch.allclose(probs[0], label_probabilities(backbone, [encoded[0]], table[1], ids)[0], atol=1e-4)


def test_label_probabilities_restore_training_mode(backbone):
    encoded = encode(backbone, toy_rows(1, seed=1))
    backbone.model.train()
    label_probabilities(backbone, encoded, random_prompt(backbone), label_words(backbone))
    assert backbone.model.training
    backbone.model.eval()
    label_probabilities(backbone, encoded, random_prompt(backbone), label_words(backbone))
    assert not backbone.model.training


def test_accuracy():
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    assert accuracy(probs, [0, 1, 2, 2]) == pytest.approx(0.75)
