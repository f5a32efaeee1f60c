"""Tasks other than NLI: one text or two, any label set, label words of several pieces, task files."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from conftest import (
    FILLER,
    LABEL_WORDS,
    LEARNING_TRAIN,
    MULTI_TOKEN_WORD,
    align_options,
    assert_clean_error,
    invoke,
    raises_mpt,
    save_translated_copy,
    source_options,
    write_jsonl,
    write_tsv,
)

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data import load_examples
from mpt_cli.data.parallel import load_parallel
from mpt_cli.fileformat import read_safetensors, write_safetensors
from mpt_cli.languages import normalise
from mpt_cli.store import PromptStore
from mpt_cli.task import BUILT_IN, Task
from mpt_cli.template import TemplateEncoder
from mpt_cli.verbalizer import Verbalizer
from mpt_cli.workflows.train_source import train_source
from mpt_cli.workflows.translate import translate

NLI = BUILT_IN["xnli"]

# The example, as a user writes it
STARS = {
    "name": "stars", "inputs": ["text"], "labels": {"1": "terrible", "2": "bad", "3": "okay", "4": "good", "5": "great"},
    "template": "{text} It was {soft} {mask} .",
}  # fmt: skip

# A toy topic task of one text and seven labels: the last word of the text is its label's cue
TOPIC_CUES = ["dog", "cat", "house", "garden", "street", "park", "river"]
TOPIC_LABELS = ["animals", "pets", "homes", "plants", "roads", "leisure", "water"]
TOPIC = {
    "name": "topic", "inputs": ["text"], "labels": dict(zip(TOPIC_LABELS, LABEL_WORDS)), "template": "{text} {soft} {mask} .",
}  # fmt: skip
# A toy two-text task of two labels: the second text ends in "sunny" (label 1) or "rainy" (label 0)
SAME = {
    "name": "same", "inputs": ["text1", "text2"], "labels": {"0": "no", "1": "yes"},
    "template": "{text1} ? {soft} {mask} , {text2}",
}  # fmt: skip
PLAIN = [w for w in FILLER if w not in TOPIC_CUES]


def topic_rows(per_class: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [
        (" ".join([*rng.sample(PLAIN, 3), cue]), name) for _ in range(per_class) for cue, name in zip(TOPIC_CUES, TOPIC_LABELS)
    ]


def same_rows(per_class: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    return [
        (" ".join(rng.sample(PLAIN, 4)), " ".join([*rng.sample(PLAIN, 2), cue]), label)
        for _ in range(per_class) for label, cue in (("0", "rainy"), ("1", "sunny"))
    ]  # fmt: skip


def write_task(path: Path, record: dict) -> Path:
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def task_data(tmp_path_factory) -> dict[str, Path]:
    """Task files and XTREME-style folders for the topic (one text, 7 labels) and same (two texts, 2 labels) tasks."""
    root = tmp_path_factory.mktemp("tasks")
    folders = {}
    for name, record, rows in (("topic", TOPIC, topic_rows), ("same", SAME, same_rows)):
        folder = root / name
        folder.mkdir()
        write_tsv(folder / "train-en.tsv", rows(12, seed=1))
        write_tsv(folder / "dev-en.tsv", rows(8, seed=2))
        write_tsv(folder / "dev-de.tsv", rows(4, seed=3))
        folders[name] = folder
        folders[f"{name}-task"] = write_task(root / f"{name}.json", record)
    return folders


@pytest.fixture(scope="module")
def trained(tiny_model_dir, task_data, tmp_path_factory) -> dict[str, Path]:
    """A fully tuned prompt folder per toy task (read-only: copy it)."""
    folders = {}
    for name in ("topic", "same"):
        prompts = tmp_path_factory.mktemp(f"{name}-run") / "prompts"
        options = source_options(
            tiny_model_dir, task_data[name], prompts, task=str(task_data[f"{name}-task"]), template=None, verbalizer=None,
            tune="full", train=LEARNING_TRAIN, shots=8, dev_shots=4,
        )  # fmt: skip
        folders[name] = train_source(options).path.parent
    return folders


# ------------------------------------------------------------------------------------------ the task


def test_nli_is_the_default_task_with_its_defaults():
    assert NLI.inputs == ("premise", "hypothesis")
    assert NLI.labels == ("entailment", "neutral", "contradiction")
    assert NLI.template == "{premise} . {hypothesis} ? {soft} {mask} ."
    assert NLI.words == NLI.verbalizer("multilingual")
    assert NLI.verbalizer("true-maybe-false") == ("true", "maybe", "false")  # the default until 2026-12-01
    assert NLI.verbalizer("yes-maybe-no") == ("yes", "maybe", "no")
    assert Task.load("xnli") is NLI


def test_built_in_tasks():
    assert BUILT_IN["pawsx"].inputs == ("text1", "text2") and BUILT_IN["pawsx"].labels == ("0", "1")
    assert normalise("ja") == "ja" and normalise("KO") == "ko"  # PAWS-X's languages beyond XNLI's
    sib = BUILT_IN["sib200"]
    assert sib.inputs == ("text",) and len(sib.labels) == 7 and "science/technology" in sib.labels


def test_the_stars_task_file_loads_as_it_is(tmp_path):
    task = Task.load(str(write_task(tmp_path / "stars.json", STARS)))
    assert task.name == "stars" and task.inputs == ("text",)
    assert task.labels == ("1", "2", "3", "4", "5")
    assert task.words == ("terrible", "bad", "okay", "good", "great")
    # a label name that is a number is a name first: "1" is the first label, not index 1; "0" is no name
    assert task.label_index("1", "x") == 0 and task.label_index("5", "x") == 4 and task.label_index("0", "x") == 0
    with raises_mpt("x: unknown label '6'", "or 0-4"):
        task.label_index("6", "x")


def test_a_toml_task_file(tmp_path):
    path = tmp_path / "stars.toml"
    path.write_text(
        'name = "stars"\ninputs = ["text"]\ntemplate = "{text} It was {soft} {mask} ."\n'
        '[labels]\n"1" = "terrible"\n"2" = "bad"\n'
    )
    task = Task.load(str(path))
    assert task.labels == ("1", "2") and task.words == ("terrible", "bad")


def test_more_label_words_for_more_languages(tmp_path):
    """A new language's words join the others, read together: by --verbalizer BASE+WORDS or a task file's word lists."""
    assert NLI.verbalizer("true-maybe-false+verdadeiro,talvez,falso") == ("true|verdadeiro", "maybe|talvez", "false|falso")
    assert NLI.verbalizer("multilingual+verdadeiro,talvez,falso")[2] == NLI.word_presets["multilingual"][2] + "|falso"
    assert NLI.verbalizer("+verdadeiro,talvez,falso")[0] == NLI.words[0] + "|verdadeiro"  # the task's own words
    with raises_mpt("after + give 3 comma-separated words"):
        NLI.verbalizer("multilingual+verdadeiro,falso")
    words = STARS | {"labels": {"1": ["terrible", "terrível"], "2": "bad"}, "languages": ["en", "por"]}
    task = Task.load(str(write_task(tmp_path / "stars.json", words)))
    assert task.words == ("terrible|terrível", "bad") and task.languages == ("en", "pt")


def test_labels_by_name_any_case_or_by_index():
    topic = Task("topic", ("text",), tuple(TOPIC_LABELS), tuple(LABEL_WORDS), "{text} {soft} {mask} .")
    assert topic.label_index("Pets", "x") == 1
    assert topic.label_index("6", "x") == 6
    with raises_mpt("x: unknown label '7'", "animals", "0-6"):
        topic.label_index("7", "x")


@pytest.mark.parametrize(
    ("change", "fragments"),
    [
        ({"template": "{premise} {soft} {mask} ."}, ["template placeholder {premise} is unknown", "{text} {soft} {mask}"]),
        ({"template": "{text} {soft} ."}, ["must contain {mask} exactly once"]),
        ({"template": "{text} {text} {soft} {mask}"}, ["must contain {text} exactly once"]),
        ({"labels": {"1": "bad"}}, ["at least two distinct"]),
        ({"labels": ["1", "2"]}, ["labels must map each label name to its label word"]),
        ({"labels": {"1": "bad", "2": ""}}, ["needs 2 label words"]),
        ({"inputs": ["a", "b", "c"]}, ["inputs must be one or two distinct names"]),
        ({"inputs": ["mask"]}, ["input name 'mask'"]),
        ({"inputs": "text"}, ["inputs must be a list"]),
        ({"colour": "red"}, ["unknown key 'colour'"]),
        ({"template": 5}, ["template must be a string"]),
        ({"labels": {"1": ["bad", 3], "2": "good"}}, ["or a list of words"]),
        ({"languages": "en"}, ["languages must be a list of language codes"]),
        ({"languages": ["en", "xx"]}, ["'xx' is not a language code"]),
    ],
)
def test_bad_task_files_get_one_clear_line(tmp_path, change, fragments):
    path = write_task(tmp_path / "bad.json", STARS | change)
    with raises_mpt(str(path), *fragments):
        Task.load(str(path))


def test_missing_key_unreadable_and_unknown_task(tmp_path):
    with raises_mpt("no 'template'"):
        Task.load(str(write_task(tmp_path / "a.json", {k: v for k, v in STARS.items() if k != "template"})))
    broken = tmp_path / "b.json"
    broken.write_text("{not json")
    with raises_mpt("is not valid JSON"):
        Task.load(str(broken))
    with raises_mpt("cannot read task file"):
        Task.load(str(tmp_path / "missing.json"))
    with raises_mpt("unknown task 'nli'", "xnli, pawsx, sib200"):
        Task.load("nli")


# ------------------------------------------------------------------------------------------ data


def test_one_text_data_in_tsv_jsonl_and_csv(tmp_path):
    task = Task.load(str(write_task(tmp_path / "stars.json", STARS)))
    tsv = load_examples(task, str(write_tsv(tmp_path / "a.tsv", [("fine food", "4"), ("awful", "1")])), "en", "train")
    assert [(e.texts, e.label) for e in tsv] == [(("fine food",), 3), (("awful",), 0)]
    jsonl = load_examples(task, str(write_jsonl(tmp_path / "a.jsonl", [{"sentence": "ok", "label": "3"}])), "en", "train")
    assert (jsonl[0].texts, jsonl[0].label) == (("ok",), 2)
    (tmp_path / "a.csv").write_text("label,text\n5,\"great, really\"\n")
    csv = load_examples(task, str(tmp_path / "a.csv"), "en", "train")
    assert (csv[0].texts, csv[0].label) == (("great, really",), 4)


def test_two_text_data_finds_columns_by_their_aliases(tmp_path):
    task = Task.load(str(write_task(tmp_path / "same.json", SAME)))
    path = write_tsv(tmp_path / "a.tsv", [("b", "x", "a", "1")], header=("sentence2", "id", "sentence1", "label"))
    [example] = load_examples(task, str(path), "en", "train")
    assert (example.texts, example.label) == (("a", "b"), 1)


def test_bad_task_data_names_the_file_and_line(tmp_path):
    task = Task.load(str(write_task(tmp_path / "stars.json", STARS)))
    path = write_tsv(tmp_path / "a.tsv", [("fine", "4"), ("too", "many", "4")])
    with raises_mpt("a.tsv line 2: expected text<TAB>label, found 3 columns"):
        load_examples(task, str(path), "en", "train")
    with raises_mpt("a.tsv line 1: unknown label 'six'", "1, 2, 3, 4, 5"):
        load_examples(task, str(write_tsv(path, [("fine", "six")])), "en", "train")


def test_a_one_text_parallel_corpus_is_one_text_a_side(parallel_dir):
    corpus = load_parallel(str(parallel_dir), "en", "de", texts=1)
    assert all(len(p.source) == 1 and len(p.target) == 1 for p in corpus.pairs)
    two = load_parallel(str(parallel_dir), "en", "de", texts=2)
    assert [p.source[0] for p in two.pairs] == [p.source[0] for p in corpus.pairs]


def test_a_two_text_parallel_file_cannot_feed_a_one_text_task(tmp_path):
    path = write_tsv(tmp_path / "en-de.tsv", [("a", "b", "c", "d"), ("e", "f", "g", "h")])
    with raises_mpt("has 4 columns; a task of one text needs source<TAB>target"):
        load_parallel(str(path), "en", "de", texts=1)


# ------------------------------------------------------------------------------------------ templates and words


def test_a_one_text_template_truncates_only_the_text(tokenizer):
    encoder = TemplateEncoder("{text} It was {soft} {mask} .", tokenizer, 2, 16, ("text",))
    [short, long] = encoder.encode([("the dog",), (" ".join(["the dog"] * 30),)])
    assert len(long.input_ids) == 16 and long.input_ids[long.mask_position] == tokenizer.mask_token_id
    assert long.input_ids[-3:] == short.input_ids[-3:]  # the template's tail survives


def test_label_words_of_one_piece_give_the_logits_of_those_pieces(load_backbone, tokenizer):
    backbone = load_backbone()
    words = Verbalizer(("yes", "maybe", "no")).label_words(tokenizer)
    assert words.weights is None
    states = torch.randn(5, backbone.hidden_size)
    ids = torch.tensor([tokenizer("yes maybe no", add_special_tokens=False)["input_ids"]]).flatten()
    expected = F.linear(states, backbone.decoder.weight[ids], backbone.decoder.bias[ids])
    assert torch.equal(backbone.project(states, words), expected)


def test_a_label_word_of_several_pieces_scores_as_the_mean_of_its_pieces(load_backbone, tokenizer):
    backbone = load_backbone()
    pieces = tokenizer(MULTI_TOKEN_WORD, add_special_tokens=False)["input_ids"]
    assert len(pieces) > 1
    words = Verbalizer(("yes", MULTI_TOKEN_WORD)).label_words(tokenizer)
    assert words.weights.shape == (2, len(words.piece_ids))
    states = torch.randn(4, backbone.hidden_size)
    vocab = backbone.project(states)  # [B, V]
    yes = tokenizer("yes", add_special_tokens=False)["input_ids"][0]
    expected = torch.stack([vocab[:, yes], vocab[:, pieces].mean(-1)], -1)
    torch.testing.assert_close(backbone.project(states, words), expected)
    # at one mask the mean logit ranks labels as the mean log-probability does
    log_probs = vocab.log_softmax(-1)
    by_log_prob = torch.stack([log_probs[:, yes], log_probs[:, pieces].mean(-1)], -1)
    torch.testing.assert_close(backbone.project(states, words).softmax(-1), by_log_prob.softmax(-1))


def test_a_word_the_tokenizer_cannot_spell_and_words_spelt_alike(tokenizer):
    with raises_mpt("label word 'ß€' cannot be encoded by this tokenizer"):
        Verbalizer(("yes", "ß€")).label_words(tokenizer)
    with raises_mpt("map to the same tokens"):
        Verbalizer(("yes", " yes")).label_words(tokenizer)


# ------------------------------------------------------------------------------------------ end to end


@pytest.mark.parametrize("name", ["topic", "same"])
def test_a_task_trains_and_beats_chance(trained, name):
    artifact = PromptArtifact.load(trained[name] / "en.safetensors")
    labels = TOPIC_LABELS if name == "topic" else ["0", "1"]
    assert artifact.info.task == {"name": name, "inputs": list((TOPIC if name == "topic" else SAME)["inputs"]), "labels": labels}
    chance = 1 / len(labels)
    assert artifact.info.dev_accuracy >= min(0.9, chance + 0.4)


def test_a_multi_piece_word_trains(tiny_model_dir, task_data, tmp_path):
    words = ",".join([*LABEL_WORDS[:6], MULTI_TOKEN_WORD])
    options = source_options(
        tiny_model_dir, task_data["topic"], tmp_path / "prompts", task=str(task_data["topic-task"]), template=None,
        verbalizer=words, shots=2, dev_shots=2,
    )  # fmt: skip
    run = train_source(options)
    assert run.info.verbalizer[-1] == MULTI_TOKEN_WORD
    assert run.result.train_loss == run.result.train_loss  # finite


@pytest.mark.parametrize("name", ["topic", "same"])
def test_translate_eval_and_predict_speak_the_tasks_labels(trained, task_data, parallel_dir, tmp_path, name):
    prompts = Path(shutil.copytree(trained[name], tmp_path / "prompts"))
    translate(align_options(prompts, task_data[name], parallel_dir, targets=("de",), method="adapter"))
    assert PromptArtifact.load(prompts / "de.safetensors").info.task["name"] == name

    result = invoke("eval", "--prompts-dir", prompts, "--data", task_data[name], "--split", "validation",
                    "--langs", "en,de", "--cpu", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    labels = TOPIC_LABELS if name == "topic" else ["0", "1"]
    assert report["run"]["task"] == name and report["languages"]["de"]["labels"] == labels
    assert len(report["languages"]["en"]["confusion"]) == len(labels)

    rows = topic_rows(1, seed=9) if name == "topic" else same_rows(1, seed=9)
    texts = [row[:-1] for row in rows]
    file = write_tsv(tmp_path / "in.tsv", texts, header=tuple(TOPIC["inputs"] if name == "topic" else SAME["inputs"]))
    result = invoke("predict", file, "--prompts-dir", prompts, "--lang", "de", "--cpu")
    assert result.exit_code == 0, result.output
    header, *lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert header[-len(labels) - 1 :] == ["prediction", *(f"p_{label}" for label in labels)]
    assert len(lines) == len(texts) and all(line[-len(labels) - 1] in labels for line in lines)
    assert all(abs(sum(map(float, line[-len(labels) :])) - 1) < 1e-3 for line in lines)


def test_predict_reads_one_text_column_without_a_header(trained, tmp_path):
    file = write_tsv(tmp_path / "in.tsv", [("the old dog",), ("a new garden",)])
    result = invoke("predict", file, "--prompts-dir", trained["topic"], "--lang", "en", "--cpu", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in records] == ["the old dog", "a new garden"]
    assert all(r["prediction"] in TOPIC_LABELS and set(r["probabilities"]) == set(TOPIC_LABELS) for r in records)


def test_a_task_that_is_not_the_prompts_is_one_clear_line(trained, tmp_path):
    file = write_tsv(tmp_path / "in.tsv", [("the old dog",)])
    result = invoke("predict", file, "--prompts-dir", trained["topic"], "--lang", "en", "--cpu", "--task", "sib200")
    assert_clean_error(result, "was trained for task 'topic', not 'sib200'")


def test_a_task_file_that_changed_only_its_languages_still_names_the_prompts_task(trained, tmp_path):
    """Issue 42: a new ``languages`` list made --task refuse the task's own prompts ("trained for task 'topic',
    not 'topic'"); the languages are what 'all' means, not what the prompt means. Its labels still count."""
    file = write_tsv(tmp_path / "in.tsv", [("the old dog",)])
    predict = lambda task: invoke("predict", file, "--prompts-dir", trained["topic"], "--lang", "en", "--cpu", "--task", task)
    for languages in (["en", "de"], ["en", "pt-BR", "quy"]):
        result = predict(write_task(tmp_path / "topic.json", TOPIC | {"languages": languages}))
        assert result.exit_code == 0, result.output
    relabelled = TOPIC | {"labels": dict(zip([*TOPIC_LABELS[:-1], "sea"], LABEL_WORDS))}
    assert_clean_error(predict(write_task(tmp_path / "topic.json", relabelled)), "trained for task 'topic'", "sea")
    reordered = TOPIC | {"labels": dict(reversed(TOPIC["labels"].items()))}  # label i is another label
    assert_clean_error(predict(write_task(tmp_path / "topic.json", reordered)), "trained for task 'topic'")


