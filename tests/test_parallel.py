"""Reading parallel corpora for the alignment (``--parallel``): the accepted forms and their errors."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from conftest import PARALLEL_PAIRS, invoke, other_language, raises_mpt, toy_sentences, write_tsv

from mpt_cli.artifacts import TranslatorArtifact
from mpt_cli.data.parallel import ParallelPair, corpus_languages, load_parallel, split_heldout
from mpt_cli.data.paths import SHOWN_FILES
from mpt_cli.task import BUILT_IN

SENTENCES = toy_sentences(12, seed=21)
GERMAN = [other_language(s, "de") for s in SENTENCES]
NLI_SHAPED_ROWS = [(SENTENCES[i], SENTENCES[i + 1], GERMAN[i], GERMAN[i + 1]) for i in range(0, 10, 2)]  # 4 columns


def partner_indices(pairs: list[ParallelPair], source: list[str], target: list[str]) -> list[tuple[int, int, int, int]]:
    """For every pair: (source premise, source hypothesis, target premise, target hypothesis) as sentence indices."""
    return [
        (source.index(p.source[0]), source.index(p.source[1]), target.index(p.target[0]), target.index(p.target[1]))
        for p in pairs
    ]


def assert_sentence_pairing(pairs: list[ParallelPair], source: list[str], target: list[str]) -> None:
    """Premise i with a partner j != i as hypothesis, the same i and j on both sides, every j used once."""
    indices = partner_indices(pairs, source, target)
    assert [i for i, _, _, _ in indices] == list(range(len(source)))  # corpus order kept
    for premise, hypothesis, target_premise, target_hypothesis in indices:
        assert premise == target_premise
        assert hypothesis == target_hypothesis
        assert hypothesis != premise
    assert sorted(h for _, h, _, _ in indices) == list(range(len(source)))


# --------------------------------------------------------------------------------------------------
# Accepted forms
# --------------------------------------------------------------------------------------------------


def test_folder_form_reads_the_language_pair(parallel_dir):
    corpus = load_parallel(str(parallel_dir), "en", "de")
    assert corpus.name == str(parallel_dir / "en-de.tsv")
    assert corpus.sha256 == hashlib.sha256((parallel_dir / "en-de.tsv").read_bytes()).hexdigest()
    english = toy_sentences(PARALLEL_PAIRS, seed=5)
    assert len(corpus.pairs) == PARALLEL_PAIRS
    assert_sentence_pairing(corpus.pairs, english, [other_language(s, "de") for s in english])


def test_folder_form_picks_the_target_language_file(parallel_dir):
    german = load_parallel(str(parallel_dir), "en", "de")
    swahili = load_parallel(str(parallel_dir), "en", "sw")
    assert swahili.name.endswith("en-sw.tsv")
    english = toy_sentences(PARALLEL_PAIRS, seed=6)
    assert_sentence_pairing(swahili.pairs, english, [other_language(s, "sw") for s in english])
    assert swahili.sha256 != german.sha256


def test_folder_form_reads_a_swapped_file_with_its_columns_swapped(tmp_path):
    write_tsv(tmp_path / "de-en.tsv", zip(GERMAN, SENTENCES))
    corpus = load_parallel(str(tmp_path), "en", "de")
    assert corpus.name == str(tmp_path / "de-en.tsv")
    assert_sentence_pairing(corpus.pairs, SENTENCES, GERMAN)


def test_folder_form_prefers_the_source_target_file(tmp_path):
    write_tsv(tmp_path / "en-de.tsv", zip(SENTENCES, GERMAN))
    write_tsv(tmp_path / "de-en.tsv", zip(GERMAN[:4], SENTENCES[:4]))
    corpus = load_parallel(str(tmp_path), "en", "de")
    assert corpus.name.endswith("en-de.tsv") and len(corpus.pairs) == len(SENTENCES)


def test_single_two_column_tsv(tmp_path):
    path = write_tsv(tmp_path / "any-name.tsv", zip(SENTENCES, GERMAN))
    corpus = load_parallel(str(path), "en", "de")
    assert corpus.name == str(path)
    assert corpus.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert_sentence_pairing(corpus.pairs, SENTENCES, GERMAN)


def test_single_four_column_tsv_keeps_its_pairs(tmp_path):
    rows = NLI_SHAPED_ROWS
    corpus = load_parallel(str(write_tsv(tmp_path / "pairs.tsv", rows)), "en", "de")
    assert corpus.pairs == [ParallelPair((a, b), (c, d)) for a, b, c, d in rows]


def test_folder_of_four_column_files_keeps_its_pairs_either_way_round(tmp_path):
    """NLI-shaped pairs per language (the form the README builds from XNLI dev rows)."""
    rows = NLI_SHAPED_ROWS
    expected = [ParallelPair((a, b), (c, d)) for a, b, c, d in rows]
    write_tsv(tmp_path / "en-de.tsv", rows)
    write_tsv(tmp_path / "sw-en.tsv", [(c, d, a, b) for a, b, c, d in rows])
    assert load_parallel(str(tmp_path), "en", "de").pairs == expected
    assert load_parallel(str(tmp_path), "en", "sw").pairs == expected


def test_two_line_aligned_files(tmp_path):
    (tmp_path / "a.txt").write_text("".join(s + "\n" for s in SENTENCES))
    (tmp_path / "b.txt").write_text("".join(s + "\n" for s in GERMAN))
    spec = f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}"
    corpus = load_parallel(spec, "en", "de")
    assert corpus.name == spec
    assert_sentence_pairing(corpus.pairs, SENTENCES, GERMAN)


def test_two_files_and_one_tsv_pair_sentences_the_same_way(tmp_path):
    (tmp_path / "a.txt").write_text("".join(s + "\n" for s in SENTENCES))
    (tmp_path / "b.txt").write_text("".join(s + "\n" for s in GERMAN))
    from_files = load_parallel(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}", "en", "de", seed=4)
    from_tsv = load_parallel(str(write_tsv(tmp_path / "p.tsv", zip(SENTENCES, GERMAN))), "en", "de", seed=4)
    assert from_files.pairs == from_tsv.pairs


def test_crlf_line_ends_and_a_missing_final_newline(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes("\r\n".join(f"{s}\t{g}" for s, g in zip(SENTENCES, GERMAN)).encode())
    corpus = load_parallel(str(path), "en", "de")
    assert_sentence_pairing(corpus.pairs, SENTENCES, GERMAN)


def test_pairing_is_seeded(tmp_path):
    path = str(write_tsv(tmp_path / "p.tsv", zip(SENTENCES, GERMAN)))
    first, again = load_parallel(path, "en", "de", seed=1), load_parallel(path, "en", "de", seed=1)
    other = load_parallel(path, "en", "de", seed=2)
    assert first.pairs == again.pairs
    assert first.pairs != other.pairs
    assert_sentence_pairing(other.pairs, SENTENCES, GERMAN)


def test_max_pairs_samples_a_seeded_subset(tmp_path):
    path = str(write_tsv(tmp_path / "p.tsv", zip(SENTENCES, GERMAN)))
    first = load_parallel(path, "en", "de", max_pairs=5, seed=1)
    again = load_parallel(path, "en", "de", max_pairs=5, seed=1)
    other = load_parallel(path, "en", "de", max_pairs=5, seed=2)
    assert len(first.pairs) == 5 and first.pairs == again.pairs
    assert {p.source[0] for p in first.pairs} != {p.source[0] for p in other.pairs}
    for pair in first.pairs:
        index = SENTENCES.index(pair.source[0])
        assert pair.target[0] == GERMAN[index]
        # partners come from the sample too, and match across sides
        assert pair.source[1] in {p.source[0] for p in first.pairs} and pair.source[1] != pair.source[0]
        assert pair.target[1] == GERMAN[SENTENCES.index(pair.source[1])]
    # the digest names the whole corpus, before sampling
    assert first.sha256 == other.sha256 == load_parallel(path, "en", "de").sha256


def test_max_pairs_above_the_corpus_size_keeps_everything(tmp_path):
    path = str(write_tsv(tmp_path / "p.tsv", zip(SENTENCES, GERMAN)))
    assert load_parallel(path, "en", "de", max_pairs=1000).pairs == load_parallel(path, "en", "de").pairs


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_missing_tab_names_the_line(tmp_path):
    lines = [f"{s}\t{g}" for s, g in zip(SENTENCES, GERMAN)]
    lines[2] = SENTENCES[2]
    (tmp_path / "en-de.tsv").write_text("\n".join(lines) + "\n")
    with raises_mpt("en-de.tsv line 3", "no tab"):
        load_parallel(str(tmp_path), "en", "de")


def test_three_columns_name_the_line(tmp_path):
    rows = [(s, g) for s, g in zip(SENTENCES, GERMAN)]
    rows[4] = (SENTENCES[4], GERMAN[4], "extra")
    with raises_mpt("p.tsv line 5", "3 fields"):
        load_parallel(str(write_tsv(tmp_path / "p.tsv", rows)), "en", "de")


def test_mixed_widths_name_the_line(tmp_path):
    rows = [(s, g) for s, g in zip(SENTENCES, GERMAN)]
    rows[3] = (SENTENCES[3], SENTENCES[4], GERMAN[3], GERMAN[4])
    with raises_mpt("p.tsv line 4", "4 fields", "earlier lines have 2"):
        load_parallel(str(write_tsv(tmp_path / "p.tsv", rows)), "en", "de")


def test_an_empty_side_is_named_as_empty(tmp_path):
    rows = [(s, g) for s, g in zip(SENTENCES, GERMAN)]
    rows[1] = (SENTENCES[1], "")
    with raises_mpt("p.tsv line 2", "empty"):
        load_parallel(str(write_tsv(tmp_path / "p.tsv", rows)), "en", "de")


def test_unequal_line_counts(tmp_path):
    (tmp_path / "a.txt").write_text("".join(s + "\n" for s in SENTENCES))
    (tmp_path / "b.txt").write_text("".join(s + "\n" for s in GERMAN[:-2]))
    with raises_mpt("a.txt has 12 lines", "b.txt has 10", "line-aligned"):
        load_parallel(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}", "en", "de")


def test_an_empty_line_in_one_of_two_files(tmp_path):
    (tmp_path / "a.txt").write_text("".join(s + "\n" for s in SENTENCES))
    (tmp_path / "b.txt").write_text("".join((s if i != 6 else "  ") + "\n" for i, s in enumerate(GERMAN)))
    with raises_mpt("line 7", "empty", "b.txt"):
        load_parallel(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}", "en", "de")


def test_one_of_two_files_missing(tmp_path):
    (tmp_path / "a.txt").write_text("".join(s + "\n" for s in SENTENCES))
    with raises_mpt("cannot read", "b.txt"):
        load_parallel(f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}", "en", "de")


@pytest.mark.parametrize("form", ["folder", "file", "two-files"])
def test_empty_corpus(tmp_path, form):
    (tmp_path / "en-de.tsv").write_text("")
    (tmp_path / "a.txt").write_text("")
    (tmp_path / "b.txt").write_text("")
    specs = {
        "folder": str(tmp_path),
        "file": str(tmp_path / "en-de.tsv"),
        "two-files": f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}",
    }
    spec = specs[form]
    with raises_mpt("has no sentence pairs"):
        load_parallel(spec, "en", "de")


def test_a_single_sentence_pair_is_too_few(tmp_path):
    with raises_mpt("at least 2 sentence pairs"):
        load_parallel(str(write_tsv(tmp_path / "p.tsv", [(SENTENCES[0], GERMAN[0])])), "en", "de")


@pytest.mark.parametrize("name", ["missing.tsv", "./missing", "/no/such/corpus", "missing.txt", "no/such/corpus"])
def test_nonexistent_path(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with raises_mpt(name, "does not exist"):
        load_parallel(name, "en", "de")


def test_the_heldout_slice_is_seeded_at_most_a_fifth_and_at_least_one():
    pairs = list(range(20))
    train, held = split_heldout(pairs, 100, seed=1)
    assert len(held) == 4 and sorted(train + held) == pairs
    assert split_heldout(pairs, 100, seed=1) == (train, held)
    assert split_heldout(pairs, 100, seed=2) != (train, held)
    assert len(split_heldout(pairs, 3, seed=1)[1]) == 3
    assert len(split_heldout(pairs[:3], 100, seed=1)[1]) == 1


def test_a_heldout_slice_needs_two_pairs():
    with raises_mpt("only 1 pairs", "at least 2"):
        split_heldout(["one"], 100, seed=1)


def test_folder_without_the_pair_lists_the_files_found(parallel_dir):
    with raises_mpt("no en-fr.tsv", "found: en-de.tsv, en-sw.tsv"):
        load_parallel(str(parallel_dir), "en", "fr")


def test_a_large_folder_without_the_pair_names_a_few_files_and_counts_the_rest(tmp_path):
    languages = ["ar", "bg", "ca", "cs", "da", "de", "el", "es", "et", "fa", "fi", "fr", "he", "hi", "hr", "hu", "id", "it"]
    for lang in languages:
        write_tsv(tmp_path / f"en-{lang}.tsv", [("a", "b"), ("c", "d")])
    with raises_mpt("no en-fo.tsv", "found: ", f"and {len(languages) - SHOWN_FILES} more") as info:
        load_parallel(str(tmp_path), "en", "fo")
    assert str(info.value).count(".tsv") == 1 + SHOWN_FILES  # one line, not the whole folder


def test_folder_without_any_tsv_says_none(tmp_path):
    with raises_mpt("no en-de.tsv", "found: none"):
        load_parallel(str(tmp_path), "en", "de")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes(b"a man\tein mann\nthe \xff dog\tder hund\n")
    with raises_mpt("p.tsv line 2", "not valid UTF-8"):
        load_parallel(str(path), "en", "de")


# --------------------------------------------------------------------------------------------------
# A folder of a task's {split}-{lang}.tsv files, row-aligned (SIB-200's layout)
# --------------------------------------------------------------------------------------------------

SIB = BUILT_IN["sib200"]  # one text: text<TAB>label
NLI = BUILT_IN["xnli"]  # two texts: premise<TAB>hypothesis<TAB>label


def sib_folder(root: Path, splits=(("train", 6), ("test", 4)), languages=("en", "yor_Latn", "ace_Arab")):
    """``{split}-{lang}.tsv`` files of text<TAB>label, row i the same sentence in every language (its word shifted
    per language) with row i's label in every language, a word no task has: a parallel corpus never reads it."""
    root.mkdir(exist_ok=True)
    for split, count in splits:
        english = toy_sentences(count, seed=len(split))
        for lang in languages:
            texts = english if lang == "en" else [f"{lang} {s}" for s in english]
            write_tsv(root / f"{split}-{lang}.tsv", [(text, f"topic{i % 3}") for i, text in enumerate(texts)])
    return root


