"""Metrics and ``mpt eval``: results.json, XTREME prediction files, comparisons, fallbacks and warnings."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import (
    CUES,
    LABELS,
    NLI,
    assert_clean_error,
    invoke,
    save_translated_copy,
    snapshot_tree,
    toy_pair,
    toy_rows,
    write_tsv,
)

import mpt_cli
from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data import load_examples
from mpt_cli.engine.scorer import Scorer
from mpt_cli.fileformat import tensor_sha256
from mpt_cli.metrics import Scores, score
from mpt_cli.store import PromptStore
from mpt_cli.workflows.evaluate import COLLAPSE_SHARE, EvalOptions, evaluate

# --------------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------------


def test_score_against_hand_computed_values():
    gold = [0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 1, 1, 1, 0, 0, 1]
    scores = score(gold, predicted, 3)
    assert scores.examples == 7
    assert scores.confusion == [[1, 1, 0], [0, 2, 0], [2, 1, 0]]  # confusion[gold][predicted]
    assert scores.accuracy == pytest.approx(3 / 7)
    # F1 = 2 TP / (predicted + gold): entailment 2*1/(3+2), neutral 2*2/(4+2), contradiction never predicted: 0
    assert scores.macro_f1 == pytest.approx((2 / 5 + 4 / 6 + 0.0) / 3)
    assert scores.predicted_share == pytest.approx([3 / 7, 4 / 7, 0.0])


def test_score_of_perfect_predictions():
    scores = score([2, 0, 1, 1], [2, 0, 1, 1], 3)
    assert scores.accuracy == 1.0 and scores.macro_f1 == 1.0
    assert scores.confusion == [[1, 0, 0], [0, 2, 0], [0, 0, 1]]
    assert scores.predicted_share == [0.25, 0.5, 0.25]


def test_score_of_one_class_predictions():
    scores = score([0, 1, 2, 0], [1, 1, 1, 1], 3)
    assert scores.accuracy == 0.25
    assert scores.macro_f1 == pytest.approx((0 + 2 * 1 / (4 + 1) + 0) / 3)
    assert scores.predicted_share == [0.0, 1.0, 0.0]
    assert [sum(column) for column in zip(*scores.confusion)] == [0, 4, 0]


@pytest.mark.parametrize(("gold", "predicted"), [([], []), ([0, 1], [0]), ([0], [0, 1])])
def test_score_rejects_empty_or_unequal_lists(gold, predicted):
    with pytest.raises(ValueError, match="non-empty and of equal length"):
        score(gold, predicted, 3)


# --------------------------------------------------------------------------------------------------
# mpt eval on a learned prompt (full_run) and a crafted translated German prompt
# --------------------------------------------------------------------------------------------------


def eval_args(prompts: Path, data: Path, *extra) -> list:
    return ["eval", "--split", "validation", "--data", data, "--prompts-dir", prompts, "--cpu", *extra]


def gold_labels(data: Path, lang: str) -> list[int]:
    return [e.label for e in load_examples(NLI, str(data), lang, "validation")]


@pytest.fixture(scope="module")
def eval_run(routing_dir, toy_data_dir, tmp_path_factory):
    """``eval --langs en,de --output DIR --json`` once: (result, output folder)."""
    output = tmp_path_factory.mktemp("eval") / "results"
    result = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en,de", "--output", output, "--json"))
    return result, output


def test_eval_json_on_stdout_is_results_json(eval_run):
    result, output = eval_run
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert sorted(p.name for p in output.iterdir()) == [".mpt-output", "dev-de.tsv", "dev-en.tsv", "results.json"]
    assert json.loads(result.stdout) == json.loads((output / "results.json").read_text())
    assert f"wrote {output}/results.json" in " ".join(result.stderr.split())


def test_results_json_run_info(eval_run, routing_dir, tiny_model_dir, toy_data_dir):
    report = json.loads((eval_run[1] / "results.json").read_text())
    assert set(report) == {"run", "languages", "averages", "warnings"}
    run = report["run"]
    source = PromptArtifact.load(routing_dir / "en.safetensors")
    assert run["backbone"] == str(tiny_model_dir) == source.info.backbone
    assert run["backbone_fingerprint"] == source.info.backbone_fingerprint
    assert run["tune"] == "full"
    assert run["data"] == str(toy_data_dir) and run["split"] == "validation" and run["max_examples"] is None
    assert run["source_prompt"] == str(routing_dir / "en.safetensors")
    assert run["versions"]["mpt-cli"] == mpt_cli.__version__ and run["versions"]["torch"] == torch.__version__
    assert run["command"].startswith("mpt") and run["created"]


def test_results_json_seconds_is_the_time_the_evaluation_took(routing_dir, toy_data_dir, monkeypatch):
    from mpt_cli.workflows import evaluate as workflow

    clock = iter([100.0, 112.34])  # the start, then the end of the run
    monkeypatch.setattr(workflow, "time", type("Clock", (), {"perf_counter": staticmethod(lambda: next(clock))}))
    report = workflow.evaluate(workflow.EvalOptions(languages=("en",), prompts_dir=routing_dir, data=str(toy_data_dir),
                                                    split="validation", max_examples=3, cpu=True))  # fmt: skip
    assert report.run["seconds"] == 12.3


def test_results_json_per_language(eval_run, routing_dir, toy_data_dir):
    languages = json.loads((eval_run[1] / "results.json").read_text())["languages"]
    assert list(languages) == ["en", "de"]
    for lang, count in (("en", 60), ("de", 30)):
        entry = languages[lang]
        assert entry["examples"] == count
        assert entry["labels"] == list(LABELS)
        confusion = entry["confusion"]
        assert len(confusion) == 3 and all(len(row) == 3 for row in confusion)
        assert [sum(row) for row in confusion] == [count // 3] * 3  # gold labels are balanced
        assert entry["accuracy"] == pytest.approx(sum(confusion[i][i] for i in range(3)) / count)
        f1 = [2 * confusion[i][i] / (sum(confusion[i]) + sum(row[i] for row in confusion)) for i in range(3)]
        assert entry["macro_f1"] == pytest.approx(sum(f1) / 3)
        assert entry["predicted_share"] == pytest.approx([sum(col) / count for col in zip(*confusion)])
        assert "source_prompt" not in entry and "gain" not in entry
    assert languages["en"]["prompt"] == {
        "path": str(routing_dir / "en.safetensors"),
        "kind": "source",
        "sha256": tensor_sha256(PromptArtifact.load(routing_dir / "en.safetensors").prompt),
    }
    assert languages["de"]["prompt"] == {
        "path": str(routing_dir / "de.safetensors"),
        "kind": "translated",
        "sha256": tensor_sha256(PromptArtifact.load(routing_dir / "de.safetensors").prompt),
    }
    assert languages["en"]["accuracy"] > 0.9  # the learned prompt
    assert languages["en"]["gap_to_source"] == 0.0
    assert languages["de"]["gap_to_source"] == pytest.approx(languages["en"]["accuracy"] - languages["de"]["accuracy"])


def test_results_json_averages(eval_run):
    report = json.loads((eval_run[1] / "results.json").read_text())
    en, de = (report["languages"][lang]["accuracy"] for lang in ("en", "de"))
    assert report["averages"] == {"all": pytest.approx((en + de) / 2), "targets": pytest.approx(de)}


def test_xtreme_prediction_files(eval_run, toy_data_dir):
    output = eval_run[1]
    languages = json.loads((output / "results.json").read_text())["languages"]
    for lang in ("en", "de"):
        text = (output / f"dev-{lang}.tsv").read_text()
        assert text.endswith("\n")
        predicted = text.splitlines()
        assert len(predicted) == languages[lang]["examples"]
        assert set(predicted) <= set(LABELS)
        ids = [LABELS.index(p) for p in predicted]
        assert score(gold_labels(toy_data_dir, lang), ids, len(LABELS)).confusion == languages[lang]["confusion"]


def test_eval_scores_each_language_with_its_own_prompt(eval_run, routing_dir, toy_data_dir):
    """The reported numbers are those of the de prompt on de data, not the source prompt's."""
    languages = json.loads((eval_run[1] / "results.json").read_text())["languages"]
    source = PromptArtifact.load(routing_dir / "en.safetensors")
    backbone = PromptStore(routing_dir).load_backbone(source, cpu=True)
    scorer = PromptStore.scorer(source, backbone)
    template, label_words = scorer.template, scorer.label_words
    examples = load_examples(NLI, str(toy_data_dir), "de", "validation")
    german = PromptArtifact.load(routing_dir / "de.safetensors").prompt
    with_de, _ = Scorer(backbone, template, label_words, NLI).score(german, examples)
    with_en, _ = Scorer(backbone, template, label_words, NLI).score(source.prompt, examples)
    assert with_de.confusion != with_en.confusion  # the two prompts disagree, so the check below means something
    assert languages["de"]["confusion"] == with_de.confusion
    assert languages["de"]["accuracy"] == pytest.approx(with_de.accuracy)


