"""The prompt translator and its files."""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pytest
import torch
from conftest import (
    raises_mpt,
)

from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact, TranslatorInfo
from mpt_cli.engine.align import AlignConfig
from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig
from mpt_cli.fileformat import FORMAT_VERSION

H, P = 8, 3


def prompt(seed: int = 0, shape=(P, H), scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------
# The translator
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("init", ["identity", "random"])
@pytest.mark.parametrize("residual", [False, True])
def test_translator_maps_a_prompt_to_a_prompt(init, residual):
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(H, residual=residual, init=init))
    assert translator(prompt()).shape == (P, H)
    assert translator(prompt(shape=(7, H))).shape == (7, H)
    assert translator.up.out_features == 2 * H  # the default width


@pytest.mark.parametrize("width", [None, 2 * H, 3 * H])
def test_identity_init_returns_exactly_the_input(width):
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(H, width=width))
    source = prompt(scale=5.0)
    assert torch.equal(translator(source), source)


@pytest.mark.parametrize("width", [None, H // 2])
def test_residual_translator_starts_at_identity(width):
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(H, width=width, residual=True))
    source = prompt(seed=1)
    assert torch.equal(translator(source), source)
    assert translator.up.weight.abs().sum() > 0  # its first layer is random: only the output starts at zero


@pytest.mark.parametrize("residual", [False, True])
def test_random_init_is_not_the_identity(residual):
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(H, residual=residual, init="random"))
    source = prompt(seed=2)
    assert not torch.allclose(translator(source), source, atol=1e-3)


def test_identity_init_needs_a_width_of_2h():
    with raises_mpt("identity", "2H = 16"):
        TranslatorConfig(H, width=2 * H - 1)
    TranslatorConfig(H, width=2 * H - 1, init="random")  # fine without the identity
    TranslatorConfig(H, width=2 * H - 1, residual=True)  # the residual identity needs no width


def test_unknown_init():
    with raises_mpt("translator init 'zeros'", "identity, random"):
        TranslatorConfig(H, init="zeros")


def test_identity_translator_learns():
    """Starting at the identity must not be a dead point: gradients reach both layers."""
    translator = PromptTranslator(TranslatorConfig(H))
    (translator(prompt()) ** 2).sum().backward()
    assert translator.up.weight.grad.abs().sum() > 0 and translator.down.weight.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------------------
# Translator files
# --------------------------------------------------------------------------------------------------


def make_translator_info(**overrides) -> TranslatorInfo:
    info = TranslatorInfo(
        source_language="en",
        target_language="de",
        architecture=asdict(TranslatorConfig(H)),
        backbone="tiny",
        backbone_fingerprint="ab" * 32,
        source_prompt_sha256="cd" * 32,
        alignment=asdict(AlignConfig()),
        corpus="pairs/en-de.tsv",
        corpus_sha256="ef" * 32,
        pairs=40,
        heldout_pairs=10,
        steps=9,
        heldout_kl_before=0.25,
        heldout_kl_after=0.125,
        seed=3,
        dev={"examples": 20, "source_accuracy": 0.5, "translated_accuracy": 0.55},
        versions={"torch": torch.__version__},
        command="mpt align --to de",
        created="2024-01-01T00:00:00+00:00",
    )
    return replace(info, **overrides)


def make_translator_artifact() -> TranslatorArtifact:
    torch.manual_seed(0)
    translator = PromptTranslator(TranslatorConfig(H, init="random"))
    return TranslatorArtifact(translator.state_dict(), prompt(seed=3), make_translator_info())


def rewrite_metadata(path: Path, **changes) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    save_file(load_file(str(path)), str(path), metadata=meta | changes)


def test_translator_artifact_round_trip(tmp_path):
    artifact = make_translator_artifact()
    path = tmp_path / "translators" / "en-de.safetensors"
    artifact.save(path)
    loaded = TranslatorArtifact.load(path)
    assert asdict(loaded.info) == asdict(artifact.info)
    assert torch.equal(loaded.source_prompt, artifact.source_prompt)
    assert loaded.weights.keys() == artifact.weights.keys() == {"up.weight", "up.bias", "down.weight", "down.bias"}
    assert all(torch.equal(loaded.weights[k], v) for k, v in artifact.weights.items())
    rebuilt = PromptTranslator(TranslatorConfig(**loaded.info.architecture))
    rebuilt.load_state_dict(loaded.weights)
    original = PromptTranslator(TranslatorConfig(H, init="random"))
    original.load_state_dict(artifact.weights)
    assert torch.equal(rebuilt(artifact.source_prompt), original(artifact.source_prompt))


@pytest.mark.parametrize("keep", [0.5, 0.97, 0.004])
def test_truncated_translator_file(tmp_path, keep):
    path = tmp_path / "en-de.safetensors"
    make_translator_artifact().save(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    with raises_mpt(str(path), "not a readable safetensors file"):
        TranslatorArtifact.load(path)


def test_translator_file_of_another_format_version(tmp_path):
    path = tmp_path / "en-de.safetensors"
    make_translator_artifact().save(path)
    rewrite_metadata(path, format_version=str(FORMAT_VERSION + 1))
    with raises_mpt(str(path), f"format version {FORMAT_VERSION + 1}", f"reads version {FORMAT_VERSION}"):
        TranslatorArtifact.load(path)


def test_prompt_file_passed_as_a_translator(source_prompts_dir):
    path = source_prompts_dir / "en.safetensors"
    with raises_mpt(str(path), "is not an mpt translator", "'mpt.prompt'"):
        TranslatorArtifact.load(path)


def test_translator_file_passed_as_a_prompt(tmp_path):
    path = tmp_path / "de.safetensors"
    make_translator_artifact().save(path)
    with raises_mpt(str(path), "is not an mpt prompt", "'mpt.translator'"):
        PromptArtifact.load(path)


def test_translator_file_without_its_source_prompt(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "en-de.safetensors"
    save_file({"translator.up.weight": torch.zeros(2, 2)}, str(path), metadata=make_translator_info().to_metadata())
    with raises_mpt("no 'source_prompt' tensor"):
        TranslatorArtifact.load(path)


def test_translator_file_is_checked_against_the_prompt_it_translates(tmp_path):
    from test_artifacts import make_info

    path = tmp_path / "en-de.safetensors"
    make_translator_artifact().save(path)
    TranslatorArtifact.load(path, make_info(hidden_size=H, prompt_length=P))
    with raises_mpt(str(path), f"the source prompt in {path} should be a float tensor of shape [{P + 1}, {H}]"):
        TranslatorArtifact.load(path, make_info(hidden_size=H, prompt_length=P + 1))
    with raises_mpt(str(path), f"translates prompts of hidden size {H}, but the en prompt has hidden size {2 * H}"):
        TranslatorArtifact.load(path, make_info(hidden_size=2 * H, prompt_length=P))
