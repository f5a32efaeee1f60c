"""``mpt translate`` into many languages: finished languages are kept and skipped, a failing one does not
stop the others, every language gets a row, and a language the tokenizer reads badly is warned about."""

from __future__ import annotations

import json
import re
import shutil
import weakref
from pathlib import Path

import pytest
import torch
from conftest import align_options, assert_clean_error, invoke, other_language, snapshot_tree, toy_sentences, write_tsv
from test_align import counting_teacher_passes, translated_weights
from test_language_adapter import files_of, translate_cli

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.callbacks import Callbacks
from mpt_cli.data.parallel import ParallelPair
from mpt_cli.engine.align import TranslatorLearner
from mpt_cli.engine.tokenizer_fit import tokenizer_fit
from mpt_cli.errors import MptError
from mpt_cli.workflows import language_preparation
from mpt_cli.workflows import translate as workflow
from mpt_cli.workflows.translate import TranslatedPrompt, translate


@pytest.fixture
def full_copy(full_prompts_dir, tmp_path) -> Path:
    return Path(shutil.copytree(full_prompts_dir, tmp_path / "prompts"))


def test_a_failing_language_leaves_the_others_and_a_second_run_goes_on_from_there(
    full_copy, toy_data_dir, parallel_dir, monkeypatch
):
    train_language = workflow.train_language

    def failing_for_sw(options, prepared, target, *rest):
        if target == "sw":
            raise MptError("the sw run went wrong")
        return train_language(options, prepared, target, *rest)

    monkeypatch.setattr(workflow, "train_language", failing_for_sw)
    first = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw", "--json")
    assert first.exit_code == 2 and "Traceback" not in first.output
    assert first.stderr.rstrip().splitlines()[-1].startswith("error: 1 of 2 languages failed (sw)")
    rows = {row["language"]: row for row in json.loads(first.stdout)}
    assert (rows["de"]["outcome"], rows["sw"]["outcome"]) == ("written", "failed")
    assert rows["sw"]["error"] == "the sw run went wrong" and rows["sw"]["prompt"] is None
    assert "[1/2] de (German)" in first.stderr and "[2/2] sw (Swahili)" in first.stderr
    assert re.search(r"\[2/2\] sw \(Swahili\), about \d+ s left", first.stderr)  # from what de took
    de = files_of(full_copy, "de")
    assert len(de) == 3 and files_of(full_copy, "sw") == {}
    PromptArtifact.load(full_copy / "de.safetensors")

    monkeypatch.setattr(workflow, "train_language", train_language)
    second = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw", "--json")
    assert second.exit_code == 0, second.output
    assert files_of(full_copy, "de") == de  # skipped: not a byte changed
    assert "de (German): finished by an earlier run, skipped" in second.stderr
    assert "[1/1] sw (Swahili)" in second.stderr
    rows = json.loads(second.stdout)
    assert [(r["language"], r["name"], r["outcome"]) for r in rows] == [("de", "German", "skipped"), ("sw", "Swahili", "written")]
    assert rows[0]["prompt"] == str(full_copy / "de.safetensors") and rows[0]["alignment"] is None
    assert rows[1]["alignment"]["target"] == "sw" and len(files_of(full_copy, "sw")) == 3
    assert "de (German)" in second.stderr and "sw (Swahili)" in second.stderr  # the table names each language


def test_a_run_stopped_between_translator_and_prompt_goes_on_without_overwrite(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    (full_copy / "de.safetensors").unlink()  # as if stopped after the translator was written
    again = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)[0]["outcome"] == "written"
    PromptArtifact.load(full_copy / "de.safetensors")


def test_a_translator_of_mpt_align_is_not_replaced_without_overwrite(full_copy, toy_data_dir, parallel_dir):
    """Only a translator trained with an adapter can be a stopped translate run's: align's is the user's result."""
    aligned = invoke("align", "--to", "de", "--prompts-dir", full_copy, "--data", toy_data_dir, "--parallel", parallel_dir,
                     "--epochs", "1", "--heldout", "5", "--cpu")  # fmt: skip
    assert aligned.exit_code == 0, aligned.output
    before = snapshot_tree(full_copy)
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de")
    assert_clean_error(result, "translators/en-de.safetensors already exists", "--overwrite")
    assert snapshot_tree(full_copy) == before


