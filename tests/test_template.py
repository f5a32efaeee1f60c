"""Cloze templates on the tiny tokenizer, and verbalizers."""

from __future__ import annotations

import pytest
import torch
from conftest import CUES, FILLER, LABEL_WORDS, MULTI_TOKEN_WORD, NLI, UNENCODABLE_WORD, raises_mpt, token_ids

from mpt_cli.template import TemplateEncoder
from mpt_cli.verbalizer import ALTERNATIVES, Verbalizer

DEFAULT_TEMPLATE = NLI.template
PRESETS = NLI.word_presets

P = 3
PREMISE = "the man walks in the park"
HYPOTHESIS = "a man sits"


def encode_one(tokenizer, premise=PREMISE, hypothesis=HYPOTHESIS, template=DEFAULT_TEMPLATE, max_length=64, prompt_length=P):
    encoder = TemplateEncoder(template, tokenizer, prompt_length, max_length, NLI.inputs)
    (encoded,) = encoder.encode([(premise, hypothesis)])
    return encoded


def soft_range(encoded, prompt_length=P) -> range:
    return range(encoded.soft_start, encoded.soft_start + prompt_length)


def without_soft(encoded, prompt_length=P) -> list[int]:
    soft = soft_range(encoded, prompt_length)
    return [t for i, t in enumerate(encoded.input_ids) if i not in soft]


def words(count: int, word: str) -> str:
    return " ".join([word] * count)


# --------------------------------------------------------------------------------------------------
# Assembly
# --------------------------------------------------------------------------------------------------


def test_default_template_layout(tokenizer):
    encoded = encode_one(tokenizer)
    ids = encoded.input_ids
    assert ids[encoded.mask_position] == tokenizer.mask_token_id
    assert ids.count(tokenizer.mask_token_id) == 1
    assert ids[0] == tokenizer.cls_token_id == tokenizer.bos_token_id
    assert ids[-1] == tokenizer.sep_token_id == tokenizer.eos_token_id
    soft = soft_range(encoded)
    assert 0 < soft.start and soft.stop <= len(ids)
    # "{soft} {mask}": the soft block ends right before the mask
    assert soft.stop == encoded.mask_position
    dot, question = token_ids(tokenizer, "."), token_ids(tokenizer, "?")
    expected = [tokenizer.cls_token_id, *token_ids(tokenizer, PREMISE), *dot, *token_ids(tokenizer, HYPOTHESIS), *question]
    expected += [tokenizer.mask_token_id, *dot, tokenizer.sep_token_id]
    assert without_soft(encoded) == expected
    assert len(ids) == len(expected) + P


def test_special_tokens_match_what_the_tokenizer_adds(tokenizer):
    encoded = encode_one(tokenizer, template="{premise} {hypothesis} {soft} {mask}")
    assert tokenizer(PREMISE)["input_ids"] == [encoded.input_ids[0], *token_ids(tokenizer, PREMISE), encoded.input_ids[-1]]


def test_soft_and_mask_positions_follow_the_template_order(tokenizer):
    encoded = encode_one(tokenizer, template="{soft} {premise} ? {mask} , {hypothesis}")
    assert encoded.soft_start == 1  # right after <s>
    assert encoded.input_ids[encoded.mask_position] == tokenizer.mask_token_id
    prefix = 1 + P + len(token_ids(tokenizer, PREMISE)) + len(token_ids(tokenizer, "?"))
    assert encoded.mask_position == prefix


def test_batch_encoding_matches_one_by_one(tokenizer):
    encoder = TemplateEncoder(DEFAULT_TEMPLATE, tokenizer, P, 64, NLI.inputs)
    pairs = [(PREMISE, HYPOTHESIS), ("a dog", "the dog sleeps very much today"), ("x", "y")]
    batch = encoder.encode(pairs)
    assert batch == [encoder.encode([(p, h)])[0] for p, h in pairs]


# --------------------------------------------------------------------------------------------------
# Truncation
# --------------------------------------------------------------------------------------------------