def test_a_translated_prompt_whose_task_lists_other_languages_comes_from_the_same_run(trained, tmp_path):
    prompts = Path(shutil.copytree(trained["topic"], tmp_path / "prompts"))
    source_task = PromptArtifact.load(prompts / "en.safetensors").info.task
    save_translated_copy(prompts, "de", task=source_task | {"languages": ["en", "de"]})
    file = write_tsv(tmp_path / "in.tsv", [("the old dog",)])
    result = invoke("predict", file, "--prompts-dir", prompts, "--lang", "de", "--cpu")
    assert result.exit_code == 0, result.output


def test_train_source_checks_the_task_before_reading_data(tmp_path):
    result = invoke("train-source", "--task", "nope", "--data", tmp_path / "missing", "--prompts-dir", tmp_path / "p")
    assert_clean_error(result, "unknown task 'nope'")
    result = invoke("train-source", "--task", "sib200", "--template", "{premise} {soft} {mask}", "--prompts-dir", tmp_path)
    assert_clean_error(result, "template placeholder {premise} is unknown")
    result = invoke("train-source", "--task", "pawsx", "--verbalizer", "yes-maybe-no", "--prompts-dir", tmp_path)
    assert_clean_error(result, "must be 2 comma-separated words for 0, 1")
    assert not (tmp_path / "p").exists()


