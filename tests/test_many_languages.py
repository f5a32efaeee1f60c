"""``mpt translate`` into many languages: finished languages are kept and skipped, a failing one does not
stop the others, every language gets a row, and a language the tokenizer reads badly is warned about."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import assert_clean_error, invoke, other_language, snapshot_tree, toy_sentences, write_tsv
from test_language_adapter import files_of, translate_cli

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data.parallel import ParallelPair
from mpt_cli.engine.tokenizer_fit import tokenizer_fit
from mpt_cli.errors import MptError
from mpt_cli.workflows import translate as workflow


@pytest.fixture
def full_copy(full_prompts_dir, tmp_path) -> Path:
    return Path(shutil.copytree(full_prompts_dir, tmp_path / "prompts"))


def test_a_failing_language_leaves_the_others_and_a_second_run_goes_on_from_there(
    full_copy, toy_data_dir, parallel_dir, monkeypatch
):
    train_language = workflow.train_language

    def failing_for_sw(options, prepared, target, callbacks):
        if target == "sw":
            raise MptError("the sw run went wrong")
        return train_language(options, prepared, target, callbacks)

    monkeypatch.setattr(workflow, "train_language", failing_for_sw)
    first = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw", "--json")
    assert first.exit_code == 2 and "Traceback" not in first.output
    assert first.stderr.rstrip().splitlines()[-1].startswith("error: 1 of 2 languages failed (sw)")
    rows = {row["language"]: row for row in json.loads(first.stdout)}
    assert (rows["de"]["outcome"], rows["sw"]["outcome"]) == ("written", "failed")
    assert rows["sw"]["error"] == "the sw run went wrong" and rows["sw"]["prompt"] is None
    assert "[1/2] de (German)" in first.stderr and "[2/2] sw (Swahili)" in first.stderr
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
    assert unseen.unknown_share > 0.5
    warning = unseen.warning("en", "el")
    assert warning.startswith("the tokenizer reads el (Greek) badly")
    assert f"{unseen.unknown_share:.1%} of its pieces are unknown" in warning

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
    assert rows["de"]["warning"] is None
    assert "el (Greek) badly" in rows["el"]["warning"] and "of its pieces are unknown" in rows["el"]["warning"]
    assert f"warning: {rows['el']['warning']}" in result.stderr.splitlines()

