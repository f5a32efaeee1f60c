"""The prompts folder: small per-language files, side files shared once, and the format of mpt 0.1."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from conftest import LEARNING_TRAIN, source_options, toy_rows, write_tsv


@pytest.fixture(scope="module")
def lora_run(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path_factory):
    """A LoRA source prompt with a translated German prompt."""
    from conftest import align_options

    from mpt_cli.workflows.train_source import train_source
    from mpt_cli.workflows.translate import translate

    prompts = tmp_path_factory.mktemp("lora") / "prompts"
    train_source(source_options(tiny_model_dir, toy_data_dir, prompts, tune="lora", lora_rank=4, train=LEARNING_TRAIN))
    translate(align_options(prompts, toy_data_dir, parallel_dir))
    return prompts


def test_a_prompt_file_holds_the_prompt_alone_and_the_run_shares_its_side_files(lora_run):
    from safetensors import safe_open

    from mpt_cli.store import PromptStore

    store = PromptStore(lora_run)
    source, german = store.load_prompt("en"), store.load_prompt("de")
    for lang in ("en", "de"):
        with safe_open(str(store.prompt_path(lang)), framework="pt") as handle:
            assert list(handle.keys()) == ["prompt"]
    assert german.info.adapters == source.info.adapters  # recorded, not copied
    assert (lora_run / source.info.adapters).is_file() and (lora_run / source.info.training_state).is_file()
    assert german.info.training_state is None
    assert store.prompt_path("en").stat().st_size < 16_000


def write_format_1(prompts, lang: str = "en") -> None:
    """Rewrite ``prompts/{lang}.safetensors`` as mpt 0.1 wrote it: encoder and adapters inside, no side files."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from mpt_cli.store import PromptStore

    store = PromptStore(prompts)
    artifact = store.load_prompt(lang)
    tensors = {"prompt": artifact.prompt} | {f"encoder.{k}": v for k, v in store.training_state(artifact).items()}
    tensors |= {f"lora.{k}": v for k, v in store.adapters(artifact).items()}
    with safe_open(str(store.prompt_path(lang)), framework="pt") as handle:
        meta = handle.metadata()
    meta = {k: v for k, v in meta.items() if k not in ("adapters", "adapters_sha256", "training_state")} | {"format_version": "1"}
    (prompts / artifact.info.training_state).unlink()
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(store.prompt_path(lang)), metadata=meta)


def test_a_folder_of_mpt_0_1_still_works_with_a_note(lora_run, toy_data_dir, parallel_dir, tmp_path):
    from conftest import NLI, align_options

    from mpt_cli.data import load_examples
    from mpt_cli.prompt_set import PromptSet
    from mpt_cli.workflows.translate import translate

    new = PromptSet(lora_run, "en", cpu=True)
    old_folder = shutil.copytree(lora_run, tmp_path / "prompts")
    write_format_1(old_folder)
    shutil.rmtree(old_folder / "translators")
    for path in old_folder.glob("*.safetensors"):
        if path.name != "en.safetensors":
            path.unlink()
    old = PromptSet(old_folder, "en", cpu=True)
    assert any("format of mpt 0.1" in note for note in old.warnings)
    examples = load_examples(NLI, str(toy_data_dir), "en", "validation")
    torch.testing.assert_close(old.scorer.score(old.source.prompt, examples)[1], new.scorer.score(new.source.prompt, examples)[1])

    translate(align_options(old_folder, toy_data_dir, parallel_dir))  # its adapters get a file of their own
    german = PromptSet(old_folder, "en", cpu=True).for_language("de")
    assert german.translated and (old_folder / german.artifact.info.adapters).is_file()


def test_continuing_a_format_1_prompt_reads_its_encoder(lora_run, tmp_path):
    from mpt_cli.store import PromptStore

    folder = shutil.copytree(lora_run, tmp_path / "prompts")
    expected = PromptStore(folder).training_state(PromptStore(folder).load_prompt("en"))
    write_format_1(folder)
    store = PromptStore(folder)
    state = store.training_state(store.load_prompt("en"))
    assert state.keys() == expected.keys() and all(torch.equal(state[k], expected[k]) for k in state)


