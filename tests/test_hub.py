"""The built-in tasks' hub datasets, read through the very calls the hub goes through, from local stand-ins.

Each stand-in is laid out as its hub repository is, written with ``datasets`` in the real features:
``facebook/xnli`` and ``google-research-datasets/paws-x`` as parquet files per configuration named by the
dataset card's ``configs:`` (the card also carries ``dataset_info``, where XNLI's ``all_languages``
features list its 15 languages); ``Davlan/sib200`` as the hub's parquet export, one folder per FLORES-200
configuration with a folder per split, no card. ``datasets.load_dataset``, ``get_dataset_config_names``
and ``load_dataset_builder`` read them as they read the hub; only "is this a local path?" is told
otherwise, so that the stand-in's folder is taken for a hub id (conftest keeps every hub call offline).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import datasets
import pytest
import yaml
from conftest import LABELS, assert_clean_error, invoke, other_language, raises_mpt, toy_rows, toy_sentences
from datasets import ClassLabel, Dataset, Features, Translation, TranslationVariableLanguages, Value

from mpt_cli.data import examples as examples_module
from mpt_cli.data import hub as hub_module
from mpt_cli.data import parallel as parallel_module
from mpt_cli.data import parallel_hub as parallel_hub_module
from mpt_cli.data.examples import data_languages, load_examples
from mpt_cli.data.hub import hub_configs
from mpt_cli.task import BUILT_IN

XNLI_LANGUAGES = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]
NLI_FEATURES = Features(
    {"premise": Value("string"), "hypothesis": Value("string"), "label": ClassLabel(names=list(LABELS))}
)
ALL_LANGUAGES_FEATURES = Features(
    {
        "premise": Translation(languages=XNLI_LANGUAGES),
        "hypothesis": TranslationVariableLanguages(languages=XNLI_LANGUAGES),
        "label": NLI_FEATURES["label"],
    }
)
PAWSX_FEATURES = Features(
    {"id": Value("int32"), "sentence1": Value("string"), "sentence2": Value("string"), "label": ClassLabel(names=["0", "1"])}
)
SIB_FEATURES = Features({"index_id": Value("int64"), "category": Value("string"), "text": Value("string")})
SIB_CONFIGS = ["eng_Latn", "jpn_Jpan", "kor_Hang", "zho_Hans", "zho_Hant", "arb_Arab", "swh_Latn"]


@pytest.fixture(autouse=True)
def _hub_ids(monkeypatch, tmp_path):
    """Stand-in folders count as hub ids, their parsed copies go to this test's cache, and no configuration
    listing is remembered from another test's stand-in."""
    for module in (examples_module, parallel_module):
        real = module.local_path
        monkeypatch.setattr(module, "local_path", lambda spec, what, real=real: None if "hub-" in spec else real(spec, what))
    monkeypatch.setattr(hub_module, "hub_url", lambda dataset_id, revision: dataset_id)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "datasets-cache"))
    hub_configs.cache_clear()
    parallel_hub_module._all_languages.cache_clear()


def _save_card(root: Path, configs: dict[str, Features], splits: dict[str, tuple[str, ...]]) -> None:
    """A dataset card as the hub's parquet conversion writes it: ``dataset_info`` and ``configs`` per configuration."""
    card = {
        "dataset_info": [{"config_name": name, "features": features._to_yaml_list()} for name, features in configs.items()],
        "configs": [
            {"config_name": name, "data_files": [{"split": split, "path": f"{name}/{split}-*"} for split in splits[name]]}
            for name in configs
        ],
    }
    (root / "README.md").write_text("---\n" + yaml.safe_dump(card, sort_keys=False, allow_unicode=True) + "---\n", "utf-8")


