"""Language codes: any code the user's data uses, normalised by one owner; what 'all' means for each source."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import NLI, invoke, raises_mpt, toy_rows, write_tsv

from mpt_cli.data import load_examples
from mpt_cli.data.examples import data_languages
from mpt_cli.data.parallel import corpus_languages, load_parallel
from mpt_cli.languages import ALL, describe, find_language, language_name, normalise, parse_languages, script_of
from mpt_cli.workflows.align_options import AlignOptions
from mpt_cli.workflows.evaluate import EvalOptions, evaluate
from mpt_cli.workflows.joint import JointOptions
from mpt_cli.workflows.predict import PredictOptions
from mpt_cli.workflows.reproduce import ReproduceOptions


@pytest.mark.parametrize(
    ("code", "canonical"),
    [
        ("jv", "jv"), ("SW", "sw"), ("swh_Latn", "sw"), ("arb_Arab", "ar"), ("eng", "en"), ("jav_Latn", "jv"),
        ("quy_Latn", "quy"), ("quy", "quy"), ("pt_br", "pt-BR"), ("zh-Hant", "zh-Hant"), ("zho_Hans", "zh"),
        ("npi_Deva", "ne"), ("ceb", "ceb"), ("sr-Latn", "sr-Latn"), ("iw", "he"), ("tl", "tl"), ("tgl_Latn", "tl"),
        ("twi", "tw"), ("kor_Hang", "ko"), ("ko-Kore", "ko"),
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
    with raises_mpt("no languages given"):
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


def test_each_language_takes_its_own_pair_file_and_a_region_only_when_it_has_none(tmp_path):
    """Issue 42: beside en-pt-BR.tsv, en-pt.tsv is pt's file, and 'all' gives each file its own language."""
    for name in ("en-pt", "en-pt-BR", "en-zh-Hant"):
        write_tsv(tmp_path / f"{name}.tsv", [(f"one {name}", f"um {name}"), (f"two {name}", f"dois {name}")])
    file_of = lambda lang: Path(load_parallel(str(tmp_path), "en", lang, texts=1).name).name
    assert corpus_languages(str(tmp_path), "en") == ["pt-BR", "pt", "zh-Hant"]  # in file-name order
    assert {lang: file_of(lang) for lang in corpus_languages(str(tmp_path), "en")} == {
        "pt-BR": "en-pt-BR.tsv", "pt": "en-pt.tsv", "zh-Hant": "en-zh-Hant.tsv",
    }  # fmt: skip
    assert file_of("zh") == "en-zh-Hant.tsv"  # a bare language falls back to its one variant where it has no file
    (tmp_path / "en-pt.tsv").unlink()
    assert file_of("pt") == "en-pt-BR.tsv"
    write_tsv(tmp_path / "en-pt-PT.tsv", [("one", "um"), ("two", "dois")])
    with raises_mpt("has no en-pt.tsv"):  # two variants and no file of its own: which one is not ours to guess
        file_of("pt")


# ------------------------------------------------------------------------- one reading at the boundary


def test_an_empty_language_list_is_refused_and_only_all_means_every_language(parallel_dir, toy_data_dir):
    """Issue 42: ``targets=[]`` from Python trained every language of the corpus; now only ``all`` does."""
    parallel = str(parallel_dir)
    for empty in ([], (), ""):
        with raises_mpt("no target languages given"):
            AlignOptions(targets=empty, parallel=parallel)
        with raises_mpt("no target languages given"):
            JointOptions(targets=empty, parallel=parallel)
        with raises_mpt("no languages given"):
            EvalOptions(languages=empty)
        with raises_mpt("no languages given"):
            ReproduceOptions(languages=empty, data=str(toy_data_dir))
    for every in (ALL, "all", " All "):
        assert AlignOptions(targets=every, parallel=parallel).targets == ("de", "sw")
        assert JointOptions(targets=every, parallel=parallel).targets == ("de", "sw")
        assert EvalOptions(languages=every).languages is ALL
        assert ReproduceOptions(languages=every, data=str(toy_data_dir), split="validation").languages == ("de", "en", "sw")
    with raises_mpt("joint methods", "add one besides en"):  # reproduce's joint cells would have nothing to translate into
        ReproduceOptions(languages=("en",), methods=("soft-prompt", "joint"), data=str(toy_data_dir))


def test_the_python_options_read_codes_as_the_command_line_does(parallel_dir, toy_data_dir):
    """Issue 42: ``pt-br``, ``pt-BR`` and ``por_Latn`` are one language in every options object, as on the command line."""
    parallel = str(parallel_dir)
    align = AlignOptions(targets=("DE", "swh_Latn", "deu"), source="eng", parallel=parallel)
    assert (align.targets, align.source) == (("de", "sw"), "en")
    joint = JointOptions(targets="de,SW", source="EN", parallel=parallel)
    assert (joint.targets, joint.source) == (("de", "sw"), "en")
    evaluation = EvalOptions(languages=["pt-br", "pt-BR", "por_Latn", "PT_br"], source="eng_Latn")
    assert (evaluation.languages, evaluation.source) == (("pt-BR", "pt"), "en")
    labelling = PredictOptions(lang="pt_br", source="ENG")
    assert (labelling.lang, labelling.source) == ("pt-BR", "en")
    table = ReproduceOptions(languages=["EN", "de"], source="eng", data=str(toy_data_dir))
    assert (table.languages, table.source) == (("en", "de"), "en")
    with raises_mpt("'xx' is not a language code"):
        AlignOptions(targets=["de", "xx"], parallel=parallel)
    with raises_mpt("3 is not a language code"):
        EvalOptions(languages=[3])


def test_predict_and_evaluate_find_the_source_prompt_by_any_spelling_of_its_language(source_prompts_dir, toy_data_dir, tmp_path):
    rows = write_tsv(tmp_path / "rows.tsv", [row[:2] for row in toy_rows(2, seed=5)])
    outputs = []
    for source, lang in (("en", "de"), ("eng_Latn", "DE")):
        result = invoke("predict", rows, "--prompts-dir", source_prompts_dir, "--source", source, "--lang", lang, "--cpu")
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1] and outputs[0]
    options = EvalOptions(languages=["DE", "eng"], source="ENG", prompts_dir=source_prompts_dir, data=str(toy_data_dir),
                          split="validation", cpu=True)  # fmt: skip
    report = evaluate(options)
    assert [r.language for r in report.results] == ["de", "en"] and report.source == "en"