def test_task_folder_pairs_the_source_and_target_files_row_by_row(tmp_path):
    folder = sib_folder(tmp_path)
    english = toy_sentences(6, seed=len("train"))
    for asked in ("yo", "yor_Latn", "yor"):  # ISO and FLORES codes find the FLORES-named file
        corpus = load_parallel(str(folder), "en", asked, SIB)
        assert corpus.name == f"{folder} (train-en.tsv, train-yor_Latn.tsv)"
        assert [(p.source, p.target) for p in corpus.pairs] == [((s,), (f"yor_Latn {s}",)) for s in english]
    assert load_parallel(str(folder), "en", "ace-Arab", SIB).pairs[0].target == (f"ace_Arab {english[0]}",)
    assert load_parallel(str(folder), "en", "yo", SIB).sha256 != load_parallel(str(folder), "en", "ace-Arab", SIB).sha256


def test_task_folder_reads_the_split_named_after_a_colon(tmp_path):
    folder = sib_folder(tmp_path)
    corpus = load_parallel(f"{folder}:test", "en", "yo", SIB)
    assert corpus.name == f"{folder} (test-en.tsv, test-yor_Latn.tsv)"
    assert [p.source for p in corpus.pairs] == [(s,) for s in toy_sentences(4, seed=len("test"))]
    with raises_mpt("unknown split 'tset'"):
        load_parallel(f"{folder}:tset", "en", "yo", SIB)