def test_training_again_removes_the_replaced_side_files(tiny_model_dir, toy_data_dir, tmp_path):
    from mpt_cli.workflows.train_source import train_source

    write_tsv(tmp_path / "train-en.tsv", toy_rows(10, seed=1))
    first = train_source(source_options(tiny_model_dir, toy_data_dir, tmp_path / "p", tune="lora", lora_rank=4))
    second = train_source(
        source_options(tiny_model_dir, toy_data_dir, tmp_path / "p", tune="lora", lora_rank=4, seed=9, overwrite=True)
    )
    names = sorted(p.name for p in (tmp_path / "p").iterdir())
    assert names == sorted(["README.md", "en.safetensors", second.info.adapters, second.info.training_state])
    assert first.info.adapters != second.info.adapters


def test_inspect_says_what_a_file_is_and_what_it_needs(lora_run, tmp_path):
    import json

    from conftest import invoke

    result = invoke("inspect", lora_run, "--json")
    assert result.exit_code == 0, result.output
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert records["en.safetensors"]["kind"] == "source prompt" and records["en.safetensors"]["tune"] == "lora"
    assert records["de.safetensors"]["kind"] == "translated prompt"
    assert records["en-de.safetensors"]["kind"] == "translator"
    needs = {n["what"]: n for n in records["de.safetensors"]["needs"]}
    assert needs["adapters"]["present"] and needs["adapters"]["matches"]
    assert needs["source prompt"]["matches"] and needs["translator"]["present"]

    folder = shutil.copytree(lora_run, tmp_path / "prompts")
    (folder / records["en.safetensors"]["needs"][0]["path"].split("/")[-1]).unlink()  # the adapters
    text = invoke("inspect", folder / "de.safetensors")
    assert text.exit_code == 0 and "needs adapters" in text.stdout and "(missing)" in text.stdout


def test_inspect_of_something_else_is_one_clear_line(tmp_path):
    from conftest import assert_clean_error, invoke

    (tmp_path / "x.safetensors").write_bytes(b"not safetensors")
    assert_clean_error(invoke("inspect", tmp_path / "x.safetensors"), "not a readable safetensors file")
    assert_clean_error(invoke("inspect", tmp_path / "nothing"), "does not exist")


def test_a_missing_lora_file_names_the_prompt_that_needs_it_and_how_to_remake_it(lora_run, toy_data_dir, tmp_path):
    from conftest import assert_clean_error, invoke

    from mpt_cli.artifacts import PromptArtifact

    folder = shutil.copytree(lora_run, tmp_path / "prompts")
    adapters = PromptArtifact.load(folder / "en.safetensors").info.adapters
    (folder / adapters).unlink()
    result = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", folder, "--cpu")
    assert_clean_error(result, f"{folder / 'en.safetensors'} needs its LoRA adapters {adapters}, which is missing",
                       f"`mpt train-source --lang en --tune lora --prompts-dir {folder} --overwrite`")  # fmt: skip


def test_a_fully_tuned_run_accepts_its_model_by_any_spelling_and_refuses_another(full_run, tiny_model_dir,
                                                                                other_model_dir, monkeypatch):
    from mpt_cli.errors import MptError
    from mpt_cli.store import PromptStore

    run, _ = full_run
    store = PromptStore(run.path.parent)
    artifact = store.load_prompt("en")
    assert artifact.info.backbone == str(tiny_model_dir)
    monkeypatch.chdir(tiny_model_dir.parent)  # the same folder, named relative to here and through '..'
    for spelling in (tiny_model_dir.name, f"../{tiny_model_dir.parent.name}/{tiny_model_dir.name}"):
        assert store.load_backbone(artifact, model=spelling, cpu=True).hidden_size > 0
    with pytest.raises(MptError, match="cannot replace it"):
        store.load_backbone(artifact, model=str(other_model_dir), cpu=True)
