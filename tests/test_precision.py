"""Mixed precision on the CPU: training, scoring and predicting under bf16 autocast (``MPT_PRECISION=bf16``),
so that dtype mistakes of the GPU path show here. Weights, probabilities and files stay float32."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import LEARNING_TRAIN, NLI, align_options, assert_clean_error, invoke, toy_rows, train_capturing_backbone, write_tsv
from safetensors.torch import load_file

from mpt_cli.artifacts import PromptArtifact
from mpt_cli.data import Example
from mpt_cli.engine.batching import collate
from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig
from mpt_cli.store import PromptStore
from mpt_cli.template import TemplateEncoder

BF16_TOLERANCE = 0.05
"""bf16 keeps 8 significant bits: probabilities of the tiny model move by about a hundredth."""


@pytest.fixture
def precision(monkeypatch):
    """``precision("bf16")``: models placed from then on compute in that precision (each keeps its own)."""
    return lambda value: monkeypatch.setenv("MPT_PRECISION", value)


def assert_float32_and_finite(folder: Path) -> int:
    """Every tensor of every safetensors file under ``folder`` is float32 and finite; returns the file count."""
    files = sorted(folder.rglob("*.safetensors"))
    for path in files:
        for name, tensor in load_file(path).items():
            assert tensor.dtype == torch.float32, (path, name, tensor.dtype)
            assert torch.isfinite(tensor).all(), (path, name)
    return len(files)


def test_the_backbone_computes_in_bf16_and_hands_back_float32(load_backbone, precision):
    precision("bf16")
    backbone = load_backbone()
    template = TemplateEncoder(NLI.template, backbone.tokenizer, 2, backbone.max_length, NLI.inputs)
    encoded = template.encode([("the man walks", "the dog sleeps"), ("a cat", "a dog")])
    batch = collate(encoded, [0, 1], backbone.tokenizer.pad_token_id, 2)
    prompt = torch.randn(2, backbone.hidden_size, generator=torch.Generator().manual_seed(0))
    for output in (backbone.mask_states(batch, prompt), backbone.mask_logits(batch, prompt)):
        assert output.dtype == torch.float32
        assert torch.equal(output, output.bfloat16().float())  # bf16 values: the forward pass did run in bf16


@pytest.mark.parametrize(("value", "attention"), [("bf16", "eager"), ("no", "sdpa")])
def test_bf16_on_the_cpu_uses_eager_attention(load_backbone, precision, value, attention):
    """The fused attention's bf16 backward is slow on the CPU; float32 keeps the fused kernel."""
    precision(value)
    assert load_backbone().model.config._attn_implementation == attention


def test_the_finetuning_baseline_in_bf16_on_the_cpu_uses_eager_attention(tiny_model_dir, precision):
    from mpt_cli.engine.finetune import Classifier

    precision("bf16")
    assert Classifier(str(tiny_model_dir), classes=3, cpu=True).model.config._attn_implementation == "eager"


def test_full_tuning_in_bf16_lowers_the_loss_and_saves_float32(make_options, precision):
    precision("bf16")
    run, backbone = train_capturing_backbone(make_options(tune="full", train=dict(LEARNING_TRAIN, epochs=6)))
    assert backbone.accelerator.mixed_precision == "bf16"
    history = run.result.history
    assert history[-1].train_loss < history[0].train_loss
    assert run.result.dev_score > 0.6  # three classes: chance is a third
    assert all(param.dtype == torch.float32 for param in backbone.model.parameters())
    assert assert_float32_and_finite(run.path.parent) == 3  # the prompt, its encoder and the tuned backbone


def test_bf16_probabilities_are_close_to_float32_and_sum_to_one(full_prompts_dir, precision):
    store = PromptStore(full_prompts_dir)
    artifact = store.open_source("en")
    examples = [Example(str(i), (p, h), i % 3) for i, (p, h, _) in enumerate(toy_rows(4, seed=41))]

    def score(value: str):
        precision(value)
        return store.scorer(artifact, store.load_backbone(artifact, cpu=True)).score(artifact.prompt, examples, batch_size=5)

    (float32_scores, float32_probs), (bf16_scores, bf16_probs) = score("no"), score("bf16")
    assert bf16_probs.dtype == torch.float32
    torch.testing.assert_close(bf16_probs.sum(-1), torch.ones(len(examples)))
    torch.testing.assert_close(bf16_probs, float32_probs, rtol=0, atol=BF16_TOLERANCE)
    assert not torch.equal(bf16_probs, float32_probs)  # bf16 did compute: a float32 pass would give identical numbers
    assert abs(bf16_scores.accuracy - float32_scores.accuracy) <= 1 / len(examples)