def test_truncation_shortens_only_the_longer_text_first(tokenizer):
    max_length = 24
    long_premise = words(30, "house")
    encoded = encode_one(tokenizer, premise=long_premise, max_length=max_length)
    ids = encoded.input_ids
    assert len(ids) == max_length
    assert ids[encoded.mask_position] == tokenizer.mask_token_id
    assert len(soft_range(encoded)) == P and soft_range(encoded).stop <= len(ids)
    dot, question = token_ids(tokenizer, "."), token_ids(tokenizer, "?")
    hypothesis = token_ids(tokenizer, HYPOTHESIS)
    fixed = 2 + len(dot) + len(hypothesis) + len(question) + P + 1 + len(dot)
    kept = token_ids(tokenizer, long_premise)[: max_length - fixed]
    assert 0 < len(kept) < 30
    expected = [tokenizer.cls_token_id, *kept, *dot, *hypothesis, *question]
    expected += [tokenizer.mask_token_id, *dot, tokenizer.sep_token_id]
    assert without_soft(encoded) == expected


def test_truncation_balances_two_long_texts(tokenizer):
    max_length = 30
    encoded = encode_one(tokenizer, premise=words(40, "house"), hypothesis=words(25, "garden"), max_length=max_length)
    ids = encoded.input_ids
    assert len(ids) == max_length
    house, garden = token_ids(tokenizer, "house"), token_ids(tokenizer, "garden")
    assert len(house) == len(garden) == 1
    kept_premise, kept_hypothesis = ids.count(house[0]), ids.count(garden[0])
    assert abs(kept_premise - kept_hypothesis) <= 1
    dot, question = token_ids(tokenizer, "."), token_ids(tokenizer, "?")
    expected = [tokenizer.cls_token_id, *house * kept_premise, *dot, *garden * kept_hypothesis, *question]
    expected += [tokenizer.mask_token_id, *dot, tokenizer.sep_token_id]
    assert without_soft(encoded) == expected


def test_truncation_keeps_literal_template_text(tokenizer):
    template = "question : {premise} ? {hypothesis} , answer {soft} {mask} ."
    lit = [token_ids(tokenizer, text) for text in ("question :", "?", ", answer", ".")]
    city, river = token_ids(tokenizer, "city"), token_ids(tokenizer, "river")
    assert len(city) == len(river) == 1
    encoded = encode_one(tokenizer, premise=words(50, "city"), hypothesis=words(50, "river"), template=template, max_length=32)
    ids = without_soft(encoded)
    assert len(encoded.input_ids) == 32
    kept_premise, kept_hypothesis = ids.count(city[0]), ids.count(river[0])
    assert 0 < kept_premise < 50 and 0 < kept_hypothesis < 50
    expected = [tokenizer.cls_token_id, *lit[0], *city * kept_premise, *lit[1], *river * kept_hypothesis, *lit[2]]
    expected += [tokenizer.mask_token_id, *lit[3], tokenizer.sep_token_id]
    assert ids == expected


def test_short_inputs_are_not_truncated(tokenizer):
    encoded = encode_one(tokenizer, max_length=128)
    assert token_ids(tokenizer, PREMISE)[-1] in encoded.input_ids
    assert len(encoded.input_ids) < 128


# --------------------------------------------------------------------------------------------------
# Bad templates
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "fragments"),
    [
        ("{premise} {hypothesis} {soft} .", ("{mask}", "0 times")),
        ("{premise} {soft} {hypothesis} {soft} {mask}", ("{soft}", "2 times")),
        ("{premise} {hypothesis} {soft} {mask} {foo}", ("{foo}", "unknown")),
        ("{premise} {hypothesis} {soft} {mask} {}", ("{}", "unknown")),
    ],
    ids=["missing-mask", "duplicated-soft", "unknown-placeholder", "empty-placeholder"],
)
def test_bad_templates(tokenizer, template, fragments):
    with raises_mpt(*fragments):
        TemplateEncoder(template, tokenizer, P, 64, NLI.inputs)


