"""mpt reproduce: the whole table on the tiny model, its shape, and resuming."""

from __future__ import annotations

import json

import pytest
from conftest import assert_clean_error, invoke, without_side_files

LANGS = ("en", "de", "sw")


@pytest.fixture(scope="module")
def reproduce_options(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path_factory):
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.reproduce import ReproduceOptions

    return ReproduceOptions(
        shots=(2, 3), seeds=(1, 2), languages=LANGS, model=str(tiny_model_dir), data=str(toy_data_dir),
        parallel=str(parallel_dir), split="validation", output=tmp_path_factory.mktemp("reproduce"), tune="prompt",
        train=TrainConfig(epochs=1, batch_size=8), align=AlignConfig(epochs=1), max_examples=6, cpu=True,
        methods=("soft-prompt", "mpt", "finetune"),
    )  # fmt: skip


@pytest.fixture(scope="module")
def first_run(reproduce_options):
    from mpt_cli.callbacks import Callbacks
    from mpt_cli.workflows.reproduce import reproduce

    stages = []
    summary = reproduce(reproduce_options, Callbacks(on_stage=stages.append))
    return summary, stages


def test_table_has_a_row_per_method_and_shot_count_with_every_language(first_run, reproduce_options):
    from statistics import mean

    summary, _ = first_run
    assert [(r["method"], r["shots"]) for r in summary["rows"]] == [
        (method, shots) for method in ("soft-prompt", "mpt", "finetune") for shots in (2, 3)
    ]
    for row in summary["rows"]:
        assert row["seeds"] == 2
        assert set(row["languages"]) == set(LANGS)
        cells = [reproduce_options.output / f"k{row['shots']}-s{seed}" / row["method"] / "results.json" for seed in (1, 2)]
        reports = [json.loads(path.read_text())["languages"] for path in cells]
        for lang in LANGS:  # the mean over seeds of what each cell measured
            assert row["languages"][lang]["mean"] == pytest.approx(mean(report[lang]["accuracy"] for report in reports))
    assert set(summary["gain_over_soft_prompt"]) == {"mpt"}
    assert set(summary["gain_over_soft_prompt"]["mpt"]) == {"2", "3"}
    assert set(summary["gain_over_soft_prompt"]["mpt"]["2"]) == set(LANGS)


def test_every_cell_keeps_its_artifacts_and_results(first_run, reproduce_options):
    summary, stages = first_run
    output = reproduce_options.output
    assert json.loads((output / "summary.json").read_text()) == summary
    for shots in (2, 3):
        for seed in (1, 2):
            cell = output / f"k{shots}-s{seed}"
            for method in ("soft-prompt", "mpt", "finetune"):
                assert (cell / method / "results.json").is_file()
            assert without_side_files(p.name for p in (cell / "prompts").glob("*.safetensors")) == [
                "de.safetensors", "en.safetensors", "sw.safetensors"
            ]
            soft = json.loads((cell / "soft-prompt" / "results.json").read_text())
            mpt = json.loads((cell / "mpt" / "results.json").read_text())
            assert soft["languages"]["de"]["prompt"]["kind"] == "source"
            assert mpt["languages"]["de"]["prompt"]["kind"] == "translated"
    assert sum(stage.startswith("cell ") for stage in stages) == 12


def test_an_interrupted_run_resumes_without_redoing_finished_cells(first_run, reproduce_options):
    from mpt_cli.callbacks import Callbacks
    from mpt_cli.workflows.reproduce import reproduce

    output = reproduce_options.output
    done = {p: p.stat().st_mtime_ns for p in output.glob("*/*/results.json")}
    unfinished = output / "k3-s2" / "mpt" / "results.json"
    unfinished.unlink()
    stages = []
    summary = reproduce(reproduce_options, Callbacks(on_stage=stages.append))
    assert [s for s in stages if s.startswith("cell ")] == ["cell 1/1: mpt, 3 shots, seed 2"]
    assert "resuming: 11 of 12 cells already done" in stages
    for path, mtime in done.items():
        if path != unfinished:
            assert path.stat().st_mtime_ns == mtime
    assert unfinished.is_file()
    assert [r["seeds"] for r in summary["rows"]] == [2] * 6