def test_predict_in_bf16_writes_probabilities_close_to_float32(full_prompts_dir, precision, tmp_path):
    rows = write_tsv(tmp_path / "rows.tsv", toy_rows(2, seed=42))

    def predicted(value: str) -> torch.Tensor:
        precision(value)
        result = invoke("predict", rows, "--lang", "en", "--prompts-dir", full_prompts_dir, "--cpu")
        assert result.exit_code == 0, result.output
        return torch.tensor([[float(p) for p in line.split("\t")[-3:]] for line in result.stdout.splitlines()])

    float32_probs, bf16_probs = predicted("no"), predicted("bf16")
    assert bf16_probs.shape == (6, 3)
    torch.testing.assert_close(bf16_probs.sum(-1), torch.ones(6), rtol=0, atol=5e-4)  # three values rounded to 4 decimals
    torch.testing.assert_close(bf16_probs, float32_probs, rtol=0, atol=BF16_TOLERANCE)
    assert not torch.equal(bf16_probs, float32_probs)


def test_alignment_in_bf16_trains_the_translator_and_saves_float32(prompts_copy, toy_data_dir, parallel_dir, precision):
    from mpt_cli.workflows.align import align

    precision("bf16")
    (aligned,) = align(align_options(prompts_copy, toy_data_dir, parallel_dir))
    assert aligned.steps > 0
    assert 0 < aligned.heldout_kl_before < float("inf") and 0 <= aligned.heldout_kl_after < float("inf")
    assert assert_float32_and_finite(aligned.translator.parent) == 1
    hidden = PromptArtifact.load(prompts_copy / "en.safetensors").info.hidden_size
    identity = PromptTranslator(TranslatorConfig(hidden)).state_dict()  # where every translator starts
    trained = load_file(aligned.translator)
    assert not torch.equal(trained["translator.down.weight"], identity["down.weight"])


def test_finetuning_in_bf16_lowers_the_loss(tiny_model_dir, precision):
    from mpt_cli.engine.finetune import Classifier, finetune
    from mpt_cli.engine.train import TrainConfig

    precision("bf16")
    examples = [Example(str(i), (p, h), i % 3) for i, (p, h, _) in enumerate(toy_rows(4, seed=43))]
    classifier = Classifier(str(tiny_model_dir), len(NLI.labels), cpu=True)
    result = finetune(classifier, examples, examples, TrainConfig(epochs=4, batch_size=4, backbone_lr=3e-3), seed=1)
    assert result.history[-1].train_loss < result.history[0].train_loss
    probs = classifier.probabilities(examples)
    assert probs.dtype == torch.float32
    torch.testing.assert_close(probs.sum(-1), torch.ones(len(examples)))


def test_fp16_loss_scaling_takes_the_step_float32_takes():
    """fp16's path (GPUs without bf16) run on the CPU: the loss is scaled for backward, and the gradients are
    unscaled before clipping and stepping, so the weights move as under float32 (a clipped step of 0.1), up to
    fp16's rounding."""
    from mpt_cli.engine.device import Placement, Precision

    inputs, labels = torch.randn(8, 4, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 4)
    weights = {}
    for precision in (Precision.FP16, Precision.NO):
        placement = Placement(torch.device("cpu"), precision)
        model = torch.nn.Linear(4, 2)
        model.load_state_dict({"weight": torch.ones(2, 4) / 4, "bias": torch.zeros(2)})
        optimizer = placement.prepare_optimizer(torch.optim.SGD(model.parameters(), lr=100.0))
        with placement.autocast():
            logits = model(inputs)
        placement.backward(torch.nn.functional.cross_entropy(logits.float(), labels))
        norm = placement.clip_grad_norm_(list(model.parameters()), max_norm=1e-3)
        optimizer.step()
        placement.free_memory()
        assert logits.dtype == (torch.float16 if precision == Precision.FP16 else torch.float32)
        assert 0 < norm < 10  # the true gradient's norm, not the scaled one
        weights[precision] = model.weight.detach()
    torch.testing.assert_close(weights[Precision.FP16], weights[Precision.NO], atol=1e-3, rtol=0)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [("fp8", "MPT_PRECISION 'fp8' is unknown; use auto, no, bf16, fp16"), ("fp16", "MPT_PRECISION fp16 needs a GPU")],
)
def test_a_precision_the_cpu_cannot_use_is_one_clean_error(full_prompts_dir, tmp_path, monkeypatch, value, fragment):
    monkeypatch.setenv("MPT_PRECISION", value)
    rows = write_tsv(tmp_path / "rows.tsv", toy_rows(1, seed=44))
    assert_clean_error(invoke("predict", rows, "--lang", "en", "--prompts-dir", full_prompts_dir, "--cpu"), fragment)


