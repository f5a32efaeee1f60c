"""Reading NLI data (folders, single files, formats, labels) and drawing few-shot splits."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import LABELS, NLI, raises_mpt, toy_rows, write_jsonl, write_tsv

from mpt_cli.data import Example, SplitManifest, draw_split, load_examples, select
from mpt_cli.data.examples import canonical_split
from mpt_cli.data.paths import local_path
from mpt_cli.data.sampling import parse_shots
from mpt_cli.outputs import local_paths

ROWS = [
    ("A man sleeps.", "A person rests.", "entailment"),
    ("A dog runs.", "The dog is happy.", "neutral"),
    ("A child reads.", "Nobody reads.", "contradiction"),
]
EXPECTED = [(p, h, LABELS.index(label)) for p, h, label in ROWS]


def triples(examples: list[Example]) -> list[tuple[str, str, int | None]]:
    return [(ex.texts[0], ex.texts[1], ex.label) for ex in examples]


# --------------------------------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------------------------------


def test_xtreme_folder_dev_and_validation_name_the_same_split(toy_data_dir):
    dev = load_examples(NLI, str(toy_data_dir), "en", "dev")
    validation = load_examples(NLI, str(toy_data_dir), "en", "validation")
    assert dev == validation
    assert len(dev) == 60
    assert triples(dev) == [(p, h, LABELS.index(label)) for p, h, label in toy_rows(20, seed=2)]
    assert load_examples(NLI, str(toy_data_dir), "de", "dev") != dev


def test_xtreme_folder_accepts_a_validation_file_for_dev(tmp_path):
    write_tsv(tmp_path / "validation-en.tsv", ROWS)
    assert triples(load_examples(NLI, str(tmp_path), "en", "dev")) == EXPECTED


def test_xtreme_folder_reads_train_and_language(toy_data_dir):
    train = load_examples(NLI, str(toy_data_dir), "en", "train")
    assert triples(train) == [(p, h, LABELS.index(label)) for p, h, label in toy_rows(30, seed=1)]


def test_tsv_without_header(tmp_path):
    path = write_tsv(tmp_path / "pairs.tsv", ROWS)
    assert triples(load_examples(NLI, str(path), "en", "train")) == EXPECTED


def test_tsv_with_aliased_header_in_any_column_order(tmp_path):
    rows = [(label, "x", h, p) for p, h, label in ROWS]
    path = write_tsv(tmp_path / "mnli.tsv", rows, header=("gold_label", "genre", "sentence2", "sentence1"))
    assert triples(load_examples(NLI, str(path), "en", "train")) == EXPECTED


def test_tsv_with_plain_header_and_crlf_line_ends(tmp_path):
    path = tmp_path / "crlf.tsv"
    text = "premise\thypothesis\tlabel\r\n" + "".join(f"{p}\t{h}\t{label}\r\n" for p, h, label in ROWS)
    path.write_bytes(text.encode())
    assert triples(load_examples(NLI, str(path), "en", "train")) == EXPECTED


@pytest.mark.parametrize(
    "labels",
    [("ENTAILMENT", "Neutral", "contradiction"), ("0", "1", "2"), (" entailment ", "NEUTRAL", "Contradiction")],
    ids=["words-any-case", "ids", "padded"],
)
def test_labels_as_words_in_any_case_or_as_ids(tmp_path, labels):
    rows = [(p, h, label) for (p, h, _), label in zip(ROWS, labels)]
    assert [ex.label for ex in load_examples(NLI, str(write_tsv(tmp_path / "l.tsv", rows)), "en", "train")] == [0, 1, 2]


def test_jsonl_with_aliases_and_integer_labels(tmp_path):
    records = [
        {"premise": ROWS[0][0], "hypothesis": ROWS[0][1], "label": "entailment"},
        {"sentence1": ROWS[1][0], "sentence2": ROWS[1][1], "gold_label": 1},
        {"premise": ROWS[2][0], "hypothesis": ROWS[2][1], "label": "Contradiction", "extra": [1, 2]},
    ]
    path = write_jsonl(tmp_path / "pairs.jsonl", records)
    assert triples(load_examples(NLI, str(path), "en", "train")) == EXPECTED


def test_csv_with_header_and_quoted_commas(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text(
        'sentence1,sentence2,label\n"A man, tired, sleeps.",A person rests.,0\nA dog runs.,"The dog, too, is happy.",neutral\n'
    )
    assert triples(load_examples(NLI, str(path), "en", "train")) == [
        ("A man, tired, sleeps.", "A person rests.", 0),
        ("A dog runs.", "The dog, too, is happy.", 1),
    ]


def test_unlabelled_rows_allowed_only_when_labels_are_not_required(tmp_path):
    path = write_tsv(tmp_path / "test.tsv", [(p, h) for p, h, _ in ROWS])
    assert [ex.label for ex in load_examples(NLI, str(path), "en", "test", require_labels=False)] == [None, None, None]
    with raises_mpt("test.tsv line 1", "missing label"):
        load_examples(NLI, str(path), "en", "test")


def test_ids_are_stable_unique_and_name_the_file(tmp_path, toy_data_dir):
    path = write_tsv(tmp_path / "pairs.tsv", ROWS)
    first = [ex.id for ex in load_examples(NLI, str(path), "en", "train")]
    assert first == [ex.id for ex in load_examples(NLI, str(path), "en", "train")]
    assert first == ["pairs.tsv:0", "pairs.tsv:1", "pairs.tsv:2"]
    train = [ex.id for ex in load_examples(NLI, str(toy_data_dir), "en", "train")]
    dev = [ex.id for ex in load_examples(NLI, str(toy_data_dir), "en", "dev")]
    assert len(set(train)) == len(train) and len(set(dev)) == len(dev)
    assert not set(train) & set(dev)


def test_header_row_does_not_shift_ids(tmp_path):
    path = write_tsv(tmp_path / "h.tsv", ROWS, header=("premise", "hypothesis", "label"))
    assert [ex.id for ex in load_examples(NLI, str(path), "en", "train")] == ["h.tsv:0", "h.tsv:1", "h.tsv:2"]


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_empty_file(tmp_path):
    (tmp_path / "empty.tsv").write_text("\n \n")
    with raises_mpt("empty.tsv", "is empty"):
        load_examples(NLI, str(tmp_path / "empty.tsv"), "en", "train")


def test_missing_tab_names_the_line(tmp_path):
    path = tmp_path / "tabs.tsv"
    path.write_text("a\tb\tentailment\nc\td\tneutral\njust one field\ne\tf\tneutral\n")
    with raises_mpt("tabs.tsv line 3", "no tab"):
        load_examples(NLI, str(path), "en", "train")


def test_unknown_label_names_the_line_and_the_label(tmp_path):
    path = write_tsv(tmp_path / "labels.tsv", [ROWS[0], ("p", "h", "entails")])
    with raises_mpt("labels.tsv line 2", "unknown label", "'entails'"):
        load_examples(NLI, str(path), "en", "train")


def test_header_row_with_missing_fields_names_the_line(tmp_path):
    path = write_tsv(tmp_path / "short.tsv", [("only a premise",)], header=("premise", "hypothesis", "label"))
    with raises_mpt("short.tsv line 2", "hypothesis"):
        load_examples(NLI, str(path), "en", "train")


def test_header_lacking_hypothesis_column_is_named(tmp_path):
    path = write_tsv(tmp_path / "nohyp.tsv", [(p, label) for p, _, label in ROWS], header=("premise", "label"))
    with raises_mpt("nohyp.tsv", "hypothesis"):
        load_examples(NLI, str(path), "en", "train")


def test_jsonl_record_lacking_a_field_names_line_and_column(tmp_path):
    records = [{"premise": "p", "hypothesis": "h", "label": 0}, {"premise": "p", "label": 1}]
    path = write_jsonl(tmp_path / "gap.jsonl", records)
    with raises_mpt("gap.jsonl line 2", "missing column 'hypothesis'"):
        load_examples(NLI, str(path), "en", "train")


def test_jsonl_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"premise": "p", "hypothesis": "h", "label": 0}\n{"premise": \n')
    with raises_mpt("broken.jsonl line 2", "invalid JSON"):
        load_examples(NLI, str(path), "en", "train")


def test_csv_header_lacking_hypothesis(tmp_path):
    path = tmp_path / "nohyp.csv"
    path.write_text("premise,label\nA man sleeps.,entailment\n")
    with raises_mpt("nohyp.csv", "hypothesis"):
        load_examples(NLI, str(path), "en", "train")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes(b"a\tb\tentailment\n" + "caf\xe9\tb\tneutral\n".encode("latin-1"))
    with raises_mpt("latin1.tsv line 2", "UTF-8"):
        load_examples(NLI, str(path), "en", "train")


@pytest.mark.parametrize("name", ["missing.tsv", "missing-folder"])
def test_nonexistent_path(tmp_path, name):
    with raises_mpt(str(tmp_path / name), "does not exist"):
        load_examples(NLI, str(tmp_path / name), "en", "train")


@pytest.mark.parametrize("spec", ["./missing", "no/such/folder", "missing.jsonl", "missing.txt"])
def test_data_parallel_and_model_tell_a_missing_path_from_a_hub_id_alike(spec, tmp_path, monkeypatch):
    from mpt_cli.data.parallel import load_parallel
    from mpt_cli.engine.backbone import load_pretrained

    monkeypatch.chdir(tmp_path)
    with raises_mpt(spec, "does not exist"):
        load_examples(NLI, spec, "en", "train")
    with raises_mpt(spec, "does not exist"):
        load_parallel(spec, "en", "de")
    with raises_mpt(spec, "does not exist"):
        load_pretrained(None, spec, "a masked language model")


def test_a_local_path_is_what_exists_there_with_home_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    assert local_path("~/pairs.tsv", "data path") == tmp_path / "pairs.tsv"
    assert local_path("facebook/xnli", "data path") is None
    assert local_paths("~/pairs.tsv,facebook/xnli", None) == [tmp_path / "pairs.tsv"]


def test_unsupported_file_type(tmp_path):
    (tmp_path / "pairs.txt").write_text("a\tb\tentailment\n")
    with raises_mpt("unsupported file type", "'.txt'"):
        load_examples(NLI, str(tmp_path / "pairs.txt"), "en", "train")


def test_folder_without_the_language_lists_the_files_found(toy_data_dir):
    with raises_mpt("train-fr.tsv", "found:", "dev-en.tsv", "train-en.tsv"):
        load_examples(NLI, str(toy_data_dir), "fr", "train")


def test_folder_without_the_split_names_both_aliases(tmp_path):
    write_tsv(tmp_path / "train-en.tsv", ROWS)
    with raises_mpt("dev-en.tsv or validation-en.tsv", "found: train-en.tsv"):
        load_examples(NLI, str(tmp_path), "en", "validation")


def test_empty_folder_message_has_no_unfilled_placeholders(tmp_path):
    with raises_mpt("train-en.tsv") as info:
        load_examples(NLI, str(tmp_path), "en", "train")
    assert "{" not in str(info.value)


def test_unknown_split():
    with raises_mpt("unknown split", "'eval'"):
        canonical_split("eval")


# --------------------------------------------------------------------------------------------------
# Sampling
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pools(toy_data_dir):
    return load_examples(NLI, str(toy_data_dir), "en", "train"), load_examples(NLI, str(toy_data_dir), "en", "dev")


def label_counts(examples: list[Example]) -> Counter:
    return Counter(ex.label for ex in examples)


def test_draw_split_gives_exactly_k_per_class(pools):
    train, dev, manifest = draw_split(*pools, NLI.labels, shots=4, dev_shots=3, seed=1, data="toy", lang="en")
    assert label_counts(train) == {0: 4, 1: 4, 2: 4}
    assert label_counts(dev) == {0: 3, 1: 3, 2: 3}
    assert manifest.train_ids == tuple(ex.id for ex in train)
    assert manifest.dev_ids == tuple(ex.id for ex in dev)
    assert (manifest.data, manifest.lang, manifest.seed, manifest.shots, manifest.dev_shots) == ("toy", "en", 1, 4, 3)


def test_draw_split_is_reproducible_and_seed_dependent(pools):
    first = draw_split(*pools, NLI.labels, shots=4, dev_shots=4, seed=1, data="toy", lang="en")
    again = draw_split(*pools, NLI.labels, shots=4, dev_shots=4, seed=1, data="toy", lang="en")
    other = draw_split(*pools, NLI.labels, shots=4, dev_shots=4, seed=2, data="toy", lang="en")
    assert first == again
    assert other[2].train_ids != first[2].train_ids
    assert other[2].dev_ids != first[2].dev_ids


def test_dev_drawn_from_the_training_file_is_disjoint_from_training(tmp_path):
    path = write_tsv(tmp_path / "all.tsv", toy_rows(6, seed=5))
    pool = load_examples(NLI, str(path), "en", "train")
    assert load_examples(NLI, str(path), "en", "validation") == pool
    for seed in range(5):
        train, dev, _ = draw_split(pool, pool, NLI.labels, shots=3, dev_shots=3, seed=seed, data=str(path), lang="en")
        assert not {ex.id for ex in train} & {ex.id for ex in dev}
        assert label_counts(dev) == {0: 3, 1: 3, 2: 3}


def test_changing_dev_shots_keeps_the_training_draw(pools):
    small = draw_split(*pools, NLI.labels, shots=4, dev_shots=2, seed=7, data="toy", lang="en")
    large = draw_split(*pools, NLI.labels, shots=4, dev_shots=10, seed=7, data="toy", lang="en")
    assert small[0] == large[0]
    assert small[1] != large[1]


def test_too_few_examples_per_class(tmp_path):
    rows = toy_rows(5, seed=1) + [("p", "h", "neutral")] * 3
    pool = load_examples(NLI, str(write_tsv(tmp_path / "few.tsv", rows)), "en", "train")
    with raises_mpt("only 5 usable 'entailment' examples", "6 per class"):
        draw_split(pool, pool, NLI.labels, shots=6, dev_shots=1, seed=1, data="few", lang="en")
    # the dev set can only use what training left over
    with raises_mpt("validation", "only 1 usable 'entailment'", "2 per class"):
        draw_split(pool, pool, NLI.labels, shots=4, dev_shots=2, seed=1, data="few", lang="en")


def test_shots_must_be_positive(pools):
    with raises_mpt("shots must be at least 1"):
        draw_split(*pools, NLI.labels, shots=0, dev_shots=1, seed=1, data="toy", lang="en")


def test_all_shots_takes_every_training_example_and_all_of_dev(pools, tmp_path):
    train, dev, manifest = draw_split(*pools, NLI.labels, shots="all", dev_shots="all", seed=1, data="toy", lang="en")
    assert train == pools[0] and dev == pools[1]
    assert draw_split(*pools, NLI.labels, shots="all", dev_shots="all", seed=2, data="toy", lang="en")[:2] == (train, dev)
    assert (manifest.shots, manifest.dev_shots) == ("all", "all")
    assert SplitManifest.from_json(manifest.to_json()) == manifest
    pool = load_examples(NLI, str(write_tsv(tmp_path / "one.tsv", toy_rows(5, seed=3))), "en", "train")
    with raises_mpt("validation", "only 0 usable"):  # one file for both splits: training took every row of it
        draw_split(pool, pool, NLI.labels, shots="all", dev_shots=1, seed=1, data="one", lang="en")


def test_shots_parse_all_or_a_positive_count():
    assert [parse_shots(v) for v in ("all", " ALL ", "8", 8)] == ["all", "all", 8, 8]
    for bad in ("many", "-2", "0", 0, "8.5"):
        with raises_mpt("--shots"):
            parse_shots(bad)


def test_manifest_json_round_trip_and_sha256(pools):
    _, _, manifest = draw_split(*pools, NLI.labels, shots=2, dev_shots=2, seed=1, data="toy", lang="en")
    text = manifest.to_json()
    restored = SplitManifest.from_json(text)
    assert restored == manifest
    assert isinstance(restored.train_ids, tuple)
    assert restored.sha256 == manifest.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert json.loads(text)["train_ids"] == list(manifest.train_ids)
    _, _, reseeded = draw_split(*pools, NLI.labels, shots=2, dev_shots=2, seed=2, data="toy", lang="en")
    assert reseeded.sha256 != manifest.sha256


def test_select_returns_examples_by_id_in_manifest_order(pools):
    train, _, manifest = draw_split(*pools, NLI.labels, shots=3, dev_shots=3, seed=4, data="toy", lang="en")
    assert select(pools[0], manifest.train_ids) == train
    reversed_ids = tuple(reversed(manifest.train_ids))
    assert [ex.id for ex in select(pools[0], reversed_ids)] == list(reversed_ids)


def test_select_fails_clearly_on_missing_ids(pools):
    with raises_mpt("2 examples", "not in the data", "first: gone:1"):
        select(pools[0], (pools[0][0].id, "gone:1", "gone:2"))


def test_select_fails_when_the_data_file_changed(tmp_path):
    path = write_tsv(tmp_path / "d.tsv", toy_rows(4, seed=1))
    pool = load_examples(NLI, str(path), "en", "train")
    _, _, manifest = draw_split(pool, pool, NLI.labels, shots=2, dev_shots=1, seed=1, data="d", lang="en")
    write_tsv(path, toy_rows(1, seed=1))
    with raises_mpt("not in the data"):
        select(load_examples(NLI, str(path), "en", "train"), manifest.train_ids)


def test_example_paths_are_not_mistaken_for_hub_ids(tmp_path):
    relative = Path("does-not-exist") / "x.tsv"
    with raises_mpt("does not exist"):
        load_examples(NLI, str(relative), "en", "train")