def test_task_folder_of_two_text_files_keeps_both_texts_a_side(tmp_path):
    rows = [(s, f"{s} again", "entailment") for s in toy_sentences(5, seed=3)]
    write_tsv(tmp_path / "train-en.tsv", rows)
    write_tsv(tmp_path / "train-de.tsv", [(other_language(a, "de"), other_language(b, "de"), label) for a, b, label in rows])
    corpus = load_parallel(str(tmp_path), "en", "de", NLI)
    assert [(p.source, p.target) for p in corpus.pairs] == [
        ((a, b), (other_language(a, "de"), other_language(b, "de"))) for a, b, _ in rows
    ]


def test_task_folder_reads_a_header_by_the_tasks_column_names(tmp_path):
    english = toy_sentences(3, seed=8)
    write_tsv(tmp_path / "train-en.tsv", [("x", s) for s in english], header=("category", "text"))
    write_tsv(tmp_path / "train-sw.tsv", [("x", other_language(s, "sw")) for s in english], header=("category", "text"))
    corpus = load_parallel(str(tmp_path), "en", "sw", SIB)
    assert [p.target for p in corpus.pairs] == [(other_language(s, "sw"),) for s in english]


def test_task_folder_refuses_files_whose_row_counts_differ(tmp_path):
    folder = sib_folder(tmp_path)
    lines = (folder / "train-yor_Latn.tsv").read_text("utf-8").splitlines(keepends=True)
    (folder / "train-yor_Latn.tsv").write_text("".join(lines[:-1]), "utf-8")
    with raises_mpt("train-en.tsv has 6 rows but train-yor_Latn.tsv has 5", "row-aligned"):
        load_parallel(str(folder), "en", "yo", SIB)


