"""mpt joint: the source prompt, translators and tuned backbone learn together into one prompt folder."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace

import pytest
import torch
from conftest import LEARNING_TRAIN, assert_clean_error, invoke, raises_mpt, snapshot_tree, without_side_files


def joint_options(prompts_dir, output, parallel, **joint):
    from mpt_cli.engine.joint import JointConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.joint import JointOptions

    return JointOptions(
        targets=("de", "sw"), output=output, prompts_dir=prompts_dir, parallel=str(parallel), heldout=5, cpu=True,
        joint=JointConfig(**{"epochs": LEARNING_TRAIN["epochs"]} | joint), train=TrainConfig(**LEARNING_TRAIN),
    )  # fmt: skip


@pytest.fixture(scope="module")
def continued(full_prompts_dir, parallel_dir, tmp_path_factory):
    """A joint run that continues the fully tuned toy source run."""
    from mpt_cli.workflows.joint import joint

    output = tmp_path_factory.mktemp("joint") / "prompts-joint"
    return joint(joint_options(full_prompts_dir, output, parallel_dir, start="source"))


def test_a_joint_run_lowers_the_heldout_kl_and_the_training_loss(continued):
    for language in continued.languages:
        assert language.heldout_kl_after < language.heldout_kl_before, language
    history = continued.result.history
    assert history[-1].train_loss < history[0].train_loss
    assert continued.result.dev_score > 0.5  # three classes: chance is a third


def test_the_folder_holds_one_run_whose_artifacts_agree_on_their_backbone(continued, full_prompts_dir):
    from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact
    from mpt_cli.fileformat import tensor_sha256
    from mpt_cli.prompt_set import PromptSet

    folder = continued.output
    source = PromptArtifact.load(folder / "en.safetensors")
    assert source.info.tuned_backbone.startswith("en.backbone-") and source.info.joint["targets"] == ["de", "sw"]
    assert (
        source.info.tuned_backbone_fingerprint
        != PromptArtifact.load(full_prompts_dir / "en.safetensors").info.tuned_backbone_fingerprint
    )
    prompts = PromptSet(folder, "en", cpu=True)
    for lang in ("de", "sw"):
        chosen = prompts.for_language(lang)
        assert chosen.translated
        assert chosen.artifact.info.tuned_backbone_fingerprint == source.info.tuned_backbone_fingerprint
        translator = TranslatorArtifact.load(folder / "translators" / f"en-{lang}.safetensors")
        assert translator.info.source_prompt_sha256 == tensor_sha256(source.prompt)
    assert prompts.warnings == []


def test_translators_of_two_languages_differ(continued):
    from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact

    de, sw = (TranslatorArtifact.load(continued.output / "translators" / f"en-{lang}.safetensors") for lang in ("de", "sw"))
    assert not torch.equal(de.weights["down.weight"], sw.weights["down.weight"])
    prompts = {lang: PromptArtifact.load(continued.output / f"{lang}.safetensors").prompt for lang in ("en", "de", "sw")}
    assert not torch.allclose(prompts["de"], prompts["sw"])
    assert not torch.allclose(prompts["de"], prompts["en"])


def test_an_artifact_of_another_run_in_the_folder_is_refused(continued, full_prompts_dir, tmp_path):
    from mpt_cli.prompt_set import PromptSet

    folder = shutil.copytree(continued.output, tmp_path / "mixed")
    shutil.copy(full_prompts_dir / "en.safetensors", folder / "de.safetensors")  # the two-stage run's prompt
    prompts = PromptSet(folder, "en", cpu=True)
    with raises_mpt("does not come from the same source run"):
        prompts.for_language("de")


def test_the_ablation_keeps_the_source_prompt_for_every_language(full_prompts_dir, parallel_dir, tmp_path):
    from mpt_cli.workflows.joint import joint

    run = joint(joint_options(full_prompts_dir, tmp_path / "ablation", parallel_dir, translate=False, start="source"))
    assert without_side_files(p.name for p in run.output.glob("*.safetensors")) == ["en.safetensors"]
    assert not (run.output / "translators").exists()
    assert all(language.heldout_kl_after < language.heldout_kl_before for language in run.languages)


def test_without_translators_the_target_prompt_is_the_source_prompt(load_backbone, full_prompts_dir, parallel_dir):
    from mpt_cli.engine.joint import JointConfig, JointLearner, MultiParallelSet
    from mpt_cli.engine.loop import LabelledSet
    from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.verbalizer import LabelWords

    backbone = load_backbone()
    empty = LabelledSet([], [])
    pairs = MultiParallelSet([], [], [0, 1, 0])
    encoder = PromptEncoder(PromptEncoderConfig(2, backbone.hidden_size))
    words = LabelWords(torch.tensor([0, 1, 2]))
    learner = JointLearner(backbone, encoder, empty, empty, words, TrainConfig(), pairs=pairs, joint=JointConfig(translate=False))
    prompt = encoder()
    targets = learner.target_prompts(prompt)
    assert targets.shape == (2, *prompt.shape)
    assert all(torch.equal(t, prompt) for t in targets)


def test_languages_take_turns_in_the_parallel_batches():
    from mpt_cli.engine.joint import LanguageRoundRobin

    languages = [0] * 10 + [1] * 3  # a small corpus for language 1 still gets half of every batch
    sampler = LanguageRoundRobin(languages, torch.Generator().manual_seed(0))
    batches = [sampler.next_batch(4) for _ in range(6)]
    for batch in batches:
        assert [languages[r] for r in batch] == [0, 1, 0, 1]
    first_pass = [r for batch in batches[:2] for r in batch if languages[r] == 1][:3]
    assert sorted(first_pass) == [10, 11, 12]  # each language's rows all come before any repeats


def test_cli_writes_the_folder_and_prints_json(full_prompts_dir, parallel_dir, tmp_path):
    result = invoke(
        "joint", "--to", "de,sw", "--prompts-dir", full_prompts_dir, "--output", tmp_path / "joint", "--parallel", parallel_dir,
        "--heldout", "5", "--epochs", "2", "--cpu", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [language["target"] for language in summary["languages"]] == ["de", "sw"]
    assert (tmp_path / "joint" / "de.safetensors").is_file()
    said = re.search(r"(\d+) steps of (\d+) examples and (\d+) pairs: about .+ here", result.stderr)
    assert said and int(said[1]) > 0 and int(said[1]) % 2 == 0, result.stderr  # 2 epochs of whole steps
    assert result.stderr.index(said[0]) < result.stderr.index("epoch 1:")
    again = invoke(
        "joint", "--to", "de", "--prompts-dir", full_prompts_dir, "--output", tmp_path / "joint", "--parallel", parallel_dir
    )
    assert_clean_error(again, "already exists; pass --overwrite")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--alpha", "1.5"], "alpha must be between 0 and 1"),
        (["--start", "middle"], "joint start 'middle' is unknown"),
        (["--kl", "sideways"], "KL direction 'sideways' is unknown"),
        (["--to", "en"], "en is the source language"),
        (["--to", "fr"], "en-fr"),  # no parallel data for that language
        (["--output", "{prompts}"], "it is the input"),
    ],
)
def test_cli_bad_input_is_one_clear_line_and_writes_nothing(args, fragment, full_prompts_dir, parallel_dir, tmp_path):
    prompts = shutil.copytree(full_prompts_dir, tmp_path / "prompts")
    args = [str(prompts) if a == "{prompts}" else a for a in args]
    before = snapshot_tree(tmp_path)
    result = invoke(
        "joint", "--to", "de", "--prompts-dir", prompts, "--output", tmp_path / "out", "--parallel", parallel_dir, *args
    )
    assert_clean_error(result, fragment)
    assert snapshot_tree(tmp_path) == before


def test_a_prompt_mode_source_run_is_refused(source_prompts_dir, parallel_dir, tmp_path):
    from mpt_cli.workflows.joint import joint

    with raises_mpt("--tune prompt", "--tune lora or full"):
        joint(joint_options(source_prompts_dir, tmp_path / "out", parallel_dir))
    assert not (tmp_path / "out").exists()


def test_from_scratch_learns_the_task_with_lora(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    from conftest import source_options

    from mpt_cli.workflows.joint import joint
    from mpt_cli.workflows.train_source import train_source

    train_source(source_options(tiny_model_dir, toy_data_dir, tmp_path / "prompts", tune="lora", train=LEARNING_TRAIN))
    run = joint(replace(joint_options(tmp_path / "prompts", tmp_path / "joint", parallel_dir, start="scratch"), targets=("de",)))
    assert run.result.dev_score > 0.5
    assert without_side_files(p.name for p in run.output.glob("*.safetensors")) == ["de.safetensors", "en.safetensors"]
