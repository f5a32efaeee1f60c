"""``--int8``: the encoder's linear layers in int8 on the CPU, for ``mpt eval``, ``mpt predict`` and ``Classifier``."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import NLI, assert_clean_error, invoke, other_language, toy_rows, write_tsv
from torch import nn

from mpt_cli import Classifier, EvalOptions, evaluate
from mpt_cli.engine.batching import collate
from mpt_cli.engine.int8 import Int8Linear, quantize_linear_layers
from mpt_cli.engine.language_adapter import AdaptedLinear, AdapterConfig
from mpt_cli.errors import MptError
from mpt_cli.template import TemplateEncoder

AGREEMENT = 0.9
"""int8 rounds every activation to 1/127 of its row's largest value: a label may flip where two labels are
nearly tied, so the same labels are asked of almost every row, not of all."""

# --------------------------------------------------------------------------------------------------
# The engine: one layer, a model, adapters on top
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_an_int8_layer_computes_what_its_float32_layer_does_within_rounding(bias):
    torch.manual_seed(0)
    linear = nn.Linear(64, 48, bias=bias)
    x = torch.randn(3, 5, 64)
    x[0, 0] = 0  # an all-zero row: its scale must not divide by zero
    int8 = Int8Linear(linear)
    with torch.no_grad():
        expected, got = linear(x), int8(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    assert torch.linalg.vector_norm(got - expected) / torch.linalg.vector_norm(expected) < 0.02
    assert torch.allclose(got[0, 0], expected[0, 0], atol=1e-6)  # the bias alone (or zeros)
    assert int8.weight.dtype == torch.int8 and list(int8.parameters()) == []


def small_batch(backbone, rows: int = 6):
    encoder = TemplateEncoder(NLI.template, backbone.tokenizer, 2, backbone.max_length, NLI.inputs)
    encoded = encoder.encode([(p, h) for p, h, _ in toy_rows(2, seed=41)][:rows])
    return collate(encoded, list(range(len(encoded))), backbone.tokenizer.pad_token_id, 2)


def mask_logits(backbone, batch, route=None) -> torch.Tensor:
    prompt = torch.randn(2, backbone.hidden_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        return backbone.mask_logits(batch, prompt, route=route)  # [B, V]


def test_to_int8_replaces_the_encoders_linear_layers_only(load_backbone):
    backbone = load_backbone()
    backbone.set_tune("lora", 2)
    batch = small_batch(backbone)
    before = mask_logits(backbone, batch)
    backbone.to_int8()
    encoder = backbone.model.base_model
    int8 = [name for name, module in encoder.named_modules() if isinstance(module, Int8Linear)]
    assert len(int8) == 2 * 6  # two layers: query, key, value, attention output, intermediate, output
    left = [name for name, module in encoder.named_modules() if type(module) is nn.Linear]
    assert left and all(".lora_" in name for name in left)  # PEFT's low-rank factors stay float32
    assert type(backbone.decoder) is nn.Linear  # the head projects onto the label words in float32
    after = mask_logits(backbone, batch)
    assert torch.equal(after.argmax(-1), before.argmax(-1))
    assert quantize_linear_layers(encoder) == 0  # a second call changes nothing


def test_language_adapters_apply_on_top_of_int8_layers_whenever_they_are_added(load_backbone):
    """An adapter added before the quantization and one added after compute the same, in float32 on an
    int8 base; its weights change the output of its rows alone."""
    config = AdapterConfig(rank=2)
    reference = load_backbone()
    reference.language_adapters.add("de", config, seed=3)
    state = {k: torch.randn(v.shape, generator=torch.Generator().manual_seed(i)) * 0.5
             for i, (k, v) in enumerate(reference.language_adapters.state("de").items())}  # fmt: skip
    reference.language_adapters.load_state("de", state)
    batch = small_batch(reference)
    float32 = mask_logits(reference, batch, route="de")

    before, after = load_backbone(), load_backbone()
    before.language_adapters.add("de", config, state=state)
    before.to_int8()
    after.to_int8()
    after.language_adapters.add("de", config, state=state)
    for backbone in (before, after):
        layers = backbone.language_adapters.layers.values()
        assert layers and all(isinstance(layer, AdaptedLinear) and isinstance(layer.base, Int8Linear) for layer in layers)
        assert all(w.dtype == torch.float32 for layer in layers for w in [*layer.lora_A.values(), *layer.lora_B.values()])
    routed = mask_logits(after, batch, route="de")
    assert torch.equal(mask_logits(before, batch, route="de"), routed)
    assert torch.equal(routed.argmax(-1), float32.argmax(-1))
    assert not torch.allclose(routed, mask_logits(after, batch), atol=1e-3)  # the adapter is applied

    other = {k: v * 2 for k, v in state.items()}
    after.language_adapters.load_state("de", other)
    assert not torch.allclose(mask_logits(after, batch, route="de"), routed, atol=1e-3)  # its own weights count


# --------------------------------------------------------------------------------------------------
# mpt eval, mpt predict, Classifier
# --------------------------------------------------------------------------------------------------


def agreement(a: list, b: list) -> float:
    assert len(a) == len(b) and a
    return sum(x == y for x, y in zip(a, b)) / len(a)


def test_eval_in_int8_gives_the_labels_of_float32_on_a_trained_prompt(full_prompts_dir, toy_data_dir):
    options = EvalOptions(("en", "de"), prompts_dir=full_prompts_dir, data=str(toy_data_dir), split="validation", cpu=True)
    float32, int8 = evaluate(options), evaluate(replace(options, int8=True))
    for plain, quantized in zip(float32.results, int8.results):
        assert agreement(plain.predictions, quantized.predictions) >= AGREEMENT
        assert abs(plain.scores.accuracy - quantized.scores.accuracy) <= 1 - AGREEMENT
    assert float32.results[0].scores.accuracy > 0.9  # the prompt has learnt the task: the labels mean something
    assert int8.run["int8"] is True and float32.run["int8"] is False

    result = invoke("eval", "--langs", "en", "--split", "validation", "--data", toy_data_dir, "--prompts-dir",
                    full_prompts_dir, "--cpu", "--int8", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert '"int8": true' in result.stdout


def test_predict_in_int8_gives_the_labels_of_float32(full_prompts_dir, tmp_path):
    pairs = write_tsv(tmp_path / "pairs.tsv", [(p, h) for p, h, _ in toy_rows(10, seed=43)])
    outputs = {}
    for extra in ((), ("--int8",)):
        result = invoke("predict", pairs, "--lang", "en", "--prompts-dir", full_prompts_dir, "--cpu", *extra)
        assert result.exit_code == 0, result.output
        outputs[extra] = [line.split("\t") for line in result.stdout.splitlines()]
    float32, int8 = outputs[()], outputs[("--int8",)]
    assert agreement([row[2] for row in float32], [row[2] for row in int8]) >= AGREEMENT
    assert float32 != int8  # the probabilities show that int8 did the work


def translate_with_adapter(prompts: Path, toy_data_dir: Path, parallel_dir: Path) -> None:
    result = invoke(
        "translate", "--to", "de", "--prompts-dir", prompts, "--data", toy_data_dir, "--parallel", parallel_dir,
        "--method", "adapter", "--epochs", "1", "--batch-size", "8", "--heldout", "5", "--adapter-rank", "2",
        "--max-dev-examples", "12", "--cpu",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_a_classifier_in_int8_routes_rows_through_their_language_adapter(full_prompts_dir, toy_data_dir, parallel_dir, tmp_path):
    prompts = Path(shutil.copytree(full_prompts_dir, tmp_path / "prompts"))
    translate_with_adapter(prompts, toy_data_dir, parallel_dir)
    rows = [(other_language(p, "de"), other_language(h, "de")) for p, h, _ in toy_rows(10, seed=44)]
    float32 = Classifier.load(prompts, "de", cpu=True)
    int8 = Classifier.load(prompts, "de", cpu=True, int8=True)
    expected, got = float32.predict(rows), int8.predict(rows)
    assert agreement([p.label for p in expected], [p.label for p in got]) >= AGREEMENT

    adapters = int8._labeller.prompts.backbone.language_adapters
    assert adapters.layers and all(isinstance(layer.base, Int8Linear) for layer in adapters.layers.values())
    adapters.load_state("de", {k: v * 3 for k, v in adapters.state("de").items()})
    changed = int8.predict(rows)
    assert any(a.probabilities != b.probabilities for a, b in zip(got, changed))  # the adapter's weights count


# --------------------------------------------------------------------------------------------------
# What int8 refuses
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_int8_under_another_precision_is_one_error_before_anything_is_read(precision, tmp_path, monkeypatch):
    monkeypatch.setenv("MPT_PRECISION", precision)
    missing = tmp_path / "nothing-here"  # neither prompts nor data exist: the int8 refusal comes first
    result = invoke("eval", "--int8", "--cpu", "--prompts-dir", missing, "--data", missing)
    assert_clean_error(result, "--int8", f"MPT_PRECISION={precision}")
    rows = write_tsv(tmp_path / "rows.tsv", [("a man sleeps", "a man rests")])
    result = invoke("predict", rows, "--lang", "de", "--int8", "--cpu", "--prompts-dir", missing)
    assert_clean_error(result, "--int8", f"MPT_PRECISION={precision}")


def test_int8_on_a_gpu_is_one_error_that_names_the_cpu(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    missing = tmp_path / "nothing-here"
    assert_clean_error(invoke("eval", "--int8", "--prompts-dir", missing), "--int8 runs on the CPU only", "--cpu")
    assert_clean_error(invoke("predict", "-", "--lang", "en", "--int8", "--prompts-dir", missing), "--int8 runs on the CPU only")
    with pytest.raises(MptError, match="CPU only"):
        Classifier.load(missing, "en", int8=True)