@pytest.fixture(scope="module")
def xnli_hub(tmp_path_factory) -> Path:
    """``facebook/xnli``: a configuration per language (premise, hypothesis, label) and ``all_languages``
    (premise a Translation, hypothesis a TranslationVariableLanguages), as parquet files under a card."""
    datasets.disable_progress_bars()
    root = tmp_path_factory.mktemp("xnli") / "hub-xnli"
    rows = {"train": toy_rows(4, seed=11), "validation": toy_rows(3, seed=12), "test": toy_rows(2, seed=13)}
    for lang in XNLI_LANGUAGES:
        for split, split_rows in rows.items():
            columns = {"premise": [r[0] for r in split_rows], "hypothesis": [r[1] for r in split_rows],
                       "label": [r[2] for r in split_rows]}  # fmt: skip
            Dataset.from_dict(columns, features=NLI_FEATURES).to_parquet(root / lang / f"{split}-00000-of-00001.parquet")
    train = rows["train"]
    translated = {
        "premise": [{lang: f"{lang}: {r[0]}" for lang in XNLI_LANGUAGES} for r in train],
        "hypothesis": [{"language": XNLI_LANGUAGES, "translation": [f"{x}: {r[1]}" for x in XNLI_LANGUAGES]} for r in train],
        "label": [r[2] for r in train],
    }
    all_languages = Dataset.from_dict(translated, features=ALL_LANGUAGES_FEATURES)
    all_languages.to_parquet(root / "all_languages" / "train-00000-of-00001.parquet")
    configs = {"all_languages": ALL_LANGUAGES_FEATURES} | {lang: NLI_FEATURES for lang in XNLI_LANGUAGES}
    _save_card(root, configs, {"all_languages": ("train",)} | {lang: tuple(rows) for lang in XNLI_LANGUAGES})
    return root


@pytest.fixture(scope="module")
def pawsx_hub(tmp_path_factory) -> Path:
    """``google-research-datasets/paws-x``: id, sentence1, sentence2 and a 0/1 class label, one row ``-1``."""
    root = tmp_path_factory.mktemp("pawsx") / "hub-pawsx"
    languages = ["de", "en", "es", "fr", "ja", "ko", "zh"]
    labels = [1, 0, -1, 1, 0]
    for lang in languages:
        for split in ("train", "validation", "test"):
            columns = {"id": list(range(1, 6)), "sentence1": [f"{lang} first {i}" for i in range(5)],
                       "sentence2": [f"{lang} second {i}" for i in range(5)], "label": labels}  # fmt: skip
            Dataset.from_dict(columns, features=PAWSX_FEATURES).to_parquet(root / lang / f"{split}-00000-of-00001.parquet")
    _save_card(root, dict.fromkeys(languages, PAWSX_FEATURES), dict.fromkeys(languages, ("train", "validation", "test")))
    return root


@pytest.fixture(scope="module")
def sib_hub(tmp_path_factory) -> Path:
    """``Davlan/sib200`` as its parquet export: ``{config}/{split}/0000.parquet``, index_id, category, text."""
    root = tmp_path_factory.mktemp("sib") / "hub-sib200"
    categories = ["science/technology", "travel", "politics", "sports", "health", "entertainment", "geography"]
    for config in SIB_CONFIGS:
        for split in ("train", "validation", "test"):
            columns = {"index_id": [10, 11, 12], "category": categories[:3], "text": [f"{config} {split} {i}" for i in range(3)]}
            Dataset.from_dict(columns, features=SIB_FEATURES).to_parquet(root / config / split / "0000.parquet")
    return root


def _task(name: str, data: Path):
    """The built-in task with the stand-in as its own dataset, so that its hub revision applies as it does to the hub's."""
    return replace(BUILT_IN[name], data=str(data))


# ------------------------------------------------------------------------------------------- XNLI


def test_xnli_loads_a_language_configuration_with_its_class_labels(xnli_hub):
    task = _task("xnli", xnli_hub)
    loaded = load_examples(task, str(xnli_hub), "sw", "validation")
    expected = toy_rows(3, seed=12)
    assert [e.texts for e in loaded] == [(r[0], r[1]) for r in expected]
    assert [task.labels[e.label] for e in loaded] == [r[2] for r in expected]
    assert loaded[0].id == "validation:0"


def test_xnli_all_is_its_language_configurations_not_all_languages(xnli_hub):
    assert data_languages(_task("xnli", xnli_hub), str(xnli_hub), "test") == sorted(XNLI_LANGUAGES)


def test_xnli_has_no_ja_configuration_and_says_which_it_has(xnli_hub):
    with raises_mpt("no configuration for ja", "15 languages", "sw"):
        load_examples(_task("xnli", xnli_hub), str(xnli_hub), "ja", "test")


def test_all_languages_gives_parallel_pairs_of_both_texts(xnli_hub):
    corpus = parallel_module.load_parallel(str(xnli_hub), "en", "sw", texts=2)
    first = toy_rows(4, seed=11)[0]
    pair = next(p for p in corpus.pairs if p.source == (f"en: {first[0]}", f"en: {first[1]}"))
    assert pair.target == (f"sw: {first[0]}", f"sw: {first[1]}")
    assert len(corpus.pairs) == len(toy_rows(4, seed=11))


