"""Hostile input: every case ends in one ``error:`` line and exit status 2, and changes no file.

Each case runs in a workspace (the current folder during the test) holding a fully tuned prompts
folder with a translated German prompt and a translator, toy NLI data, a parallel corpus and a file of
pairs to label. The whole tree is compared before and after, so a case that writes, replaces or
deletes anything fails, whatever the message.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from conftest import assert_clean_error, invoke, snapshot_tree, write_tsv

from mpt_cli.errors import MptError

NO_MODEL = "/nonexistent/model"  # options must be refused before a model could be looked for


@pytest.fixture
def workspace(routing_dir, toy_data_dir, parallel_dir, tmp_path, monkeypatch) -> Path:
    work = tmp_path / "work"
    shutil.copytree(routing_dir, work / "prompts")
    shutil.copytree(toy_data_dir, work / "data")
    shutil.copytree(parallel_dir, work / "parallel")
    write_tsv(work / "pairs.tsv", [("a man walks", "a man sits"), ("the dog runs", "the dog sleeps")])
    (work / "folder").mkdir()
    (work / "folder" / "notes.txt").write_text("mine")
    (work / "results.txt").write_text("mine")
    _write_translator(work / "prompts")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(work)
    return work


def _write_translator(prompts: Path) -> None:
    """An identity translator en -> de for the source prompt in ``prompts``."""
    from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact, TranslatorInfo
    from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig
    from mpt_cli.fileformat import tensor_sha256

    source = PromptArtifact.load(prompts / "en.safetensors")
    translator = PromptTranslator(TranslatorConfig(source.info.hidden_size))
    info = TranslatorInfo(
        source_language="en", target_language="de", architecture=asdict(translator.config), backbone=source.info.backbone,
        backbone_fingerprint=source.info.backbone_fingerprint, source_prompt_sha256=tensor_sha256(source.prompt), alignment={},
        corpus="toy", corpus_sha256="0", pairs=1, heldout_pairs=1, steps=1, heldout_kl_before=0.0, heldout_kl_after=0.0, seed=1,
    )  # fmt: skip
    TranslatorArtifact(translator.state_dict(), source.prompt, info).save(prompts / "translators" / "en-de.safetensors")


# --------------------------------------------------------------------------------------------------
# Tampering with files, bypassing mpt's own writers
# --------------------------------------------------------------------------------------------------


def rewrite(path: str, tensors=None, **meta) -> None:
    """Rewrite the safetensors file ``path`` with some tensors and metadata values replaced (or removed: None)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(path, framework="pt") as handle:
        old_meta = handle.metadata()
        old = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118 - a safe_open handle is not iterable
    new = {k: v.contiguous() for k, v in (old | (tensors or {})).items() if v is not None}
    save_file(new, path, metadata={k: v for k, v in (old_meta | meta).items() if v is not None})


def de_prompt(tensor_of):
    return lambda: rewrite("prompts/de.safetensors", {"prompt": tensor_of(_tensor("prompts/de.safetensors", "prompt"))})


TRANSLATOR = "prompts/translators/en-de.safetensors"


def translator_weight(name: str, tensor_of):
    return lambda: rewrite(TRANSLATOR, {name: tensor_of(_tensor(TRANSLATOR, name))})


def translator_architecture(change):
    """Rewrite the translator's architecture metadata (a JSON object) to ``change(architecture)``."""
    from safetensors import safe_open

    def setup():
        with safe_open(TRANSLATOR, framework="pt") as handle:
            architecture = json.loads(handle.metadata()["architecture"])
        rewrite(TRANSLATOR, architecture=json.dumps(change(architecture)))

    return setup


def _tensor(path: str, name: str) -> torch.Tensor:
    from safetensors import safe_open

    with safe_open(path, framework="pt") as handle:
        return handle.get_tensor(name)


def nan_at_start(t: torch.Tensor) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[0] = float("nan")
    return t


def a_dir(name: str):
    return lambda: (Path(name).mkdir(), (Path(name) / "x").write_text("mine"))


PREDICT = ["predict", "pairs.tsv", "--lang", "de", "--cpu"]
EVAL = ["eval", "--split", "validation", "--data", "data", "--langs", "en,de", "--cpu"]
TRAIN = ["train-source", "--model", NO_MODEL, "--data", "data", "--prompts-dir", "new-prompts", "--cpu"]
JOINT = ["joint", "--to", "de", "--parallel", "parallel", "--cpu"]
TRANSLATE = ["translate", "--to", "de", "--method", "prompt", "--overwrite", "--cpu"]
# a finished de (the crafted prompt and its translator) is skipped, and must stay as it is
TRANSLATE_MORE = ["translate", "--method", "prompt", "--parallel", "parallel", "--data", "data", "--cpu"]
REPRODUCE = ["reproduce", "--model", NO_MODEL, "--data", "data", "--output", "runs", "--cpu"]