def test_compare_adds_source_prompt_scores_and_gain(routing_dir, full_prompts_dir, toy_data_dir):
    result = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en,de", "--compare", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    en, de = report["languages"]["en"], report["languages"]["de"]
    assert "source_prompt" not in en and "gain" not in en  # the source language has nothing to compare
    assert de["source_prompt"]["examples"] == 30
    assert de["gain"] == pytest.approx(de["accuracy"] - de["source_prompt"]["accuracy"])
    assert de["gain"] != 0
    # the source prompt on German is what a folder without a German prompt scores
    fallback = invoke(*eval_args(full_prompts_dir, toy_data_dir, "--langs", "de", "--json"))
    assert fallback.exit_code == 0, fallback.output
    fallback_de = json.loads(fallback.stdout)["languages"]["de"]
    assert de["source_prompt"]["accuracy"] == fallback_de["accuracy"]
    assert de["source_prompt"]["confusion"] == fallback_de["confusion"]
    averages = report["averages"]
    assert averages["all_source_prompt"] == pytest.approx((en["accuracy"] + de["source_prompt"]["accuracy"]) / 2)
    assert averages["targets_source_prompt"] == pytest.approx(de["source_prompt"]["accuracy"])
    assert averages["all"] == pytest.approx((en["accuracy"] + de["accuracy"]) / 2)
    assert "src acc" in result.stderr and "gain" in result.stderr  # the table grows the columns


