"""Shared, offline fixtures: a tiny tokenizer and masked LM built in the session, and a toy NLI task.

Nothing here touches the network or the Hugging Face hub: the tokenizer is trained on a small corpus
with the ``tokenizers`` library, the model is a randomly initialised two-layer XLM-R, and the NLI task
is generated so that one cue word in the hypothesis decides the label.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ.pop("MPT_PRECISION", None)  # each test that wants another precision sets it: the default is the reference

import json
import random
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

# one thread: the tiny model gains nothing from more, and it keeps timings steady on a busy machine
torch.set_num_threads(1)

from transformers.utils import logging as _hf_logging

_hf_logging.set_verbosity_error()
_hf_logging.disable_progress_bar()

from mpt_cli.task import BUILT_IN
from mpt_cli.verbalizer import ALTERNATIVES

NLI = BUILT_IN["xnli"]
LABELS = NLI.labels

# --------------------------------------------------------------------------------------------------
# The toy task
# --------------------------------------------------------------------------------------------------

CUES = {"entailment": "sunny", "neutral": "cloudy", "contradiction": "rainy"}
"""The hypothesis of every toy example contains the cue word of its label, and no other cue."""

FILLER = [
    "the", "a",
    "man", "woman", "child", "dog", "cat", "house", "garden", "street", "park", "river", "city", "car", "bus", "train",
    "walks", "runs", "sits", "sleeps", "eats", "reads", "plays", "sings", "looks",
    "today", "now", "here", "there", "very", "quite", "small", "big", "old", "new",
]  # fmt: skip
LABEL_WORDS = ["yes", "maybe", "no", "right", "wrong", "true", "false"]
"""The words of the English verbalizer presets: the tokenizer must keep each as one token."""
NLI_WORDS = sorted({word for preset in NLI.word_presets.values() for label in preset for word in label.split(ALTERNATIVES)})
"""Every word of the NLI presets (the default reads true/maybe/false in 15 languages): the tokenizer must spell each."""
MULTI_TOKEN_WORD = "antidisestablishment"
"""Never in the tokenizer's corpus, so it splits into several tokens."""
UNENCODABLE_WORD = "Ω"
"""Its character is not in the tokenizer's corpus, so the tokenizer can only spell it with the unknown token."""
MAX_POSITIONS = 130


def toy_pair(label: str, rng: random.Random) -> tuple[str, str]:
    """A premise and a hypothesis whose label is given away by the cue word ending the hypothesis.

    Every word is one token and the lengths are fixed, so the cue always sits at the same position.
    """
    premise = " ".join(rng.choice(FILLER) for _ in range(5))
    hypothesis = " ".join([rng.choice(FILLER), rng.choice(FILLER), CUES[label]])
    return premise, hypothesis


def toy_rows(per_class: int, seed: int) -> list[tuple[str, str, str]]:
    """``per_class`` (premise, hypothesis, label word) rows per label, interleaved, deterministic."""
    rng = random.Random(seed)
    return [(*toy_pair(label, rng), label) for _ in range(per_class) for label in LABELS]


def write_tsv(path: Path, rows, header: tuple[str, ...] | None = None) -> Path:
    """Write tab-separated ``rows`` (tuples of fields), each line ending in a newline."""
    lines = (["\t".join(header)] if header else []) + ["\t".join(str(field) for field in row) for row in rows]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def toy_data_dir(tmp_path_factory) -> Path:
    """An XTREME-style folder: train-en.tsv, dev-en.tsv and dev-de.tsv (no header, labels as words)."""
    folder = tmp_path_factory.mktemp("toy-xnli")
    write_tsv(folder / "train-en.tsv", toy_rows(30, seed=1))
    write_tsv(folder / "dev-en.tsv", toy_rows(20, seed=2))
    write_tsv(folder / "dev-de.tsv", toy_rows(10, seed=3))
    write_tsv(folder / "dev-sw.tsv", toy_rows(10, seed=4))
    return folder