CASES = {
    # 1. --output and --overwrite never destroy what is not mpt's
    "predict-output-dot": (None, [*PREDICT, "--output", ".", "--overwrite"], "the folder you run from"),
    "predict-output-empty": (None, [*PREDICT, "--output", "", "--overwrite"], "the folder you run from"),
    "predict-output-parent": (None, [*PREDICT, "--output", "..", "--overwrite"], "the folder you run from"),
    "predict-output-home": (None, [*PREDICT, "--output", "{home}", "--overwrite"], "your home"),
    "predict-output-is-input": (None, [*PREDICT, "--output", "pairs.tsv", "--overwrite"], "it is the input pairs.tsv"),
    "predict-output-prompts": (None, [*PREDICT, "--output", "prompts", "--overwrite"], "it is the input prompts"),
    "predict-output-a-prompt": (None, [*PREDICT, "--output", "prompts/en.safetensors", "--overwrite"],
                                "inside the input prompts"),
    "predict-output-folder": (None, [*PREDICT, "--output", "folder", "--overwrite"], "is a folder and mpt writes a file"),
    "predict-output-exists": (None, [*PREDICT, "--output", "results.txt"], "already exists; pass --overwrite"),
    "eval-output-dot": (None, [*EVAL, "--output", ".", "--overwrite"], "the folder you run from"),
    "eval-output-prompts": (None, [*EVAL, "--output", "prompts", "--overwrite"], "it is the input prompts"),
    "eval-output-data": (None, [*EVAL, "--output", "data", "--overwrite"], "it is the input data"),
    "eval-output-file": (None, [*EVAL, "--output", "results.txt", "--overwrite"], "is a file and mpt writes a folder"),
    "eval-output-users-folder": (None, [*EVAL, "--output", "folder", "--overwrite"], "was not written by mpt"),
    "eval-output-holds-prompts": (None, [*EVAL, "--prompts-dir", "folder/../prompts", "--output", "..", "--overwrite"],
                                  "run from"),
    "joint-output-dot": (None, [*JOINT, "--output", ".", "--overwrite"], "the folder you run from"),
    "joint-output-prompts": (None, [*JOINT, "--output", "prompts", "--overwrite"], "it is the input prompts"),
    "joint-output-users-folder": (None, [*JOINT, "--output", "folder", "--overwrite"], "was not written by mpt"),
    "joint-output-parallel": (None, [*JOINT, "--output", "parallel", "--overwrite"], "it is the input parallel"),
    "train-prompts-dir-is-data-file": (None, [*TRAIN, "--prompts-dir", "pairs.tsv"], "is a file"),
    # 4. artifacts are validated against themselves and the backbone
    "prompt-wrong-rows": (de_prompt(lambda t: t[:1]), PREDICT, "should be a float tensor of shape"),
    "prompt-3d": (de_prompt(lambda t: t.unsqueeze(0)), PREDICT, "should be a float tensor of shape"),
    "prompt-too-wide": (de_prompt(lambda t: torch.cat([t, t], 1)), PREDICT, "should be a float tensor of shape"),
    "prompt-integer": (de_prompt(lambda t: t.long()), PREDICT, "should be a float tensor of shape"),
    "prompt-nan": (de_prompt(nan_at_start), PREDICT, "NaN or infinite"),
    "prompt-inf": (de_prompt(lambda t: t / 0), PREDICT, "NaN or infinite"),
    "prompt-missing": (lambda: rewrite("prompts/de.safetensors", {"prompt": None}), PREDICT, "has no 'prompt' tensor"),
    "verbalizer-a-string": (lambda: rewrite("prompts/de.safetensors", verbalizer='"yes"'),
                            PREDICT, "verbalizer should be list[str]"),
    "verbalizer-two-words": (lambda: rewrite("prompts/de.safetensors", verbalizer='["yes", "no"]'),
                             PREDICT, "damaged metadata: task 'xnli' needs 3 label words"),
    "prompt-length-text": (lambda: rewrite("prompts/de.safetensors", prompt_length='"two"'),
                           PREDICT, "prompt_length should be int"),
    "hidden-size-bool": (lambda: rewrite("prompts/de.safetensors", hidden_size="true"), PREDICT, "hidden_size should be int"),
    "metadata-not-json": (lambda: rewrite("prompts/de.safetensors", training="{oops"), PREDICT, "damaged metadata"),
    "dev-accuracy-nan": (lambda: rewrite("prompts/de.safetensors", dev_accuracy="NaN"), PREDICT, "dev_accuracy should be float"),
    "format-version": (lambda: rewrite("prompts/de.safetensors", format_version="99"), PREDICT, "format version 99"),
    "not-a-prompt": (lambda: rewrite("prompts/de.safetensors", format="mpt.translator"), PREDICT, "is not an mpt prompt"),
    "truncated-prompt": (lambda: Path("prompts/de.safetensors").write_bytes(Path("prompts/de.safetensors").read_bytes()[:100]),
                         PREDICT, "truncated or damaged"),
    "empty-prompt-file": (lambda: Path("prompts/de.safetensors").write_bytes(b""), PREDICT, "truncated or damaged"),
    "backbone-path-outside": (lambda: rewrite("prompts/en.safetensors", tuned_backbone="../elsewhere"),
                              PREDICT, "not a file beside it"),
    "backbone-path-absolute": (lambda: rewrite("prompts/en.safetensors", tuned_backbone="/tmp"), PREDICT, "not a file beside it"),
    "translator-wrong-shape": (translator_weight("translator.up.weight", lambda t: t[:, :3]), TRANSLATE, "translator.up.weight"),
    "translator-nan": (translator_weight("translator.down.bias", nan_at_start), TRANSLATE, "NaN or infinite"),
    "translator-missing-weight": (translator_weight("translator.down.bias", lambda t: None), TRANSLATE,
                                  "should hold the translator weights"),
    "translator-source-1d": (translator_weight("source_prompt", lambda t: t[0]), TRANSLATE,
                             "'source_prompt' tensor of 2 dimensions"),
    "translator-source-narrow": (translator_weight("source_prompt", lambda t: t[:, :3]), TRANSLATE, "the source prompt in"),
    "translator-architecture": (lambda: rewrite("prompts/translators/en-de.safetensors", architecture="[]"), TRANSLATE,
                                "architecture should be dict"),
    # the two of the issue: an unknown architecture field was a traceback; a wrong-shaped source prompt was translated
    "translator-unknown-field": (translator_architecture(lambda a: a | {"depth": 3}), TRANSLATE,
                                 f"{TRANSLATOR} has damaged metadata in architecture: unknown field 'depth'"),
    "translator-source-short": (translator_weight("source_prompt", lambda t: t[:1]), TRANSLATE,
                                f"the source prompt in {TRANSLATOR} should be a float tensor of shape"),
    "translator-source-long": (translator_weight("source_prompt", lambda t: torch.cat([t, t])), TRANSLATE,
                               "the source prompt in"),
    "translator-source-nan": (translator_weight("source_prompt", nan_at_start), TRANSLATE, "NaN or infinite"),
    "translator-inf": (translator_weight("translator.up.bias", lambda t: t + float("inf")), TRANSLATE, "NaN or infinite"),
    "translator-extra-tensor": (lambda: rewrite(TRANSLATOR, {"notes": torch.zeros(1)}), TRANSLATE,
                                "should hold the translator weights and source prompt"),
    "translator-no-hidden-size": (translator_architecture(lambda a: {k: v for k, v in a.items() if k != "hidden_size"}),
                                  TRANSLATE, "missing 1 required positional argument: 'hidden_size'"),
    "translator-hidden-size-text": (translator_architecture(lambda a: a | {"hidden_size": "32"}), TRANSLATE,
                                    "hidden_size should be int"),
    "translator-residual-text": (translator_architecture(lambda a: a | {"residual": "no"}), TRANSLATE, "residual should be bool"),
    "translator-init": (translator_architecture(lambda a: a | {"init": "zeros"}), TRANSLATE,
                        "translator init 'zeros' is unknown"),
    "translator-width": (translator_architecture(lambda a: a | {"width": 3 * a["hidden_size"]}), TRANSLATE,
                         "translator.up.weight in"),
    # a side file gone: the prompt that needs it and the command that remakes it
    "tuned-backbone-missing": (lambda: [shutil.rmtree(p) for p in Path("prompts").glob("en.backbone-*")], PREDICT,
                               "prompts/en.safetensors needs its tuned backbone en.backbone-",
                               "`mpt train-source --lang en --tune full --prompts-dir prompts --overwrite`"),
    "encoder-weights-missing": (lambda: [p.unlink() for p in Path("prompts").glob("en.state-*")], JOINT,
                                "prompts/en.safetensors needs its prompt-encoder weights en.state-"),
    # data is read and checked before a model loads (here, --model would be refused at the load)
    "eval-bad-data-before-model": (lambda: write_tsv(Path("data/dev-de.tsv"), [("a", "b", "entailment", "x", "y")]),
                                   [*EVAL, "--model", NO_MODEL], "dev-de.tsv line 1"),
    "predict-bad-row-before-model": (lambda: write_tsv(Path("bad.tsv"), [("only a premise",)]),
                                     ["predict", "bad.tsv", "--lang", "de", "--model", NO_MODEL, "--cpu"], "bad.tsv line 1"),
    # usage errors too are one line: an unknown option, a missing or malformed value
    "joint-unknown-option": (None, [*JOINT, "--frobnicate", "1"], "No such option: --frobnicate", "mpt joint --help"),
    "eval-not-a-number": (None, [*EVAL, "--max-examples", "many"], "Invalid value for '--max-examples'"),
    "predict-option-without-value": (None, [*PREDICT, "--lang"], "Option '--lang' requires an argument"),
    "joint-model-for-a-full-run": (None, [*JOINT, "--model", NO_MODEL], f"--model {NO_MODEL} cannot replace it"),
    # 5. options are checked before data is read or a model is loaded
    "train-lr-inf": (None, [*TRAIN, "--prompt-lr", "inf"], "--prompt-lr must be greater than 0 and finite"),
    "train-lr-nan": (None, [*TRAIN, "--prompt-lr", "nan"], "--prompt-lr must be greater than 0"),
    "train-seed-huge": (None, [*TRAIN, "--seed", str(2**64)], "--seed must be between 0 and 2**63 - 1"),
    "train-seed-negative": (None, [*TRAIN, "--seed", "-1"], "--seed must be between"),
    "train-tune": (None, [*TRAIN, "--tune", "nonsense"], "tune mode 'nonsense' is unknown"),
    "train-template": (None, [*TRAIN, "--template", "{premise} {mask}"], "must contain {hypothesis} exactly once"),
    "train-max-length": (None, [*TRAIN, "--max-length", "0"], "--max-length must be greater than 0"),
    "train-lora-rank": (None, [*TRAIN, "--tune", "lora", "--lora-rank", "0"], "--lora-rank must be greater than 0"),
    "train-verbalizer": (None, [*TRAIN, "--verbalizer", "yes,no"], "verbalizer 'yes,no' must be a preset"),
    "train-encoder": (None, [*TRAIN, "--encoder", "gru"], "prompt encoder kind 'gru' is unknown"),
    "train-language": (None, [*TRAIN, "--lang", "xx"], "xx"),
    "eval-split": (None, [*EVAL, "--split", "bogus", "--prompts-dir", "nowhere"], "unknown split 'bogus'"),
    "eval-max-examples": (None, [*EVAL, "--max-examples", "0", "--prompts-dir", "nowhere"],
                          "--max-examples must be greater than 0"),
    "reproduce-shots": (None, [*REPRODUCE, "--shots", "0"], "--shots must be greater than 0"),
    "reproduce-split": (None, [*REPRODUCE, "--split", "bogus"], "unknown split 'bogus'"),
    "reproduce-tune": (None, [*REPRODUCE, "--tune", "bogus"], "tune mode 'bogus' is unknown"),
    "reproduce-seed": (None, [*REPRODUCE, "--seeds", "1,-1"], "--seed must be between"),
    "joint-alpha": (None, [*JOINT, "--alpha", "2"], "alpha must be between 0 and 1"),
    "joint-translator-lr": (None, [*JOINT, "--translator-lr", "inf"], "--translator-lr must be greater than 0"),
    "joint-epochs": (None, [*JOINT, "--epochs", "0"], "--epochs must be greater than 0"),
    "align-seed": (None, ["align", "--to", "de", "--seed", str(2**70), "--cpu"], "--seed must be between"),
    # 6. many languages: bad input for one is refused before anything is written
    "translate-no-pair-file": (None, [*TRANSLATE_MORE, "--to", "de,fr"], "parallel has no en-fr.tsv"),
    "translate-dev-data-lacks-language": (
        lambda: (Path("dev").mkdir(), shutil.copy("data/dev-en.tsv", "dev/dev-en.tsv")),
        [*TRANSLATE_MORE, "--to", "de,sw", "--dev-data", "dev"], "dev has no dev-sw.tsv",
    ),
    "translate-two-files-unequal": (
        lambda: (Path("en.txt").write_text("a man walks\nthe dog runs\n"), Path("sw.txt").write_text("a dog sits\n")),
        [*TRANSLATE_MORE, "--to", "sw", "--parallel", "en.txt,sw.txt"], "en.txt has 2 lines but sw.txt has 1",
    ),
    "translate-empty-pair-file": (lambda: Path("parallel/en-sw.tsv").write_text(""), [*TRANSLATE_MORE, "--to", "de,sw"],
                                  "en-sw.tsv has no sentence pairs"),
    "translate-all-no-pairs": (None, [*TRANSLATE_MORE, "--to", "all", "--parallel", "folder"], "holds no en-xx.tsv pair files"),
    "translate-one-pair": (lambda: Path("parallel/en-sw.tsv").write_text("a man walks\tthe dog runs\n"),
                           [*TRANSLATE_MORE, "--to", "de,sw"], "en-sw.tsv"),
    # 7. odd input: one line naming the file and line
    "jsonl-nested-deep": (lambda: Path("deep.jsonl").write_text('{"premise": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
                          ["predict", "deep.jsonl", "--lang", "de", "--cpu"], "deep.jsonl line 1: invalid JSON"),
    "jsonl-huge-number": (
        lambda: Path("big.jsonl").write_text('{"premise": "a", "hypothesis": "b", "label": ' + "9" * 5000 + "}\n"),
        ["predict", "big.jsonl", "--lang", "de", "--cpu"], "big.jsonl line 1: invalid JSON",
    ),
    "csv-huge-field": (
        lambda: (
            Path("csvdata").mkdir(),
            Path("csvdata/train.csv").write_text('premise,hypothesis,label\n"' + "a" * 200_000 + '",b,entailment\n'),
        ),
        [*TRAIN, "--data", "csvdata/train.csv"], "train.csv line",
    ),
    "tsv-five-columns": (lambda: write_tsv(Path("data/train-en.tsv"), [("a", "b", "entailment", "x", "y")]),
                         [*TRAIN, "--model", "tiny"],
                         "train-en.tsv line 1: expected premise<TAB>hypothesis<TAB>label, found 5 columns"),
}  # fmt: skip


@pytest.mark.parametrize("name", CASES)
def test_hostile_input_is_one_clear_line_and_changes_nothing(name, workspace, tiny_model_dir):
    setup, args, *fragments = CASES[name]
    if setup:
        setup()
    placeholders = {"tiny": str(tiny_model_dir), "{home}": os.environ["HOME"]}
    args = [placeholders.get(a, a) for a in args]
    before = snapshot_tree(workspace.parent)
    result = invoke(*args)
    assert_clean_error(result, *fragments)
    assert snapshot_tree(workspace.parent) == before


def test_a_crash_between_the_two_saves_of_a_full_run_keeps_the_old_prompt(make_options, tmp_path, monkeypatch):
    """Killed after the tuned backbone is written but before the prompt: the old pair still loads, and
    the next run removes the orphaned backbone."""
    from mpt_cli.artifacts import PromptArtifact
    from mpt_cli.store import PromptStore
    from mpt_cli.workflows.train_source import train_source

    first = train_source(make_options(tune="full"))
    before = snapshot_tree(tmp_path / "prompts")
    save = PromptArtifact.save

    def crash(self, path, overwrite=False):
        raise KeyboardInterrupt  # kill -9 cannot be caught; a crash here stands for it

    monkeypatch.setattr(PromptArtifact, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        train_source(make_options(tune="full", seed=4, overwrite=True))
    artifact = PromptArtifact.load(first.path)
    PromptStore(first.path.parent).load_backbone(artifact, cpu=True)  # the old prompt still finds its own backbone
    orphans = {p.name for p in (tmp_path / "prompts").iterdir()} - {p.split("/")[0] for p in before}
    assert {name.split("-")[0] for name in orphans} == {"en.backbone", "en.state"}  # the new run's side files

    monkeypatch.setattr(PromptArtifact, "save", save)
    second = train_source(make_options(tune="full", seed=4, overwrite=True))
    names = sorted(p.name for p in (tmp_path / "prompts").iterdir())
    assert names == ["README.md", second.info.tuned_backbone, "en.safetensors", second.info.training_state]


def test_a_full_disk_while_saving_is_one_error_and_leaves_nothing(tmp_path, monkeypatch):
    import safetensors.torch
    from conftest import raises_mpt
    from test_artifacts import make_info

    from mpt_cli.artifacts import PromptArtifact

    path = tmp_path / "en.safetensors"

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with raises_mpt(str(path), "No space left on device"):
        PromptArtifact(torch.zeros(2, 4), make_info()).save(path)
    assert os.listdir(tmp_path) == []


def test_temporary_folders_of_killed_writers_are_removed_by_the_next_write(tmp_path):
    from mpt_cli.outputs import atomic_path

    dead = tmp_path / ".labelled.tsv.mpt-999999999-abcd1234"  # no such process
    dead_other_name = tmp_path / ".en.backbone-0123456789ab.mpt-999999999-abcd1234"  # a side folder of a killed run
    live = tmp_path / f".labelled.tsv.mpt-{os.getpid()}-abcd1234"
    other = tmp_path / ".labelled.tsv.notes"  # not ours: another layout
    for folder in (dead, live):
        folder.mkdir()
        (folder / "labelled.tsv").write_text("half")
    (dead_other_name / "en.backbone-0123456789ab").mkdir(parents=True)
    other.mkdir()
    with atomic_path(tmp_path / "labelled.tsv") as tmp:
        tmp.write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, other.name, "labelled.tsv"])


