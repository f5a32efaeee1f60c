"""Two-stage alignment training, and ``mpt align`` / ``mpt translate``."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import (
    ALIGN_TRAIN,
    FAST_ALIGN,
    NLI,
    align_options,
    assert_clean_error,
    invoke,
    other_language,
    snapshot_tree,
    source_options,
    toy_sentences,
    without_side_files,
    write_tsv,
)

from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact
from mpt_cli.data import load_examples, select
from mpt_cli.data.parallel import load_parallel
from mpt_cli.engine import teacher as engine_teacher
from mpt_cli.engine.align import (
    AlignConfig,
    ParallelSet,
    Teacher,
    TeacherStates,
    alignment_kl,
    heldout_kl,
    train_translator,
)
from mpt_cli.engine.loop import LabelledSet
from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from mpt_cli.engine.scorer import Scorer
from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig
from mpt_cli.fileformat import tensor_sha256
from mpt_cli.store import PromptStore
from mpt_cli.workflows.align import align
from mpt_cli.workflows.train_source import train_source
from mpt_cli.workflows.translate import translate

H, P = 8, 3


def prompt(seed: int = 0, shape=(P, H), scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------
# Alignment training on the toy corpus
# --------------------------------------------------------------------------------------------------


def train_identity_translator(aligner, source: torch.Tensor, config: AlignConfig):
    """``(translator, result, epoch records)`` of an identity-initialised translator trained on the toy pairs."""
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(source.shape[1]))
    epochs = []
    result = train_translator(
        aligner["backbone"], translator, source, aligner["train"], aligner["heldout"], None, aligner["label_words"], config,
        seed=0, on_epoch=epochs.append,
    )  # fmt: skip
    return translator, result, epochs


def test_alignment_lowers_the_heldout_kl(aligner):
    source = aligner["artifact"].prompt.clone()
    translator, result, epochs = train_identity_translator(aligner, source, AlignConfig(epochs=3, batch_size=8, lr=1e-2))
    assert result.heldout_kl_before > 0.05  # the toy languages really differ at the start
    assert result.heldout_kl_after < 0.9 * result.heldout_kl_before
    assert result.steps == 3 * math.ceil(ALIGN_TRAIN / 8)
    assert all(math.isfinite(e.train_loss) and e.train_loss >= 0 for e in epochs)
    assert torch.equal(source, aligner["artifact"].prompt)  # the source prompt is left alone
    assert not torch.equal(translator(source), source)  # the translator moved away from the identity


def test_the_translator_is_kept_from_the_epoch_with_the_lowest_heldout_kl(aligner):
    source = aligner["artifact"].prompt
    config = AlignConfig(epochs=4, batch_size=8, lr=3e-2)
    translator, result, epochs = train_identity_translator(aligner, source, config)
    scores = [e.dev_score for e in epochs]
    assert [e.metric.name for e in epochs] == ["held-out KL"] * 4
    assert result.best_epoch == scores.index(min(scores)) + 1
    assert result.heldout_kl_after == min(scores)
    with torch.no_grad():
        kept = heldout_kl(aligner["backbone"], aligner["heldout"], source, translator(source), config, aligner["label_words"])
    assert kept == pytest.approx(min(scores), rel=1e-5)


def test_heldout_kl_before_training_is_that_of_the_source_prompt(aligner):
    """With the identity start, 'before' measures plain soft-prompt transfer (the source prompt as is)."""
    source = aligner["artifact"].prompt
    config = AlignConfig(epochs=1, batch_size=8, lr=1e-2)
    plain = heldout_kl(aligner["backbone"], aligner["heldout"], source, source, config, aligner["label_words"])
    result = train_translator(
        aligner["backbone"], PromptTranslator(TranslatorConfig(source.shape[1])), source, aligner["train"],
        aligner["heldout"], None, aligner["label_words"], config, seed=0,
    )  # fmt: skip
    assert result.heldout_kl_before == pytest.approx(plain, rel=1e-5)


def test_heldout_kl_is_zero_when_both_sides_are_the_same(aligner):
    same = ParallelSet(aligner["heldout"].source, aligner["heldout"].source)
    source = aligner["artifact"].prompt
    value = heldout_kl(aligner["backbone"], same, source, source, AlignConfig(), aligner["label_words"])
    assert value == pytest.approx(0.0, abs=1e-6)


def test_heldout_kl_does_not_depend_on_the_batch_size(aligner):
    source = aligner["artifact"].prompt
    target = source + prompt(seed=11, shape=source.shape, scale=0.5)
    values = [
        heldout_kl(
            aligner["backbone"], aligner["heldout"], source, target, AlignConfig(eval_batch_size=size), aligner["label_words"]
        )
        for size in (1, 5, 64)
    ]
    assert values[0] > 0
    assert values[1] == pytest.approx(values[0], rel=1e-4) and values[2] == pytest.approx(values[0], rel=1e-4)


@pytest.mark.parametrize("space", ["labels", "vocab"])
def test_cached_teacher_gives_the_same_loss(aligner, space):
    backbone, train = aligner["backbone"], aligner["train"]
    source = aligner["artifact"].prompt
    target = source + prompt(seed=12, shape=source.shape, scale=0.5)
    config = AlignConfig(kl_space=space)
    rows = [0, 3, 5, 11, 17, 23]
    cached_teacher = Teacher(backbone, train.source, batch_size=4)
    cached = alignment_kl(
        backbone, cached_teacher, train.target, rows, source, target, config, aligner["label_words"], cached=True
    )
    assert cached_teacher.cache is not None and cached_teacher.cache.shape == (ALIGN_TRAIN, backbone.hidden_size)
    uncached_teacher = Teacher(backbone, train.source, batch_size=4)
    uncached = alignment_kl(
        backbone, uncached_teacher, train.target, rows, source, target, config, aligner["label_words"], cached=False
    )
    assert uncached_teacher.cache is None
    assert cached.item() > 0
    torch.testing.assert_close(cached, uncached, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(
        cached_teacher.states(rows, source, True), uncached_teacher.states(rows, source, False), rtol=1e-5, atol=1e-6
    )


def test_cached_teacher_is_computed_once(aligner, monkeypatch):
    backbone, train = aligner["backbone"], aligner["train"]
    source = aligner["artifact"].prompt
    teacher = Teacher(backbone, train.source, batch_size=8)
    teacher.states([0, 1], source, cached=True)
    calls = []
    monkeypatch.setattr(teacher, "_compute", lambda *args: calls.append(args))
    teacher.states([2, 5, 7], source, cached=True)
    assert calls == []


def counting_teacher_passes(monkeypatch) -> list[int]:
    """The number of inputs of every teacher forward pass from now on."""
    passes, real = [], engine_teacher._teacher_pass
    monkeypatch.setattr(engine_teacher, "_teacher_pass", lambda backbone, examples, prompt: passes.append(len(examples)) or
                        real(backbone, examples, prompt))  # fmt: skip
    return passes


def test_shared_teacher_states_compute_each_input_once_across_languages(aligner, monkeypatch):
    """Two languages whose English sides overlap in part: the second pays only for the inputs it does not share,
    and every state is what the per-language teacher computes."""
    backbone, train = aligner["backbone"], aligner["train"]
    source = aligner["artifact"].prompt
    first, second = train.source[:80], train.source[40:] + train.source[:10]  # 50 shared with the first, 40 new
    passes = counting_teacher_passes(monkeypatch)
    shared = TeacherStates(backbone, batch_size=16)
    states_first = Teacher(backbone, first, 16, shared).states(list(range(80)), source, cached=True)
    assert sum(passes) == 80
    states_second = Teacher(backbone, second, 16, shared).states(list(range(90)), source, cached=True)
    assert sum(passes) == 80 + 40 and len(shared.kept) == ALIGN_TRAIN
    # the first language's states are exactly what a teacher of its own computes (the same batches)
    assert torch.equal(states_first, Teacher(backbone, first, 16).states(list(range(80)), source, cached=True))
    alone = Teacher(backbone, second, 16).states(list(range(90)), source, cached=False)  # other batches: float tolerance
    torch.testing.assert_close(states_second, alone, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="another source prompt"):
        shared.states(first, source + 1)


def test_a_shared_teacher_trains_what_a_teacher_of_its_own_trains(aligner, monkeypatch):
    """A second language with the same English side: no teacher pass at all, and the translator it trains is
    the one a run of that language alone trains, bit for bit."""
    source = aligner["artifact"].prompt
    config = AlignConfig(epochs=2, batch_size=8, lr=1e-2)

    def trained(shared):
        torch.manual_seed(0)
        translator = PromptTranslator(TranslatorConfig(source.shape[1]))
        result = train_translator(
            aligner["backbone"], translator, source, aligner["train"], aligner["heldout"], None, aligner["label_words"],
            config, seed=0, shared=shared,
        )  # fmt: skip
        return translator.state_dict(), result

    alone, alone_result = trained(None)
    shared = TeacherStates(aligner["backbone"], config.eval_batch_size)
    trained(shared)  # the run's first language fills it
    passes = counting_teacher_passes(monkeypatch)
    again, again_result = trained(shared)
    assert passes == []
    assert all(torch.equal(again[name], weights) for name, weights in alone.items())
    assert again_result == alone_result


def test_vocab_space_kl(aligner):
    backbone, train, label_words = aligner["backbone"], aligner["train"], aligner["label_words"]
    source = aligner["artifact"].prompt
    target = (source + prompt(seed=13, shape=source.shape, scale=0.5)).requires_grad_(True)
    rows = [1, 2, 4]
    teacher = Teacher(backbone, train.source, batch_size=8)
    states = teacher.states(rows, source, cached=False)
    assert states.shape == (3, backbone.hidden_size)
    assert backbone.project(states).shape == (3, len(backbone.tokenizer))
    assert backbone.project(states, label_words).shape == (3, 3)
    vocab_config = AlignConfig(kl_space="vocab")
    vocab = alignment_kl(backbone, teacher, train.target, rows, source, target, vocab_config, label_words, cached=False)
    labels = alignment_kl(backbone, teacher, train.target, rows, source, target, AlignConfig(), label_words, cached=False)
    assert vocab.dim() == 0 and math.isfinite(vocab.item()) and vocab.item() > 0
    assert vocab.item() != pytest.approx(labels.item(), rel=1e-3)
    vocab.backward()
    assert target.grad is not None and torch.isfinite(target.grad).all() and target.grad.abs().sum() > 0


def test_training_in_vocab_space(aligner):
    source = aligner["artifact"].prompt
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(source.shape[1]))
    config = AlignConfig(epochs=1, batch_size=8, lr=1e-2, kl_space="vocab", kl_direction="symmetric")
    losses = []
    result = train_translator(
        aligner["backbone"], translator, source, aligner["train"], aligner["heldout"], None, aligner["label_words"], config,
        seed=0, on_step=losses.append,
    )  # fmt: skip
    assert len(losses) == result.steps == ALIGN_TRAIN // 8
    assert all(math.isfinite(x) and x >= 0 for x in losses)
    assert math.isfinite(result.heldout_kl_before) and math.isfinite(result.heldout_kl_after)
    assert result.heldout_kl_before > 0


def encoder_of(artifact: PromptArtifact, prompts: Path) -> PromptEncoder:
    encoder = PromptEncoder(PromptEncoderConfig(**artifact.info.prompt_encoder))
    encoder.load_state_dict(PromptStore(prompts).training_state(artifact))
    return encoder


def few_shot_set(aligner, toy_data_dir) -> LabelledSet:
    info = aligner["artifact"].info
    examples = select(load_examples(NLI, str(toy_data_dir), "en", "train"), tuple(info.split_manifest["train_ids"]))
    encoded = aligner["template"].encode([e.texts for e in examples])
    return LabelledSet(encoded, [e.label for e in examples])


@pytest.mark.parametrize("freeze", [True, False])
def test_source_encoder_learns_only_when_not_frozen(aligner, toy_data_dir, freeze):
    encoder = encoder_of(aligner["artifact"], aligner["prompts"])
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    with torch.no_grad():
        assert torch.allclose(encoder(), aligner["artifact"].prompt, atol=1e-5)
    config = AlignConfig(epochs=1, batch_size=8, lr=1e-2, source_lr=1e-2, freeze_source=freeze, alpha=0.5)
    result = train_translator(
        aligner["backbone"], PromptTranslator(TranslatorConfig(encoder.config.hidden_size)), encoder, aligner["train"],
        aligner["heldout"], few_shot_set(aligner, toy_data_dir), aligner["label_words"], config, seed=0,
    )  # fmt: skip
    changed = any(not torch.equal(before[k], v) for k, v in encoder.state_dict().items())
    assert changed is not freeze
    assert not encoder.training
    assert math.isfinite(result.heldout_kl_after)


def test_training_is_deterministic(aligner):
    source = aligner["artifact"].prompt
    outputs = []
    for _ in range(2):
        torch.manual_seed(0)
        translator = PromptTranslator(TranslatorConfig(source.shape[1], init="random"))
        config = AlignConfig(epochs=1, batch_size=8, lr=1e-2)
        train_translator(
            aligner["backbone"], translator, source, aligner["train"], aligner["heldout"], None, aligner["label_words"], config,
            seed=5,
        )  # fmt: skip
        with torch.no_grad():
            outputs.append(translator(source))
    assert torch.equal(outputs[0], outputs[1])


# --------------------------------------------------------------------------------------------------
# mpt align / mpt translate
# --------------------------------------------------------------------------------------------------


def cli_args(command: str, prompts: Path, data: Path, parallel, *extra) -> list:
    return [
        command, "--prompts-dir", prompts, "--data", data, "--parallel", parallel, "--epochs", "1", "--batch-size", "8",
        "--heldout", "5", "--cpu", *extra,
    ]  # fmt: skip


def test_align_cli_writes_the_translator_and_reports_json(prompts_copy, toy_data_dir, parallel_dir):
    extra = ("--to", "de", "--max-dev-examples", "20", "--json")
    result = invoke(*cli_args("align", prompts_copy, toy_data_dir, parallel_dir, *extra))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    path = prompts_copy / "translators" / "en-de.safetensors"
    assert without_side_files(snapshot_tree(prompts_copy)) == ["en.safetensors", "translators/en-de.safetensors"]

    (row,) = json.loads(result.stdout)
    assert row["target"] == "de" and row["translator"] == str(path)
    assert row["pairs"] == 25 and row["heldout_pairs"] == 5 and row["steps"] == math.ceil(25 / 8)
    assert row["heldout_kl_before"] > 0 and row["heldout_kl_after"] >= 0
    assert row["dev_examples"] == 20
    assert all(round(row[key] * 20, 5).is_integer() for key in ("dev_accuracy_source", "dev_accuracy_translated"))  # of 20 rows

    source = PromptArtifact.load(prompts_copy / "en.safetensors")
    artifact = TranslatorArtifact.load(path)
    info = artifact.info
    assert (info.source_language, info.target_language) == ("en", "de")
    assert info.architecture == {"hidden_size": 32, "width": None, "residual": False, "init": "identity"}
    assert info.backbone == source.info.backbone and info.backbone_fingerprint == source.info.backbone_fingerprint
    assert info.source_prompt_sha256 == tensor_sha256(source.prompt)
    assert torch.equal(artifact.source_prompt, source.prompt)
    assert info.corpus == str(parallel_dir / "en-de.tsv")
    assert info.corpus_sha256 == hashlib.sha256((parallel_dir / "en-de.tsv").read_bytes()).hexdigest()
    assert (info.pairs, info.heldout_pairs, info.steps) == (25, 5, row["steps"])
    assert info.heldout_kl_before == pytest.approx(row["heldout_kl_before"])
    assert info.heldout_kl_after == pytest.approx(row["heldout_kl_after"])
    assert info.alignment["epochs"] == 1 and info.alignment["batch_size"] == 8 and info.alignment["freeze_source"]
    assert info.dev == {
        "data": str(toy_data_dir),
        "examples": 20,
        "source_accuracy": row["dev_accuracy_source"],
        "translated_accuracy": row["dev_accuracy_translated"],
    }
    assert info.versions["torch"] == torch.__version__ and info.created

    # the reported source accuracy is that of the source prompt on the first 20 German dev examples
    backbone = PromptStore(prompts_copy).load_backbone(source, cpu=True)
    scorer = PromptStore.scorer(source, backbone)
    template, label_words = scorer.template, scorer.label_words
    examples = load_examples(NLI, str(toy_data_dir), "de", "validation")[:20]
    scores, _ = Scorer(backbone, template, label_words, NLI).score(source.prompt, examples)
    assert scores.accuracy == pytest.approx(row["dev_accuracy_source"])
    translator = PromptTranslator(TranslatorConfig(**info.architecture))
    translator.load_state_dict(artifact.weights)
    with torch.no_grad():
        translated, _ = Scorer(backbone, template, label_words, NLI).score(translator(source.prompt), examples)
    assert translated.accuracy == pytest.approx(row["dev_accuracy_translated"])

    # a second run refuses to replace it, before any work
    before = path.read_bytes()
    again = invoke(*cli_args("align", prompts_copy, toy_data_dir, parallel_dir, "--to", "de"))
    assert_clean_error(again, str(path), "already exists", "--overwrite")
    assert path.read_bytes() == before


def test_align_without_dev_data_for_the_target_skips_the_dev_scores(prompts_copy, toy_data_dir, parallel_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for name in ("train-en.tsv", "dev-en.tsv"):
        shutil.copy(toy_data_dir / name, data / name)
    result = invoke(*cli_args("align", prompts_copy, data, parallel_dir, "--to", "sw", "--json"))
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["dev_examples"] is None and row["dev_accuracy_source"] is None and row["dev_accuracy_translated"] is None
    assert TranslatorArtifact.load(prompts_copy / "translators" / "en-sw.safetensors").info.dev == {}


def test_align_vocab_space_symmetric_via_the_cli(prompts_copy, toy_data_dir, parallel_dir):
    extra = ("--to", "sw", "--kl-space", "vocab", "--kl", "symmetric", "--json")
    result = invoke(*cli_args("align", prompts_copy, toy_data_dir, parallel_dir, *extra))
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert math.isfinite(row["heldout_kl_before"]) and math.isfinite(row["heldout_kl_after"]) and row["heldout_kl_before"] > 0
    info = TranslatorArtifact.load(prompts_copy / "translators" / "en-sw.safetensors").info
    assert info.alignment["kl_space"] == "vocab" and info.alignment["kl_direction"] == "symmetric"


def test_align_with_translator_options(prompts_copy, toy_data_dir, parallel_dir):
    extra = ("--to", "de", "--translator-width", "16", "--residual", "--translator-init", "random", "--seed", "4")
    result = invoke(*cli_args("align", prompts_copy, toy_data_dir, parallel_dir, *extra))
    assert result.exit_code == 0, result.output
    artifact = TranslatorArtifact.load(prompts_copy / "translators" / "en-de.safetensors")
    assert artifact.info.architecture == {"hidden_size": 32, "width": 16, "residual": True, "init": "random"}
    assert artifact.weights["up.weight"].shape == (16, 32) and artifact.info.seed == 4


def test_align_with_a_learning_source_prompt_keeps_the_source_file(prompts_copy, toy_data_dir, parallel_dir):
    before = (prompts_copy / "en.safetensors").read_bytes()
    learning = FAST_ALIGN | {"freeze_source": False, "source_lr": 1e-2}
    options = align_options(prompts_copy, toy_data_dir, parallel_dir, align=learning)
    (result,) = align(options)
    artifact = TranslatorArtifact.load(result.translator)
    source = PromptArtifact.load(prompts_copy / "en.safetensors")
    assert (prompts_copy / "en.safetensors").read_bytes() == before
    assert not torch.allclose(artifact.source_prompt, source.prompt, atol=1e-6)  # the adapted source is stored
    assert artifact.info.source_prompt_sha256 == tensor_sha256(source.prompt)  # it still names the file it started from
    assert artifact.info.alignment["freeze_source"] is False


def test_translate_runs_the_missing_alignment_first_and_keeps_lora(tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    prompts = tmp_path / "prompts"
    trained = invoke(
        "train-source", "--tune", "lora", "--lora-rank", "4", "--model", tiny_model_dir, "--data", toy_data_dir,
        "--prompts-dir", prompts, "--shots", "4", "--dev-shots", "4", "--epochs", "1", "--prompt-length", "2",
        "--max-length", "48", "--cpu",
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    extra = ("--to", "de", "--max-dev-examples", "20", "--json")
    result = invoke(*cli_args("translate", prompts, toy_data_dir, parallel_dir, *extra))
    assert result.exit_code == 0, result.output
    assert without_side_files(snapshot_tree(prompts)) == ["de.safetensors", "en.safetensors", "translators/en-de.safetensors"]
    (row,) = json.loads(result.stdout)
    assert row["language"] == "de" and row["prompt"] == str(prompts / "de.safetensors")
    assert row["translator"] == str(prompts / "translators" / "en-de.safetensors")
    assert row["alignment"] is not None and row["alignment"]["target"] == "de" and row["alignment"]["dev_examples"] == 20

    source = PromptArtifact.load(prompts / "en.safetensors")
    translated = PromptArtifact.load(prompts / "de.safetensors")
    translator_file = TranslatorArtifact.load(prompts / "translators" / "en-de.safetensors")
    info = translated.info
    assert (info.language, info.kind, info.source_language) == ("de", "translated", "en")
    assert info.translator == "translators/en-de.safetensors"
    assert info.source_prompt_sha256 == tensor_sha256(source.prompt)
    assert info.dev_accuracy == translator_file.info.dev["translated_accuracy"]
    shared = ("backbone", "backbone_fingerprint", "tune", "lora_rank", "template", "verbalizer", "prompt_length", "max_length")
    for field in shared:
        assert getattr(info, field) == getattr(source.info, field), field
    assert info.tune == "lora" and info.lora_rank == 4
    assert source.info.adapters and (info.adapters, info.adapters_sha256) == (source.info.adapters, source.info.adapters_sha256)
    assert info.training_state is None  # training state belongs to the source prompt alone
    translator = PromptTranslator(TranslatorConfig(**translator_file.info.architecture))
    translator.load_state_dict(translator_file.weights)
    with torch.no_grad():  # (the last bits of a CPU matmul depend on the memory alignment of its input)
        torch.testing.assert_close(translated.prompt, translator(source.prompt), rtol=0, atol=1e-6)
    assert not torch.allclose(translated.prompt, source.prompt, atol=1e-6)  # one epoch moved it

    # the written prompt scores on German dev data what the alignment reported for it
    evaluated = invoke(
        "eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", prompts,
        "--max-examples", "20", "--cpu", "--json",
    )  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.stdout)
    assert report["languages"]["de"]["prompt"]["kind"] == "translated"
    assert report["languages"]["de"]["accuracy"] == pytest.approx(row["alignment"]["dev_accuracy_translated"])
    assert not any("older" in w for w in report["warnings"])


def test_translate_all_takes_the_corpus_languages_and_uses_the_existing_translators(translated_dir, parallel_dir, tmp_path):
    prompts = Path(shutil.copytree(translated_dir, tmp_path / "prompts"))
    (prompts / "de.safetensors").unlink()
    result = invoke(
        "translate", "--to", "all", "--parallel", parallel_dir, "--method", "prompt", "--prompts-dir", prompts, "--cpu", "--json"
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["language"] for r in rows] == ["de", "sw"]
    assert all(r["alignment"] is None for r in rows)
    assert without_side_files(snapshot_tree(prompts)) == [
        "de.safetensors", "en.safetensors", "sw.safetensors", "translators/en-de.safetensors", "translators/en-sw.safetensors",
    ]  # fmt: skip
    original = PromptArtifact.load(translated_dir / "de.safetensors")
    assert torch.equal(PromptArtifact.load(prompts / "de.safetensors").prompt, original.prompt)
    swahili = PromptArtifact.load(prompts / "sw.safetensors")
    assert swahili.info.language == "sw" and swahili.info.translator == "translators/en-sw.safetensors"
    sw_translator = TranslatorArtifact.load(prompts / "translators" / "en-sw.safetensors")
    assert swahili.info.dev_accuracy == sw_translator.info.dev["translated_accuracy"]


def parallel_folder(folder: Path, english: dict[str, list[tuple[str, ...]]]) -> Path:
    """``en-{lang}.tsv`` for each language, from the English inputs (one or two texts) given for it."""
    folder.mkdir()
    for lang, inputs in english.items():
        write_tsv(folder / f"en-{lang}.tsv", [(*texts, *(other_language(t, lang) for t in texts)) for texts in inputs])
    return folder


def translated_weights(prompts: Path, lang: str) -> list[torch.Tensor]:
    """What a translation into ``lang`` learned: its prompt, translator and adapter weights."""
    store, artifact = PromptStore(prompts), PromptArtifact.load(prompts / f"{lang}.safetensors")
    weights = [artifact.prompt, *TranslatorArtifact.load(prompts / "translators" / f"en-{lang}.safetensors").weights.values()]
    if artifact.info.language_adapter:
        weights += [state for _, state in sorted(store.language_adapter(artifact)[1].items())]
    return weights


@pytest.mark.parametrize("method", ["adapter", "prompt"])
def test_languages_with_the_same_english_side_share_one_teacher_pass(
    method, source_prompts_dir, toy_data_dir, tmp_path, monkeypatch
):
    """translate --to de,sw on a corpus parallel across languages: the teacher runs once per English input, and
    each language learns, bit for bit, what a run of that language alone learns."""
    english = [(sentence,) for sentence in toy_sentences(30, seed=5)]
    parallel = parallel_folder(tmp_path / "parallel", {"de": english, "sw": english})
    run = lambda prompts, targets: translate(align_options(prompts, toy_data_dir, parallel, targets=targets, method=method))
    copy = lambda name: Path(shutil.copytree(source_prompts_dir, tmp_path / name))
    passes = counting_teacher_passes(monkeypatch)
    both = copy("both")
    assert [t.outcome for t in run(both, ("de", "sw"))] == ["written", "written"]
    assert sum(passes) == 30  # 25 pairs and 5 held out, the same English inputs for both languages
    for lang in ("de", "sw"):
        alone = copy(lang)
        run(alone, (lang,))
        for shared, own in zip(translated_weights(both, lang), translated_weights(alone, lang), strict=True):
            assert torch.equal(shared, own), lang


def test_languages_whose_english_sides_differ_in_part_pay_only_for_the_rest(
    source_prompts_dir, toy_data_dir, tmp_path, monkeypatch
):
    """The rows sw does not share with de are computed for sw; what sw learns is what it learns alone, up to the
    float rounding of the other batches its shared rows were computed in."""
    sentences = toy_sentences(80, seed=5)
    english = list(zip(sentences[::2], sentences[1::2], strict=True))  # 40 premise-hypothesis inputs
    parallel = parallel_folder(tmp_path / "parallel", {"de": english[:30], "sw": english[10:]})
    inputs = {lang: {pair.source for pair in load_parallel(str(parallel), "en", lang).pairs} for lang in ("de", "sw")}
    assert len(inputs["de"] & inputs["sw"]) == 20 and len(inputs["de"] | inputs["sw"]) == 40
    run = lambda prompts, targets: translate(align_options(prompts, toy_data_dir, parallel, targets=targets))
    passes = counting_teacher_passes(monkeypatch)
    both = Path(shutil.copytree(source_prompts_dir, tmp_path / "both"))
    run(both, ("de", "sw"))
    assert sum(passes) == 40
    alone = Path(shutil.copytree(source_prompts_dir, tmp_path / "sw"))
    run(alone, ("sw",))
    for shared, own in zip(translated_weights(both, "sw"), translated_weights(alone, "sw"), strict=True):
        torch.testing.assert_close(shared, own, rtol=1e-4, atol=1e-6)


def test_translate_keeps_an_existing_prompt_without_overwrite(translated_dir, tmp_path):
    prompts = Path(shutil.copytree(translated_dir, tmp_path / "prompts"))
    before = snapshot_tree(prompts)
    result = invoke("translate", "--to", "de", "--prompts-dir", prompts, "--cpu")
    assert_clean_error(result, str(prompts / "de.safetensors"), "already exists", "--overwrite")
    assert snapshot_tree(prompts) == before


def test_a_changed_source_prompt_is_detected(translated_dir, tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    prompts = Path(shutil.copytree(translated_dir, tmp_path / "prompts"))
    old_source = PromptArtifact.load(prompts / "en.safetensors")
    train_source(source_options(tiny_model_dir, toy_data_dir, prompts, seed=4, overwrite=True))
    assert not torch.equal(PromptArtifact.load(prompts / "en.safetensors").prompt, old_source.prompt)

    before = snapshot_tree(prompts)
    result = invoke("translate", "--to", "de", "--method", "prompt", "--overwrite", "--prompts-dir", prompts, "--cpu")
    assert_clean_error(result, "en-de.safetensors", "another en prompt", "`mpt align --to de --overwrite`")
    assert snapshot_tree(prompts) == before

    eval_args = (
        "eval", "--langs", "en,de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", prompts, "--cpu", "--json",
    )  # fmt: skip
    evaluated = invoke(*eval_args)
    assert evaluated.exit_code == 0, evaluated.output
    stale = [w for w in json.loads(evaluated.stdout)["warnings"] if "older en prompt" in w]
    assert len(stale) == 1 and "de.safetensors" in stale[0] and "`mpt translate --to de --overwrite`" in stale[0]
    assert any(line.startswith("warning:") and "older en prompt" in line for line in evaluated.stderr.splitlines())

    # following the advice brings everything up to date
    realigned = invoke(*cli_args("align", prompts, toy_data_dir, parallel_dir, "--to", "de", "--overwrite"))
    assert realigned.exit_code == 0, realigned.output
    retranslated = invoke("translate", "--to", "de", "--method", "prompt", "--overwrite", "--prompts-dir", prompts, "--cpu")
    assert retranslated.exit_code == 0, retranslated.output
    again = invoke(*eval_args)
    assert again.exit_code == 0, again.output
    assert not any("older" in w for w in json.loads(again.stdout)["warnings"])


# --------------------------------------------------------------------------------------------------
# Bad input: exit 2, one error line, nothing written
# --------------------------------------------------------------------------------------------------


def corpus_lines(count: int = 12) -> list[tuple[str, str]]:
    return [(s, other_language(s, "de")) for s in toy_sentences(count, seed=41)]


def make_missing_tab(tmp_path, env):
    lines = ["\t".join(pair) for pair in corpus_lines()]
    lines[2] = lines[2].replace("\t", " ")
    (tmp_path / "p.tsv").write_text("\n".join(lines) + "\n")
    return {"parallel": tmp_path / "p.tsv"}


def make_unequal_files(tmp_path, env):
    pairs = corpus_lines()
    (tmp_path / "a.txt").write_text("".join(a + "\n" for a, _ in pairs))
    (tmp_path / "b.txt").write_text("".join(b + "\n" for _, b in pairs[:10]))
    return {"parallel": f"{tmp_path / 'a.txt'},{tmp_path / 'b.txt'}"}


def make_empty_corpus(tmp_path, env):
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "en-de.tsv").write_text("")
    return {"parallel": tmp_path / "corpus"}


def make_single_pair(tmp_path, env):
    return {"parallel": write_tsv(tmp_path / "one.tsv", corpus_lines(1))}


def make_no_source_prompt(tmp_path, env):
    (env["prompts"] / "en.safetensors").unlink()
    return {}


def make_translated_source(tmp_path, env):
    path = env["prompts"] / "en.safetensors"
    artifact = PromptArtifact.load(path)
    PromptArtifact(artifact.prompt, replace(artifact.info, kind="translated")).save(path, overwrite=True)
    return {}


def make_existing_output(tmp_path, env):
    name = "translators/en-de.safetensors" if env["command"] == "align" else "de.safetensors"
    (env["prompts"] / name).parent.mkdir(exist_ok=True)
    (env["prompts"] / name).write_text("keep me")
    return {"expect": name}


def make_missing_dev_data(tmp_path, env):
    (tmp_path / "dev-data").mkdir()
    return {"dev-data": tmp_path / "dev-data"}


ALIGN_BAD_INPUTS = {
    "unknown-target": (lambda t, e: {"to": "xx"}, ["'xx' is not a language code"]),
    "source-as-target": (lambda t, e: {"to": "en"}, ["en is the source language"]),
    "source-among-targets": (lambda t, e: {"to": "de,en"}, ["en is the source language"]),
    "unknown-source": (lambda t, e: {"source": "zz"}, ["'zz' is not a language code"]),
    "missing-tab": (make_missing_tab, ["p.tsv line 3", "no tab"]),
    "unequal-line-counts": (make_unequal_files, ["a.txt has 12 lines", "b.txt has 10", "line-aligned"]),
    "empty-corpus": (make_empty_corpus, ["en-de.tsv", "no sentence pairs"]),
    "single-pair": (make_single_pair, ["at least 2 sentence pairs"]),
    "nonexistent-corpus": (lambda t, e: {"parallel": t / "nowhere.tsv"}, ["nowhere.tsv", "does not exist"]),
    "folder-without-the-pair": (lambda t, e: {"to": "fr"}, ["no en-fr.tsv", "found: en-de.tsv, en-sw.tsv"]),
    "no-source-prompt": (make_no_source_prompt, ["no source prompt", "`mpt train-source --lang en`"]),
    "translated-source-prompt": (make_translated_source, ["is a translated prompt"]),
    "other-backbone": (lambda t, e: {"model": e["other_model"]}, ["fingerprint", "--model"]),
    "narrow-translator": (lambda t, e: {"translator-width": 40}, ["2H = 64"]),
    "unknown-translator-init": (lambda t, e: {"translator-init": "zeros"}, ["translator init 'zeros'"]),
    "unknown-kl-direction": (lambda t, e: {"kl": "sideways"}, ["KL direction 'sideways'"]),
    "unknown-kl-space": (lambda t, e: {"kl-space": "tokens"}, ["KL space 'tokens'"]),
    "alpha-above-one": (lambda t, e: {"alpha": 1.5}, ["alpha must be between 0 and 1"]),
    "zero-epochs": (lambda t, e: {"epochs": 0}, ["--epochs must be greater than 0"]),
    "zero-lr": (lambda t, e: {"lr": 0}, ["--lr must be greater than 0"]),
    "existing-output": (make_existing_output, ["already exists", "--overwrite"]),
    "missing-dev-data": (make_missing_dev_data, ["dev-de.tsv", "found: none"]),
}
ALSO_THROUGH_TRANSLATE = {
    "unknown-target", "source-as-target", "missing-tab", "unequal-line-counts", "empty-corpus", "no-source-prompt",
    "other-backbone", "narrow-translator", "existing-output",
}  # fmt: skip
"""translate runs the same alignment for a missing translator: the cases where its own path could differ."""
ALIGN_CASES = [
    pytest.param(command, make, fragments, id=f"{command}-{name}")
    for name, (make, fragments) in ALIGN_BAD_INPUTS.items()
    for command in ("align", "translate")
    if command == "align" or name in ALSO_THROUGH_TRANSLATE
]


@pytest.mark.parametrize(("command", "make", "fragments"), ALIGN_CASES)
def test_bad_input_is_one_clean_error_and_writes_nothing(
    command, make, fragments, prompts_copy, toy_data_dir, parallel_dir, other_model_dir, tmp_path
):
    env = {"prompts": prompts_copy, "command": command, "other_model": other_model_dir}
    options = {"to": "de", "parallel": parallel_dir} | make(tmp_path, env)
    expect = options.pop("expect", None)
    args = [command, "--prompts-dir", prompts_copy, "--data", toy_data_dir, "--epochs", "1", "--heldout", "2", "--cpu"]
    for key, value in options.items():
        args += [f"--{key}", str(value)]
    before = snapshot_tree(tmp_path)
    error = assert_clean_error(invoke(*args), *fragments)
    if expect:
        assert str(prompts_copy / expect) in error
    assert snapshot_tree(tmp_path) == before


def test_truncated_translator_is_reported_by_translate(prompts_copy, translated_dir):
    (prompts_copy / "translators").mkdir()
    path = prompts_copy / "translators" / "en-de.safetensors"
    data = (translated_dir / "translators" / "en-de.safetensors").read_bytes()
    path.write_bytes(data[: len(data) // 2])
    before = snapshot_tree(prompts_copy)
    result = invoke("translate", "--to", "de", "--method", "prompt", "--prompts-dir", prompts_copy, "--cpu")
    assert_clean_error(result, str(path), "not a readable safetensors file")
    assert snapshot_tree(prompts_copy) == before


def test_prompt_file_in_place_of_a_translator_is_reported_by_translate(prompts_copy):
    (prompts_copy / "translators").mkdir()
    shutil.copy(prompts_copy / "en.safetensors", prompts_copy / "translators" / "en-de.safetensors")
    before = snapshot_tree(prompts_copy)
    result = invoke("translate", "--to", "de", "--method", "prompt", "--prompts-dir", prompts_copy, "--cpu")
    assert_clean_error(result, "en-de.safetensors", "is not an mpt translator")
    assert snapshot_tree(prompts_copy) == before


def test_a_missing_corpus_for_a_later_target_fails_before_any_training(prompts_copy, toy_data_dir, parallel_dir, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(parallel_dir / "en-de.tsv", corpus / "en-de.tsv")
    before = snapshot_tree(tmp_path)
    result = invoke(*cli_args("align", prompts_copy, toy_data_dir, corpus, "--to", "de,sw"))
    assert_clean_error(result, "no en-sw.tsv")
    assert snapshot_tree(tmp_path) == before


@pytest.mark.parametrize("max_pairs", ["0", "-1"])
def test_non_positive_max_pairs_is_a_clean_error(prompts_copy, toy_data_dir, parallel_dir, tmp_path, max_pairs):
    before = snapshot_tree(tmp_path)
    result = invoke(*cli_args("align", prompts_copy, toy_data_dir, parallel_dir, "--to", "de", "--max-pairs", max_pairs))
    assert_clean_error(result, "max-pairs")
    assert snapshot_tree(tmp_path) == before


def test_usage_error_without_to():
    result = invoke("align")
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "--to" in result.stderr


def test_toy_languages_really_differ():
    """Guards the alignment tests: the toy target language must not be the source text."""
    english = toy_sentences(10, seed=5)
    assert all(other_language(s, "de") != s for s in english)
    assert all(other_language(s, "de") != other_language(s, "sw") for s in english)


@pytest.mark.parametrize(("tune", "method"), [("lora", "prompt"), ("lora", "adapter"), ("full", "prompt")])
def test_the_source_runs_own_weights_get_no_gradient_in_translation(
    make_options, toy_data_dir, parallel_dir, tmp_path, monkeypatch, tune, method
):
    """Alignment trains translators (and a language's own adapter): the source run's LoRA adapters or tuned
    transformer stay as they are, so no gradient is computed or kept for them."""
    from mpt_cli.workflows.translate import translate

    train_source(make_options(tune=tune, lora_rank=2))
    loaded, load_backbone = [], PromptStore.load_backbone

    def keep(*args, **kwargs):
        loaded.append(load_backbone(*args, **kwargs))
        return loaded[-1]

    monkeypatch.setattr(PromptStore, "load_backbone", keep)
    translate(align_options(tmp_path / "prompts", toy_data_dir, parallel_dir, method=method))
    (backbone,) = loaded
    own = {id(p) for p in backbone.language_adapters.parameters("de")} if method == "adapter" else set()
    source_weights = [(name, p) for name, p in backbone.model.named_parameters() if id(p) not in own]
    assert any("lora_" in name for name, _ in source_weights) == (tune == "lora")
    assert [name for name, p in source_weights if p.requires_grad or p.grad is not None] == []
