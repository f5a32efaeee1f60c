"""Language codes: any code the user's data uses, normalised by one owner; what 'all' means for each source."""

from __future__ import annotations

import pytest
from conftest import NLI, raises_mpt, toy_rows, write_tsv

from mpt_cli.data import load_examples
from mpt_cli.data.examples import data_languages
from mpt_cli.data.parallel import corpus_languages, load_parallel
from mpt_cli.languages import ALL, describe, find_language, language_name, normalise, parse_languages, script_of


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("jv", "jv"), ("SW", "sw"), ("swh_Latn", "sw"), ("arb_Arab", "ar"), ("eng", "en"), ("jav_Latn", "jv"),
        ("quy_Latn", "quy"), ("quy", "quy"), ("pt_br", "pt-BR"), ("zh-Hant", "zh-Hant"), ("zho_Hans", "zh"),
        ("npi_Deva", "ne"), ("ceb", "ceb"), ("sr-Latn", "sr-Latn"), ("iw", "he"), ("tl", "tl"), ("tgl_Latn", "tl"),
        ("twi", "tw"),
    ],
)  # fmt: skip
def test_iso_bcp47_and_flores_codes_normalise_to_one_tag(code, canonical):
    assert normalise(code) == canonical


FLORES_NEIGHBOURS = [
    "arb_Arab", "ars_Arab", "acm_Arab", "apc_Arab", "arb_Latn", "kas_Arab", "kas_Deva", "taq_Latn", "taq_Tfng", "zho_Hans",
    "zho_Hant", "yue_Hant", "min_Arab", "min_Latn", "knc_Arab", "knc_Latn", "ace_Arab", "ace_Latn", "prs_Arab", "pes_Arab",
    "pbt_Arab", "nqo_Nkoo", "sat_Olck", "tzm_Tfng",
]  # fmt: skip


def test_flores_codes_of_one_macrolanguage_or_two_scripts_stay_apart():
    tags = [normalise(code) for code in FLORES_NEIGHBOURS]
    assert len(set(tags)) == len(tags), tags
    assert normalise("ars_Arab") == "ars" and normalise("arb_Arab") == "ar"
    # the usual script is dropped, also where only the macrolanguage says which it is (Pashto's, Arabic's)
    assert (normalise("pbt_Arab"), normalise("acm_Arab"), normalise("kas_Arab")) == ("pbt", "acm", "ks")
    assert "Pashto" in language_name("pbt") and "Najdi Arabic" == language_name("ars")
    scripts = {code: script_of(normalise(code)) for code in ("pbt_Arab", "nqo_Nkoo", "sat_Olck", "taq_Tfng", "zho_Hant", "yo")}
    assert scripts == {
        "pbt_Arab": "Arab", "nqo_Nkoo": "Nkoo", "sat_Olck": "Olck", "taq_Tfng": "Tfng", "zho_Hant": "Hant", "yo": "Latn"
    }  # fmt: skip
    assert normalise("zh-Hant-TW") == "zh-TW"  # Taiwan's usual script is Hant


@pytest.mark.parametrize("code", ["xx", "qq", "123", "en-", "", "english"])
def test_a_malformed_code_is_one_clear_error(code):
    with raises_mpt("is not a language code", "FLORES-200"):
        normalise(code)


def test_names_stand_beside_codes():
    assert describe("quy") == "quy (Ayacucho Quechua)"
    assert describe("jv") == "jv (Javanese)"


def test_a_code_finds_the_spelling_the_data_uses():
    configs = ["eng_Latn", "jav_Latn", "kor_Hang", "zho_Hans", "zho_Hant", "ace_Arab", "ace_Latn", "all_languages"]
    assert find_language("jv", configs) == "jav_Latn"
    assert find_language("ko", configs) == "kor_Hang"  # a bare language finds its only entry
    assert find_language("zh", configs) == "zho_Hans"
    assert find_language("zh-Hant", configs) == "zho_Hant"
    assert find_language("ace", configs) == "ace_Latn"  # the usual script
    assert find_language("quy", configs) is None


def test_language_lists_normalise_and_all_is_left_to_the_data():
    assert parse_languages(" AR, ur,arb_Arab ") == ("ar", "ur")
    assert parse_languages("All") == ALL
    with raises_mpt("'xx' is not a language code"):
        parse_languages("sw,xx")
    with raises_mpt("no language given"):
        parse_languages(" , ")


def test_all_means_the_languages_a_data_folder_has_for_the_split(tmp_path):
    for name in ("train-en", "dev-en", "dev-jav_Latn", "test-quy", "dev-notes"):
        write_tsv(tmp_path / f"{name}.tsv", toy_rows(3, seed=1))
    assert data_languages(NLI, str(tmp_path), "validation") == ["en", "jv"]
    assert data_languages(NLI, str(tmp_path), "test") == ["quy"]
    assert len(load_examples(NLI, str(tmp_path), "jv", "dev")) == len(toy_rows(3, seed=1))  # jv finds dev-jav_Latn.tsv
    with raises_mpt("has no dev-yo.tsv or validation-yo.tsv", "found: dev-en.tsv, dev-jav_Latn.tsv"):
        load_examples(NLI, str(tmp_path), "yo", "dev")
    with raises_mpt("'all' needs a folder"):
        data_languages(NLI, str(tmp_path / "dev-en.tsv"), "validation")


def test_all_means_the_languages_a_parallel_folder_pairs_with_the_source(tmp_path):
    pairs = [("one two", "uno dos"), ("three four", "tres cuatro")]
    for name in ("en-de", "eng_Latn-quy_Latn", "en-pt-BR", "fr-en", "de-fr"):
        write_tsv(tmp_path / f"{name}.tsv", pairs)
    assert corpus_languages(str(tmp_path), "en") == ["de", "pt-BR", "quy", "fr"]  # in file-name order
    assert load_parallel(str(tmp_path), "en", "quy", texts=1).pairs[0].target == ("uno dos",)
    assert load_parallel(str(tmp_path), "en", "fr", texts=1).pairs[0].source == ("uno dos",)  # fr-en.tsv, swapped
    with raises_mpt("has no en-yo.tsv"):
        load_parallel(str(tmp_path), "en", "yo", texts=1)
    with raises_mpt("holds no sw-xx.tsv"):
        corpus_languages(str(tmp_path), "sw")
    with raises_mpt("--to all needs a folder"):
        corpus_languages(str(tmp_path / "en-de.tsv"), "en")
