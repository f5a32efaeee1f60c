"""Reading parallel corpora for the alignment (``--parallel``): the accepted forms and their errors."""

from __future__ import annotations

import hashlib

import pytest
from conftest import PARALLEL_PAIRS, other_language, raises_mpt, toy_sentences, write_tsv

from mpt_cli.data.parallel import ParallelPair, load_parallel, split_heldout

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


def test_folder_without_any_tsv_says_none(tmp_path):
    with raises_mpt("no en-de.tsv", "found: none"):
        load_parallel(str(tmp_path), "en", "de")


def test_invalid_utf8_names_the_line(tmp_path):
    path = tmp_path / "p.tsv"
    path.write_bytes(b"a man\tein mann\nthe \xff dog\tder hund\n")
    with raises_mpt("p.tsv line 2", "not valid UTF-8"):
        load_parallel(str(path), "en", "de")