def test_task_folder_without_the_language_lists_its_files(tmp_path):
    folder = sib_folder(tmp_path, splits=(("train", 3),))
    with raises_mpt("has no train-wo.tsv", "found: train-ace_Arab.tsv, train-en.tsv, train-yor_Latn.tsv"):
        load_parallel(str(folder), "en", "wo", SIB)


def test_a_two_text_task_refuses_one_text_files_whose_label_would_be_its_second_text(tmp_path):
    with raises_mpt("'hypothesis' column is the same in both languages in every row", "premise<TAB>hypothesis<TAB>label"):
        load_parallel(str(sib_folder(tmp_path)), "en", "yo", NLI)


def test_task_folder_to_all_is_its_splits_languages_but_the_source(tmp_path):
    folder = sib_folder(tmp_path, splits=(("train", 3), ("test", 3)), languages=("en", "yor_Latn", "ace_Arab", "ace_Latn"))
    (folder / "test-wo.tsv").write_text((folder / "test-en.tsv").read_text("utf-8"), "utf-8")
    assert corpus_languages(str(folder), "en") == ["ace-Arab", "ace", "yo"]
    assert corpus_languages(f"{folder}:test", "en") == ["ace-Arab", "ace", "wo", "yo"]


def test_a_split_is_of_a_task_folder_and_a_file_has_none(parallel_dir):
    with raises_mpt(f"{parallel_dir} has no test-en.tsv", "found: en-de.tsv, en-sw.tsv"):
        load_parallel(f"{parallel_dir}:test", "en", "de", SIB)
    with raises_mpt("only a folder of {split}-{lang}.tsv files or a hub dataset has splits", "is a file of pairs"):
        load_parallel(f"{parallel_dir / 'en-de.tsv'}:train", "en", "de")