def test_all_languages_lists_its_features_languages_but_the_source(xnli_hub):
    assert parallel_module.corpus_languages(str(xnli_hub), "en") == [lang for lang in XNLI_LANGUAGES if lang != "en"]


def test_ja_and_ko_are_refused_in_one_line_before_anything_is_downloaded(xnli_hub, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("load_dataset was called")

    monkeypatch.setattr(datasets, "load_dataset", no_download)
    with raises_mpt("no parallel data in ja, ko", "it has ar bg de"):
        parallel_module.check_corpus_languages(str(xnli_hub), "en", ["de", "ja", "ko"])
    with raises_mpt("no parallel data in ko"):
        parallel_module.load_parallel(str(xnli_hub), "en", "ko")


def test_translate_to_ja_fails_in_one_line_before_the_model_or_any_data_is_loaded(xnli_hub, source_prompts_dir, tmp_path,
                                                                                  monkeypatch):
    from mpt_cli.store import PromptStore

    def no_loading(*args, **kwargs):
        raise AssertionError("loaded")

    monkeypatch.setattr(datasets, "load_dataset", no_loading)
    monkeypatch.setattr(PromptStore, "load_backbone", no_loading)
    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))
    result = invoke("translate", "--to", "de,ja,ko", "--parallel", xnli_hub, "--prompts-dir", prompts, "--cpu")
    assert_clean_error(result, "no parallel data in ja, ko")


# ----------------------------------------------------------------------------------------- PAWS-X


def test_pawsx_skips_and_counts_rows_labelled_minus_one(pawsx_hub, caplog):
    task = _task("pawsx", pawsx_hub)
    with caplog.at_level(logging.WARNING, logger="mpt_cli"):
        loaded = load_examples(task, str(pawsx_hub), "ko", "train")
    assert [(e.id, e.texts[0], task.labels[e.label]) for e in loaded] == [
        ("train:0", "ko first 0", "1"), ("train:1", "ko first 1", "0"),
        ("train:3", "ko first 3", "1"), ("train:4", "ko first 4", "0"),
    ]  # fmt: skip
    assert "skipped 1 of 5 rows" in caplog.text


def test_pawsx_keeps_the_unlabelled_row_where_no_label_is_needed(pawsx_hub, caplog):
    with caplog.at_level(logging.WARNING, logger="mpt_cli"):
        loaded = load_examples(_task("pawsx", pawsx_hub), str(pawsx_hub), "ja", "test", require_labels=False)
    assert [e.label for e in loaded] == [1, 0, None, 1, 0]
    assert "skipped" not in caplog.text


# ---------------------------------------------------------------------------------------- SIB-200


@pytest.mark.parametrize(("lang", "config"), [("ja", "jpn_Jpan"), ("ko", "kor_Hang"), ("zh", "zho_Hans"), ("ar", "arb_Arab"),
                                              ("sw", "swh_Latn"), ("zh-Hant", "zho_Hant"), ("eng_Latn", "eng_Latn")])  # fmt: skip
def test_sib200_finds_each_languages_flores_configuration(sib_hub, lang, config):
    loaded = load_examples(_task("sib200", sib_hub), str(sib_hub), lang, "validation")
    assert [e.texts for e in loaded] == [(f"{config} validation {i}",) for i in range(3)]
    assert [BUILT_IN["sib200"].labels[e.label] for e in loaded] == ["science/technology", "travel", "politics"]


def test_sib200_all_is_its_configurations_normalised(sib_hub):
    assert data_languages(_task("sib200", sib_hub), str(sib_hub), "test") == ["ar", "en", "ja", "ko", "sw", "zh", "zh-Hant"]


def test_sib200_loads_from_the_parquet_export_not_the_main_branch(sib_hub, monkeypatch):
    calls = []
    real = datasets.load_dataset
    monkeypatch.setattr(datasets, "load_dataset", lambda *args, **kwargs: calls.append(kwargs) or real(*args, **kwargs))
    load_examples(_task("sib200", sib_hub), str(sib_hub), "ko", "test")
    assert calls == [{"split": "test", "revision": "refs/convert/parquet", "data_dir": "kor_Hang"}]


# ---------------------------------------------------------------------------------------- offline

OFFLINE_ID = "mpt-offline/xnli"
"""A hub id whose data is only in the datasets cache, as an earlier online run leaves it (the tests run offline)."""


