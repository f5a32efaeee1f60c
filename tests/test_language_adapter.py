"""Language adapters: each target language's own low-rank part inside the backbone (``translate --method adapter``)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from conftest import (
    FAST_TRAIN,
    align_options,
    assert_clean_error,
    invoke,
    other_language,
    raises_mpt,
    snapshot_tree,
    source_options,
    toy_rows,
    write_tsv,
)

from mpt_cli.artifacts import PromptArtifact, TranslatorArtifact
from mpt_cli.engine.align import AlignConfig, heldout_kl, train_translator
from mpt_cli.engine.batching import collate
from mpt_cli.engine.cost import clock, estimate
from mpt_cli.engine.language_adapter import AdapterConfig
from mpt_cli.engine.translator import PromptTranslator, TranslatorConfig
from mpt_cli.store import PromptStore
from mpt_cli.workflows import language_training
from mpt_cli.workflows.align import align
from mpt_cli.workflows.language_training import BEHIND_SOURCE_MARGIN, LanguageAlignment
from mpt_cli.workflows.train_source import train_source
from mpt_cli.workflows.translate import translate

ADAPTER_ALIGN = {"epochs": 2, "batch_size": 8, "lr": 1e-3, "adapter_lr": 1e-2}

# --------------------------------------------------------------------------------------------------
# The engine: adapters, routing, training
# --------------------------------------------------------------------------------------------------


def logits(aligner, rows: list[int], route=None, prompt=None) -> torch.Tensor:
    backbone, target = aligner["backbone"], aligner["heldout"].target
    prompt = aligner["artifact"].prompt if prompt is None else prompt
    batch = collate(target, rows, backbone.tokenizer.pad_token_id, prompt.shape[-2])
    with torch.no_grad():
        return backbone.mask_logits(batch, prompt, aligner["label_words"], route=route)


def test_a_new_adapter_leaves_the_model_as_it_was(aligner):
    rows = list(range(12))
    before = logits(aligner, rows)
    aligner["backbone"].language_adapters.add("el", AdapterConfig(rank=4), seed=0)
    assert torch.equal(logits(aligner, rows, route="el"), before)
    assert torch.equal(logits(aligner, rows), before)


def test_training_an_adapter_lowers_the_heldout_kl_and_touches_no_other_row(aligner):
    backbone, source = aligner["backbone"], aligner["artifact"].prompt.clone()
    backbone.language_adapters.add("de", AdapterConfig(rank=4, modules=("query", "value", "output.dense")), seed=0)
    plain = logits(aligner, list(range(12)))
    config = AlignConfig(**ADAPTER_ALIGN)
    result = train_translator(
        backbone, None, source, aligner["train"], aligner["heldout"], None, aligner["label_words"], config, seed=0, adapter="de"
    )
    assert result.heldout_kl_after < 0.8 * result.heldout_kl_before
    assert heldout_kl(backbone, aligner["heldout"], source, source, config, aligner["label_words"], "de") == pytest.approx(
        result.heldout_kl_after
    )
    assert torch.equal(logits(aligner, list(range(12))), plain)  # rows without a route see the source model


def test_a_batch_of_several_languages_gives_each_row_what_it_gets_alone(aligner):
    adapters = aligner["backbone"].language_adapters
    for lang, seed in (("bg", 1), ("ru", 2)):
        adapters.add(lang, AdapterConfig(rank=2), seed=seed)
        for name, weights in adapters.state(lang).items():  # B is zero at first: give every adapter an effect
            if name.endswith(".B"):
                weights = torch.randn(weights.shape, generator=torch.Generator().manual_seed(seed))
            adapters.load_state(lang, {name: weights})
    rows = list(range(9))
    route = ["bg", None, "ru", "bg", "ru", None, "xx", "bg", "ru"]  # "xx": no adapter, the model as it is
    prompts = torch.stack([aligner["artifact"].prompt * (1 + i / 10) for i in rows])  # one prompt per row too
    mixed = logits(aligner, rows, route, prompts)
    alone = {lang: logits(aligner, rows, lang, prompts) for lang in ("bg", "ru", None)}
    for row, lang in enumerate(route):
        torch.testing.assert_close(mixed[row], alone[lang if lang != "xx" else None][row], rtol=1e-5, atol=1e-5)
    assert not torch.allclose(alone["bg"], alone[None]) and not torch.allclose(alone["ru"], alone["bg"])


def test_a_mixed_batch_trains_as_its_rows_alone_would(aligner):
    """Outputs and gradients (of the adapters and of each row's prompt) of one batch of several languages are
    those of every row computed alone through its own adapter; the update is added into the base output.

    Computed in float64: with random adapters float32's rounding reaches 1e-4 of a gradient, the size a
    tolerance would need, while a row sent through the wrong adapter moves it by its whole size."""
    backbone = aligner["backbone"]
    adapters = backbone.language_adapters
    for lang, seed in (("sq", 5), ("et", 6)):
        adapters.add(lang, AdapterConfig(rank=2), seed=seed)
        adapters.load_state(lang, {name: torch.randn(w.shape, generator=torch.Generator().manual_seed(seed))
                                   for name, w in adapters.state(lang).items()})  # fmt: skip
    encoded = aligner["train"].target
    route = ["sq", None, "et", "sq", "et", None, "sq"]
    length = max({len(e.input_ids) for e in encoded}, key=lambda n: sum(len(e.input_ids) == n for e in encoded))
    target = [e for e in encoded if len(e.input_ids) == length][: len(route)]  # one length: no padding to tell apart
    assert len(target) == len(route)
    weights = torch.randn(len(route), backbone.hidden_size, generator=torch.Generator().manual_seed(7), dtype=torch.float64)

    def pass_over(rows: list[list[int]]):
        """Mask states of every row and the gradients (each row's prompt, the adapters), over the batches ``rows``."""
        prompts = torch.stack([aligner["artifact"].prompt.double() * (1 + i / 10) for i in range(len(route))])
        prompts.requires_grad_(True)
        outputs = {}
        for batch_rows in rows:
            batch = collate(target, batch_rows, backbone.tokenizer.pad_token_id, prompts.shape[-2])
            states = backbone.mask_states(batch, prompts[batch_rows], route=[route[r] for r in batch_rows])
            (states.double() * weights[batch_rows]).sum().backward()  # a loss that weighs every state
            outputs |= {r: states[i].detach() for i, r in enumerate(batch_rows)}
        grads = [prompts.grad, *(p.grad for p in parameters)]
        for parameter in parameters:
            parameter.grad = None
        return torch.stack([outputs[r] for r in range(len(route))]), grads

    backbone.model.double()
    try:
        parameters = adapters.parameters("sq") + adapters.parameters("et")  # they learn: requires_grad
        mixed, mixed_grads = pass_over([list(range(len(route)))])
        alone, alone_grads = pass_over([[r] for r in range(len(route))])
    finally:
        backbone.model.float()  # the fixture's backbone, as the other tests expect it
    torch.testing.assert_close(mixed, alone, rtol=1e-6, atol=1e-7)  # the states come out in float32
    for together, one_by_one in zip(mixed_grads, alone_grads, strict=True):
        assert one_by_one.abs().sum() > 0
        torch.testing.assert_close(together, one_by_one, rtol=1e-9, atol=1e-9 * one_by_one.abs().max().item())


def test_an_adapted_layer_adds_each_language_into_the_base_output_and_leaves_other_rows_alone():
    from mpt_cli.engine.language_adapter import AdaptedLinear, _Routing

    base, routing = torch.nn.Linear(6, 5), _Routing()
    layer = AdaptedLinear(base, routing)
    for lang, seed in (("a", 1), ("b", 2)):
        generator = torch.Generator().manual_seed(seed)
        layer.add(lang, 0.5, torch.randn(2, 6, generator=generator), torch.randn(5, 2, generator=generator))
    x = torch.randn(4, 3, 6, generator=torch.Generator().manual_seed(3), requires_grad=True)
    langs = ["a", None, "a", "b"]  # row 1: no adapter
    routing.set([("a", torch.tensor([0, 2])), ("b", torch.tensor([3]))], rows=4)
    produced = []
    hook = base.register_forward_hook(lambda module, inputs, output: produced.append(output))
    out = layer(x)
    hook.remove()
    assert out is produced[0]  # written into the base output: no copy of it per language
    parameters = [x, base.weight, base.bias, *layer.lora_A.values(), *layer.lora_B.values()]
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(4))
    mixed_grads = torch.autograd.grad(out, parameters, grad_out)

    def row(r: int) -> torch.Tensor:  # the reference: one row, its own language's update
        plain = base(x[r])
        if langs[r] is None:
            return plain
        return plain + 0.5 * (x[r] @ layer.lora_A[langs[r]].t()) @ layer.lora_B[langs[r]].t()

    reference = torch.stack([row(r) for r in range(4)])
    torch.testing.assert_close(out, reference)
    assert torch.equal(out[1], base(x[1:2])[0])  # no adapter: the base output as it is
    for together, one_by_one in zip(mixed_grads, torch.autograd.grad(reference, parameters, grad_out), strict=True):
        torch.testing.assert_close(together, one_by_one)


def test_routing_nests_an_inner_block_gives_the_outer_routing_back(aligner):
    adapters = aligner["backbone"].language_adapters
    for lang, seed in (("mk", 3), ("lt", 4)):
        adapters.add(lang, AdapterConfig(rank=2), seed=seed)
        adapters.load_state(lang, {name: torch.randn(w.shape, generator=torch.Generator().manual_seed(seed))
                                   for name, w in adapters.state(lang).items()})  # fmt: skip
    rows = list(range(6))
    outer, inner, plain = logits(aligner, rows, "mk"), logits(aligner, rows, "lt"), logits(aligner, rows)
    assert not torch.allclose(outer, plain) and not torch.allclose(inner, outer)
    with adapters.route("mk", len(rows)):
        torch.testing.assert_close(logits(aligner, rows, "lt"), inner)
        torch.testing.assert_close(logits(aligner, rows), outer)  # the outer block's routing, not none
    torch.testing.assert_close(logits(aligner, rows), plain)


def test_adapter_weights_round_trip(aligner):
    adapters = aligner["backbone"].language_adapters
    config = AdapterConfig(rank=3)
    adapters.add("th", config, seed=5)
    state = {name: torch.randn(w.shape, generator=torch.Generator().manual_seed(9)) for name, w in adapters.state("th").items()}
    adapters.load_state("th", state)
    adapters.add("tr", config, state=adapters.state("th"))
    rows = list(range(6))
    assert torch.equal(logits(aligner, rows, "tr"), logits(aligner, rows, "th"))
    assert {name: w.shape for name, w in adapters.state("tr").items()} == {name: w.shape for name, w in state.items()}


def test_the_state_is_a_snapshot_that_later_training_does_not_change(aligner):
    """The best epoch's adapter is kept as such a snapshot: it must not follow the live weights."""
    adapters = aligner["backbone"].language_adapters
    adapters.add("hi", AdapterConfig(rank=2), seed=3)
    snapshot = adapters.state("hi")
    kept = {name: w.clone() for name, w in snapshot.items()}
    with torch.no_grad():
        for weights in adapters.parameters("hi"):
            weights.add_(1.0)
    assert all(torch.equal(snapshot[name], kept[name]) for name in kept)
    adapters.load_state("hi", snapshot)
    assert all(torch.equal(w, kept[name]) for name, w in adapters.state("hi").items())


def test_without_a_translator_the_target_prompt_is_the_source_prompt(aligner):
    backbone, source = aligner["backbone"], aligner["artifact"].prompt.clone()
    backbone.language_adapters.add("vi", AdapterConfig(rank=2), seed=0)
    translator = PromptTranslator(TranslatorConfig(source.shape[1]))
    config = AlignConfig(epochs=1, batch_size=8, lr=1e-2, adapter_lr=1e-2)
    before = {k: v.clone() for k, v in translator.state_dict().items()}
    train_translator(backbone, None, source, aligner["train"], aligner["heldout"], None, aligner["label_words"], config, 0,
                     adapter="vi")  # fmt: skip
    assert all(torch.equal(before[k], v) for k, v in translator.state_dict().items())  # never handed over: untouched
    assert any(w.abs().sum() > 0 for name, w in backbone.language_adapters.state("vi").items() if name.endswith(".B"))


def test_a_module_name_that_matches_nothing_is_one_clear_error(aligner):
    from mpt_cli.errors import MptError

    with pytest.raises(MptError, match="no linear layer of this backbone ends with wq"):
        aligner["backbone"].language_adapters.add("ur", AdapterConfig(modules=("wq",)))


# --------------------------------------------------------------------------------------------------
# mpt translate --method adapter: files, eval, predict
# --------------------------------------------------------------------------------------------------


def translate_cli(prompts: Path, toy_data_dir: Path, parallel_dir: Path, *extra):
    return invoke(
        "translate", "--prompts-dir", prompts, "--data", toy_data_dir, "--parallel", parallel_dir, "--method", "adapter",
        "--epochs", "1", "--batch-size", "8", "--heldout", "5", "--adapter-rank", "2", "--max-dev-examples", "12", "--cpu",
        *extra,
    )  # fmt: skip


def files_of(prompts: Path, lang: str) -> dict[str, bytes]:
    """The language's own files: its prompt, its adapter and its translator."""
    tree = snapshot_tree(prompts)
    own = {f"{lang}.safetensors", f"translators/en-{lang}.safetensors"}
    return {name: data for name, data in tree.items() if name in own or name.startswith(f"{lang}.adapter-")}


@pytest.fixture
def full_copy(full_prompts_dir, tmp_path) -> Path:
    return Path(shutil.copytree(full_prompts_dir, tmp_path / "prompts"))


def test_translate_writes_each_language_its_prompt_adapter_and_translator(full_copy, toy_data_dir, parallel_dir):
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--json")
    assert result.exit_code == 0, result.output
    de = files_of(full_copy, "de")
    assert len(de) == 3
    prompt = PromptArtifact.load(full_copy / "de.safetensors")
    assert prompt.info.kind == "translated" and prompt.info.language_adapter in de
    config, state = PromptStore(full_copy).language_adapter(prompt)
    assert config == AdapterConfig(rank=2) and all(torch.isfinite(w).all() for w in state.values())
    translator = TranslatorArtifact.load(full_copy / "translators" / "en-de.safetensors")
    assert translator.info.language_adapter == AdapterConfig(rank=2).to_json()
    assert translator.info.heldout_kl_after < translator.info.heldout_kl_before

    # another language later: de's bytes stay as they are; without de's files, sw still works
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "sw")
    assert result.exit_code == 0, result.output
    assert files_of(full_copy, "de") == de
    for name in de:
        (full_copy / name).unlink()
    evaluated = invoke("eval", "--langs", "sw", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", full_copy,
                       "--cpu", "--compare", "--json")  # fmt: skip
    assert evaluated.exit_code == 0, evaluated.output
    assert "translated" in evaluated.stdout