def test_max_length_too_small(tokenizer):
    with raises_mpt("max length 8", "no room"):
        TemplateEncoder(DEFAULT_TEMPLATE, tokenizer, 3, 8, NLI.inputs)


def test_prompt_length_must_be_positive(tokenizer):
    with raises_mpt("prompt length"):
        TemplateEncoder(DEFAULT_TEMPLATE, tokenizer, 0, 64, NLI.inputs)


# --------------------------------------------------------------------------------------------------
# Verbalizers
# --------------------------------------------------------------------------------------------------


def test_tiny_tokenizer_keeps_label_and_toy_words_whole(tokenizer):
    assert all(len(token_ids(tokenizer, word)) == 1 for word in LABEL_WORDS + FILLER + list(CUES.values()))
    assert len(token_ids(tokenizer, MULTI_TOKEN_WORD)) > 1
    assert tokenizer.unk_token_id in token_ids(tokenizer, UNENCODABLE_WORD)


@pytest.mark.parametrize("name", sorted(name for name, words in PRESETS.items() if ALTERNATIVES not in "".join(words)))
def test_presets_parse_to_distinct_single_tokens(tokenizer, name):
    verbalizer = Verbalizer(NLI.verbalizer(name))
    assert verbalizer.words == PRESETS[name]
    words = verbalizer.label_words(tokenizer)
    assert words.weights is None  # one piece per word: the pieces are the labels' logits
    ids = words.piece_ids.tolist()
    assert ids == [token_ids(tokenizer, word)[0] for word in PRESETS[name]]
    assert len(set(ids)) == 3


def test_three_custom_words_in_label_order(tokenizer):
    verbalizer = Verbalizer(NLI.verbalizer(" true , maybe,wrong "))
    assert verbalizer.words == ("true", "maybe", "wrong")
    assert str(verbalizer) == "true,maybe,wrong"
    words = verbalizer.label_words(tokenizer)
    assert words.weights is None
    assert words.piece_ids.tolist() == [token_ids(tokenizer, w)[0] for w in ("true", "maybe", "wrong")]


@pytest.mark.parametrize("spec", ["yes,no", "yes,maybe,no,never", "yes,,no", "yes-no"])
def test_wrong_word_count_or_unknown_preset(spec):
    with raises_mpt(repr(spec), "3 comma-separated words"):
        NLI.verbalizer(spec)


def test_multi_token_word_is_the_mean_of_its_pieces(tokenizer):
    words = Verbalizer(NLI.verbalizer(f"yes,{MULTI_TOKEN_WORD},no")).label_words(tokenizer)
    pieces = token_ids(tokenizer, MULTI_TOKEN_WORD)
    assert words.weights is not None and words.weights.shape == (3, len(words.piece_ids))
    assert len(words) == 3
    assert set(words.piece_ids.tolist()) == {*pieces, *token_ids(tokenizer, "yes"), *token_ids(tokenizer, "no")}
    piece_logits = torch.randn(2, len(words.piece_ids))
    column = {piece: i for i, piece in enumerate(words.piece_ids.tolist())}
    expected = torch.stack(
        [piece_logits[:, [column[p] for p in token_ids(tokenizer, word)]].mean(-1) for word in ("yes", MULTI_TOKEN_WORD, "no")],
        dim=-1,
    )
    assert torch.allclose(words.combine(piece_logits), expected, atol=1e-6)


def test_word_the_tokenizer_cannot_encode_is_named(tokenizer):
    verbalizer = Verbalizer(NLI.verbalizer(f"yes,{UNENCODABLE_WORD},no"))
    with raises_mpt(f"'{UNENCODABLE_WORD}'", "cannot be encoded by this tokenizer"):
        verbalizer.label_words(tokenizer)


def test_words_sharing_a_token_are_refused(tokenizer):
    with raises_mpt("map to the same tokens"):
        Verbalizer(NLI.verbalizer("yes,yes,no")).label_words(tokenizer)