def test_a_pickled_checkpoint_is_not_loaded(tiny_model_dir, tmp_path):
    """Only safetensors weights load: a pickle can run code when it is unpickled."""
    from conftest import raises_mpt
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    from mpt_cli.engine.backbone import Backbone

    model = AutoModelForMaskedLM.from_pretrained(tiny_model_dir)
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path)
    with raises_mpt("cannot load a masked language model"):
        Backbone.load(str(tmp_path), cpu=True)


def test_settings_json_is_not_written_for_refused_options(workspace):
    result = invoke(*REPRODUCE, "--shots", "4,0")
    assert_clean_error(result, "--shots must be greater than 0")
    assert not Path("runs").exists()


class _Killed(BaseException):
    """A kill: no handler of mpt's runs (it is no Exception), so what was on disk stays as it was."""


@pytest.mark.parametrize("step", [0, 1, 2])
@pytest.mark.parametrize("next_write", ["same", "beside"])
def test_a_folder_replacement_killed_at_any_step_leaves_a_complete_folder(tmp_path, monkeypatch, step, next_write):
    """Steps: move the old folder aside, move the new one in, delete the old one. Killed before each, the
    folder is complete (old or new) somewhere, and the next write beside it puts a complete one in place."""
    from mpt_cli import outputs

    target = tmp_path / "prompts-joint"

    def write(version: str) -> None:
        with outputs.atomic_path(target, overwrite=True, folder=True) as tmp:
            tmp.mkdir()
            for part in ("a", "b"):
                (tmp / f"{part}.safetensors").write_text(version)

    write("old")
    calls = []

    def killing(real):
        def step_or_kill(*args, **kwargs):
            calls.append(args)
            if len(calls) > step:
                raise _Killed
            return real(*args, **kwargs)

        return step_or_kill

    with monkeypatch.context() as patched:
        patched.setattr(outputs.os, "replace", killing(os.replace))
        patched.setattr(outputs.shutil, "rmtree", killing(shutil.rmtree))
        with pytest.raises(_Killed):
            write("new")

    def complete(folder: Path) -> str | None:
        texts = {(folder / f"{part}.safetensors").read_text() for part in ("a", "b") if (folder / f"{part}.safetensors").exists()}
        return texts.pop() if len(texts) == 1 and (folder / outputs.MARKER).is_file() else None

    candidates = [target, *tmp_path.glob(".prompts-joint.mpt-*/*")]
    assert any(complete(folder) for folder in candidates if folder.is_dir())
    monkeypatch.setattr(outputs, "_process_alive", lambda pid: False)  # the killed writer is gone
    if next_write == "same":
        with pytest.raises(MptError, match="already exists"):  # the next run sees the folder, not a gap to write into
            outputs.atomic_path(target, overwrite=False, folder=True)
    else:
        with outputs.atomic_path(tmp_path / "other.tsv") as tmp:
            tmp.write_text("x")
    assert complete(target) == ("old" if step == 0 else "new")
    assert {p.name for p in tmp_path.iterdir()} == {"prompts-joint"} | ({"other.tsv"} if next_write == "beside" else set())