def test_translate_says_what_a_language_costs_before_training_it(full_copy, toy_data_dir, parallel_dir):
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # the estimate beside what each language took, for machines
    assert all(row["alignment"]["estimated_seconds"] > 0 and row["alignment"]["seconds"] > 0 for row in rows)
    said = re.search(r"each language: (\d+) pairs \(5 held out\), 1 epochs, (\d+) steps of 8: about .+ a language here, .+ for 2",
                     result.stderr)  # fmt: skip
    assert said, result.stderr
    pairs, steps = int(said[1]), int(said[2])
    assert steps == -(-pairs // 8)
    assert result.stderr.index("each language:") < result.stderr.index("[1/2]")  # before any training


def alignment(dev_source: float | None, dev_trained: float | None) -> LanguageAlignment:
    return LanguageAlignment("yo", None, 561, 140, 108, None, None, 99, dev_source, dev_trained, 100.0)


def test_a_language_clearly_below_the_source_prompt_on_its_dev_rows_is_warned_of():
    warning = alignment(0.495, 0.232).behind_source()
    assert warning and "yo (Yoruba)" in warning and "23.2%" in warning and "49.5%" in warning and "99 dev rows" in warning
    assert alignment(0.495, 0.495 - BEHIND_SOURCE_MARGIN / 2).behind_source() is None  # less than the margin
    assert alignment(0.495, 0.606).behind_source() is None
    assert alignment(None, None).behind_source() is None  # no dev rows scored (reproduce's cells)


def test_translate_says_in_its_table_and_json_which_language_scores_below_the_source_prompt(
    full_copy, toy_data_dir, parallel_dir, monkeypatch
):
    monkeypatch.setattr(language_training, "BEHIND_SOURCE_MARGIN", -1.0)  # every scored language counts as behind
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--json")
    assert result.exit_code == 0, result.output
    (de,) = json.loads(result.stdout)
    assert "de (German) scores" in de["behind_source"] and de["warning"] is None  # the tokenizer's warning stays its own
    assert "warning: de (German) scores" in " ".join(result.stderr.split())


def test_the_estimate_counts_the_masked_lm_terms_sentences(aligner, monkeypatch):
    from mpt_cli.engine import cost

    monkeypatch.setattr(cost, "seconds_per_row", lambda *args: 0.01)  # the arithmetic, not the clock
    backbone, prompt, target = aligner["backbone"], aligner["artifact"].prompt, aligner["heldout"].target
    pairs_alone = estimate(backbone, prompt, target, heldout=5, epochs=3, batch_size=4)
    with_text = estimate(backbone, prompt, target, heldout=5, epochs=3, batch_size=4, text_batch_size=4)
    steps = 3 * -(-len(target) // 4)
    assert pairs_alone.seconds == pytest.approx(0.01 * (steps * 4 * cost.TRAIN_STEP_PASSES + 4 * 5))
    assert with_text.seconds == pytest.approx(0.01 * (steps * 8 * cost.TRAIN_STEP_PASSES + 4 * 5))


def test_the_estimate_changes_no_weight_and_draws_nothing(aligner):
    backbone, prompt, target = aligner["backbone"], aligner["artifact"].prompt, aligner["heldout"].target
    weights = {name: p.detach().clone() for name, p in backbone.model.named_parameters()}
    torch.manual_seed(7)
    cost = estimate(backbone, prompt, target, heldout=5, epochs=3, batch_size=4)
    drawn = torch.rand(1)
    torch.manual_seed(7)
    assert torch.equal(drawn, torch.rand(1))
    assert all(torch.equal(p, weights[name]) for name, p in backbone.model.named_parameters())
    assert cost.steps == 3 * -(-len(target) // 4) and cost.seconds > 0
    assert (clock(42), clock(600), clock(3 * 3600 + 300)) == ("42 s", "10 min", "3h05m")


def test_the_time_left_follows_what_the_finished_items_took():
    from mpt_cli.engine.cost import TimeLeft

    left = TimeLeft(items=5)
    assert left.before(0) == ""  # nothing finished: the estimate said before training is all there is
    left.done(60.0)
    left.done(120.0)
    assert left.before(2) == f", about {clock(90.0 * 3)} left" == ", about 4 min left"


def test_inspect_shows_the_language_adapter_a_prompt_needs_and_how_the_tokenizer_reads_it(
    full_copy, toy_data_dir, parallel_dir
):
    translated = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--json")
    assert translated.exit_code == 0, translated.output
    result = invoke("inspect", full_copy / "de.safetensors", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]
    assert record["tokenizer"] == json.loads(translated.stdout)[0]["tokenizer"]  # what translate measured
    assert set(record["tokenizer"]) == {"unknown_share", "pieces_ratio"} and record["tokenizer"]["pieces_ratio"] > 0
    said = invoke("inspect", full_copy / "de.safetensors").stdout
    assert f"{record['tokenizer']['pieces_ratio']:.2f}x the source side's pieces" in said
    needs = {need["what"]: need for need in record["needs"]}
    assert needs["language adapter"]["present"] and needs["language adapter"]["matches"]
    adapter = full_copy / PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter
    listed = json.loads(invoke("inspect", full_copy, "--json").stdout)
    assert any(entry["path"] == str(adapter) and entry["kind"] == "language-adapter state" for entry in listed)


def test_eval_compare_measures_the_translation_against_the_source_model(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    result = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", full_copy,
                    "--cpu", "--compare", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    de = json.loads(result.stdout)["languages"]["de"]
    # the source prompt's score is that of the source run with no adapter: what the folder without any
    # translation gives on German
    bare = Path(shutil.copytree(full_copy, full_copy.parent / "bare", ignore=shutil.ignore_patterns("de.*", "translators")))
    plain = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", bare,
                   "--cpu", "--json")  # fmt: skip
    assert json.loads(plain.stdout)["languages"]["de"]["accuracy"] == de["source_prompt"]["accuracy"]
    assert de["gain"] == pytest.approx(de["accuracy"] - de["source_prompt"]["accuracy"])


def test_mixed_language_predict_gives_each_row_what_it_gets_alone(full_copy, toy_data_dir, parallel_dir, tmp_path):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,sw").exit_code == 0
    rows = [(p, h) for p, h, _ in toy_rows(3, seed=11)]  # 9 rows
    langs = ["en", "de", "sw"] * 3
    mixed_rows = [(other_language(p, lang) if lang != "en" else p, other_language(h, lang) if lang != "en" else h, lang)
                  for (p, h), lang in zip(rows, langs)]  # fmt: skip
    header = ("premise", "hypothesis", "lang")
    mixed = write_tsv(tmp_path / "mixed.tsv", mixed_rows, header)
    together = invoke("predict", mixed, "--lang-column", "lang", "--prompts-dir", full_copy, "--cpu")
    assert together.exit_code == 0, together.output
    alone = {}
    for lang in ("en", "de", "sw"):
        path = write_tsv(tmp_path / f"{lang}.tsv", [r for r in mixed_rows if r[2] == lang], header)
        result = invoke("predict", path, "--lang", lang, "--prompts-dir", full_copy, "--cpu")
        assert result.exit_code == 0, result.output
        alone[lang] = iter(result.stdout.splitlines()[1:])
    assert together.stdout.splitlines()[1:] == [next(alone[lang]) for lang in langs]


@pytest.mark.parametrize("tune", ["prompt", "lora"])
def test_the_adapter_method_works_on_every_source_tune_mode(tune, tiny_model_dir, toy_data_dir, parallel_dir, tmp_path):
    prompts = tmp_path / "prompts"
    train_source(source_options(tiny_model_dir, toy_data_dir, prompts, tune=tune, train=FAST_TRAIN))
    written = translate(align_options(prompts, toy_data_dir, parallel_dir, method="adapter", targets=("de",)))
    # the adapter learned (B starts at zero); that training lowers the KL is the engine test's, on a task it can
    # learn: the toy's held-out KL (5 pairs, about 0.005) rises or falls with the seed in either batch order
    _, state = PromptStore(prompts).language_adapter(PromptArtifact.load(written[0].path))
    assert any(name.endswith(".B") and weights.abs().sum() > 0 for name, weights in state.items())
    result = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", prompts,
                    "--cpu", "--compare")  # fmt: skip
    assert result.exit_code == 0, result.output


def test_the_no_translator_ablation_keeps_the_source_prompt(full_copy, toy_data_dir, parallel_dir):
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--no-translator")
    assert result.exit_code == 0, result.output
    de, en = PromptArtifact.load(full_copy / "de.safetensors"), PromptArtifact.load(full_copy / "en.safetensors")
    assert torch.equal(de.prompt, en.prompt) and de.info.translator is None and de.info.language_adapter
    assert not (full_copy / "translators" / "en-de.safetensors").exists()


@pytest.mark.parametrize("grouped", [False, True])
def test_the_translator_file_records_whether_batches_grouped_pairs_by_length(grouped, full_copy, toy_data_dir, parallel_dir):
    flag = ["--group-by-length"] if grouped else []  # random batches by default
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", *flag)
    assert result.exit_code == 0, result.output
    assert TranslatorArtifact.load(full_copy / "translators" / "en-de.safetensors").info.alignment["group_by_length"] is grouped


def test_translating_again_replaces_the_old_adapter(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    old = PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter
    again = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de", "--adapter-rank", "3", "--overwrite")
    assert again.exit_code == 0, again.output
    new = PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter
    assert new != old and (full_copy / new).is_file() and not (full_copy / old).exists()


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------


def test_no_pairs_for_a_language_is_one_clear_error(full_copy, toy_data_dir, parallel_dir):
    before = snapshot_tree(full_copy)
    result = translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de,fr")
    assert_clean_error(result, "fr")
    assert snapshot_tree(full_copy) == before


def test_an_adapter_from_another_run_is_refused(full_copy, toy_data_dir, parallel_dir, tmp_path):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    other = tmp_path / "other"
    assert translate_cli(Path(shutil.copytree(full_copy, other)), toy_data_dir, parallel_dir, "--to", "de", "--overwrite",
                         "--seed", "2").exit_code == 0  # fmt: skip
    adapter = PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter
    other_adapter = PromptArtifact.load(other / "de.safetensors").info.language_adapter
    shutil.copyfile(other / other_adapter, full_copy / adapter)  # the right name, another run's weights
    result = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", full_copy, "--cpu")
    assert_clean_error(result, adapter, "is not the adapter")


def test_no_translator_needs_the_adapter_method(full_copy, toy_data_dir, parallel_dir):
    result = invoke("translate", "--to", "de", "--method", "prompt", "--no-translator", "--prompts-dir", full_copy, "--cpu")
    assert_clean_error(result, "--no-translator needs --method adapter")
    with raises_mpt("mpt align trains translators of prompts only"):  # the API; the command has no --method
        align(align_options(full_copy, toy_data_dir, parallel_dir, method="adapter"))
    result = invoke("translate", "--to", "de", "--method", "lora", "--prompts-dir", full_copy, "--cpu")
    assert_clean_error(result, "translation method 'lora' is unknown; use prompt, adapter")


def test_a_missing_adapter_file_names_the_prompt_that_needs_it_and_how_to_remake_it(full_copy, toy_data_dir, parallel_dir):
    assert translate_cli(full_copy, toy_data_dir, parallel_dir, "--to", "de").exit_code == 0
    adapter = PromptArtifact.load(full_copy / "de.safetensors").info.language_adapter
    (full_copy / adapter).unlink()
    result = invoke("eval", "--langs", "de", "--split", "validation", "--data", toy_data_dir, "--prompts-dir", full_copy, "--cpu")
    assert_clean_error(result, f"{full_copy / 'de.safetensors'} needs its language adapter {adapter}, which is missing",
                       f"`mpt translate --to de --method adapter --prompts-dir {full_copy} --overwrite`")  # fmt: skip


def test_align_offers_only_the_options_it_uses():
    """align trains prompt translators: the adapter method's options belong to translate alone."""
    adapter_options = ["--method", "--no-translator", "--adapter-rank", "--adapter-modules", "--adapter-lr"]
    align_help, translate_help = invoke("align", "--help").stdout, invoke("translate", "--help").stdout
    for option in adapter_options:
        assert option not in align_help
        assert option in translate_help
    assert "--parallel" in align_help and "--lr" in align_help
    result = invoke("align", "--to", "de", "--method", "adapter")
    assert result.exit_code == 2 and "No such option: --method" in result.output


def test_a_batch_of_languages_whose_adapters_differ_in_rank_gives_each_row_its_own_update():
    from mpt_cli.engine.language_adapter import AdaptedLinear, _Routing

    base, routing = torch.nn.Linear(6, 5), _Routing()
    layer = AdaptedLinear(base, routing)
    for lang, rank, seed in (("a", 2, 1), ("b", 3, 2)):
        generator = torch.Generator().manual_seed(seed)
        layer.add(lang, 0.5, torch.randn(rank, 6, generator=generator), torch.randn(5, rank, generator=generator))
    x = torch.randn(3, 4, 6, generator=torch.Generator().manual_seed(3))
    routing.set([("b", torch.tensor([0])), ("a", torch.tensor([2]))], rows=3)
    out = layer(x)
    for r, lang in ((0, "b"), (2, "a")):
        expected = base(x[r]) + 0.5 * (x[r] @ layer.lora_A[lang].t()) @ layer.lora_B[lang].t()
        torch.testing.assert_close(out[r], expected)
    assert torch.equal(out[1], base(x[1:2])[0])