def test_a_finished_language_missing_its_adapter_is_not_skipped(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    (full_copy / PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter).unlink()
    before = snapshot_tree(full_copy)
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw")
    assert_clean_error(result, "de.safetensors already exists and is not a finished translation", "--overwrite")
    assert snapshot_tree(full_copy) == before


OTHER_SETTINGS = {
    ("--epochs", "2"): "epochs 1; this run asks epochs 2",
    ("--lr", "0.01"): "lr 0.0002; this run asks lr 0.01",
    ("--max-pairs", "20"): "max-pairs 1000; this run asks max-pairs 20",
    ("--adapter-rank", "3"): "adapter-rank 2; this run asks adapter-rank 3",
    ("--group-by-length",): "group-by-length off; this run asks group-by-length on",
    ("--epochs", "2", "--heldout", "4"): "epochs 1, heldout 5; this run asks epochs 2, heldout 4",
}


def test_a_language_finished_with_other_settings_is_refused_and_overwrite_retrains_it(
    full_copy, toy_data_dir, parallel_dir, tmp_path
):
    """One folder, one set of settings: a finished language is skipped only when this run asks what it was made
    with (training, pairs, adapter, batching); otherwise one error names what differs."""
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    de = full_copy / "de.safetensors"
    before = snapshot_tree(full_copy)
    for options, differ in OTHER_SETTINGS.items():
        result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "sw,de", *options)
        assert_clean_error(result, f"{de} was made with {differ}; pass --overwrite to retrain it")
    edited = Path(shutil.copytree(parallel_dir, tmp_path / "edited"))
    lines = (edited / "en-de.tsv").read_text().splitlines()
    (edited / "en-de.tsv").write_text("\n".join(lines[1:]) + "\n")  # other pairs, in a file of the same name
    assert_clean_error(translate_cli(full_copy, toy_data_dir, edited, "--to", "de"), f"{de} was made with corpus-sha256 ")
    assert snapshot_tree(full_copy) == before  # nothing trained, nothing written

    same = translate_cli(full_copy, toy_data_dir, Path(shutil.copytree(parallel_dir, tmp_path / "copy")), "--to", "de")
    assert same.exit_code == 0 and "finished by an earlier run, skipped" in same.stderr  # the same pairs, elsewhere
    again = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--epochs", "2", "--overwrite", "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)[0]["outcome"] == "written" and PromptArtifact.load(de).info.translation["epochs"] == 2
    skipped = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--epochs", "2", "--json")
    assert json.loads(skipped.stdout)[0]["outcome"] == "skipped"