def test_language_without_a_prompt_falls_back_to_the_source_prompt(routing_dir, toy_data_dir):
    result = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en,sw", "--compare", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    sw = report["languages"]["sw"]
    assert sw["prompt"]["kind"] == "source" and sw["prompt"]["path"] == str(routing_dir / "en.safetensors")
    assert "source_prompt" not in sw  # nothing to compare: it already is the source prompt
    warnings = [w for w in report["warnings"] if "no sw prompt" in w]
    assert len(warnings) == 1 and "`mpt translate --to sw`" in warnings[0]
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any("no sw prompt" in line and "`mpt translate --to sw`" in line for line in lines)
    assert not any("no en prompt" in w for w in report["warnings"])


def test_max_examples_limits_the_rows(routing_dir, toy_data_dir, eval_run, tmp_path):
    output = tmp_path / "few"
    result = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en,de", "--max-examples", "7", "--output", output))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # no --json
    report = json.loads((output / "results.json").read_text())
    assert report["run"]["max_examples"] == 7
    for lang in ("en", "de"):
        assert report["languages"][lang]["examples"] == 7
        lines = (output / f"dev-{lang}.tsv").read_text().splitlines()
        assert lines == (eval_run[1] / f"dev-{lang}.tsv").read_text().splitlines()[:7]