def test_pair_files_win_in_a_folder_that_also_has_task_files(parallel_dir, tmp_path):
    folder = tmp_path / "both"
    folder.mkdir()
    (folder / "en-de.tsv").write_bytes((parallel_dir / "en-de.tsv").read_bytes())
    write_tsv(folder / "train-en.tsv", [("one", "x"), ("two", "x")])
    write_tsv(folder / "train-de.tsv", [("eins", "x"), ("zwei", "x")])
    assert load_parallel(str(folder), "en", "de", SIB).name == str(folder / "en-de.tsv")
    assert load_parallel(f"{folder}:train", "en", "de", SIB).name == f"{folder} (train-en.tsv, train-de.tsv)"


def test_translate_reads_a_task_folder_end_to_end(source_prompts_dir, tmp_path):
    """``--parallel FOLDER:SPLIT``: no pair file written by hand; the prompt records the files it learnt from."""
    rows = [(s, f"{s} again", "entailment") for s in toy_sentences(20, seed=4)]
    (tmp_path / "corpus").mkdir()
    write_tsv(tmp_path / "corpus" / "dev-en.tsv", rows)
    write_tsv(tmp_path / "corpus" / "dev-sw.tsv", [(other_language(a, "sw"), other_language(b, "sw"), c) for a, b, c in rows])
    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))
    result = invoke("translate", "--to", "sw", "--parallel", f"{tmp_path / 'corpus'}:dev", "--method", "prompt",
                    "--prompts-dir", prompts, "--cpu", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    translator = TranslatorArtifact.load(prompts / "translators" / "en-sw.safetensors")
    assert translator.info.corpus == f"{tmp_path / 'corpus'} (dev-en.tsv, dev-sw.tsv)" and translator.info.pairs == 16


def test_a_corpus_and_its_split_are_one_spelling_whichever_way_named(tmp_path, monkeypatch):
    """reproduce compares its settings across resumed runs: the same folder and split named two ways are one."""
    from mpt_cli.data.parallel import resolved_corpus

    sib_folder(tmp_path / "sib")
    monkeypatch.chdir(tmp_path)
    assert resolved_corpus("sib:dev") == resolved_corpus(f"{tmp_path / 'sib'}:validation") == f"{tmp_path / 'sib'}:validation"
    assert resolved_corpus("Davlan/sib200:test") == "Davlan/sib200:test"


# --------------------------------------------------------------------------------------------------
# Pairs given in Python (AlignOptions(parallel={"sw": [...]}))
# --------------------------------------------------------------------------------------------------


def test_pairs_given_in_python_read_as_the_same_rows_in_a_file(tmp_path):
    given = {"swh_Latn": [(s, other_language(s, "sw")) for s in SENTENCES], "de": NLI_SHAPED_ROWS}
    from_file = load_parallel(str(write_tsv(tmp_path / "en-sw.tsv", given["swh_Latn"])), "en", "sw", seed=3)
    corpus = load_parallel(given, "en", "sw", seed=3)
    assert corpus.name == "pairs given in Python for swh_Latn"
    assert corpus.pairs == from_file.pairs  # the same partners, drawn from the same seed
    assert [(p.source, p.target) for p in load_parallel(given, "en", "de").pairs] == [(r[:2], r[2:]) for r in NLI_SHAPED_ROWS]
    assert corpus_languages(given, "en") == ["sw", "de"]


def test_pairs_given_in_python_refuse_a_missing_language_and_a_bad_pair():
    with raises_mpt("no parallel pairs given for yo", "given for: de, sw"):
        load_parallel({"de": [("a b", "c d")] * 2, "sw": []}, "en", "yo")
    with raises_mpt("pairs given in Python for de, pair 1", "2 texts as the first", "('only one',)"):
        load_parallel({"de": [("a b", "c d"), ("only one",)]}, "en", "de")
    with raises_mpt("pair 0", "non-empty string"):
        load_parallel({"de": [("a b", "")]}, "en", "de")


def test_translate_takes_pairs_given_in_python_as_it_takes_their_file(source_prompts_dir, tmp_path):
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.workflows.align_options import AlignOptions
    from mpt_cli.workflows.translate import translate

    english = toy_sentences(20, seed=9)
    pairs = [(s, other_language(s, "sw")) for s in english]
    (tmp_path / "corpus").mkdir()
    write_tsv(tmp_path / "corpus" / "en-sw.tsv", pairs)
    weights = {}
    for name, parallel in (("file", str(tmp_path / "corpus")), ("given", {"sw": pairs})):
        prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / name))
        options = AlignOptions(targets="all", prompts_dir=prompts, parallel=parallel, method="prompt", heldout=4,
                               cpu=True, align=AlignConfig(epochs=1, batch_size=8))  # fmt: skip
        (done,) = translate(options)
        assert done.target == "sw"
        weights[name] = TranslatorArtifact.load(prompts / "translators" / "en-sw.safetensors")
    assert weights["given"].info.corpus == "pairs given in Python for sw"
    for key, tensor in weights["file"].weights.items():
        assert tensor.equal(weights["given"].weights[key]), key


def test_a_path_object_is_read_as_its_string(parallel_dir):
    assert load_parallel(parallel_dir, "en", "de").pairs == load_parallel(str(parallel_dir), "en", "de").pairs
    with raises_mpt("parallel: give a path, a hub id or a mapping of language to pairs, not int"):
        load_parallel(3, "en", "de")