def test_a_language_finished_before_settings_were_recorded_is_kept_with_a_note(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    de = full_copy / "de.safetensors"
    artifact = PromptArtifact.load(de)
    artifact.info.translation = None  # as an mpt that did not record them wrote it
    artifact.save(de, overwrite=True)
    before = snapshot_tree(full_copy)
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--epochs", "2", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["outcome"] == "skipped" and snapshot_tree(full_copy) == before
    assert f"note: {de} was made before mpt recorded the settings a language is trained with" in result.stderr


# --------------------------------------------------------------------------------------------------
# How well the tokenizer reads a language
# --------------------------------------------------------------------------------------------------


def pairs_of(spell) -> list[ParallelPair]:
    return [ParallelPair((s,), (spell(s),)) for s in toy_sentences(30, seed=8)]


def unseen_script(sentence: str) -> str:
    """Characters the tokenizer never saw, a word for each word."""
    return " ".join("Ωж" for _ in sentence.split())


def spelt_out(sentence: str) -> str:
    """The sentence letter by letter."""
    return " ".join(" ".join(word) for word in sentence.split())


def test_the_tokenizer_fit_names_the_figure_past_its_limit(tokenizer):
    assert tokenizer_fit(tokenizer, pairs_of(lambda s: other_language(s, "de"))).warning("en", "de") is None

    unseen = tokenizer_fit(tokenizer, pairs_of(unseen_script))
    assert unseen.unknown_share > 0.5 and unseen.unreadable
    warning = unseen.warning("en", "nqo")
    assert warning.startswith("the tokenizer cannot read the script of nqo (N’Ko)")
    assert f"{unseen.unknown_share:.0%} of its pieces are unknown" in warning and warning.endswith("expect chance")

    some_unseen = tokenizer_fit(tokenizer, pairs_of(lambda s: f"{other_language(s, 'de')} {other_language(s, 'de')} Ωж"))
    assert 0.01 < some_unseen.unknown_share < 0.25 and not some_unseen.unreadable
    warning = some_unseen.warning("en", "el")
    assert warning.startswith("the tokenizer reads el (Greek) badly")
    assert f"{some_unseen.unknown_share:.1%} of its pieces are unknown" in warning

    spelt = tokenizer_fit(tokenizer, pairs_of(spelt_out))
    assert spelt.unknown_share == 0 and spelt.pieces_ratio > 2
    warning = spelt.warning("en", "ko")
    assert "unknown" not in warning and f"{spelt.pieces_ratio:.1f}x the pieces of the en side" in warning


def test_translate_warns_about_a_language_the_tokenizer_reads_badly(full_copy, toy_data_dir, parallel_dir, tmp_path):
    parallel = Path(shutil.copytree(parallel_dir, tmp_path / "parallel"))
    write_tsv(parallel / "en-el.tsv", [(p.source[0], p.target[0]) for p in pairs_of(unseen_script)])
    result = translate_cli(full_copy, toy_data_dir, parallel, "--to", "de,el", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["language"]: row for row in json.loads(result.stdout)}
    assert rows["de"]["warning"] is None and rows["de"]["tokenizer"]["unknown_share"] == 0
    assert "cannot read the script of el (Greek)" in rows["el"]["warning"] and "expect chance" in rows["el"]["warning"]
    assert rows["el"]["tokenizer"]["unknown_share"] > 0.5
    assert f"warning: {rows['el']['warning']}" in result.stderr.splitlines()
    assert "unknown pieces" in result.stderr and "pieces vs source" in result.stderr  # the table's columns


# --------------------------------------------------------------------------------------------------
# What a run holds in memory: one language at a time
# --------------------------------------------------------------------------------------------------


def held_after_each_language(monkeypatch, options) -> tuple[list[TranslatedPrompt], list[dict]]:
    """Run ``translate(options)`` and measure, after each language (when the next one starts, and at the end),
    what the run holds: the language adapters inside the backbone, the teacher states, the optimizers alive."""
    prepared, optimizers, make_optimizer = [], [], torch.optim.AdamW
    monkeypatch.setattr(workflow, "prepare", lambda *args: prepared.append(language_preparation.prepare(*args)) or prepared[-1])

    def recorded_optimizer(*args, **kwargs):
        optimizer = make_optimizer(*args, **kwargs)
        optimizers.append(weakref.ref(optimizer))
        return optimizer

    monkeypatch.setattr(torch.optim, "AdamW", recorded_optimizer)

    def held() -> dict:
        adapters, teacher = prepared[0].scorer.backbone.language_adapters, prepared[0].teacher.kept
        storages = {state.untyped_storage().data_ptr(): state.untyped_storage().nbytes() for state in teacher.values()}
        return {
            "adapter languages": sorted(adapters.configs),
            "adapter weights": sum(w.numel() for layer in adapters.layers.values() for w in [*layer.lora_A.values(),
                                                                                             *layer.lora_B.values()]),
            "teacher inputs": len(teacher),
            "teacher bytes": sum(storages.values()),  # a view holds all of what it is a view of
            "optimizers": sum(ref() is not None for ref in optimizers),
        }  # fmt: skip

    measured = []

    def on_stage(stage: str) -> None:
        if stage.startswith("[") and not stage.startswith("[1/"):  # "[2/4] sw (Swahili)": one language is done
            measured.append(held())

    results = workflow.translate(options, Callbacks(on_stage=on_stage))
    measured.append(held())
    return results, measured


NOTHING_HELD = {"adapter languages": [], "adapter weights": 0, "teacher inputs": 0, "teacher bytes": 0, "optimizers": 0}


def test_what_a_run_holds_does_not_grow_with_its_languages(prompts_copy, toy_data_dir, tmp_path, monkeypatch):
    """Four languages: a language's adapter leaves the backbone once it is trained (and written), and a teacher
    state stays only while a language still to come reads it: de and fr share an English side, sw and es
    have their own. The shared side is computed once."""
    english = toy_sentences(36, seed=5)
    sides = {"de": english[:12], "sw": english[12:24], "fr": english[:12], "es": english[24:]}
    parallel = tmp_path / "parallel"
    parallel.mkdir()
    for lang, sentences in sides.items():
        write_tsv(parallel / f"en-{lang}.tsv", [(s, other_language(s, "de")) for s in sentences])
    passes = counting_teacher_passes(monkeypatch)
    options = align_options(prompts_copy, toy_data_dir, parallel, targets=tuple(sides), method="adapter", score_dev=False)
    results, held = held_after_each_language(monkeypatch, options)
    assert [r.outcome for r in results] == ["written"] * 4
    assert sum(passes) == 36  # de's English side, shared with fr, once
    hidden_size = PromptArtifact.load(prompts_copy / "en.safetensors").info.hidden_size
    de_side = {"teacher inputs": 12, "teacher bytes": 12 * hidden_size * 4}  # float32
    assert held == [NOTHING_HELD | de_side, NOTHING_HELD | de_side, NOTHING_HELD, NOTHING_HELD]  # de's side kept for fr only


def test_a_language_that_fails_while_training_lets_go_of_what_it_held(
    source_prompts_dir, prompts_copy, toy_data_dir, parallel_dir, tmp_path, monkeypatch
):
    """de fails at its second step: by the time sw starts, de's adapter has left the backbone, and its optimizer
    and teacher states are gone; sw learns what it learns in a run where de does not fail."""
    loss, steps = TranslatorLearner.loss, []

    def failing_for_de(learner, rows):
        steps.append(learner.adapter)
        if steps == ["de", "de"]:
            raise MptError("de went wrong at its second step")
        return loss(learner, rows)

    monkeypatch.setattr(TranslatorLearner, "loss", failing_for_de)
    options = lambda prompts: align_options(prompts, toy_data_dir, parallel_dir, targets=("de", "sw"), method="adapter")
    results, held = held_after_each_language(monkeypatch, options(prompts_copy))
    assert [(r.outcome, r.error) for r in results] == [("failed", "de went wrong at its second step"), ("written", None)]
    assert held == [NOTHING_HELD, NOTHING_HELD]

    monkeypatch.setattr(TranslatorLearner, "loss", loss)
    without_failure = Path(shutil.copytree(source_prompts_dir, tmp_path / "without-failure"))
    assert [r.outcome for r in translate(options(without_failure))] == ["written", "written"]
    after_a_failure, alone = translated_weights(prompts_copy, "sw"), translated_weights(without_failure, "sw")
    assert all(torch.equal(a, b) for a, b in zip(after_a_failure, alone, strict=True))