def test_test_split_names_the_prediction_files_after_it(routing_dir, toy_data_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(toy_data_dir / "dev-en.tsv", data / "test-en.tsv")
    output = tmp_path / "out"
    result = invoke(
        "eval", "--split", "test", "--langs", "en", "--data", data, "--prompts-dir", routing_dir, "--output", output, "--cpu"
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in output.iterdir()) == [".mpt-output", "results.json", "test-en.tsv"]
    assert len((output / "test-en.tsv").read_text().splitlines()) == 60


def test_overwrite_replaces_an_earlier_output_but_not_a_users_folder(routing_dir, toy_data_dir, tmp_path):
    output = tmp_path / "out"
    extra = ("--langs", "en", "--output", output, "--max-examples", "3")
    assert invoke(*eval_args(routing_dir, toy_data_dir, *extra)).exit_code == 0
    (output / "stale.txt").write_text("old")
    result = invoke(*eval_args(routing_dir, toy_data_dir, *extra, "--overwrite"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in output.iterdir()) == [".mpt-output", "dev-en.tsv", "results.json"]
    users = tmp_path / "mine"
    users.mkdir()
    (users / "notes.txt").write_text("keep")
    refused = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en", "--output", users, "--overwrite"))
    assert_clean_error(refused, "was not written by mpt")
    assert (users / "notes.txt").read_text() == "keep"


# --------------------------------------------------------------------------------------------------
# The collapse warning
# --------------------------------------------------------------------------------------------------


def one_cue_rows(count: int, cue_label: str) -> list[tuple[str, str, str]]:
    """Rows whose hypotheses all carry the cue of ``cue_label``, with gold labels cycling over all three."""
    import random

    rng = random.Random(9)
    return [(*toy_pair(cue_label, rng), LABELS[i % 3]) for i in range(count)]


def test_collapse_warning_on_a_learned_prompt(full_prompts_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    write_tsv(data / "dev-en.tsv", one_cue_rows(12, "entailment"))
    result = invoke(*eval_args(full_prompts_dir, data, "--langs", "en", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    share = report["languages"]["en"]["predicted_share"][0]
    assert share > 0.9  # (nearly) every cue says entailment
    collapse = [w for w in report["warnings"] if "collapsed" in w]
    assert collapse == [f"en: {share:.0%} of predictions are 'entailment'; the prompt has collapsed"]
    assert any(line.startswith("warning:") and "collapsed" in line for line in result.stderr.splitlines())


def test_no_collapse_warning_on_balanced_predictions(full_prompts_dir, toy_data_dir):
    result = invoke(*eval_args(full_prompts_dir, toy_data_dir, "--langs", "en", "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert max(report["languages"]["en"]["predicted_share"]) < COLLAPSE_SHARE
    assert not any("collapsed" in w for w in report["warnings"])


@pytest.mark.parametrize(("top", "warned"), [(8, False), (9, True), (10, True)])
def test_collapse_threshold_is_strictly_above_80_percent(full_prompts_dir, toy_data_dir, monkeypatch, top, warned):
    """``top`` of 10 predictions are 'neutral': warned only above 80%."""
    predicted = [1] * top + [2] * (10 - top)

    def fake_score(self, prompt, examples, batch_size=64, on_batch=None, route=None):
        probs = torch.nn.functional.one_hot(torch.tensor(predicted), 3).float()
        return score([e.label for e in examples], predicted, 3), probs

    monkeypatch.setattr(Scorer, "score", fake_score)
    options = EvalOptions(
        ("en",), prompts_dir=full_prompts_dir, data=str(toy_data_dir), split="validation", max_examples=10, cpu=True
    )
    report = evaluate(options)
    collapse = [w for w in report.warnings if "collapsed" in w]
    assert collapse == ([f"en: {top / 10:.0%} of predictions are 'neutral'; the prompt has collapsed"] if warned else [])
    assert report.results[0].predictions == predicted


# --------------------------------------------------------------------------------------------------
# Bad input: exit 2, one error line, nothing written
# --------------------------------------------------------------------------------------------------


def make_unknown_label(tmp_path, env):
    data = Path(shutil.copytree(env["data"], tmp_path / "data"))
    rows = toy_rows(10, seed=3)
    rows[4] = (rows[4][0], rows[4][1], "entails")
    write_tsv(data / "dev-de.tsv", rows)
    return {"data": data}


def make_empty_prompts(tmp_path, env):
    (tmp_path / "empty-prompts").mkdir()
    return {"prompts-dir": tmp_path / "empty-prompts"}


def with_german_prompt(tmp_path, env, **changes):
    prompts = Path(shutil.copytree(env["prompts"], tmp_path / "prompts"))
    save_translated_copy(prompts, "de", **changes)
    return {"prompts-dir": prompts}


def make_existing_output(tmp_path, env):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.json").write_text("{}")
    # the prompts folder does not exist either: the output must be refused first, before any work
    return {"output": tmp_path / "out", "prompts-dir": tmp_path / "no-prompts"}


EVAL_BAD_INPUTS = {
    "unknown-language": (lambda t, e: {"langs": "en,xx"}, ["'xx' is not a language code"]),
    "no-language": (lambda t, e: {"langs": ","}, ["no languages given"]),
    "unknown-source": (lambda t, e: {"source": "yy"}, ["'yy' is not a language code"]),
    "unknown-label": (make_unknown_label, ["dev-de.tsv line 5", "unknown label 'entails'"]),
    "missing-split-file": (lambda t, e: {"split": "test"}, ["test-en.tsv", "found:", "dev-en.tsv"]),
    "language-without-data": (lambda t, e: {"langs": "en,fr"}, ["dev-fr.tsv", "found:"]),
    "unknown-split": (lambda t, e: {"split": "holdout"}, ["unknown split 'holdout'"]),
    "nonexistent-data": (lambda t, e: {"data": t / "nothing"}, ["nothing", "does not exist"]),
    "other-backbone": (lambda t, e: {"model": e["other_model"]}, ["fingerprint", "--model"]),
    "no-source-prompt": (make_empty_prompts, ["no source prompt", "`mpt train-source --lang en`"]),
    "prompt-of-another-backbone": (
        lambda t, e: with_german_prompt(t, e, backbone_fingerprint="0" * 64),
        ["this de prompt was trained on backbone", "fingerprint 000000000000"],
    ),
    "prompt-of-another-source-run": (
        lambda t, e: with_german_prompt(t, e, template="{hypothesis} ? {premise} , {soft} {mask} ."),
        ["de.safetensors", "does not come from the same source run"],
    ),
    "damaged-prompt": (
        lambda t, e: {**with_german_prompt(t, e), "_damage": "de.safetensors"},
        ["de.safetensors", "not a readable safetensors file"],
    ),
    "existing-output": (make_existing_output, ["out", "already exists", "--overwrite"]),
}


@pytest.mark.parametrize(("make", "fragments"), [pytest.param(m, f, id=name) for name, (m, f) in EVAL_BAD_INPUTS.items()])
def test_bad_input_is_one_clean_error_and_writes_nothing(
    make, fragments, source_prompts_dir, toy_data_dir, other_model_dir, tmp_path
):
    env = {"prompts": source_prompts_dir, "data": toy_data_dir, "other_model": other_model_dir}
    options = {"langs": "en,de", "split": "validation", "data": toy_data_dir, "prompts-dir": source_prompts_dir}
    options |= {"output": tmp_path / "results"} | make(tmp_path, env)
    if damage := options.pop("_damage", None):
        path = Path(options["prompts-dir"]) / damage
        path.write_bytes(path.read_bytes()[:100])
    args = ["eval", "--cpu"]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    before = snapshot_tree(tmp_path)
    assert_clean_error(invoke(*args), *fragments)
    assert snapshot_tree(tmp_path) == before
    assert not (tmp_path / "results").exists()


def test_zero_batch_size_is_a_clean_error(source_prompts_dir, toy_data_dir, tmp_path):
    extra = ("--langs", "en", "--batch-size", "0", "--output", tmp_path / "out")
    result = invoke(*eval_args(source_prompts_dir, toy_data_dir, *extra))
    assert_clean_error(result, "--batch-size")
    assert not (tmp_path / "out").exists()


def test_negative_max_examples_is_a_clean_error(source_prompts_dir, toy_data_dir):
    result = invoke(*eval_args(source_prompts_dir, toy_data_dir, "--langs", "en", "--max-examples", "-5"))
    assert_clean_error(result, "--max-examples")


def test_eval_warns_about_a_translated_prompt_from_an_older_source(routing_dir, toy_data_dir, tmp_path):
    prompts = Path(shutil.copytree(routing_dir, tmp_path / "prompts"))
    save_translated_copy(prompts, "de", source_prompt_sha256="f" * 64)
    result = invoke(*eval_args(prompts, toy_data_dir, "--langs", "de", "--json"))
    assert result.exit_code == 0, result.output
    stale = [w for w in json.loads(result.stdout)["warnings"] if "older en prompt" in w]
    assert stale == [
        (f"{prompts / 'de.safetensors'} was translated from an older en prompt; "
         "`mpt translate --to de --overwrite` brings it up to date")
    ]


def test_eval_library_call_without_output_writes_nothing(routing_dir, toy_data_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    options = EvalOptions(("en", "de"), prompts_dir=routing_dir, data=str(toy_data_dir), split="dev", max_examples=5, cpu=True)
    report = evaluate(options)
    assert [r.language for r in report.results] == ["en", "de"]
    assert all(isinstance(r.scores, Scores) and r.scores.examples == 5 for r in report.results)
    assert list(tmp_path.iterdir()) == []
    assert report.average() == pytest.approx(sum(r.scores.accuracy for r in report.results) / 2)
    assert report.results[1].gain is None
    assert replace(report.results[1], source_scores=report.results[0].scores).gain == pytest.approx(
        report.results[1].scores.accuracy - report.results[0].scores.accuracy
    )


def test_cue_words_are_the_label_signal():
    """Guards the collapse test: its rows all carry the entailment cue."""
    assert all(CUES["entailment"] in h for _, h, _ in one_cue_rows(6, "entailment"))


# --------------------------------------------------------------------------------------------------
# Groups and the chart
# --------------------------------------------------------------------------------------------------


def test_groups_give_each_language_its_group_and_the_means_per_group(routing_dir, toy_data_dir, tmp_path):
    groups = tmp_path / "groups.tsv"
    groups.write_text("flores_code\tin_pretraining\textra\ndeu_Latn\tyes\tx\nswh_Latn\tno\ty\n")
    result = invoke(*eval_args(routing_dir, toy_data_dir, "--langs", "en,de,sw", "--compare", "--groups", groups, "--json"))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    languages = report["languages"]
    assert [languages[lang].get("group") for lang in ("en", "de", "sw")] == [None, "yes", "no"]
    assert languages["de"]["script"] == "Latn"
    assert report["groups"] == {
        "by": "in_pretraining",
        "targets": {"yes": {"mean": languages["de"]["accuracy"], "languages": 1},
                    "no": {"mean": languages["sw"]["accuracy"], "languages": 1}},
    }  # fmt: skip
    assert "in_pretraining: yes" in result.stderr and "in_pretraining: no" in result.stderr


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("de\tyes\nqq-zz-1\tno\n", ("line 2", "not a language code")),
        ("de\n", ("line 1", "language<TAB>group")),
        ("de\tyes\ndeu_Latn\tno\n", ("line 2", "in group 'yes' already")),
        ("code\tgroup\n", ("names no language",)),
    ],
)
def test_a_bad_groups_file_is_one_clear_error_before_any_work(routing_dir, toy_data_dir, tmp_path, content, fragments):
    groups = tmp_path / "groups.tsv"
    groups.write_text(content)
    assert_clean_error(invoke(*eval_args(routing_dir, toy_data_dir, "--groups", groups)), *fragments)


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_draws_the_accuracy_per_language(routing_dir, toy_data_dir, tmp_path, suffix):
    chart = tmp_path / f"chart{suffix}"
    groups = tmp_path / "groups.tsv"
    groups.write_text("de\tseen\nsw\tunseen\n")
    args = ("--langs", "en,de,sw", "--compare", "--groups", groups, "--plot", chart)
    result = invoke(*eval_args(routing_dir, toy_data_dir, *args))
    assert result.exit_code == 0, result.output
    head = chart.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in chart.read_bytes()[:2000]
    if suffix == ".svg":  # the languages are drawn as labels, the groups in the legend
        text = chart.read_text()
        assert all(word in text for word in ("seen", "unseen", "source prompt"))
    assert_clean_error(invoke(*eval_args(routing_dir, toy_data_dir, *args)), "already exists", "--overwrite")
    assert invoke(*eval_args(routing_dir, toy_data_dir, *args, "--overwrite")).exit_code == 0


def test_plot_is_checked_before_any_work(routing_dir, toy_data_dir, tmp_path, monkeypatch):
    assert_clean_error(invoke(*eval_args(routing_dir, toy_data_dir, "--plot", tmp_path / "chart.pdf")), ".png or .svg")
    import builtins

    real_import = builtins.__import__

    def without_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_matplotlib)
    assert_clean_error(invoke(*eval_args(routing_dir, toy_data_dir, "--plot", tmp_path / "c.png")), "pip install 'mpt-cli[plot]'")
    assert not (tmp_path / "c.png").exists()
