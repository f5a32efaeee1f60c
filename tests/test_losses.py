"""The KL losses between answer distributions, and the alignment settings."""

from __future__ import annotations

import pytest
import torch
from conftest import (
    raises_mpt,
)

from mpt_cli.engine.align import AlignConfig
from mpt_cli.engine.losses import kl_divergence

H, P = 8, 3


def prompt(seed: int = 0, shape=(P, H), scale: float = 1.0) -> torch.Tensor:
    return scale * torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------------------------------
# KL divergence
# --------------------------------------------------------------------------------------------------

DIRECTIONS = ["forward", "reverse", "symmetric"]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_kl_is_zero_for_identical_distributions(direction):
    logits = prompt(seed=4, shape=(5, 3), scale=3.0)
    assert kl_divergence(logits, logits.clone(), direction).item() == pytest.approx(0.0, abs=1e-7)
    # logits that differ by a constant per row give the same distribution
    assert kl_divergence(logits, logits + 7.5, direction).item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("seed", range(5))
def test_kl_is_non_negative_and_positive_for_different_distributions(direction, seed):
    source, target = prompt(seed, shape=(6, 11), scale=2.0), prompt(seed + 100, shape=(6, 11), scale=2.0)
    value = kl_divergence(source, target, direction)
    assert value.dim() == 0 and value.item() > 1e-3


def test_kl_matches_the_textbook_formula():
    source, target = prompt(5, shape=(4, 3)), prompt(6, shape=(4, 3))
    p, q = source.softmax(-1), target.softmax(-1)
    by_hand = [(p[i] * (p[i] / q[i]).log()).sum().item() for i in range(4)]
    assert kl_divergence(source, target, "forward").item() == pytest.approx(sum(by_hand) / 4, rel=1e-5)
    reverse = [(q[i] * (q[i] / p[i]).log()).sum().item() for i in range(4)]
    assert kl_divergence(source, target, "reverse").item() == pytest.approx(sum(reverse) / 4, rel=1e-5)


def test_kl_forward_and_reverse_differ_and_symmetric_is_their_mean():
    source, target = prompt(7, shape=(4, 5), scale=2.0), prompt(8, shape=(4, 5), scale=2.0)
    forward, reverse = kl_divergence(source, target, "forward").item(), kl_divergence(source, target, "reverse").item()
    assert forward != pytest.approx(reverse, rel=1e-3)
    assert kl_divergence(target, source, "forward").item() == pytest.approx(reverse, rel=1e-6)
    assert kl_divergence(source, target, "symmetric").item() == pytest.approx((forward + reverse) / 2, rel=1e-6)


def test_kl_gradient_reaches_the_target_only_through_its_argument():
    source = prompt(9, shape=(3, 4))
    target = prompt(10, shape=(3, 4)).requires_grad_(True)
    kl_divergence(source, target).backward()
    assert target.grad is not None and target.grad.abs().sum() > 0


def test_unknown_kl_direction():
    with pytest.raises(ValueError, match="sideways"):
        kl_divergence(prompt(shape=(2, 3)), prompt(1, shape=(2, 3)), "sideways")


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        ({"alpha": 1.5}, ["alpha must be between 0 and 1"]),
        ({"alpha": -0.1}, ["alpha must be between 0 and 1"]),
        ({"kl_direction": "sideways"}, ["KL direction 'sideways'"]),
        ({"kl_space": "tokens"}, ["KL space 'tokens'"]),
        ({"epochs": 0}, ["--epochs must be greater than 0"]),
        ({"batch_size": 0}, ["--batch-size must be greater than 0"]),
        ({"lr": 0.0}, ["--lr must be greater than 0"]),
    ],
)
def test_align_config_validation(overrides, fragments):
    with raises_mpt(*fragments):
        AlignConfig(**overrides)