def _cache_as_hub(stand_in: Path, config: str, split: str) -> None:
    """Load ``config``'s ``split`` of a stand-in, and file the prepared copy in the cache as the hub's
    ``OFFLINE_ID`` would be: ``{owner}___{name}/{config}/{version}/{hash}/{name}-{split}.arrow``."""
    datasets.load_dataset(str(stand_in), config, split=split)
    cache = Path(datasets.config.HF_DATASETS_CACHE)
    owner, name = OFFLINE_ID.split("/")
    for built in (path for path in (cache / stand_in.name / config).glob("*/*") if path.is_dir()):
        copy = Path(shutil.copytree(built, cache / f"{owner}___{name}" / config / built.parent.name / built.name))
        for arrow in copy.glob(f"{stand_in.name}-*.arrow"):
            arrow.rename(copy / f"{name}{arrow.name.removeprefix(stand_in.name)}")


def test_offline_a_cached_configuration_loads_without_listing_the_hubs(xnli_hub, monkeypatch):
    """Issue 42: the configurations were listed before every load, and offline a cached dataset lists only
    'default', so XNLI's cached sw was 'no configuration for sw'. The language's own configuration loads first."""
    _cache_as_hub(xnli_hub, "sw", "validation")
    _cache_as_hub(xnli_hub, "all_languages", "train")
    listed, real = [], datasets.get_dataset_config_names
    monkeypatch.setattr(datasets, "get_dataset_config_names", lambda *args, **kw: listed.append(args) or real(*args, **kw))
    task = BUILT_IN["xnli"]
    loaded = load_examples(task, OFFLINE_ID, "sw", "validation")
    assert [(e.texts, task.labels[e.label]) for e in loaded] == [((r[0], r[1]), r[2]) for r in toy_rows(3, seed=12)]
    assert listed == []
    corpus = parallel_module.load_parallel(OFFLINE_ID, "en", "sw", texts=2)  # all_languages: its features from the cache
    assert len(corpus.pairs) == len(toy_rows(4, seed=11))
    with raises_mpt(f"cannot load {OFFLINE_ID} (ja, validation)", "sw"):  # not cached: the cache's own word, which has sw
        load_examples(task, OFFLINE_ID, "ja", "validation")
    with raises_mpt(f"cannot list the languages of {OFFLINE_ID}", "name the languages"):  # 'all' is the hub's to list
        data_languages(task, OFFLINE_ID, "validation")


# ------------------------------------------------------------------------------------- end to end