# ------------------------------------------------------------------------------------------ older files


def test_an_nli_prompt_without_a_task_record_loads_and_scores_the_same(full_prompts_dir, toy_data_dir, tmp_path):
    """Prompt files written before tasks existed have no ``task`` in their metadata: they are NLI."""
    old = Path(shutil.copytree(full_prompts_dir, tmp_path / "old"))
    tensors, meta = read_safetensors(old / "en.safetensors")
    assert json.loads(meta["task"]) == NLI.record()
    artifact = PromptArtifact.load(old / "en.safetensors")
    assert artifact.info.task == NLI.record()
    artifact.info.task = None
    (old / "en.safetensors").unlink()
    write_safetensors(old / "en.safetensors", tensors, artifact.info, overwrite=False)
    assert "task" not in read_safetensors(old / "en.safetensors")[1]

    examples = load_examples(NLI, str(toy_data_dir), "en", "validation")[:12]
    probabilities = []
    for folder in (full_prompts_dir, old):
        store = PromptStore(folder)
        artifact = store.open_source("en")
        assert artifact.info.task_definition().record() == NLI.record()
        scorer = store.scorer(artifact, store.load_backbone(artifact, cpu=True))
        probabilities.append(scorer.score(artifact.prompt, examples)[1])
    assert torch.equal(*probabilities)