# --------------------------------------------------------------------------------------------------
# A toy parallel corpus
# --------------------------------------------------------------------------------------------------

WORD_SHIFT = {"de": 7, "sw": 13}
"""The toy "languages": every filler word replaced by the filler word this many places on (a
derangement of the vocabulary), so the tokenizer covers both sides and the text really differs."""


def other_language(text: str, lang: str) -> str:
    """``text`` in the toy language ``lang`` (a deterministic word substitution)."""
    shift = WORD_SHIFT[lang]
    mapping = {word: FILLER[(i + shift) % len(FILLER)] for i, word in enumerate(FILLER)}
    return " ".join(mapping.get(word, word) for word in text.split())


def toy_sentences(count: int, seed: int) -> list[str]:
    """``count`` distinct English sentences of filler words, some ending in a cue word."""
    rng = random.Random(seed)
    cues = [*CUES.values(), None]
    sentences: list[str] = []
    while len(sentences) < count:
        words = [rng.choice(FILLER) for _ in range(4)]
        cue = rng.choice(cues)
        sentence = " ".join(words + ([cue] if cue else []))
        if sentence not in sentences:
            sentences.append(sentence)
    return sentences


PARALLEL_PAIRS = 30


@pytest.fixture(scope="session")
def parallel_dir(tmp_path_factory) -> Path:
    """A folder of ``en-de.tsv`` and ``en-sw.tsv``: ``english<TAB>other`` lines, 30 each."""
    folder = tmp_path_factory.mktemp("toy-parallel")
    for lang, seed in (("de", 5), ("sw", 6)):
        write_tsv(folder / f"en-{lang}.tsv", [(s, other_language(s, lang)) for s in toy_sentences(PARALLEL_PAIRS, seed)])
    return folder


# --------------------------------------------------------------------------------------------------
# The tiny backbone
# --------------------------------------------------------------------------------------------------


def _corpus() -> list[str]:
    rng = random.Random(0)
    lines = [" ".join(pair) for label in LABELS for pair in (toy_pair(label, rng) for _ in range(40))]
    lines += [" ".join(LABEL_WORDS)] * 20
    lines += [f"{w} . {w} ? {w} ." for w in FILLER + LABEL_WORDS + list(CUES.values())]
    return lines


def _train_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace()
    raw.decoder = decoders.Metaspace()
    # a vocabulary large enough that BPE merges every corpus word into one token and then stops
    raw.train_from_iterator(_corpus(), trainers.BpeTrainer(vocab_size=2000, special_tokens=specials, show_progress=False))
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[(token, raw.token_to_id(token)) for token in ("<s>", "</s>")],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
    )
    # The NLI words the corpus cannot spell (other scripts) become whole tokens after the trained ones, so
    # the toy's tokens, and the model's rows for them, stay as they were (see _save_tiny_model)
    unspelt = [word for word in NLI_WORDS if tokenizer.unk_token_id in tokenizer(word, add_special_tokens=False)["input_ids"]]
    tokenizer.add_tokens(unspelt)
    return tokenizer


def _save_tiny_model(directory: Path, tokenizer, seed: int) -> Path:
    from transformers import XLMRobertaConfig, XLMRobertaForMaskedLM

    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=tokenizer.vocab_size,  # the trained vocabulary; the added words' rows are drawn after the rest
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=MAX_POSITIONS,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        initializer_range=0.2,  # label-word rows large enough for confident logits within a few steps
    )
    model = XLMRobertaForMaskedLM(config)
    model.resize_token_embeddings(len(tokenizer))
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A saved two-layer XLM-R masked LM (hidden 32) with its BPE tokenizer."""
    tokenizer = _train_tokenizer()
    # XLM-R numbers positions from pad_id + 1; the position table must hold the longest input
    assert tokenizer.pad_token_id + 1 + (MAX_POSITIONS - 2) <= MAX_POSITIONS
    return _save_tiny_model(tmp_path_factory.mktemp("tiny-mlm"), tokenizer, seed=0)


@pytest.fixture(scope="session")
def other_model_dir(tmp_path_factory, tiny_model_dir) -> Path:
    """The same architecture and tokenizer with other random weights (another embedding fingerprint)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    return _save_tiny_model(tmp_path_factory.mktemp("other-mlm"), tokenizer, seed=1)


