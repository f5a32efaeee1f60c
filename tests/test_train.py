"""End-to-end source training on the toy task: learning, determinism, manifests, LoRA and full tuning."""

from __future__ import annotations

import shutil
from collections import Counter

import pytest
import torch
from conftest import NLI, SHOTS, raises_mpt, train_capturing_backbone

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data import SplitManifest, load_examples, select
from mpt_cli.engine.inference import accuracy, label_probabilities
from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from mpt_cli.store import PromptStore
from mpt_cli.workflows.train_source import train_source


def prompt_bytes(path) -> bytes:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return handle.get_tensor("prompt").numpy().tobytes()


def manifest_of(artifact: PromptArtifact) -> SplitManifest:
    import json

    return SplitManifest.from_json(json.dumps(artifact.info.split_manifest))


def dev_probabilities(backbone, artifact: PromptArtifact, data: str):
    """Label probabilities of the artifact's dev examples on ``backbone``, with their gold labels."""
    dev = select(load_examples(NLI, data, artifact.info.language, "validation"), manifest_of(artifact).dev_ids)
    scorer = PromptStore.scorer(artifact, backbone)
    template, label_words = scorer.template, scorer.label_words
    encoded = template.encode([e.texts for e in dev])
    return label_probabilities(backbone, encoded, artifact.prompt, label_words), [e.label for e in dev]


# --------------------------------------------------------------------------------------------------
# Learning (full tuning)
# --------------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_beats_chance(full_run):
    run, _ = full_run
    history = run.result.history
    assert len(history) == 16
    assert history[-1].train_loss < history[0].train_loss
    assert run.result.train_loss < history[0].train_loss
    assert run.result.dev_score > 0.5


def test_best_epoch_is_the_first_with_the_highest_dev_accuracy(full_run):
    run, _ = full_run
    accuracies = [r.dev_score for r in run.result.history]
    assert run.result.dev_score == max(accuracies)
    assert run.result.best_epoch == accuracies.index(max(accuracies)) + 1
    assert run.result.train_loss == run.result.history[run.result.best_epoch - 1].train_loss
    assert run.info.training["best_epoch"] == run.result.best_epoch
    assert run.info.dev_accuracy == run.result.dev_score


def test_artifact_records_the_split_manifest(full_run, toy_data_dir):
    run, _ = full_run
    artifact = PromptArtifact.load(run.path)
    manifest = manifest_of(artifact)
    assert artifact.info.split_manifest_sha256 == manifest.sha256
    assert (manifest.data, manifest.lang, manifest.shots, manifest.dev_shots) == (str(toy_data_dir), "en", SHOTS, SHOTS)
    train = select(load_examples(NLI, str(toy_data_dir), "en", "train"), manifest.train_ids)
    dev = select(load_examples(NLI, str(toy_data_dir), "en", "dev"), manifest.dev_ids)
    assert Counter(e.label for e in train) == {0: SHOTS, 1: SHOTS, 2: SHOTS}
    assert Counter(e.label for e in dev) == {0: SHOTS, 1: SHOTS, 2: SHOTS}
    assert artifact.info.training["dev_examples"] == 3 * SHOTS


def test_artifact_prompt_is_what_its_encoder_produces(full_run):
    run, _ = full_run
    artifact = PromptArtifact.load(run.path)
    config = PromptEncoderConfig(**artifact.info.prompt_encoder)
    assert (config.prompt_length, config.hidden_size) == tuple(artifact.prompt.shape)
    encoder = PromptEncoder(config)
    encoder.load_state_dict(PromptStore(run.path.parent).training_state(artifact))
    with torch.no_grad():
        torch.testing.assert_close(encoder.eval()(), artifact.prompt)


def test_full_mode_saves_the_tuned_backbone_beside_the_prompt(full_run):
    run, _ = full_run
    info = PromptArtifact.load(run.path).info
    assert info.tune == "full" and info.tuned_backbone == f"en.backbone-{info.tuned_backbone_fingerprint[:12]}"
    directory = run.path.parent / info.tuned_backbone
    assert (directory / "config.json").is_file() and (directory / "model.safetensors").is_file()
    names = sorted(p.name for p in run.path.parent.iterdir())
    assert names == ["README.md", info.tuned_backbone, "en.safetensors", info.training_state]


def test_full_mode_artifact_reloads_with_the_same_predictions(full_run, toy_data_dir):
    run, trained = full_run
    artifact = PromptArtifact.load(run.path)
    reloaded = PromptStore(run.path.parent).load_backbone(artifact, cpu=True)
    probs, gold = dev_probabilities(reloaded, artifact, str(toy_data_dir))
    in_memory, _ = dev_probabilities(trained, artifact, str(toy_data_dir))
    torch.testing.assert_close(probs, in_memory, rtol=1e-5, atol=1e-6)
    assert accuracy(probs, gold) == pytest.approx(run.result.dev_score)