def test_cli_prints_the_summary_as_json(first_run, reproduce_options):
    o = reproduce_options
    result = invoke(
        "reproduce", "--shots", "2,3", "--seeds", "1,2", "--langs", ",".join(LANGS), "--model", o.model, "--data", o.data,
        "--parallel", o.parallel, "--split", "validation", "--output", o.output, "--tune", "prompt", "--max-examples", "6",
        "--epochs", "1", "--align-epochs", "1", "--cpu", "--json", "--methods", "soft-prompt,mpt,finetune",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert len(summary["rows"]) == 6
    assert "mpt − soft-prompt" in result.stderr


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--methods", "soft-prompt,magic"], "unknown method 'magic'"),
        (["--shots", "4,x"], "--shots takes a count per class or 'all', got 'x'"),
        (["--plot", "table.jpg"], ".png or .svg"),
        (["--langs", "de,sw"], "must include the source language en"),
        (["--tune", "prompt"], "the joint methods need a tuned backbone"),
    ],
)
def test_cli_bad_options_are_clean_errors(args, fragment, tmp_path):
    assert_clean_error(invoke("reproduce", "--output", tmp_path / "out", *args), fragment)
    assert not (tmp_path / "out").exists()


def test_the_full_table_is_readable_in_a_log(monkeypatch):
    """Under CliRunner stderr is no terminal, like a log file: all 15 languages must print in full."""
    from mpt_cli.cli.common import console
    from mpt_cli.cli.reproduce import _table
    XNLI_LANGUAGES = ["ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh"]

    monkeypatch.delenv("COLUMNS", raising=False)
    stats = {"mean": 0.4567, "std": 0.0123}
    rows = [
        {"method": m, "shots": k, "languages": dict.fromkeys(XNLI_LANGUAGES, stats), "average": stats, "targets": stats}
        for m in ("soft-prompt", "mpt", "finetune") for k in (16, 64)
    ]  # fmt: skip
    summary = {"languages": list(XNLI_LANGUAGES), "source": "en", "rows": rows, "settings": {"model": "m"},
               "gain_over_soft_prompt": {"mpt": {"64": dict.fromkeys(XNLI_LANGUAGES, 0.01)}}}  # fmt: skip
    with console.capture() as captured:
        console.print(_table(summary))
    text = captured.get()
    assert "…" not in text
    assert text.count("45.7±1.2") == 6 * (len(XNLI_LANGUAGES) + 2)


def test_resuming_with_other_settings_is_refused(first_run, reproduce_options):
    from dataclasses import replace

    from mpt_cli.errors import MptError
    from mpt_cli.workflows.reproduce import reproduce

    before = sorted(reproduce_options.output.rglob("*"))
    with pytest.raises(MptError, match="made with max_examples=6, not 4; resume with the same settings"):
        reproduce(replace(reproduce_options, max_examples=4))
    assert sorted(reproduce_options.output.rglob("*")) == before


