"""The masked-LM term of a language adapter: masking, the loss through the adapter, and ``--mlm-weight``/``--text``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import invoke, other_language, snapshot_tree, toy_sentences, write_tsv

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data.parallel import own_pairs, split_heldout
from mpt_cli.engine.align import AlignConfig, ParallelSet, train_translator
from mpt_cli.engine.batching import IGNORED
from mpt_cli.engine.language_adapter import AdapterConfig
from mpt_cli.engine.masked_lm import TextBatches

ADAPTER_ALIGN = {"epochs": 2, "batch_size": 8, "lr": 1e-3, "adapter_lr": 1e-2}


def german(count: int, seed: int) -> list[str]:
    return [other_language(s, "de") for s in toy_sentences(count, seed)]


def test_masking_chooses_ordinary_pieces_only_at_the_rate_asked_and_repeats_by_seed(tokenizer):
    words = german(1000, seed=3)
    sentences = [" ".join(words[i : i + 5]) for i in range(0, 1000, 5)]  # long enough for the rate to show
    text = TextBatches(tokenizer, sentences, max_length=64, batch_size=50, probability=0.3, seed=5)
    chosen = total = 0
    for _ in range(4):
        batch = text.next()
        predicted = batch.labels != IGNORED
        special = torch.isin(batch.labels.where(predicted, 0), torch.tensor(tokenizer.all_special_ids))
        assert not (predicted & special).any() and not (predicted & (batch.attention_mask == 0)).any()
        assert predicted.any(-1).all()  # every sentence predicts something
        assert torch.isin(batch.labels[predicted], text.vocabulary).all()  # among the text's own pieces
        assert not torch.isin(text.vocabulary, torch.tensor(tokenizer.all_special_ids)).any()
        assert (batch.input_ids[predicted] == tokenizer.mask_token_id).float().mean() > 0.6  # most chosen are masked
        assert torch.equal(batch.input_ids[~predicted], batch.labels.where(predicted, batch.input_ids)[~predicted])
        chosen += int(predicted.sum())
        original = batch.labels.where(predicted, batch.input_ids)
        total += int(((batch.attention_mask == 1) & ~torch.isin(original, torch.tensor(tokenizer.all_special_ids))).sum())
    assert 0.22 < chosen / total < 0.4
    again = TextBatches(tokenizer, sentences, max_length=64, batch_size=50, probability=0.3, seed=5).next()
    first = TextBatches(tokenizer, sentences, max_length=64, batch_size=50, probability=0.3, seed=5).next()
    assert torch.equal(again.input_ids, first.input_ids) and torch.equal(again.labels, first.labels)


def test_the_masked_lm_term_teaches_the_adapter_the_languages_text(aligner):
    """An adapter trained with the masked-LM term predicts the masked pieces of the language's text better
    than before and better than one trained on the pairs alone; the model without an adapter is left as it was."""
    backbone, source = aligner["backbone"], aligner["artifact"].prompt.clone()
    text = lambda: TextBatches(backbone.tokenizer, german(120, seed=9), backbone.max_length, 32, 0.15, seed=2)
    probe = text().next()
    with torch.no_grad():
        plain = backbone.masked_lm_loss(probe)
    after = {}
    for lang, weight in (("nl", 5.0), ("nn", 0.0)):
        backbone.language_adapters.add(lang, AdapterConfig(rank=4), seed=0)
        train_translator(
            backbone, None, source, aligner["train"], aligner["heldout"], None, aligner["label_words"],
            AlignConfig(**ADAPTER_ALIGN, mlm_weight=weight), seed=0, adapter=lang, text=text() if weight else None,
        )  # fmt: skip
        with torch.no_grad():
            after[lang] = backbone.masked_lm_loss(probe, lang)
        backbone.language_adapters.remove(lang)
    assert after["nl"] < 0.95 * plain and after["nl"] < 0.95 * after["nn"]
    with torch.no_grad():
        assert torch.equal(backbone.masked_lm_loss(probe), plain)


def test_a_language_with_text_alone_learns_it_while_the_kl_holds_what_the_prompt_reads(aligner):
    """Its own sentences paired with themselves: the adapter learns the text by the masked-LM term, and the
    KL to the source prompt read without the adapter keeps the answers at the mask far closer to it than
    when the masked-LM term outweighs the KL."""
    backbone, source, template = aligner["backbone"], aligner["artifact"].prompt.clone(), aligner["template"]
    pairs = own_pairs(german(150, seed=11), len(template.inputs), seed=0, name="de.txt")
    train, heldout = split_heldout(pairs, 30, seed=0)
    encode = lambda chosen: ParallelSet(template.encode([p.source for p in chosen]), template.encode([p.target for p in chosen]))
    sentences = lambda chosen: [p.target[0] for p in chosen]
    text = lambda chosen, seed: TextBatches(backbone.tokenizer, sentences(chosen), backbone.max_length, 16, 0.15, seed)
    probe = text(heldout, seed=2).next()
    with torch.no_grad():
        plain = backbone.masked_lm_loss(probe)
    kl, mlm = {}, {}
    for lang, weight in (("nl", 1.0), ("nn", 1000.0)):
        backbone.language_adapters.add(lang, AdapterConfig(rank=4), seed=0)
        result = train_translator(
            backbone, None, source, encode(train), encode(heldout), None, aligner["label_words"],
            AlignConfig(**ADAPTER_ALIGN, mlm_weight=weight, select="last"), seed=0, adapter=lang, text=text(train, seed=0),
        )  # fmt: skip
        assert result.heldout_kl_before < 1e-6  # a new adapter changes nothing
        with torch.no_grad():
            kl[lang], mlm[lang] = result.heldout_kl_after, backbone.masked_lm_loss(probe, lang).item()
        backbone.language_adapters.remove(lang)
    assert mlm["nl"] < 0.95 * plain
    assert kl["nl"] < 0.5 * kl["nn"], kl


def test_the_masked_lm_term_needs_an_adapter(aligner):
    text = TextBatches(aligner["backbone"].tokenizer, german(10, seed=1), 64, 4, 0.15, seed=0)
    with pytest.raises(Exception, match="adapter method"):
        train_translator(
            aligner["backbone"], None, aligner["artifact"].prompt, aligner["train"], aligner["heldout"], None,
            aligner["label_words"], AlignConfig(mlm_weight=1.0), seed=0, text=text,
        )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------------


def translate(prompts: Path, data: Path, parallel: Path, *extra):
    return invoke(
        "translate", "--prompts-dir", prompts, "--data", data, "--parallel", parallel, "--epochs", "1", "--batch-size", "8",
        "--heldout", "5", "--adapter-rank", "2", "--max-dev-examples", "12", "--cpu", *extra,
    )  # fmt: skip


@pytest.fixture
def prompts(full_prompts_dir, tmp_path) -> Path:
    return Path(shutil.copytree(full_prompts_dir, tmp_path / "prompts"))


def test_translate_with_the_masked_lm_term_records_it_and_refuses_to_mix_it_with_a_run_without(
    prompts, toy_data_dir, parallel_dir, tmp_path
):
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "deu_Latn.txt").write_text("\n".join(german(40, seed=4)) + "\n\n")  # found by any spelling; blank lines skipped
    result = translate(prompts, toy_data_dir, parallel_dir, "--to", "de,sw", "--mlm-weight", "0.5", "--text", texts)
    assert result.exit_code == 0, result.output
    assert "--text has no file for sw" in result.stderr
    de, sw = (PromptArtifact.load(prompts / f"{lang}.safetensors").info.translation for lang in ("de", "sw"))
    assert de["mlm_weight"] == sw["mlm_weight"] == 0.5 and de["mlm_probability"] == 0.15
    assert len(de["text_sha256"]) == 64 and "text_sha256" not in sw
    before = snapshot_tree(prompts)

    again = translate(prompts, toy_data_dir, parallel_dir, "--to", "de")  # the term off: not the run that made de
    assert again.exit_code != 0 and "mlm-weight 0.5" in again.stderr and "--overwrite" in again.stderr
    assert snapshot_tree(prompts) == before


def test_translate_without_the_masked_lm_term_records_none_of_it(prompts, toy_data_dir, parallel_dir):
    result = translate(prompts, toy_data_dir, parallel_dir, "--to", "de")
    assert result.exit_code == 0, result.output
    settings = PromptArtifact.load(prompts / "de.safetensors").info.translation
    assert not [key for key in settings if key.startswith("mlm_") or key == "text_sha256"]  # as folders made before it


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--to", "de", "--text", "TEXT"), "--text feeds the masked-LM term, which is off"),
        (("--to", "de,sw", "--mlm-weight", "1", "--text", "TEXT"), "give a folder of {lang}.txt files"),
        (("--to", "de", "--mlm-weight", "1", "--text", "missing.txt"), "--text missing.txt does not exist"),
        (("--to", "de", "--mlm-weight", "1", "--method", "prompt"), "--mlm-weight needs --method adapter"),
        (("--to", "de", "--mlm-weight", "-1"), "masked-LM weight must be 0 (off) or more"),
        (("--to", "de", "--mlm-weight", "1", "--mlm-probability", "1.5"), "masked-LM probability must be between 0 and 1"),
    ],
)
def test_bad_masked_lm_options_are_one_clear_line_before_anything_is_written(
    extra, message, prompts, toy_data_dir, parallel_dir, tmp_path
):
    text = write_tsv(tmp_path / "de.txt", [(s,) for s in german(5, seed=1)])
    before = snapshot_tree(prompts)
    result = translate(prompts, toy_data_dir, parallel_dir, *[str(text) if a == "TEXT" else a for a in extra])
    assert result.exit_code != 0 and message in result.stderr and "Traceback" not in result.output
    assert snapshot_tree(prompts) == before


def test_align_has_no_masked_lm_options(prompts, toy_data_dir, parallel_dir):
    result = invoke("align", "--to", "de", "--prompts-dir", prompts, "--parallel", parallel_dir, "--mlm-weight", "1", "--cpu")
    assert result.exit_code != 0 and "--mlm-weight" in result.stderr


def test_a_language_with_text_and_no_pairs_learns_its_adapter_from_the_text_alone(prompts, toy_data_dir, parallel_dir, tmp_path):
    texts = tmp_path / "texts"
    texts.mkdir()
    words = sorted(set(" ".join(toy_sentences(60, seed=6)).split()))  # a text with something to learn: word order
    sentences = [" ".join(words[(k + j) % len(words)] for j in range(6)) for k in range(60)]
    (texts / "yo.txt").write_text("\n".join(other_language(s, "sw") for s in sentences) + "\n")
    assert not list(parallel_dir.glob("*yo*"))  # the corpus has no Yoruba
    args = ("--to", "de,yo", "--mlm-weight", "0.5", "--text", texts, "--epochs", "3", "--adapter-lr", "1e-2", "--json")
    result = translate(prompts, toy_data_dir, parallel_dir, *args)
    assert result.exit_code == 0, result.output
    assert "yo (Yoruba): no parallel pairs; its adapter learns from its --text alone" in " ".join(result.stderr.split())
    yo = {row["language"]: row for row in json.loads(result.stdout)}["yo"]
    trained = yo["alignment"]
    assert yo["outcome"] == "written" and yo["translator"] is None and trained["pairs"] == 0
    assert trained["sentences"] + trained["heldout_sentences"] == 60
    assert trained["heldout_kl_before"] < 1e-6 < trained["heldout_kl_after"]  # how far what the prompt reads moved
    assert yo["tokenizer"]["pieces_ratio"] is None and yo["tokenizer"]["unknown_share"] is not None
    artifact = PromptArtifact.load(prompts / "yo.safetensors")
    assert torch.equal(artifact.prompt, PromptArtifact.load(prompts / "en.safetensors").prompt)  # the source prompt as it is
    assert artifact.info.language_adapter and not artifact.info.translator
    assert artifact.info.translation["select"] == "last"  # recorded as trained: every epoch, the last kept
    before = snapshot_tree(prompts)

    again = translate(prompts, toy_data_dir, parallel_dir, *args)  # finished: both languages are kept as they are
    assert again.exit_code == 0, again.output
    assert [row["outcome"] for row in json.loads(again.stdout)] == ["skipped", "skipped"]
    assert snapshot_tree(prompts) == before