def test_changed_tuned_backbone_is_refused(full_run, tmp_path):
    from transformers import AutoModelForMaskedLM

    run, _ = full_run
    prompts = shutil.copytree(run.path.parent, tmp_path / "prompts")
    path = prompts / "en.safetensors"
    artifact = PromptArtifact.load(path)
    model = AutoModelForMaskedLM.from_pretrained(prompts / artifact.info.tuned_backbone)
    with torch.no_grad():
        model.roberta.encoder.layer[1].output.dense.bias.add_(0.01)
    model.save_pretrained(prompts / artifact.info.tuned_backbone)
    with raises_mpt("en.backbone-", "weights changed"):
        PromptStore(path.parent).load_backbone(artifact, cpu=True)


def test_missing_tuned_backbone_is_named(full_run, tmp_path):
    run, _ = full_run
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shutil.copy(run.path, prompts / "en.safetensors")
    with raises_mpt("en.backbone-", "missing"):
        PromptStore(prompts).load_backbone(PromptArtifact.load(prompts / "en.safetensors"), cpu=True)


# --------------------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("tune", ["prompt", "lora"])
def test_same_seed_gives_byte_identical_prompts(make_options, tmp_path, tune):
    first = train_source(make_options(tune=tune, prompts_dir=tmp_path / "a"))
    again = train_source(make_options(tune=tune, prompts_dir=tmp_path / "b"))
    other = train_source(make_options(tune=tune, prompts_dir=tmp_path / "c", seed=4))
    assert prompt_bytes(first.path) == prompt_bytes(again.path)
    assert prompt_bytes(first.path) != prompt_bytes(other.path)
    assert first.info.split_manifest == again.info.split_manifest != other.info.split_manifest


# --------------------------------------------------------------------------------------------------
# Prompt-only and LoRA artifacts
# --------------------------------------------------------------------------------------------------


def test_prompt_mode_artifact_holds_no_backbone_weights(make_options, tiny_model_dir):
    run = train_source(make_options(tune="prompt"))
    artifact = PromptArtifact.load(run.path)
    assert artifact.info.adapters is None and artifact.info.lora_rank is None and artifact.info.tuned_backbone is None
    assert sorted(p.name for p in run.path.parent.iterdir()) == ["README.md", "en.safetensors", artifact.info.training_state]
    assert artifact.prompt.shape == (2, 32)
    assert artifact.info.backbone == str(tiny_model_dir)


def test_lora_artifact_reloads_with_the_same_predictions(make_options, toy_data_dir, other_model_dir):
    run, trained = train_capturing_backbone(make_options(tune="lora", lora_rank=4))
    artifact = PromptArtifact.load(run.path)
    assert artifact.info.lora_rank == 4
    adapters = PromptStore(run.path.parent).adapters(artifact)
    assert adapters and all("lora_" in key for key in adapters)
    assert adapters.keys() == trained.lora_state().keys()
    reloaded = PromptStore(run.path.parent).load_backbone(artifact, cpu=True)
    probs, gold = dev_probabilities(reloaded, artifact, str(toy_data_dir))
    in_memory, _ = dev_probabilities(trained, artifact, str(toy_data_dir))
    torch.testing.assert_close(probs, in_memory, rtol=1e-5, atol=1e-6)
    assert accuracy(probs, gold) == pytest.approx(run.result.dev_score)
    with raises_mpt("fingerprint"):
        PromptStore(run.path.parent).load_backbone(artifact, model=str(other_model_dir), cpu=True)


def test_lora_weights_change_the_predictions(make_options, toy_data_dir, load_backbone):
    """Guards the test above: the adapters must matter, or equal predictions would prove nothing."""
    run = train_source(make_options(tune="lora", lora_rank=4, train={"epochs": 3, "batch_size": 4, "backbone_lr": 5e-2}))
    artifact = PromptArtifact.load(run.path)
    with_adapters, _ = dev_probabilities(
        PromptStore(run.path.parent).load_backbone(artifact, cpu=True), artifact, str(toy_data_dir)
    )
    without, _ = dev_probabilities(load_backbone(), artifact, str(toy_data_dir))
    assert not torch.allclose(with_adapters, without, atol=1e-4)


# --------------------------------------------------------------------------------------------------
# Fast failures
# --------------------------------------------------------------------------------------------------


def test_existing_artifact_is_refused_before_any_work(make_options, tmp_path):
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    (prompts / "en.safetensors").write_text("old")
    # the data path does not exist either: the existing artifact must be reported first
    with raises_mpt("en.safetensors", "already exists"):
        train_source(make_options(data=str(tmp_path / "no-data")))
    assert (prompts / "en.safetensors").read_text() == "old"


def test_overwriting_a_full_run_keeps_one_backbone_and_leaves_other_folders_alone(make_options, tmp_path):
    users = tmp_path / "prompts" / "en.backbone"  # a folder of the user's that only looks like ours
    users.mkdir(parents=True)
    first = train_source(make_options(tune="full"))
    second = train_source(make_options(tune="full", seed=4, overwrite=True))
    assert first.info.tuned_backbone != second.info.tuned_backbone
    names = sorted(p.name for p in (tmp_path / "prompts").iterdir())
    assert names == ["README.md", "en.backbone", second.info.tuned_backbone, "en.safetensors", second.info.training_state]