@pytest.fixture(scope="session")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def load_backbone(tiny_model_dir):
    """A factory for fresh CPU backbones on the tiny model (each test may tune its own copy)."""
    from mpt_cli.engine.backbone import Backbone

    return lambda directory=tiny_model_dir: Backbone.load(str(directory), cpu=True)


def token_ids(tokenizer, text: str) -> list[int]:
    """Ids of ``text`` without special tokens."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


# --------------------------------------------------------------------------------------------------
# Training runs
# --------------------------------------------------------------------------------------------------

SHOTS = 8
# select is fixed here, as the verbalizer is below: the toy thresholds must not follow the defaults chosen on real data
FAST_TRAIN = {"epochs": 2, "batch_size": 8, "prompt_lr": 1e-2, "select": "best"}
"""Enough to exercise training end to end; says nothing about accuracy."""
LEARNING_TRAIN = {"epochs": 16, "batch_size": 8, "prompt_lr": 1e-2, "backbone_lr": 3e-3, "warmup_ratio": 0.0, "select": "best"}
"""Full tuning that reliably learns the toy task."""


def source_options(model_dir: Path, data_dir: Path, prompts_dir: Path, *, train: dict | None = None, **overrides):
    """SourceOptions for the tiny model and toy data: small and CPU-only; ``train`` overrides TrainConfig."""
    from mpt_cli.engine.train import TrainConfig
    from mpt_cli.workflows.train_source import SourceOptions

    options = SourceOptions(
        shots=SHOTS,
        dev_shots=SHOTS,
        lang="en",
        model=str(model_dir),
        data=str(data_dir),
        seed=3,
        prompts_dir=prompts_dir,
        prompt_length=2,
        tune="prompt",
        verbalizer="yes-maybe-no",  # fixed here: the toy thresholds must not follow the default chosen on real data
        max_length=48,
        cpu=True,
        train=TrainConfig(**(train or FAST_TRAIN)),
    )
    return replace(options, **overrides)


@pytest.fixture
def make_options(tiny_model_dir, toy_data_dir, tmp_path):
    """``make_options(**overrides)``: SourceOptions writing into this test's ``tmp_path/prompts``."""
    def make(prompts_dir: Path = tmp_path / "prompts", **overrides):
        return source_options(tiny_model_dir, toy_data_dir, prompts_dir, **overrides)

    return make


def train_capturing_backbone(options):
    """Run ``train_source(options)`` and also return the in-memory backbone it trained."""
    from mpt_cli.workflows import train_source as workflow

    loaded = []

    class CapturingBackbone(workflow.Backbone):
        @classmethod
        def load(cls, *args, **kwargs):
            loaded.append(super().load(*args, **kwargs))
            return loaded[-1]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(workflow, "Backbone", CapturingBackbone)
        run = workflow.train_source(options)
    assert len(loaded) == 1
    return run, loaded[0]


@pytest.fixture(scope="session")
def full_run(tiny_model_dir, toy_data_dir, tmp_path_factory):
    """``(SourceRun, in-memory Backbone)`` of one fully tuned prompt that learns the toy task.

    Tests must not modify its files; copy them first.
    """
    prompts = tmp_path_factory.mktemp("full-run") / "prompts"
    return train_capturing_backbone(source_options(tiny_model_dir, toy_data_dir, prompts, tune="full", train=LEARNING_TRAIN))