def test_reproduce_builds_its_table_for_a_one_text_task(tiny_model_dir, task_data, parallel_dir, tmp_path):
    """Soft-prompt transfer and the per-language method on a 7-label task; --dev-shots fixes the dev draw."""
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    options = ReproduceOptions(
        task=str(task_data["topic-task"]), shots=(3,), dev_shots=2, seeds=(1,), methods=("soft-prompt", "adapter"),
        languages=("en", "de"), model=str(tiny_model_dir), data=str(task_data["topic"]), parallel=str(parallel_dir),
        split="validation", output=tmp_path / "out", tune="prompt", train=TrainConfig(epochs=1, batch_size=8),
        align=AlignConfig(epochs=1), cpu=True,
    )  # fmt: skip
    summary = reproduce(options)
    assert [r["method"] for r in summary["rows"]] == ["soft-prompt", "adapter"]
    assert set(summary["gain_over_soft_prompt"]["adapter"]["3"]) == {"en", "de"}
    source = PromptArtifact.load(tmp_path / "out" / "k3-s1" / "prompts" / "en.safetensors").info
    assert source.task["name"] == "topic" and source.training["dev_examples"] == 2 * len(TOPIC_LABELS)
    results = json.loads((tmp_path / "out" / "k3-s1" / "adapter" / "results.json").read_text())
    assert results["languages"]["de"]["labels"] == TOPIC_LABELS and results["run"]["task"] == "topic"
    with raises_mpt("holds soft-prompt cells made with task="):
        reproduce(ReproduceOptions(**{**options.__dict__, "task": "sib200", "data": str(task_data["topic"])}))


