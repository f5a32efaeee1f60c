"""The few-shot levers: which weights training keeps, mixup of mask states, decay towards the start, and
label words in several languages."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch
from conftest import FAST_TRAIN, LEARNING_TRAIN, NLI, raises_mpt, train_capturing_backbone

from mpt_cli.engine.align import AlignConfig
from mpt_cli.engine.batching import collate
from mpt_cli.engine.device import make_accelerator
from mpt_cli.engine.loop import DEV_ACCURACY, LabelledSet, Selection, fit
from mpt_cli.engine.prompt_encoder import PromptEncoder, PromptEncoderConfig
from mpt_cli.engine.train import PromptLearner, TrainConfig
from mpt_cli.task import BUILT_IN
from mpt_cli.verbalizer import ALTERNATIVES, Verbalizer
from mpt_cli.workflows.cells import ReproduceOptions

# --------------------------------------------------------------------------------------------------
# Which weights fit keeps: a learner with one weight and scripted dev scores
# --------------------------------------------------------------------------------------------------


@dataclass
class ScriptedLearner:
    """One weight pulled towards 10 by its loss; the dev score of each call is read from ``scores``."""

    scores: list[float]
    decay_to_start: float = 0.0
    train_size: int = 4
    train_lengths: list[int] | None = None
    dev_metric = DEV_ACCURACY
    weight: torch.nn.Parameter = field(default_factory=lambda: torch.nn.Parameter(torch.zeros(1)))
    epoch_ends: list[float] = field(default_factory=list)
    batches: list[list[int]] = field(default_factory=list)

    def __post_init__(self):
        self.calls = 0

    def parameter_groups(self) -> list[dict]:
        group = {"params": [self.weight], "lr": 0.5}
        if self.decay_to_start:
            group |= {"decay_to_start": self.decay_to_start, "start": [self.weight.detach().clone()]}
        return [group]

    def train_mode(self, training: bool) -> None:
        pass

    def loss(self, rows: list[int]) -> torch.Tensor:
        self.batches.append(rows)
        return ((self.weight - 10) ** 2).sum()

    def dev_score(self) -> float:
        self.calls += 1
        if self.calls <= len(self.scores):
            self.epoch_ends.append(self.weight.item())
        return self.scores[min(self.calls, len(self.scores)) - 1]

    def state(self) -> dict:
        return {"nested": {"weight": self.weight.detach().clone()}, "calls": torch.tensor(self.calls)}

    def load_state(self, state: dict) -> None:
        with torch.no_grad():
            self.weight.copy_(state["nested"]["weight"])


SCORES = [0.3, 0.6, 0.6, 0.4, 0.5, 0.2]


def scripted_fit(select: str | None, **learner):
    learner = ScriptedLearner(list(SCORES), **learner)
    chosen = {} if select is None else {"select": select}
    config = TrainConfig(epochs=len(SCORES), batch_size=4, warmup_ratio=0.0, **chosen)
    return learner, fit(learner, config, seed=1, accelerator=make_accelerator(cpu=True))


def test_best_keeps_the_first_epoch_with_the_best_dev_score():
    learner, result = scripted_fit("best")
    assert result.best_epoch == 2 and result.dev_score == 0.6
    assert learner.weight.item() == learner.epoch_ends[1]


def test_last_keeps_the_last_epoch():
    learner, result = scripted_fit("last")
    assert result.best_epoch == len(SCORES) and result.dev_score == SCORES[-1]
    assert learner.weight.item() == learner.epoch_ends[-1]
    assert learner.epoch_ends[1] != learner.epoch_ends[-1]


def test_training_keeps_the_last_epoch_by_default_and_alignment_its_best():
    learner, result = scripted_fit(None)
    assert result.best_epoch == len(SCORES) and learner.weight.item() == learner.epoch_ends[-1]
    assert AlignConfig().select is Selection.BEST  # its dev score is the KL of held-out pairs, not a few-shot draw


def test_average_keeps_the_mean_of_the_second_half_and_scores_it():
    learner, result = scripted_fit("average")
    second_half = learner.epoch_ends[len(SCORES) // 2 :]
    assert learner.weight.item() == pytest.approx(sum(second_half) / len(second_half))
    assert learner.weight.item() not in learner.epoch_ends
    assert learner.calls == len(SCORES) + 1  # the average is scored once more
    assert result.best_epoch == len(SCORES) and result.dev_score == SCORES[-1]


@pytest.mark.parametrize("grouped", [True, False])
def test_fit_batches_rows_of_similar_length_where_asked(grouped):
    lengths = torch.randperm(64, generator=torch.Generator().manual_seed(3)).tolist()
    learner = ScriptedLearner(list(SCORES), train_size=64, train_lengths=lengths)
    fit(learner, TrainConfig(epochs=2, batch_size=4, group_by_length=grouped), seed=1, accelerator=make_accelerator(cpu=True))
    assert len(learner.batches) == 32
    for epoch in (learner.batches[:16], learner.batches[16:]):
        assert sorted(r for rows in epoch for r in rows) == list(range(64))
    spread = sum(max(lengths[r] for r in rows) - min(lengths[r] for r in rows) for rows in learner.batches) / 32
    assert (spread < 12) if grouped else (spread > 20)  # 8 batches of 32 rows sorted: about 6; random: about 38


def test_decay_to_start_pulls_the_weights_back():
    free, _ = scripted_fit("last")
    held, _ = scripted_fit("last", decay_to_start=2.0)
    assert free.epoch_ends[0] > 0.4
    assert held.epoch_ends[0] == 0.0  # the first step, at the full lr of 0.5 (x 2), ends where the weight started
    assert 0 < held.weight.item() < 0.2 * free.weight.item()  # later steps, at lower lr, are pulled back part way


def test_selection_and_levers_are_checked():
    with raises_mpt("selection rule 'bestest' is unknown", "best, last, average"):
        TrainConfig(select="bestest")
    with raises_mpt("mixup and decay_to_start must be 0 (off) or positive"):
        TrainConfig(mixup=-0.1)
    assert TrainConfig(select="last").select is Selection.LAST


# --------------------------------------------------------------------------------------------------
# Mixup of the mask states
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def learner(load_backbone, tokenizer):
    from mpt_cli.template import TemplateEncoder

    backbone = load_backbone()
    template = TemplateEncoder(NLI.template, tokenizer, 2, 48, NLI.inputs)
    rows = [("the man walks", "the man walks sunny"), ("a dog sits", "a dog sits rainy"), ("the cat", "the cat cloudy")]
    train = LabelledSet(template.encode(rows), [0, 2, 1])
    words = Verbalizer(("yes", "maybe", "no")).label_words(tokenizer)
    encoder = PromptEncoder(PromptEncoderConfig(2, hidden_size=backbone.hidden_size))
    make = lambda mixup: PromptLearner(backbone, encoder, train, train, words, TrainConfig(mixup=mixup))
    backbone.model.eval()  # no dropout: the same rows give the same states
    return make


def test_mixing_nothing_keeps_the_mask_states(learner):
    plain = learner(0.0)
    batch = collate(plain.train.encoded, [0, 1, 2], plain.backbone.tokenizer.pad_token_id, 2)
    prompt = plain.encoder()
    states = plain.backbone.mask_states(batch, prompt)
    assert states.shape == (3, plain.backbone.hidden_size)
    assert torch.equal(plain.backbone.mask_states(batch, prompt, mix=lambda at_mask: at_mask), states)


def test_mixup_changes_the_loss_of_different_rows_only(learner):
    plain, mixed = learner(0.0), learner(0.4)
    prompt = plain.encoder()
    torch.manual_seed(0)
    assert not torch.isclose(mixed.cross_entropy([0, 1, 2], prompt), plain.cross_entropy([0, 1, 2], prompt))
    same = [1, 1, 1]  # mixing a row with itself changes neither its state nor its label
    assert torch.isclose(mixed.cross_entropy(same, prompt), plain.cross_entropy(same, prompt))


def test_mixup_trains_and_is_recorded(make_options):
    run, _ = train_capturing_backbone(make_options(train=FAST_TRAIN | {"mixup": 0.4}))
    assert run.info.training["mixup"] == 0.4
    assert all(torch.isfinite(torch.tensor(r.train_loss)) for r in run.result.history)


# --------------------------------------------------------------------------------------------------
# Decay towards the start, on a fully tuned backbone
# --------------------------------------------------------------------------------------------------


def _distance_from_start(options, load_backbone) -> float:
    _, trained = train_capturing_backbone(options)
    start = dict(load_backbone().model.named_parameters())
    return sum(
        (param.detach() - start[name].detach()).pow(2).sum().item()
        for name, param in trained.model.named_parameters()
        if param.requires_grad
    )


def test_decay_to_start_keeps_the_backbone_nearer_its_start(make_options, load_backbone, tmp_path):
    train = LEARNING_TRAIN | {"epochs": 3}
    held_train = train | {"decay_to_start": 50.0}
    free = _distance_from_start(make_options(tmp_path / "free", tune="full", train=train), load_backbone)
    held = _distance_from_start(make_options(tmp_path / "held", tune="full", train=held_train), load_backbone)
    assert 0 < held < 0.5 * free


# --------------------------------------------------------------------------------------------------
# Label words in several languages
# --------------------------------------------------------------------------------------------------


def test_the_multilingual_preset_has_a_word_in_every_xnli_language_for_each_label():
    xnli = BUILT_IN["xnli"]
    preset = xnli.verbalizer("multilingual")
    assert len(preset) == len(xnli.labels)
    for label, words in enumerate(preset):
        alternatives = words.split(ALTERNATIVES)
        assert len(alternatives) == 15 == len(set(alternatives))  # the 15 XNLI languages
        assert alternatives[0] == xnli.verbalizer("true-maybe-false")[label]  # English first


def test_reproduce_takes_the_label_words(toy_data_dir):
    options = ReproduceOptions(verbalizer="right,maybe,wrong", data=str(toy_data_dir), languages=("en", "de"))
    assert options.task.words == ("right", "maybe", "wrong")
    assert ReproduceOptions(verbalizer="multilingual", languages=("en", "de")).task.words == NLI.word_presets["multilingual"]
    with raises_mpt("verbalizer 'right,wrong' must be a preset"):
        ReproduceOptions(verbalizer="right,wrong")