@pytest.fixture(scope="session")
def source_prompts_dir(tiny_model_dir, toy_data_dir, tmp_path_factory) -> Path:
    """A prompts folder holding one quickly trained prompt-mode ``en.safetensors``. Read-only: copy it."""
    from mpt_cli.workflows.train_source import train_source

    prompts = tmp_path_factory.mktemp("source-run") / "prompts"
    train_source(source_options(tiny_model_dir, toy_data_dir, prompts))
    return prompts


@pytest.fixture
def prompts_copy(source_prompts_dir, tmp_path) -> Path:
    """This test's own copy of ``source_prompts_dir`` (``tmp_path/prompts``)."""
    return Path(shutil.copytree(source_prompts_dir, tmp_path / "prompts"))


FAST_ALIGN = {"epochs": 1, "batch_size": 8, "lr": 1e-3}


def align_options(prompts_dir: Path, data_dir: Path, parallel: Path, *, align: dict | None = None, **overrides):
    """AlignOptions for the toy corpus: small and CPU-only; ``align`` overrides AlignConfig."""
    from mpt_cli.engine.align import AlignConfig
    from mpt_cli.workflows.align_options import AlignOptions

    options = AlignOptions(
        targets=("de",),
        prompts_dir=prompts_dir,
        data=str(data_dir),
        parallel=str(parallel),
        heldout=5,
        max_dev_examples=12,
        cpu=True,
        align=AlignConfig(**(align or FAST_ALIGN)),
    )
    return replace(options, **overrides)


ALIGN_TRAIN, ALIGN_HELDOUT = 120, 30
"""Large enough that the held-out KL measures the alignment, not the luck of a handful of pairs."""


@pytest.fixture(scope="module")
def aligner(full_run, tmp_path_factory):
    """A fresh, frozen copy of the learned backbone, its prompt, and toy en-de pairs encoded (120 + 30)."""
    from mpt_cli.artifacts import PromptArtifact
    from mpt_cli.data.parallel import load_parallel
    from mpt_cli.engine.align import ParallelSet
    from mpt_cli.store import PromptStore

    run, _ = full_run
    artifact = PromptArtifact.load(run.path)
    backbone = PromptStore(run.path.parent).load_backbone(artifact, cpu=True)
    scorer = PromptStore.scorer(artifact, backbone)
    template, label_words = scorer.template, scorer.label_words
    english = toy_sentences(ALIGN_TRAIN + ALIGN_HELDOUT, seed=7)
    corpus = write_tsv(tmp_path_factory.mktemp("align-corpus") / "en-de.tsv", [(s, other_language(s, "de")) for s in english])
    pairs = load_parallel(str(corpus), "en", "de").pairs

    def encode(chosen):
        source = template.encode([p.source for p in chosen])
        target = template.encode([p.target for p in chosen])
        return ParallelSet(source, target)

    return {
        "artifact": artifact,
        "prompts": run.path.parent,
        "backbone": backbone,
        "template": template,
        "label_words": label_words,
        "train": encode(pairs[:ALIGN_TRAIN]),
        "heldout": encode(pairs[ALIGN_TRAIN:]),
    }


@pytest.fixture(scope="session")
def translated_dir(source_prompts_dir, toy_data_dir, parallel_dir, tmp_path_factory) -> Path:
    """``source_prompts_dir`` plus translators en-de and en-sw, and the translated ``de.safetensors``
    (no ``sw.safetensors``). Read-only: copy it."""
    from mpt_cli.workflows.align import align
    from mpt_cli.workflows.translate import translate

    prompts = Path(shutil.copytree(source_prompts_dir, tmp_path_factory.mktemp("translated") / "prompts"))
    translate(align_options(prompts, toy_data_dir, parallel_dir, targets=("de",), method="prompt"))
    align(align_options(prompts, toy_data_dir, parallel_dir, targets=("sw",)))
    return prompts


