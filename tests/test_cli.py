"""The ``mpt`` command line, run in-process with Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
import torch
from conftest import (
    UNENCODABLE_WORD,
    assert_clean_error,
    invoke,
    snapshot_tree,
    toy_rows,
    without_side_files,
    write_jsonl,
    write_tsv,
)

import mpt_cli
from mpt_cli.artifacts import PromptArtifact


@pytest.fixture
def train_args(tiny_model_dir, toy_data_dir, tmp_path):
    """``train_args(**options)``: a quick ``train-source`` command line; ``None`` drops an option."""

    def build(**options):
        values = {
            "model": tiny_model_dir,
            "data": toy_data_dir,
            "prompts-dir": tmp_path / "prompts",
            "shots": 4,
            "dev-shots": 4,
            "epochs": 2,
            "prompt-length": 2,
            "max-length": 48,
            "seed": 5,
        }
        values |= {key.replace("_", "-"): value for key, value in options.items()}
        args = ["train-source", "--cpu"]
        for key, value in values.items():
            if value is not None:
                args += [f"--{key}", str(value)]
        return args

    return build


def test_help_lists_the_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    assert "train-source" in result.stdout and "env" in result.stdout


def test_env_json():
    result = invoke("env", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["torch"] == torch.__version__
    assert report["mpt-cli"] == mpt_cli.__version__
    assert report["device"] and report["python"] and report["cpu_bf16"]


def test_train_source_json_then_refuse_to_overwrite(train_args, tmp_path):
    result = invoke(*train_args(tune="prompt"), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    artifact = tmp_path / "prompts" / "en.safetensors"
    assert artifact.is_file()
    assert summary["artifact"] == str(artifact)
    # the weights kept (the last epoch's, by default) are the ones scored and saved: a count of the 12 dev rows
    assert summary["best_epoch"] == 2 and summary["dev_accuracy"] == summary["history"][-1]["dev_score"]
    assert summary["dev_accuracy"] == PromptArtifact.load(artifact).info.dev_accuracy
    assert round(summary["dev_accuracy"] * 12, 5).is_integer()  # float32 arithmetic
    assert summary["language"] == "en" and summary["tune"] == "prompt" and summary["shots"] == 4
    assert summary["dev_examples"] == 12 and len(summary["history"]) == 2
    assert "Traceback" not in result.output

    before = artifact.read_bytes()
    again = invoke(*train_args(tune="prompt", seed=6), "--json")
    assert_clean_error(again, str(artifact), "already exists", "--overwrite")
    assert artifact.read_bytes() == before
    assert without_side_files(p.name for p in artifact.parent.iterdir()) == ["en.safetensors"]

    replaced = invoke(*train_args(tune="prompt", seed=6), "--overwrite")
    assert replaced.exit_code == 0, replaced.output
    assert replaced.stdout == ""  # without --json the summary goes to stderr only
    assert artifact.read_bytes() != before


def test_full_mode_via_cli_writes_prompt_and_backbone(train_args, tmp_path):
    result = invoke(*train_args(tune=None, epochs=1), "--json")  # full is the default
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["tune"] == "full" and summary["tuned_backbone"].startswith("en.backbone-")
    assert without_side_files(p.name for p in (tmp_path / "prompts").iterdir()) == ["en.safetensors"]
    assert (tmp_path / "prompts" / summary["tuned_backbone"] / "config.json").is_file()


# --------------------------------------------------------------------------------------------------
# Bad input: exit 2, one error line, nothing written
# --------------------------------------------------------------------------------------------------


def make_empty_file(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    return {"data": tmp_path / "empty.tsv"}


def make_unknown_label(tmp_path):
    return {"data": write_tsv(tmp_path / "bad.tsv", [*toy_rows(10, seed=1), ("p", "h", "entails")])}


def make_missing_column(tmp_path):
    records = [{"premise": p, "hypothesis": h, "label": label} for p, h, label in toy_rows(10, seed=1)]
    records[4].pop("hypothesis")
    return {"data": write_jsonl(tmp_path / "gap.jsonl", records)}


def make_empty_model_dir(tmp_path):
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "README").write_text("nothing here")
    return {"model": tmp_path / "not-a-model"}


def make_prompts_dir_under_a_file(tmp_path):
    (tmp_path / "a-file").write_text("keep me")
    return {"prompts-dir": tmp_path / "a-file" / "prompts"}


def make_prompts_dir_is_a_file(tmp_path):
    (tmp_path / "a-file").write_text("keep me")
    return {"prompts-dir": tmp_path / "a-file"}


BAD_INPUTS = {
    "empty-data-file": (make_empty_file, ["empty.tsv", "is empty"]),
    "unknown-label": (make_unknown_label, ["bad.tsv line 31", "unknown label 'entails'"]),
    "missing-column": (make_missing_column, ["gap.jsonl line 5", "missing column 'hypothesis'"]),
    "too-few-for-shots": (lambda tmp_path: {"shots": 31}, ["only 30 usable", "31 per class"]),
    "too-few-for-dev-shots": (lambda tmp_path: {"dev-shots": 25}, ["validation", "only 20 usable", "25 per class"]),
    "unknown-lang": (lambda tmp_path: {"lang": "xx"}, ["'xx' is not a language code"]),
    "lang-without-files": (lambda tmp_path: {"lang": "fr"}, ["train-fr.tsv", "found:", "train-en.tsv"]),
    "nonexistent-model-dir": (lambda tmp_path: {"model": tmp_path / "no-model"}, ["no-model", "does not exist"]),
    "unreadable-model-dir": (make_empty_model_dir, ["cannot load a masked language model", "not-a-model"]),
    "unencodable-label-word": (
        lambda tmp_path: {"verbalizer": f"yes,{UNENCODABLE_WORD},no"},
        [f"'{UNENCODABLE_WORD}'", "cannot be encoded by this tokenizer"],
    ),
    "two-label-words": (lambda tmp_path: {"verbalizer": "yes,no"}, ["3 comma-separated words"]),
    "prompts-dir-under-a-file": (make_prompts_dir_under_a_file, ["cannot create output folder"]),
    "prompts-dir-is-a-file": (make_prompts_dir_is_a_file, ["cannot create output folder"]),
    "nonexistent-data": (lambda tmp_path: {"data": tmp_path / "nothing.tsv"}, ["nothing.tsv", "does not exist"]),
    "bad-template": (lambda tmp_path: {"template": "{premise} {hypothesis} {mask}"}, ["{soft}"]),
    "max-length-too-small": (lambda tmp_path: {"max-length": 6}, ["max length 6"]),
    "unknown-tune-mode": (lambda tmp_path: {"tune": "adapter"}, ["tune mode 'adapter'"]),
    "unknown-encoder": (lambda tmp_path: {"encoder": "gru"}, ["'gru'"]),
    "zero-shots": (lambda tmp_path: {"shots": 0}, ["--shots must be greater than 0"]),
    "zero-lora-rank": (lambda tmp_path: {"tune": "lora", "lora-rank": 0}, ["--lora-rank must be greater than 0"]),
    "zero-epochs": (lambda tmp_path: {"epochs": 0}, ["--epochs must be greater than 0"]),
    "zero-batch-size": (lambda tmp_path: {"batch-size": 0}, ["--batch-size must be greater than 0"]),
    "negative-learning-rate": (lambda tmp_path: {"prompt-lr": -0.01}, ["--prompt-lr must be greater than 0"]),
    "zero-dev-shots": (lambda tmp_path: {"dev-shots": 0}, ["--dev-shots must be greater than 0"]),
}
CASES = [pytest.param(make, fragments, id=name) for name, (make, fragments) in BAD_INPUTS.items()]


@pytest.mark.parametrize(("make", "fragments"), CASES)
def test_bad_input_is_one_clean_error_and_writes_nothing(train_args, tmp_path, make, fragments):
    options = {"tune": "full"} | make(tmp_path)  # full tuning would also write en.backbone/
    before = snapshot_tree(tmp_path)
    result = invoke(*train_args(**options))
    assert_clean_error(result, *fragments)
    assert snapshot_tree(tmp_path) == before
    prompts = tmp_path / "prompts"
    assert not prompts.exists() or list(prompts.iterdir()) == []


def test_train_source_on_every_training_example(train_args, tmp_path, toy_data_dir):
    result = invoke(*train_args(tune="prompt", shots="all", dev_shots="ALL"), "--json")
    assert result.exit_code == 0, result.output
    info = PromptArtifact.load(tmp_path / "prompts" / "en.safetensors").info
    train_rows = len((toy_data_dir / "train-en.tsv").read_text().splitlines())
    assert info.shots == "all" and len(info.split_manifest["train_ids"]) == train_rows
    assert json.loads(result.stdout)["shots"] == "all"


def test_usage_errors_exit_2_without_a_traceback():
    result = invoke("train-source", "--shots", "many")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "--shots" in result.stderr