def test_joint_methods_sit_beside_soft_prompt_transfer(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    """The joint run and its ablation get their own prompt folders, rows and gains over soft-prompt transfer."""
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    options = ReproduceOptions(
        shots=(3,), seeds=(1,), methods=("soft-prompt", "joint", "joint-no-translator"), languages=LANGS,
        model=str(tiny_model_dir), data=str(toy_data_dir), parallel=str(parallel_dir), split="validation",
        output=tmp_path / "out", tune="lora", train=TrainConfig(epochs=2, batch_size=8), max_examples=6, cpu=True,
    )  # fmt: skip
    summary = reproduce(options)
    assert [r["method"] for r in summary["rows"]] == ["soft-prompt", "joint", "joint-no-translator"]
    assert set(summary["gain_over_soft_prompt"]) == {"joint", "joint-no-translator"}
    cell = tmp_path / "out" / "k3-s1"
    assert without_side_files(p.name for p in (cell / "prompts-joint").glob("*.safetensors")) == [
        "de.safetensors", "en.safetensors", "sw.safetensors"
    ]
    assert without_side_files(p.name for p in (cell / "prompts-joint-no-translator").glob("*.safetensors")) == ["en.safetensors"]
    joint = json.loads((cell / "joint" / "results.json").read_text())
    ablation = json.loads((cell / "joint-no-translator" / "results.json").read_text())
    assert joint["languages"]["de"]["prompt"]["kind"] == "translated"
    assert ablation["languages"]["de"]["prompt"]["kind"] == "source"


def test_adapter_methods_sit_beside_soft_prompt_and_two_stage_mpt(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    """The per-language method and its ablation translate the one source run into folders of their own;
    two-stage MPT keeps translating prompts only, in the source run's folder."""
    import torch

    from mpt_cli.artifacts import PromptArtifact
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    methods = ("soft-prompt", "mpt", "adapter", "adapter-no-translator")
    options = ReproduceOptions(
        shots=(3,), seeds=(1,), methods=methods, languages=LANGS, model=str(tiny_model_dir), data=str(toy_data_dir),
        parallel=str(parallel_dir), split="validation", output=tmp_path / "out", tune="full",
        train=TrainConfig(epochs=2, batch_size=8), align=AlignConfig(epochs=1), max_examples=6, cpu=True,
    )  # fmt: skip
    summary = reproduce(options)
    assert [r["method"] for r in summary["rows"]] == list(methods)
    assert set(summary["gain_over_soft_prompt"]) == set(methods[1:])
    cell = tmp_path / "out" / "k3-s1"
    source = PromptArtifact.load(cell / "prompts" / "en.safetensors")
    assert PromptArtifact.load(cell / "prompts" / "de.safetensors").info.language_adapter is None  # mpt: the prompt only
    for method in methods[2:]:
        folder = cell / f"prompts-{method}"
        de = PromptArtifact.load(folder / "de.safetensors")
        assert de.info.language_adapter and (folder / de.info.language_adapter).is_file()
        assert torch.equal(PromptArtifact.load(folder / "en.safetensors").prompt, source.prompt)  # the one source run
        assert torch.equal(de.prompt, source.prompt) == (method == "adapter-no-translator")
        results = json.loads((cell / method / "results.json").read_text())
        assert results["languages"]["sw"]["prompt"]["kind"] == "translated"


def _report(accuracies: dict[str, float]) -> dict:
    """A cell's results.json as summarise reads it: per-language accuracies (its own averages are not used)."""
    languages = {lang: {"accuracy": value} for lang, value in accuracies.items()}
    return {"languages": languages, "averages": {"all": -1.0, "targets": -1.0}}


def test_the_table_is_the_arithmetic_of_its_cells():
    from statistics import stdev

    from mpt_cli.workflows.summary import summarise

    results = {
        ("soft-prompt", 2, 1): _report({"en": 0.5, "de": 0.3, "sw": 0.2}),
        ("soft-prompt", 2, 2): _report({"en": 0.7, "de": 0.5, "sw": 0.6}),
        ("mpt", 2, 1): _report({"en": 0.6, "de": 0.4, "sw": 0.3}),
        ("mpt", 2, 2): _report({"en": 0.6, "de": 0.8, "sw": 0.3}),
    }
    summary = summarise(results, ("en", "de", "sw"), "en", compared=("mpt",))
    soft, mpt = summary["rows"]
    assert (soft["method"], soft["shots"], soft["seeds"]) == ("soft-prompt", 2, 2)
    assert soft["languages"]["en"] == {"mean": pytest.approx(0.6), "std": pytest.approx(stdev([0.5, 0.7]))}
    assert soft["languages"]["sw"] == {"mean": pytest.approx(0.4), "std": pytest.approx(stdev([0.2, 0.6]))}
    assert soft["average"] == {"mean": pytest.approx((1.0 / 3 + 1.8 / 3) / 2), "std": pytest.approx(stdev([1.0 / 3, 1.8 / 3]))}
    assert soft["targets"] == {"mean": pytest.approx(0.4), "std": pytest.approx(stdev([0.25, 0.55]))}
    assert mpt["languages"]["en"] == {"mean": pytest.approx(0.6), "std": 0.0}
    assert mpt["targets"] == {"mean": pytest.approx(0.45), "std": pytest.approx(stdev([0.35, 0.55]))}
    assert summary["gain_over_soft_prompt"] == {"mpt": {"2": {"en": pytest.approx(0.0), "de": pytest.approx(0.2),
                                                              "sw": pytest.approx(-0.1)}}}  # fmt: skip


@pytest.fixture
def finished_cells(tmp_path):
    """An --output whose cells (2 shots, seeds 1 and 2) were evaluated on en and de only; settings.json is
    the test's to write (:func:`_record`)."""
    output = tmp_path / "runs"
    for method, seed in [(m, s) for m in ("soft-prompt", "mpt") for s in (1, 2)]:
        path = output / f"k2-s{seed}" / method / "results.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(_report({"en": 0.5 + seed / 10, "de": 0.4 + seed / 10 + (method == "mpt") / 10})))
    return output


def _record(options, settings: dict | None = None) -> None:
    """Write the settings.json a run of ``options`` writes before its first cell (or ``settings`` as is)."""
    from mpt_cli.workflows.reproduce import settings_by_method

    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "settings.json").write_text(json.dumps(settings or {"by_method": settings_by_method(options)}))


def test_resuming_with_a_new_language_shows_the_joint_cells_missing_it(finished_cells, tiny_model_dir, toy_data_dir):
    """A joint cell trained its translators on its languages together: one asked for later is shown missing
    (None, '–'), and the cell is not run again."""
    from mpt_cli.workflows.reproduce import ReproduceOptions

    earlier = ReproduceOptions(
        shots=(2,), seeds=(1, 2), methods=("joint",), languages=("en", "de"), model=str(tiny_model_dir),
        data=str(toy_data_dir), output=finished_cells, tune="lora",
    )  # fmt: skip
    for seed in (1, 2):
        path = finished_cells / f"k2-s{seed}" / "joint" / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(_report({"en": 0.5 + seed / 10, "de": 0.4 + seed / 10})))
    done = {p: p.stat().st_mtime_ns for p in finished_cells.glob("*/joint/results.json")}
    _record(earlier)
    result = invoke("reproduce", "--shots", "2", "--seeds", "1,2", "--methods", "joint", "--langs", "en,de,sw",
                    "--output", finished_cells, "--model", tiny_model_dir, "--data", toy_data_dir, "--tune", "lora",
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    joint = json.loads(result.stdout)["rows"][0]
    assert joint["languages"]["sw"] is None and joint["average"] is None and joint["targets"] is None
    assert joint["languages"]["de"] == {"mean": pytest.approx(0.55), "std": pytest.approx(0.0707, abs=1e-4)}
    assert "–" in result.stderr and "Traceback" not in result.stderr
    assert {p: p.stat().st_mtime_ns for p in done} == done


def test_a_finished_run_asked_for_a_new_language_adds_it_and_keeps_what_it_trained(
    tiny_model_dir, toy_data_dir, parallel_dir, tmp_path
):
    """Widening --langs (a sample first, then every language): the per-language cells train and score only
    what they lack; the source run and the languages already translated are kept as they are."""
    from dataclasses import replace

    from mpt_cli.callbacks import Callbacks
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    options = ReproduceOptions(
        shots=(3,), seeds=(1,), methods=("soft-prompt", "adapter"), languages=("en", "de"), model=str(tiny_model_dir),
        data=str(toy_data_dir), parallel=str(parallel_dir), split="validation", output=tmp_path / "out", tune="prompt",
        train=TrainConfig(epochs=1, batch_size=8), align=AlignConfig(epochs=1), max_examples=6, cpu=True,
    )  # fmt: skip
    sample = reproduce(options)
    cell = tmp_path / "out" / "k3-s1"
    kept = [cell / "prompts" / "en.safetensors", cell / "prompts-adapter" / "de.safetensors"]
    made = {path: path.stat().st_mtime_ns for path in kept}
    stages = []
    every = reproduce(replace(options, languages=LANGS), Callbacks(on_stage=stages.append))
    assert "resuming: 0 of 2 cells already done; 2 of the others add the languages they lack" in stages
    assert {path: path.stat().st_mtime_ns for path in kept} == made
    assert (cell / "prompts-adapter" / "sw.safetensors").is_file()
    for before, after in zip(sample["rows"], every["rows"]):
        assert after["languages"]["de"] == before["languages"]["de"]
        assert after["languages"]["sw"] is not None and after["targets"] is not None
    stages.clear()
    reproduce(replace(options, languages=LANGS), Callbacks(on_stage=stages.append))
    assert not [stage for stage in stages if stage.startswith("cell ")]


def test_a_method_is_compared_on_the_settings_it_depends_on(finished_cells, tiny_model_dir, toy_data_dir):
    """soft-prompt does not depend on the alignment settings, mpt does: recorded per method, two runs
    with other alignment epochs can share a folder until one of them adds mpt."""
    from dataclasses import replace

    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.errors import MptError
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    options = ReproduceOptions(
        shots=(2,), seeds=(1, 2), methods=("soft-prompt",), languages=("en", "de"), model=str(tiny_model_dir),
        data=str(toy_data_dir), output=finished_cells, tune="prompt", align=AlignConfig(epochs=1),
    )  # fmt: skip
    _record(options)  # the settings of soft-prompt are recorded
    reproduce(options)  # every cell is there: nothing runs
    reproduce(replace(options, methods=("soft-prompt", "mpt"), align=AlignConfig(epochs=2)))  # adds mpt, with 2 epochs
    with pytest.raises(MptError, match="holds mpt cells made with align.epochs=2, not 3"):
        reproduce(replace(options, methods=("mpt",), align=AlignConfig(epochs=3)))
    with pytest.raises(MptError, match="holds soft-prompt cells made with max_examples=None, not 4"):
        reproduce(replace(options, max_examples=4))
    recorded = json.loads((finished_cells / "settings.json").read_text())["by_method"]
    assert (recorded["soft-prompt"].get("align.epochs"), recorded["mpt"]["align.epochs"]) == (None, 2)

    # a folder of a version before length-grouped batches records no such setting: its cells had random batches
    path = finished_cells / "settings.json"
    settings = json.loads(path.read_text())
    del settings["by_method"]["mpt"]["align.group_by_length"]
    path.write_text(json.dumps(settings))
    with pytest.raises(MptError, match="holds mpt cells made with align.group_by_length=False, not True"):
        reproduce(replace(options, methods=("mpt",), align=AlignConfig(epochs=2, group_by_length=True)))
    reproduce(replace(options, methods=("mpt",), align=AlignConfig(epochs=2)))


def test_a_setting_that_changes_nothing_does_not_stop_a_folder_resuming(finished_cells, tiny_model_dir, toy_data_dir):
    """While the masked-LM term is off its batch size changes nothing: a folder whose record names another
    one (an earlier default) resumes; a folder made without the term is refused a run with it."""
    from dataclasses import replace

    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.errors import MptError
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce, settings_by_method

    options = ReproduceOptions(
        shots=(2,), seeds=(1, 2), methods=("soft-prompt", "mpt"), languages=("en", "de"), model=str(tiny_model_dir),
        data=str(toy_data_dir), output=finished_cells, tune="prompt",
    )  # fmt: skip
    recorded = settings_by_method(options)
    assert "align.mlm_batch_size" not in recorded["mpt"] and recorded["mpt"]["align.mlm_weight"] == 0.0
    recorded["mpt"] |= {"align.mlm_batch_size": AlignConfig().mlm_batch_size * 2, "align.mlm_probability": 0.15}
    _record(options, {"by_method": recorded})
    assert [row["seeds"] for row in reproduce(options)["rows"]] == [2, 2]  # resumed: every cell was there
    with pytest.raises(MptError, match="holds mpt cells made with align.mlm_weight=0.0, not 0.1"):
        reproduce(replace(options, align=AlignConfig(mlm_weight=0.1)))


def test_a_folder_of_an_earlier_version_is_checked_for_what_its_cells_were_made_with(
    finished_cells, tiny_model_dir, toy_data_dir
):
    """Before --joint-pairs, settings.json was one flat set and the joint cells took --max-pairs (8,000):
    resuming with the joint methods' own 1,000 would put both pair counts in one table."""
    from dataclasses import replace

    from mpt_cli.errors import MptError
    from mpt_cli.workflows.reproduce import ReproduceOptions, _results_settings, reproduce

    options = ReproduceOptions(
        shots=(2,), seeds=(1, 2), methods=("soft-prompt", "joint"), languages=("en", "de"), model=str(tiny_model_dir),
        data=str(toy_data_dir), output=finished_cells, tune="lora", max_pairs=8000,  # the default of that version
    )  # fmt: skip
    for seed in (1, 2):
        path = finished_cells / f"k2-s{seed}" / "joint" / "results.json"
        path.parent.mkdir()
        path.write_text(json.dumps(_report({"en": 0.6, "de": 0.5})))
    flat = {k: v for k, v in _results_settings(options).items() if k != "joint_pairs" and "group_by_length" not in k}
    _record(options, flat)
    before = {p: p.read_bytes() for p in finished_cells.rglob("*") if p.is_file()}
    with pytest.raises(MptError, match="holds joint cells made with joint_pairs=8000, not 1000; resume with the same"):
        reproduce(options)
    assert {p: p.read_bytes() for p in finished_cells.rglob("*") if p.is_file()} == before
    summary = reproduce(replace(options, joint_pairs=8000))  # the pairs they were made with: resumed, nothing runs
    assert [(row["method"], row["seeds"]) for row in summary["rows"]] == [("soft-prompt", 2), ("joint", 2)]
    reproduce(replace(options, methods=("soft-prompt",)))  # soft-prompt does not depend on the pairs

    # a setting the folder's version did not record, and whose value then nobody knows, is refused too
    del flat["train.select"]
    _record(options, flat)
    with pytest.raises(MptError, match="holds soft-prompt cells made before mpt recorded train.select, so their"):
        reproduce(replace(options, joint_pairs=8000))


def test_cells_without_readable_settings_are_refused_in_one_line(finished_cells, tiny_model_dir, toy_data_dir):
    """Cells of a version that recorded no settings.json, or a settings.json mpt did not write, cannot be
    checked: one line, and nothing written."""
    args = ("reproduce", "--shots", "2", "--seeds", "1,2", "--methods", "soft-prompt,mpt", "--langs", "en,de",
            "--output", finished_cells, "--model", tiny_model_dir, "--data", toy_data_dir, "--tune", "prompt")  # fmt: skip
    before = sorted(finished_cells.rglob("*"))
    assert_clean_error(invoke(*args), "did not record their settings (no settings.json)", "choose another --output")
    assert sorted(finished_cells.rglob("*")) == before
    for text in ("{not json", "[1, 2]", '{"by_method": {"magic": {}}}'):
        (finished_cells / "settings.json").write_text(text)
        assert_clean_error(invoke(*args), "settings.json is not a settings file mpt wrote")
        assert not (finished_cells / "summary.json").exists()


def test_joint_cells_take_the_pair_counts_of_mpt_joint(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path, monkeypatch):
    """One owner: a joint cell's run is the one `mpt joint` makes by default (pairs per language, held out)."""
    import inspect

    from mpt_cli.cli.joint import joint_command
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows import cells
    from mpt_cli.workflows.reproduce import ReproduceOptions, reproduce

    class Seen(Exception):
        pass

    def seen(options, callbacks):
        raise Seen(options)

    monkeypatch.setattr(cells, "joint", seen)
    options = ReproduceOptions(
        shots=(3,), seeds=(1,), methods=("joint",), languages=LANGS, model=str(tiny_model_dir), data=str(toy_data_dir),
        parallel=str(parallel_dir), split="validation", output=tmp_path / "out", tune="lora", train=TrainConfig(epochs=1),
        max_examples=6, cpu=True,
    )  # fmt: skip
    with pytest.raises(Seen) as caught:
        reproduce(options)
    defaults = inspect.signature(joint_command).parameters
    joint_options = caught.value.args[0]
    assert (joint_options.max_pairs, joint_options.heldout) == (defaults["max_pairs"].default, defaults["heldout"].default)


def test_a_language_that_fails_is_named_with_why_and_the_table_groups_and_draws_the_rest(
    tiny_model_dir, toy_data_dir, parallel_dir, tmp_path, monkeypatch
):
    """One command over many languages: a language whose training fails is one line (the others go on), and
    the table and the chart give every language its script and group."""
    import mpt_cli.workflows.translate as translate_module
    from mpt_cli.errors import MptError

    train_language = translate_module.train_language

    def failing_in_swahili(options, prepared, target, callbacks, *later):
        if target == "sw":
            raise MptError("the pairs of sw are unreadable")
        return train_language(options, prepared, target, callbacks, *later)

    monkeypatch.setattr(translate_module, "train_language", failing_in_swahili)
    import mpt_cli.workflows.language_preparation as align_module
    from mpt_cli.engine.tokenizer_fit import TokenizerFit

    monkeypatch.setattr(align_module, "tokenizer_fit", lambda tokenizer, pairs: TokenizerFit(0.2, 1.0))
    groups, chart = tmp_path / "groups.tsv", tmp_path / "chart.svg"
    groups.write_text("language\tseen\ndeu_Latn\tyes\nswh_Latn\tno\n")
    result = invoke(
        "reproduce", "--shots", "3", "--seeds", "1", "--methods", "soft-prompt,adapter", "--langs", ",".join(LANGS),
        "--model", tiny_model_dir, "--data", toy_data_dir, "--parallel", parallel_dir, "--split", "validation",
        "--output", tmp_path / "out", "--tune", "prompt", "--epochs", "1", "--align-epochs", "1", "--max-examples", "6",
        "--groups", groups, "--plot", chart, "--cpu", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["failed"] == {"adapter": {"3": {"sw": "seed 1: the pairs of sw are unreadable"}}}
    stderr = " ".join(result.stderr.split())
    assert "adapter 3: sw (Swahili) failed (seed 1: the pairs of sw are unreadable); scored with the source prompt" in stderr
    assert stderr.count("epoch 1: train loss") == 2  # a cell's training says how it goes: the source run, de's adapter
    adapter = next(row for row in summary["rows"] if row["method"] == "adapter")
    seconds = adapter["train_seconds"]
    assert seconds["de"] > 0 and seconds["en"] is None and seconds["sw"] is None  # sw failed: it took no training
    assert "adapter 3 s" in stderr
    assert summary["tokenizer_warnings"].keys() == {"de", "sw"}
    assert "warning: the tokenizer reads de (German) badly: 20.0% of its pieces are unknown" in stderr
    assert "seen: yes (1)" in stderr and "seen: no (1)" in stderr and "Latn" in stderr
    drawn = chart.read_text()
    assert "adapter, 3 shots" in drawn and "source prompt" in drawn


def test_the_table_gives_each_group_the_mean_of_its_targets():
    from mpt_cli.cli.common import console
    from mpt_cli.cli.reproduce import _table
    from mpt_cli.language_groups import LanguageGroups
    from mpt_cli.workflows.summary import panels, summarise

    results = {
        ("soft-prompt", 2, 1): _report({"en": 0.5, "de": 0.3, "sw": 0.2, "yo": 0.1}),
        ("adapter", 2, 1): _report({"en": 0.5, "de": 0.4, "sw": 0.6, "yo": 0.5}),
    }
    summary = summarise(results, ("en", "de", "sw", "yo"), "en", compared=("adapter",)) | {"settings": {"model": "m"}}
    groups = LanguageGroups("in_xlmr", {"de": "yes", "sw": "yes", "yo": "no"})
    with console.capture() as captured:
        console.print(_table(summary, groups))
    rows = {line.split("│")[1].strip(): [cell.strip() for cell in line.split("│")[4:-1]]
            for line in captured.get().splitlines() if line.count("│") > 4}  # fmt: skip
    assert rows["in_xlmr: yes (2)"] == ["25.0", "50.0", "+25.0"]
    assert rows["in_xlmr: no (1)"] == ["10.0", "50.0", "+40.0"]
    (panel,) = panels(summary, groups)
    assert [(b.language, b.accuracy, b.source_accuracy, b.group) for b in panel.bars] == [
        ("de", 0.4, 0.3, "yes"), ("sw", 0.6, 0.2, "yes"), ("yo", 0.5, 0.1, "no")
    ]  # fmt: skip