@pytest.mark.parametrize("value", ["no", "bf16"])
def test_env_reports_the_precision(monkeypatch, value):
    monkeypatch.setenv("MPT_PRECISION", value)
    result = invoke("env", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["precision"] == value


@pytest.mark.parametrize(
    ("cpuinfo", "support"),
    [
        ("processor\t: 0\nflags\t\t: fpu sse avx512f avx512_bf16 amx_bf16 amx_tile\n", "amx_bf16 avx512_bf16"),
        ("processor\t: 0\nflags\t\t: fpu sse avx2\n", "none"),
        ("processor\t: 0\nFeatures\t: fp asimd bf16 i8mm\n", "bf16"),
        (None, "unknown"),
    ],
)
def test_cpu_bf16_support_reads_the_cpu_flags(tmp_path, cpuinfo, support):
    from mpt_cli.engine.device import cpu_bf16_support

    path = tmp_path / "cpuinfo"
    if cpuinfo is not None:
        path.write_text(cpuinfo)
    assert cpu_bf16_support(path) == support


# --------------------------------------------------------------------------------------------------
# On a GPU (skipped without one)
# --------------------------------------------------------------------------------------------------

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")


def gpu_precision(value: str) -> str:
    """``value``, or a skip where this GPU cannot compute in it."""
    if value == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip(f"{torch.cuda.get_device_name()} has no bf16")
    return value


@needs_gpu
@pytest.mark.parametrize("value", ["auto", "bf16", "fp16", "no"])
def test_on_a_gpu_probabilities_are_close_to_float32_on_the_cpu(full_prompts_dir, precision, value):
    store = PromptStore(full_prompts_dir)
    artifact = store.open_source("en")
    examples = [Example(str(i), (p, h), i % 3) for i, (p, h, _) in enumerate(toy_rows(4, seed=45))]

    def score(cpu: bool) -> torch.Tensor:
        backbone = store.load_backbone(artifact, cpu=cpu)
        assert backbone.device.type == ("cpu" if cpu else "cuda")
        return store.scorer(artifact, backbone).score(artifact.prompt, examples, batch_size=5)[1]

    precision("no")
    cpu_probs = score(cpu=True)
    precision(gpu_precision(value))
    gpu_probs = score(cpu=False)
    assert gpu_probs.dtype == torch.float32 and gpu_probs.device.type == "cpu"
    torch.testing.assert_close(gpu_probs, cpu_probs, rtol=0, atol=BF16_TOLERANCE)


@needs_gpu
@pytest.mark.parametrize("value", ["auto", "fp16"])
def test_on_a_gpu_full_tuning_lowers_the_loss_and_saves_float32(make_options, precision, value):
    """fp16 (GPUs without bf16) scales the loss: a step whose gradients overflow is skipped, not taken."""
    precision(gpu_precision(value))
    run, backbone = train_capturing_backbone(make_options(tune="full", cpu=False, train=dict(LEARNING_TRAIN, epochs=6)))
    assert backbone.device.type == "cuda" and backbone.accelerator.mixed_precision != "no"
    history = run.result.history
    assert history[-1].train_loss < history[0].train_loss
    assert all(param.dtype == torch.float32 for param in backbone.model.parameters())
    assert assert_float32_and_finite(run.path.parent) == 3  # the prompt, its encoder and the tuned backbone