def test_eval_reads_a_hub_dataset_end_to_end(xnli_hub, source_prompts_dir, tmp_path):
    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))
    result = invoke("eval", "--prompts-dir", prompts, "--data", xnli_hub, "--langs", "en,sw", "--split", "validation",
                    "--cpu", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {lang: entry["examples"] for lang, entry in report["languages"].items()} == {"en": 9, "sw": 9}


def test_train_source_logs_how_many_unlabelled_rows_it_skipped(pawsx_hub, tiny_model_dir, tmp_path):
    result = invoke("train-source", "--cpu", "--task", "pawsx", "--data", pawsx_hub, "--model", tiny_model_dir,
                    "--prompts-dir", tmp_path / "prompts", "--shots", "1", "--dev-shots", "1", "--epochs", "1",
                    "--prompt-length", "2", "--max-length", "48", "--tune", "prompt")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning:" in result.stderr and "(en, train): skipped 1 of 5 rows" in result.stderr
    assert "(en, validation): skipped 1 of 5 rows" in result.stderr


# ----------------------------------------------------------- parallel corpora of language configurations

FLORES_FEATURES = Features({"id": Value("int32"), "sentence": Value("string")})
FLORES_ENGLISH = toy_sentences(4, seed=31)


def _flores_sentence(config: str, english: str) -> str:
    return english if config == "eng_Latn" else other_language(english, "de" if config == "yor_Latn" else "sw")


@pytest.fixture(scope="module")
def flores_hub(tmp_path_factory) -> Path:
    """A FLORES-style dataset on its main branch: a configuration per FLORES-200 code (id, sentence), row i the
    same sentence in each; wol_Latn has a row too few and ace_Arab its rows in another order."""
    root = tmp_path_factory.mktemp("flores") / "hub-flores"
    ids = {"wol_Latn": [0, 1, 2], "ace_Arab": [1, 0, 2, 3]}
    configs = ["eng_Latn", "yor_Latn", "swh_Latn", "wol_Latn", "ace_Arab"]
    for config in configs:
        for split in ("train", "test"):
            order = ids.get(config, [0, 1, 2, 3])
            columns = {"id": order, "sentence": [f"{_flores_sentence(config, FLORES_ENGLISH[i])}" for i in order]}
            Dataset.from_dict(columns, features=FLORES_FEATURES).to_parquet(root / config / f"{split}-00000-of-00001.parquet")
    _save_card(root, dict.fromkeys(configs, FLORES_FEATURES), dict.fromkeys(configs, ("train", "test")))
    return root


def test_language_configurations_pair_by_row_whatever_the_codes_spelling(flores_hub):
    sib = BUILT_IN["sib200"]  # one text: FLORES's sentence column is its text
    for asked in ("yo", "yor_Latn"):
        corpus = parallel_module.load_parallel(str(flores_hub), "en", asked, sib)
        assert corpus.name == f"{flores_hub} (eng_Latn, yor_Latn, train)"
        assert [(p.source, p.target) for p in corpus.pairs] == [((s,), (other_language(s, "de"),)) for s in FLORES_ENGLISH]
    assert parallel_module.load_parallel(f"{flores_hub}:test", "en", "sw", sib).name == f"{flores_hub} (eng_Latn, swh_Latn, test)"


def test_language_configurations_give_a_two_text_task_sentence_pairs(flores_hub):
    corpus = parallel_module.load_parallel(str(flores_hub), "en", "sw", BUILT_IN["xnli"])
    swahili = {s: other_language(s, "sw") for s in FLORES_ENGLISH}
    assert sorted(p.source[0] for p in corpus.pairs) == sorted(FLORES_ENGLISH)
    assert all(p.target == (swahili[p.source[0]], swahili[p.source[1]]) and p.source[0] != p.source[1] for p in corpus.pairs)


def test_language_configurations_that_are_not_row_aligned_are_refused(flores_hub):
    with raises_mpt("eng_Latn has 4 rows but wol_Latn has 3", "row-aligned"):
        parallel_module.load_parallel(str(flores_hub), "en", "wo", BUILT_IN["sib200"])
    with raises_mpt("(eng_Latn, ace_Arab, train): the rows are not aligned", "'id'"):
        parallel_module.load_parallel(str(flores_hub), "en", "ace-Arab", BUILT_IN["sib200"])


def test_language_configurations_without_the_language_list_theirs(flores_hub):
    with raises_mpt("has no configuration for ja", "5 languages"):
        parallel_module.load_parallel(str(flores_hub), "en", "ja", BUILT_IN["sib200"])


def test_language_configurations_to_all_are_the_configurations_but_the_source(flores_hub):
    assert parallel_module.corpus_languages(str(flores_hub), "en") == ["ace-Arab", "sw", "wo", "yo"]


def test_sib200_parquet_export_pairs_by_row(sib_hub):
    corpus = parallel_module.load_parallel(f"{sib_hub}:validation", "en", "ko", _task("sib200", sib_hub))
    assert corpus.name == f"{sib_hub} (eng_Latn, kor_Hang, validation)"
    assert [(p.source, p.target) for p in corpus.pairs] == [
        ((f"eng_Latn validation {i}",), (f"kor_Hang validation {i}",)) for i in range(3)
    ]


def test_offline_cached_language_configurations_pair_without_listing(xnli_hub, monkeypatch):
    """A corpus of configurations named as the languages loads from the cache alone (HF_HUB_OFFLINE)."""
    _cache_as_hub(xnli_hub, "en", "train")
    _cache_as_hub(xnli_hub, "sw", "train")
    listed, real = [], datasets.get_dataset_config_names
    monkeypatch.setattr(datasets, "get_dataset_config_names", lambda *args, **kw: listed.append(args) or real(*args, **kw))
    corpus = parallel_module.load_parallel(OFFLINE_ID, "en", "sw", BUILT_IN["xnli"])
    assert corpus.name == f"{OFFLINE_ID} (en, sw, train)"
    assert [p.source for p in corpus.pairs] == [(r[0], r[1]) for r in toy_rows(4, seed=11)]
    assert listed == []


def test_translate_from_a_hub_corpus_of_language_configurations(flores_hub, source_prompts_dir, tmp_path):
    from mpt_cli.artifacts import TranslatorArtifact

    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))
    result = invoke("translate", "--to", "sw", "--parallel", flores_hub, "--method", "prompt", "--heldout", "1",
                    "--prompts-dir", prompts, "--cpu")  # fmt: skip
    assert result.exit_code == 0, result.output
    translator = TranslatorArtifact.load(prompts / "translators" / "en-sw.safetensors")
    assert translator.info.corpus == f"{flores_hub} (eng_Latn, swh_Latn, train)" and translator.info.pairs == 3