def test_several_words_for_one_label_are_read_together(load_backbone, tokenizer):
    """``yes|right``: the label's logit is the mean of its words' logits (DPA's multilingual verbalizer)."""
    backbone = load_backbone()
    words = Verbalizer(("yes|right", "maybe", f"no|{MULTI_TOKEN_WORD}")).label_words(tokenizer)
    states = torch.randn(3, backbone.hidden_size)
    vocab = backbone.project(states)
    one = lambda word: tokenizer(word, add_special_tokens=False)["input_ids"]
    expected = torch.stack([
        (vocab[:, one("yes")[0]] + vocab[:, one("right")[0]]) / 2,
        vocab[:, one("maybe")[0]],
        (vocab[:, one("no")[0]] + vocab[:, one(MULTI_TOKEN_WORD)].mean(-1)) / 2,
    ], -1)  # fmt: skip
    torch.testing.assert_close(backbone.project(states, words), expected)
    with raises_mpt("label word '' cannot be encoded"):
        Verbalizer(("yes|", "no")).label_words(tokenizer)


def test_train_source_takes_several_words_per_label(make_options):
    run = train_source(make_options(verbalizer="yes|right,maybe,no|wrong", template=None))
    assert run.info.verbalizer == ["yes|right", "maybe", "no|wrong"]
    assert PromptArtifact.load(run.path).info.verbalizer == ["yes|right", "maybe", "no|wrong"]
