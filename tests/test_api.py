"""The Python API: ``Classifier`` labels lists of texts of any language as ``mpt predict`` labels files,
bad input is one MptError, and ``import mpt_cli`` stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import LABELS, invoke, largest_tensor_built, raises_mpt, toy_rows, write_tsv

import mpt_cli
from mpt_cli import Classifier, Prediction

ROWS = [(premise, hypothesis) for premise, hypothesis, _ in toy_rows(3, seed=41)]  # 9 pairs, every cue
MIXED = ["en", "de", "de", "en", "de", "en", "en", "de", "en"]


@pytest.fixture(scope="module")
def classifier(routing_dir):
    """The learned English prompt and a German prompt that differs from it."""
    return Classifier.load(routing_dir, cpu=True)


def test_mixed_languages_are_labelled_as_each_language_alone(classifier):
    mixed = classifier.predict(ROWS, lang=MIXED)
    alone = {lang: classifier.predict(ROWS, lang=lang) for lang in ("en", "de")}
    for i, (prediction, lang) in enumerate(zip(mixed, MIXED)):
        assert prediction.language == lang
        assert prediction.label == alone[lang][i].label
        assert prediction.probabilities == pytest.approx(alone[lang][i].probabilities, abs=1e-5)
    # the German prompt really is another prompt: routing a row to it changes its probabilities
    assert any(abs(e.probabilities["entailment"] - d.probabilities["entailment"]) > 1e-3 for e, d in zip(*alone.values()))


def test_memory_follows_the_batch_not_the_rows(routing_dir):
    """No tensor with a row per input (a prompt copied for each, all rows moved at once): labelling 600
    mixed rows needs no larger tensor than labelling one batch of them."""
    classifier = Classifier.load(routing_dir, cpu=True, batch_size=4)
    rows = [(premise, hypothesis) for premise, hypothesis, _ in toy_rows(200, seed=42)]  # all of one length
    languages = ["en", "de"] * 300
    classifier.predict(rows[:2], lang=languages[:2])  # the prompts load at a language's first row
    batch = largest_tensor_built(lambda: classifier.predict(rows[:4], lang=languages[:4]))
    assert largest_tensor_built(lambda: classifier.predict(rows, lang=languages)) == batch


def test_rows_beyond_a_chunk_are_labelled_as_in_one_chunk(classifier, monkeypatch):
    whole = classifier.predict(ROWS, lang=MIXED)
    monkeypatch.setattr(mpt_cli.api, "CHUNK_SIZE", 4)  # 9 rows: chunks of 4, 4 and 1
    chunked = classifier.predict(ROWS, lang=MIXED)
    assert [(p.label, p.language) for p in chunked] == [(p.label, p.language) for p in whole]
    assert probabilities_of(chunked) == pytest.approx(probabilities_of(whole), abs=1e-5)


def probabilities_of(predictions: list[Prediction]) -> list[float]:
    return [value for p in predictions for value in p.probabilities.values()]


def test_models_of_every_device_and_precision_live_in_one_session(routing_dir, monkeypatch):
    """The default device (the GPU where there is one), then int8 and bf16 on the CPU, then float32: each
    classifier keeps its own device and arithmetic, and none ends the session in an error."""
    monkeypatch.delenv("MPT_PRECISION", raising=False)
    made = {"default": Classifier.load(routing_dir, lang="en")}
    first = {"default": made["default"].predict(ROWS)}
    for name, cpu, int8, precision in (("int8", True, True, "no"), ("bf16", True, False, "bf16"), ("float32", True, False, "no")):
        monkeypatch.setenv("MPT_PRECISION", precision)
        made[name] = Classifier.load(routing_dir, lang="en", cpu=cpu, int8=int8)
        first[name] = made[name].predict(ROWS)
    exact = probabilities_of(first["float32"])
    for name, classifier in made.items():
        again = probabilities_of(classifier.predict(ROWS))  # a later model changed nothing of an earlier one
        assert again == pytest.approx(probabilities_of(first[name]), abs=1e-6), name
        assert probabilities_of(first[name]) == pytest.approx(exact, abs=0.05), name
    assert probabilities_of(first["bf16"]) != exact  # bf16 really computed in bf16, after float32 models


def test_a_prediction_is_the_most_probable_label(classifier):
    for prediction in classifier.predict(ROWS, lang="en"):
        assert list(prediction.probabilities) == list(LABELS) == list(classifier.labels)
        assert sum(prediction.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.probabilities[prediction.label] == max(prediction.probabilities.values())


def test_the_classifier_agrees_with_mpt_predict(classifier, routing_dir, tmp_path):
    result = invoke("predict", write_tsv(tmp_path / "rows.tsv", ROWS), "--lang", "de", "--prompts-dir", routing_dir, "--cpu")
    assert result.exit_code == 0, result.output
    predictions = classifier.predict(ROWS, lang="de")
    for line, prediction in zip(result.stdout.splitlines(), predictions, strict=True):
        fields = line.split("\t")
        assert fields[2] == prediction.label
        assert [float(p) for p in fields[3:]] == pytest.approx(list(prediction.probabilities.values()), abs=1e-4)


def test_the_language_given_at_load_is_the_default(routing_dir, classifier):
    german = Classifier.load(routing_dir, lang="DE", cpu=True)  # codes are normalised, as on the command line
    assert german.predict(ROWS) == classifier.predict(ROWS, lang="de")
    assert german.predict([]) == []


def test_a_language_without_a_prompt_uses_the_source_prompt_and_says_so(translated_dir, classifier):
    with pytest.warns(UserWarning, match="no sw prompt"):
        swahili = Classifier.load(translated_dir, lang="sw", cpu=True)
    assert any("no sw prompt" in warning for warning in swahili.warnings)
    english = Classifier.load(translated_dir, cpu=True).predict(ROWS, lang="en")
    assert [p.probabilities for p in swahili.predict(ROWS)] == [p.probabilities for p in english]
    assert {p.language for p in swahili.predict(ROWS)} == {"sw"}


@pytest.mark.parametrize(
    "rows, lang, fragments",
    [
        ("a premise", "en", ["a list of rows"]),
        ([ROWS[0], "only a premise"], "en", ["row 2", "2 texts", "premise, hypothesis"]),
        ([(ROWS[0][0], ROWS[0][1], "third")], "en", ["row 1", "2 texts"]),
        ([{"premise": "a", "hypothesis": "b"}], "en", ["row 1", "2 texts"]),
        ([(ROWS[0][0], 3)], "en", ["row 1"]),
        (ROWS[:2], ["en"], ["1 languages for 2 rows"]),
        (ROWS[:1], "not a language", ["'not a language' is not a language code"]),
        (ROWS[:1], None, ["give the rows' language"]),
    ],
    ids=["one-text", "short-row", "long-row", "dict-row", "not-text", "lang-count", "bad-code", "no-lang"],
)
def test_bad_input_is_one_error(classifier, rows, lang, fragments):
    with raises_mpt(*fragments):
        classifier.predict(rows, lang=lang)


def test_a_missing_prompts_folder_is_one_error(tmp_path):
    with raises_mpt(str(tmp_path / "nothing")):
        Classifier.load(tmp_path / "nothing", cpu=True)


def test_import_is_light_and_every_public_name_resolves():
    code = "import sys, mpt_cli; assert 'torch' not in sys.modules, 'import mpt_cli loaded torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in mpt_cli.__all__:
        assert getattr(mpt_cli, name) is not None
    assert Prediction in vars(mpt_cli).values()
    with pytest.raises(AttributeError):
        mpt_cli.no_such_name  # noqa: B018 - the look-up is the test
