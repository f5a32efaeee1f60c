"""Data given in Python (the API's ``data=``): rows as tuples or dicts, or a ``datasets.Dataset``, per language and
split, read as the same rows in files are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import LABELS, NLI, raises_mpt, source_options, toy_rows
from datasets import ClassLabel, Dataset, DatasetDict, Features, Value

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data import load_examples
from mpt_cli.data.examples import data_languages

TRAIN, DEV = toy_rows(30, seed=1), toy_rows(20, seed=2)  # the toy folder's train-en.tsv and dev-en.tsv


def nli_dataset(rows) -> Dataset:
    """Rows as a hub table holds them: sentence1/sentence2 (aliases of the task's inputs) and a class label."""
    features = Features({"sentence1": Value("string"), "sentence2": Value("string"), "label": ClassLabel(names=list(LABELS))})
    columns = {"sentence1": [r[0] for r in rows], "sentence2": [r[1] for r in rows], "label": [r[2] for r in rows]}
    return Dataset.from_dict(columns, features=features)


def texts_and_labels(examples) -> list:
    return [(e.texts, e.label) for e in examples]


@pytest.mark.parametrize(
    "given",
    [
        TRAIN,  # tuples: the task's texts, then the label (a headerless TSV line)
        [{"premise": p, "hypothesis": h, "label": label} for p, h, label in TRAIN],  # dicts (a JSONL record)
        nli_dataset(TRAIN),  # a datasets.Dataset, its label a class label
    ],
    ids=["tuples", "dicts", "dataset"],
)
def test_given_rows_read_as_the_same_rows_in_a_file(given, toy_data_dir):
    loaded = load_examples(NLI, {"eng_Latn": {"train": given}}, "en", "train")
    assert texts_and_labels(loaded) == texts_and_labels(load_examples(NLI, str(toy_data_dir), "en", "train"))
    assert loaded[0].id == "train:0"


def test_a_dataset_dict_is_a_languages_splits_and_dev_is_validation():
    data = {"sw": DatasetDict({"train": nli_dataset(TRAIN), "validation": nli_dataset(DEV)}), "de": {"dev": DEV}}
    assert len(load_examples(NLI, data, "swh_Latn", "validation")) == len(DEV)
    german, swahili = load_examples(NLI, data, "de", "validation"), load_examples(NLI, data, "sw", "dev")
    assert texts_and_labels(german) == texts_and_labels(swahili)
    assert data_languages(NLI, data, "test") == ["sw", "de"]


def test_given_data_is_refused_in_one_line_where_it_is_wrong():
    with raises_mpt("no data given for yo", "given for: en, de"):
        load_examples(NLI, {"en": {"train": TRAIN}, "de": {"train": TRAIN}}, "yo", "train")
    with raises_mpt("data given in Python (en): en, validation: no such split", "given: train"):
        load_examples(NLI, {"en": {"train": TRAIN}}, "en", "validation")
    with raises_mpt("data given in Python for en: expected its splits", "not list"):
        load_examples(NLI, {"en": TRAIN}, "en", "train")
    with raises_mpt("row 1: expected a tuple of premise<TAB>hypothesis<TAB>label or a dict"):
        load_examples(NLI, {"en": {"train": [TRAIN[0], "a sentence"]}}, "en", "train")
    with raises_mpt("row 0", "unknown label"):
        load_examples(NLI, {"en": {"train": [("a", "b", "perhaps")]}}, "en", "train")
    with raises_mpt("the prompt was trained on data given in Python (en)", "give the data again"):
        load_examples(NLI, "data given in Python (en)", "en", "train")


def test_train_source_on_given_data_trains_the_prompt_its_files_train(tiny_model_dir, toy_data_dir, tmp_path):
    from mpt_cli.workflows.train_source import train_source

    from_files = train_source(source_options(tiny_model_dir, toy_data_dir, tmp_path / "files"))
    given = {"en": {"train": TRAIN, "validation": nli_dataset(DEV)}}
    from_python = train_source(replace_data(source_options(tiny_model_dir, toy_data_dir, tmp_path / "given"), given))
    assert from_python.info.data == "data given in Python (en)"
    assert from_python.info.split_manifest["data"] == "data given in Python (en)"
    assert PromptArtifact.load(from_python.path).prompt.equal(PromptArtifact.load(from_files.path).prompt)


def test_evaluate_scores_given_data_as_it_scores_the_files(source_prompts_dir, toy_data_dir, tmp_path):
    from mpt_cli.workflows.evaluate import EvalOptions, evaluate

    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))
    reports = {
        name: evaluate(EvalOptions(languages="all", prompts_dir=prompts, data=data, split="validation", cpu=True))
        for name, data in (("files", str(toy_data_dir)), ("given", {"en": {"validation": nli_dataset(DEV)}}))
    }
    (given,) = reports["given"].results
    files = next(r for r in reports["files"].results if r.language == "en")
    assert given.language == "en" and given.scores.accuracy == files.scores.accuracy
    assert reports["given"].run["data"] == "data given in Python (en)"


def replace_data(options, data):
    from dataclasses import replace

    return replace(options, data=data)
