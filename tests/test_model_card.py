"""The model card every prompts folder carries: README.md in the Hugging Face form (issue 43, item 4)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import FAST_TRAIN, invoke, save_translated_copy, source_options

from mpt_cli.workflows.train_source import train_source


def card_of(prompts: Path) -> tuple[dict, str]:
    """The parsed YAML header of ``prompts/README.md`` and the text after it."""
    text = (prompts / "README.md").read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.DOTALL)
    assert match, text[:200]
    return yaml.safe_load(match.group(1)), match.group(2)


def table_row(body: str, lang: str) -> str:
    return next(line for line in body.splitlines() if line.startswith(f"| {lang} ("))


@pytest.fixture
def translated_copy(translated_dir, tmp_path) -> Path:
    return Path(shutil.copytree(translated_dir, tmp_path / "prompts"))


def test_train_source_writes_a_card_with_a_valid_header(tiny_model_dir, toy_data_dir, tmp_path):
    prompts = tmp_path / "prompts"
    train_source(source_options(tiny_model_dir, toy_data_dir, prompts, train=FAST_TRAIN))
    header, body = card_of(prompts)
    assert header["language"] == ["en"]
    assert {"license", "tags", "metrics"} <= header.keys() and "accuracy" in header["metrics"]
    assert "base_model" not in header  # a local backbone: the hub's field takes hub ids only
    assert "source (mpt train-source)" in table_row(body, "en")
    assert "Classifier.load(" in body and "mpt export" in body


def test_translate_lists_each_language_and_eval_records_what_it_measured(translated_copy, toy_data_dir):
    header, body = card_of(translated_copy)
    assert header["language"] == ["en", "de"]  # the source first; sw has a translator but no prompt yet
    assert "translated from en" in table_row(body, "de") and "not measured" in table_row(body, "de")

    result = invoke("eval", "--langs", "en,de,sw", "--split", "validation", "--data", toy_data_dir,
                    "--prompts-dir", translated_copy, "--cpu", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    import json

    measured = json.loads(result.stdout)["languages"]
    header, body = card_of(translated_copy)
    assert header["language"] == ["en", "de"]
    for lang in ("en", "de", "sw"):
        assert f"{measured[lang]['accuracy']:.1%} (validation, " in table_row(body, lang)
    assert "the en prompt as it is" in table_row(body, "sw")

    # de's prompt changes: what eval measured of the old one goes; the others' stays
    save_translated_copy(translated_copy, "de", seed=5)
    assert invoke("eval", "--langs", "en", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", translated_copy,
                  "--cpu").exit_code == 0  # fmt: skip
    _, body = card_of(translated_copy)
    assert "not measured" in table_row(body, "de")
    assert f"{measured['sw']['accuracy']:.1%}" in table_row(body, "sw")


def test_a_readme_mpt_did_not_write_is_left_alone(translated_dir, toy_data_dir, tmp_path):
    prompts = Path(shutil.copytree(translated_dir, tmp_path / "prompts"))
    (prompts / "README.md").write_text("# my notes\n")
    result = invoke("eval", "--langs", "en", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", prompts, "--cpu")
    assert result.exit_code == 0, result.output
    assert (prompts / "README.md").read_text() == "# my notes\n"
    assert "not a model card mpt wrote" in result.output


def test_joint_writes_the_card_of_its_own_folder(full_prompts_dir, parallel_dir, tmp_path):
    from mpt_cli.engine.joint import JointConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.joint import JointOptions, joint

    output = tmp_path / "joint-prompts"
    joint(JointOptions(targets=("de", "sw"), output=output, prompts_dir=full_prompts_dir, parallel=str(parallel_dir),
                       heldout=5, cpu=True, joint=JointConfig(epochs=1), train=TrainConfig(**FAST_TRAIN)))  # fmt: skip
    header, body = card_of(output)
    assert header["language"] == ["en", "de", "sw"]
    assert "mpt joint" in table_row(body, "en") and "translated from en" in table_row(body, "sw")
    assert "--prompts-dir joint-prompts " in body  # the folder's name, not the temporary one it was written in