@pytest.fixture(scope="session")
def full_prompts_dir(full_run) -> Path:
    """The prompts folder of ``full_run`` (``en.safetensors`` and ``en.backbone``). Read-only."""
    return full_run[0].path.parent


@pytest.fixture(scope="session")
def routing_dir(full_prompts_dir, tmp_path_factory) -> Path:
    """A copy of ``full_prompts_dir`` plus a crafted translated ``de.safetensors`` whose prompt differs
    from the source prompt (so routing rows to it changes the probabilities). Read-only: copy it."""
    prompts = Path(shutil.copytree(full_prompts_dir, tmp_path_factory.mktemp("routing") / "prompts"))
    save_translated_copy(prompts, "de", scale=10.0, seed=2)  # this noise changes some predictions too
    return prompts


def save_translated_copy(prompts_dir: Path, lang: str, scale: float = 3.0, seed: int = 0, **info_changes) -> Path:
    """Write ``{lang}.safetensors``: the source prompt plus noise, marked as translated from it."""
    from mpt_cli.artifacts import PromptArtifact
    from mpt_cli.fileformat import tensor_sha256

    source = PromptArtifact.load(Path(prompts_dir) / "en.safetensors")
    noise = torch.randn(source.prompt.shape, generator=torch.Generator().manual_seed(seed))
    info = replace(
        source.info,
        language=lang,
        kind="translated",
        source_language="en",
        source_prompt_sha256=tensor_sha256(source.prompt),
        translator=f"translators/en-{lang}.safetensors",
    )
    info = replace(info, **info_changes)
    path = Path(prompts_dir) / f"{lang}.safetensors"
    PromptArtifact(source.prompt + scale * noise, info).save(path, overwrite=True)  # shares the source's side files
    return path


# --------------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------------


def largest_tensor_built(call) -> int:
    """Run ``call()`` and return the bytes of the largest tensor any torch operation made meanwhile (inputs,
    copies, moves to the device, the model's activations): a measure of the memory a call needs that sees
    a tensor with a row for every input where a batch's would do."""
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_leaves

    class Largest(TorchDispatchMode):
        size = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for leaf in tree_leaves(out):
                if isinstance(leaf, torch.Tensor):
                    self.size = max(self.size, leaf.numel() * leaf.element_size())
            return out

    with Largest() as largest:
        call()
    return largest.size


# --------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------


SIDE_FILE = re.compile(r"^[a-z]+\.(state|lora|backbone|adapter)-[0-9a-f]{12}")
"""Files a source prompt writes beside itself, named after their content (see mpt_cli.store)."""


def without_side_files(names) -> list[str]:
    """``names`` (paths relative to a prompts folder) without the side files and the model card, sorted."""
    return sorted(name for name in names if not SIDE_FILE.match(name.split("/")[0]) and name != "README.md")


def snapshot_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes); ``{}`` when ``root`` does not exist."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------


def raises_mpt(*fragments: str):
    """``pytest.raises(MptError)`` whose message must contain every one of ``fragments``.

    Use as ``with raises_mpt("line 3", "no tab") as info: ...``.
    """
    import re

    from mpt_cli.errors import MptError

    pattern = "".join(f"(?=.*{re.escape(fragment)})" for fragment in fragments)
    return pytest.raises(MptError, match=re.compile(pattern, re.DOTALL))


# --------------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------------


def invoke(*args: str):
    """Run ``mpt *args`` in-process; stdout and stderr come back separately (``result.stderr``)."""
    from typer.testing import CliRunner

    from mpt_cli.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def invoke_with_input(stdin: str | bytes, *args: str):
    """``invoke`` with ``stdin`` as standard input."""
    from typer.testing import CliRunner

    from mpt_cli.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def assert_clean_error(result, *fragments: str) -> str:
    """Exit status 2, nothing on stdout, exactly one ``error:`` line on stderr (returned), no traceback."""
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1] == errors[0]
    for fragment in fragments:
        assert fragment in errors[0]
    return errors[0]
